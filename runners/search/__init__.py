"""The search: ``python -m runners.search`` (:mod:`~runners.search.command`) and its engine.

One concern per module, in the order a trial meets them:

* :mod:`~runners.search.budget`: the budget (MACs or predicted latency), its window, the
  projection of a candidate into it, MnasNet's reward;
* :mod:`~runners.search.candidates`: scoring one candidate (placement, zero-cost scores or
  training with seed racing, failure capture), the same for every backend;
* :mod:`~runners.search.records`: trial records, the objective, ``trials.jsonl`` and the tables;
* :mod:`~runners.search.job`: everything a worker needs, picklable;
* :mod:`~runners.search.storage`: ``--storage`` URLs; :mod:`~runners.search.optuna_backend`,
  :mod:`~runners.search.ray_backend`: the two backends;
* :mod:`~runners.search.driver`: runs a job to its end and writes the summary.
"""

from infra.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(["REWARD_EXPONENT", "WINDOW_LOW", "Budget", "Projection", "budget_window", "project", "reward",
                     "smallest_macs"], "runners.search.budget"),
    **dict.fromkeys(["Evaluator", "SearchSettings"], "runners.search.candidates"),
    **dict.fromkeys(["Objective", "TrialRecord", "read_records", "records_frame", "write_tables"],
                    "runners.search.records"),
    "SearchJob": "runners.search.job",
    **dict.fromkeys(["run_search", "summarize"], "runners.search.driver"),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
