"""Search runners: budgets, data, proxy training, zero-cost proxies, Optuna and Ray Tune backends.

Command line: ``python -m runners.search --budget-flops 400M`` (see :mod:`runners.search`).

>>> from runners import parse_macs, project
>>> from search_space import load_spec
>>> projection = project(load_spec("efficientnet-b0"), parse_macs("200M"))
>>> 0.9 * 200e6 <= projection.macs <= 200e6, projection.action.startswith("width")
(True, True)
"""

from runners.budget import Projection, format_macs, parse_macs, project, reward, smallest_macs
from runners.data import DataError, Splits, prepare
from runners.evaluation import Evaluator, SearchSettings
from runners.results import TrialRecord, read_records, write_tables
from runners.training import TrainConfig, TrainingDiverged, train_and_evaluate
from runners.zero_cost import SCORES, zero_cost_scores

__all__ = [
    "DataError", "Evaluator", "Projection", "SCORES", "SearchSettings", "Splits", "TrainConfig", "TrainingDiverged",
    "TrialRecord", "format_macs", "parse_macs", "prepare", "project", "read_records", "reward", "smallest_macs",
    "train_and_evaluate", "write_tables", "zero_cost_scores",
]
