"""Data for every training command: IDX, ``.npz`` and image folders; the validation split;
image folders larger than memory decoded once into a cache; the augmentation.

* :mod:`~runners.data.sources`: :class:`DataOptions`, :func:`prepare` -> :class:`Splits`;
* :mod:`~runners.data.image_cache`: image folders and ``.npz`` members as lazily read uint8 caches;
* :mod:`~runners.data.augmentation`: random zoom and shift, and resizing, in one resampling.
"""

from infra.lazy import lazy_exports

_EXPORTS = {**dict.fromkeys(["DataError", "DataOptions", "Splits", "prepare"], "runners.data.sources"),
            "transform_batch": "runners.data.augmentation"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
