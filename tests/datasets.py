"""Small generated datasets in every supported format (no downloads in tests)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np


def separable(n: int = 160, classes: int = 4, shape=(20, 30), channels: int | None = None, seed: int = 0):
    """Images whose class is a bright horizontal band: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    images = rng.normal(size=(n, *shape)).astype(np.float32)
    band = shape[0] // classes
    for c in range(classes):
        images[labels == c, c * band : (c + 1) * band, :] += 3.0
    if channels is not None:
        images = np.repeat(images[:, None], channels, axis=1)
    return images, labels


def write_npz(path: Path, **kwargs) -> Path:
    images, labels = separable(**kwargs)
    np.savez(path, x=images, y=labels)
    return path


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_dir(directory: Path, n: int = 120, test: int = 40, gz: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for prefix, count, seed in (("train", n, 0), ("t10k", test, 1)):
        images, labels = separable(n=count, classes=4, shape=(28, 28), seed=seed)
        pixels = np.clip(images * 40 + 100, 0, 255)
        for kind, array in (("images-idx3", pixels), ("labels-idx1", labels)):
            name = f"{prefix}-{kind}-ubyte" + (".gz" if gz else "")
            data = _idx_bytes(array)
            (directory / name).write_bytes(gzip.compress(data) if gz else data)
    return directory


def write_image_folder(directory: Path, per_class: int = 12, classes=("cat", "dog", "owl"), mode: str = "L") -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for index, name in enumerate(classes):
        folder = directory / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 60, size=(24, 36)).astype(np.uint8)
            pixels[index * 8 : (index + 1) * 8] += 150
            image = Image.fromarray(pixels, mode="L")
            (image if mode == "L" else image.convert(mode)).save(folder / f"{i}.png")
    return directory


TINY_SPACE = """
name: tiny-space
resolution: [64, 96]
stem_channels: [8, 16]
head_channels: [64, 128]
defaults:
  block: [MBConv, FusedMBConv, GhostMBConv, GhostFusedMBConv]
  kernel: [3, 5]
  expansion: [1, 3]
  attention: [none, se0.25, eca]
stages:
  - {stride: 2, repeats: {low: 1, high: 2}, out_channels: [16, 24]}
  - {stride: 2, repeats: 1, out_channels: [24, 32]}
  - {stride: 2, repeats: {low: 1, high: 2}, out_channels: [32, 48]}
"""

GRID_SPACE = """
name: grid-space
resolution: 48
stem_channels: 8
head_channels: 32
defaults: {block: MBConv, expansion: 1, attention: none}
stages:
  - {stride: 2, repeats: 1, kernel: [3, 5], out_channels: [8, 16]}
"""


def load(ref, num_classes=None, **options):
    """``runners.prepare`` of ``ref`` (a path, or None for Fashion-MNIST) with these data options."""
    from runners.data.sources import DataOptions, prepare

    return prepare(DataOptions(None if ref is None else str(ref), **options), num_classes=num_classes)
