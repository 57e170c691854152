"""Search runners: budgets, data, proxy and full training, zero-cost proxies, Optuna and Ray Tune backends.

Command line: ``python -m runners.search --budget-flops 400M`` (see :mod:`runners.search`),
``python -m runners.evaluate``, ``python -m runners.train`` (see :mod:`runners.train`).

>>> from runners import project
>>> from search_space import load_spec, parse_macs
>>> projection = project(load_spec("efficientnet-b0"), parse_macs("200M"))
>>> 0.9 * 200e6 <= projection.macs <= 200e6, projection.action.startswith("width")
(True, True)
"""

from runners.augmentation import transform_batch
from runners.budget import (REWARD_EXPONENT, WINDOW_LOW, Budget, Projection, budget_window, project, reward,
                            smallest_macs)
from runners.data import DataError, DataOptions, Splits, prepare
from runners.evaluation import Evaluator, SearchSettings
from runners.results import Objective, TrialRecord, TrialState, read_records, records_frame, write_tables
from runners.run_dir import claim_run_dir, read_config
from runners.family_check import record_measured
from runners.progressive import progressive_schedule
from runners.train_run import FineTuning, initial_model, train_run
from runners.training import Stage, TrainConfig, TrainingDiverged, TrainingLoop, train_and_evaluate, train_model
from runners.zero_cost import SCORES, zero_cost_scores

__all__ = [
    "Budget", "DataError", "DataOptions", "Evaluator", "FineTuning", "Objective", "Projection", "REWARD_EXPONENT",
    "SCORES", "SearchSettings", "Splits", "Stage", "TrainConfig", "TrainingDiverged", "TrainingLoop", "TrialRecord",
    "TrialState", "WINDOW_LOW", "budget_window", "claim_run_dir", "initial_model", "prepare", "progressive_schedule",
    "project", "read_config", "read_records", "record_measured", "records_frame", "reward", "smallest_macs",
    "train_and_evaluate", "train_model", "train_run", "transform_batch", "write_tables", "zero_cost_scores",
]
