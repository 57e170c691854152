"""Batch augmentation on tensors: random scale and shift, and resizing, in one resampling.

Full training's augmentation and progressive learning's image size are one operation: an
affine resampling of the whole batch on its device (``affine_grid`` + ``grid_sample``) to
the stage's size, each image with its own random zoom and shift. It needs no image
library and treats spectrograms like images: nothing is flipped or rotated, because a
flipped time or frequency axis is another signal.

Magnitude 0 only resizes (bilinear, antialiased); magnitude 1 zooms each image by a factor
in [0.75, 1.25] and shifts it by up to a quarter of each side. EfficientNetV2 raises
RandAugment's magnitude with the image size (Table 6: 5 -> 15 of 30 for V2-S); this is the
same knob for data that RandAugment's photographic operations do not suit.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MAX_ZOOM_CHANGE = 0.25  # at magnitude 1: zoom in [1 - 0.25, 1 + 0.25]
MAX_SHIFT = 0.25  # at magnitude 1: shift up to a quarter of the side


def transform_batch(images: torch.Tensor, size: tuple[int, int], magnitude: float,
                    generator: torch.Generator) -> torch.Tensor:
    """``images`` (``N x C x H x W``, normalised: zero is the mean, so the border it fills
    is neutral) resampled to ``size`` with random zoom and shift of strength ``magnitude``
    in [0, 1]. Random numbers come from ``generator`` (on the CPU) alone."""
    if not 0.0 <= magnitude <= 1.0:
        raise ValueError(f"augmentation magnitude: must be in [0, 1], got {magnitude}")
    size = tuple(size)
    if magnitude == 0.0:
        if size == tuple(images.shape[2:]):
            return images
        return F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=True)
    count = len(images)
    zoom = 1 + magnitude * MAX_ZOOM_CHANGE * (2 * torch.rand(count, generator=generator) - 1)
    # affine_grid's coordinates span [-1, 1]: a shift of a fraction f of the side is 2 f.
    shift = 2 * magnitude * MAX_SHIFT * (2 * torch.rand(count, 2, generator=generator) - 1)
    theta = torch.zeros(count, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / zoom
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta.to(images.device, images.dtype), [count, images.shape[1], *size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


__all__ = ["MAX_SHIFT", "MAX_ZOOM_CHANGE", "transform_batch"]
