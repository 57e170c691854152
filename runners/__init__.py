"""Running experiments: data, training, the search and its commands.

Sub-packages by job, each a layer over the next (import-linter keeps the order):

* :mod:`runners.search` (``python -m runners.search``): the search engine: budget, candidate
  scoring, records, storage, the Optuna and Ray Tune backends, the run loop;
* :mod:`runners.train` (``python -m runners.train``): full, resumable training runs;
* :mod:`runners.evaluate` (``python -m runners.evaluate``): given specs, the search's proxy
  at paired seeds;
* :mod:`runners.flags`: the data and training flags every command shares;
  :mod:`runners.executors`: in-process, process-pool and Ray-task executors;
* :mod:`runners.learning`: the one training loop, progressive schedules, zero-cost scores;
* :mod:`runners.data`: IDX, ``.npz`` and image-folder data, splits, caching, augmentation.

In each command package, ``command.py`` is the command line and ``__main__.py`` runs it;
everything else is library. Names below are imported on first use, so ``import runners``
loads no torch.

>>> from runners import project
>>> from search_space import load_spec, parse_macs
>>> projection = project(load_spec("efficientnet-b0"), parse_macs("200M"))
>>> 0.9 * 200e6 <= projection.macs <= 200e6, projection.action.startswith("width")
(True, True)
"""

from infra.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(["DataError", "DataOptions", "Splits", "prepare"], "runners.data.sources"),
    "transform_batch": "runners.data.augmentation",
    **dict.fromkeys(["Stage", "TrainConfig", "TrainingDiverged", "TrainingLoop", "train_and_evaluate", "train_model"],
                    "runners.learning.loop"),
    "progressive_schedule": "runners.learning.progressive",
    **dict.fromkeys(["SCORES", "zero_cost_scores"], "runners.learning.zero_cost"),
    **dict.fromkeys(["REWARD_EXPONENT", "WINDOW_LOW", "Budget", "Projection", "budget_window", "project", "reward",
                     "smallest_macs"], "runners.search.budget"),
    **dict.fromkeys(["Evaluator", "SearchSettings"], "runners.search.candidates"),
    **dict.fromkeys(["Objective", "TrialRecord", "read_records", "records_frame", "write_tables"],
                    "runners.search.records"),
    "TrialState": "infra.trial_state",
    **dict.fromkeys(["claim_run_dir", "read_config"], "infra.run_dirs"),
    **dict.fromkeys(["FineTuning", "initial_model", "train_run"], "runners.train.full_run"),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
