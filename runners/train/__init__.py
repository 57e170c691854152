"""Full training: ``python -m runners.train`` (:mod:`~runners.train.command`) and one resumable
training in a run directory (:mod:`~runners.train.full_run`: checkpoints every epoch, exact
resume, learning curves, the test score)."""

from infra.lazy import lazy_exports

_EXPORTS = dict.fromkeys(["FineTuning", "initial_model", "train_run", "with_head"], "runners.train.full_run")
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
