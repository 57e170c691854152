"""Search runners: budgets, data, proxy training, zero-cost proxies, Optuna and Ray Tune backends.

Command line: ``python -m runners.search --budget-flops 400M`` (see :mod:`runners.search`).

>>> from runners import project
>>> from search_space import load_spec, parse_macs
>>> projection = project(load_spec("efficientnet-b0"), parse_macs("200M"))
>>> 0.9 * 200e6 <= projection.macs <= 200e6, projection.action.startswith("width")
(True, True)
"""

from runners.budget import REWARD_EXPONENT, WINDOW_LOW, Projection, budget_window, project, reward, smallest_macs
from runners.data import DataError, DataOptions, Splits, prepare
from runners.evaluation import Evaluator, SearchSettings
from runners.results import Objective, TrialRecord, TrialState, read_records, records_frame, write_tables
from runners.run_dir import claim_run_dir, read_config
from runners.training import TrainConfig, TrainingDiverged, train_and_evaluate
from runners.zero_cost import SCORES, zero_cost_scores

__all__ = [
    "DataError", "DataOptions", "Evaluator", "Objective", "Projection", "REWARD_EXPONENT", "SCORES",
    "SearchSettings", "Splits", "TrainConfig", "TrainingDiverged", "TrialRecord", "TrialState", "WINDOW_LOW",
    "budget_window", "claim_run_dir", "prepare", "project", "read_config", "read_records", "records_frame",
    "reward", "smallest_macs", "train_and_evaluate", "write_tables", "zero_cost_scores",
]
