"""How a network learns and is scored, for every command: the one training loop (the search's
proxy, ``runners.evaluate``, the scaling grid and full training all run it), EfficientNetV2's
progressive schedule, and training-free (zero-cost) scores.

* :mod:`~runners.learning.loop`: :class:`TrainConfig`, :class:`TrainingLoop`, :func:`train_and_evaluate`;
* :mod:`~runners.learning.progressive`: :func:`progressive_schedule`;
* :mod:`~runners.learning.memory`: :func:`training_memory`, what a training needs, counted before it starts;
* :mod:`~runners.learning.zero_cost`: synflow, naswot, grad_norm.
"""

from infra.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(["Stage", "TrainConfig", "TrainingDiverged", "TrainingLoop", "train_and_evaluate", "train_model"],
                    "runners.learning.loop"),
    **dict.fromkeys(["PAPER_STAGES", "progressive_schedule"], "runners.learning.progressive"),
    **dict.fromkeys(["TrainingMemory", "evaluation_batch", "training_memory"], "runners.learning.memory"),
    **dict.fromkeys(["SCORES", "zero_cost_scores"], "runners.learning.zero_cost"),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
