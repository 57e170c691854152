"""EfficientNetV2's progressive learning: image size and regularisation grow together.

Tan & Le 2021 (EfficientNetV2, section 4.2, Algorithm 1 and Table 6) split training into
``M`` stages of equal length; stage ``i`` trains at an image size and a regularisation
strength interpolated linearly from the first stage's values to the last's. Small images
early make the early epochs cheap, and weak regularisation suits them (a small image needs
less); the last stage trains at the full size with the full regularisation. Table 6 (V2-S):
size 128 -> 300, RandAugment magnitude 5 -> 15, dropout 0.1 -> 0.3, in 4 stages.

Here the final size is the data's training resolution, the first a fraction of it
(``min_size_fraction``, 0.5 by default: Table 6's 128/300 is 0.43, on 28-pixel images such
a start would leave the last stages of a stride-32 network nothing to see), and every
regulariser starts at a third of its final strength, Table 6's ratio for dropout and
RandAugment alike.
"""

from __future__ import annotations

from runners.learning.loop import Stage

PAPER_STAGES = 4
MIN_SIZE_FRACTION = 0.5
START_REGULARISATION = 1 / 3  # Table 6: dropout 0.1 -> 0.3, RandAugment 5 -> 15
MIN_SIDE = 8  # below this the stem sees more padding than image


def progressive_schedule(epochs: int, resolution: tuple[int, int], dropout: float, augmentation: float,
                         stages: int = PAPER_STAGES, min_size_fraction: float = MIN_SIZE_FRACTION) -> list[Stage]:
    """The :class:`Stage` of each of ``epochs`` epochs ending at ``resolution``, ``dropout``
    and ``augmentation`` (their final values); ``stages`` of (near) equal length.

    >>> [s.resolution for s in progressive_schedule(4, (32, 32), 0.3, 0.6)]
    [(16, 16), (21, 21), (27, 27), (32, 32)]
    >>> [round(s.dropout, 2) for s in progressive_schedule(4, (32, 32), 0.3, 0.6)]
    [0.1, 0.17, 0.23, 0.3]
    """
    if not 0 < min_size_fraction <= 1:
        raise ValueError(f"min_size_fraction: must be in (0, 1], got {min_size_fraction}")
    if stages < 1 or epochs < 1:
        raise ValueError(f"epochs and stages must be at least 1, got {epochs} and {stages}")
    stages = min(stages, epochs)
    schedule = []
    for epoch in range(epochs):
        stage = epoch * stages // epochs
        progress = stage / (stages - 1) if stages > 1 else 1.0
        size_fraction = min_size_fraction + (1 - min_size_fraction) * progress
        strength = START_REGULARISATION + (1 - START_REGULARISATION) * progress
        size = tuple(max(min(MIN_SIDE, side), round(side * size_fraction)) for side in resolution)
        schedule.append(Stage(resolution=size, dropout=dropout * strength, augmentation=augmentation * strength))
    return schedule


__all__ = ["PAPER_STAGES", "progressive_schedule"]
