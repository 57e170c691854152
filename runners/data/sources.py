"""Datasets for proxy training: Fashion-MNIST IDX files, ``.npz`` arrays, image folders.

IDX files and ``.npz`` arrays are loaded once into memory as ``float32`` tensors of shape
``N x C x H x W`` (1-channel and non-square inputs such as spectrograms are first-class),
normalised with the training split's per-channel statistics and resized once to the proxy
resolution, so each trial only pays for its own training. Image folders, which can be far
larger than memory, are decoded and resized once into an on-disk ``uint8`` cache
(:mod:`runners.data.image_cache`); their splits are held in memory when they fit in a quarter of
the memory available, and read from the cache a batch at a time otherwise. An ``.npz`` whose
images would take more than that quarter is read from the archive in chunks into a
``float32`` cache at the proxy resolution and read from there, a batch at a time.

Where Fashion-MNIST is looked for, in order: ``--data DIR``, ``$FASHION_MNIST``,
Debian's ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``).
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from infra.errors import DataError
from infra.memory import available_memory
from infra.seeds import split_seed
from runners.data.image_cache import (ARCHIVE_ERRORS, CachedImages, ImageFolder, cache_image_folder, cache_npz_member,
                                      channel_statistics, native_statistics, read_npz_header)
from search_space import NetworkSpec
from search_space.spec import MAX_CLASSES, MAX_SIDE

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
IN_MEMORY_SHARE = 0.25  # of the available memory, the most a cached folder's float32 splits may take
INSTALL_HINT = (
    "no Fashion-MNIST found: install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), "
    "or download the four *-ubyte.gz files from https://github.com/zalandoresearch/fashion-mnist "
    "into a directory and pass --data DIR or set FASHION_MNIST=DIR"
)



@dataclass(frozen=True)
class DataOptions:
    """Where a proxy's data comes from and how much of it it sees: the same in every worker,
    command and backend, so one seed gives one split everywhere.

    ``source`` is an IDX directory, a ``.npz`` file or a class-folder directory (``None``:
    Fashion-MNIST found on this machine); ``proxy_resolution`` is ``(height, width)``
    (``None``: the data's own size, at least 32); ``resolution_scale`` multiplies both sides
    of it (a search's finalists rung trains at a larger size than its screening; not part of
    :meth:`identity`, which no rung changes); ``seed`` draws the validation split.
    """

    source: str | None = None
    proxy_resolution: tuple[int, int] | None = None
    val_fraction: float = 0.1
    max_train_samples: int | None = None
    max_val_samples: int | None = None
    seed: int = 0
    show_progress: bool = True  # a bar while a data cache is built (--quiet turns it off); not a result
    resolution_scale: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.val_fraction < 1:
            raise DataError(f"the validation fraction must be between 0 and 1, got {self.val_fraction}")
        if not self.resolution_scale > 0:
            raise DataError(f"the resolution scale must be positive, got {self.resolution_scale}")

    def at_resolution(self, resolution: tuple[int, int]) -> "DataOptions":
        return dataclasses.replace(self, proxy_resolution=tuple(resolution))

    def identity(self) -> dict:
        """The options as ``config.json`` records them (what a resumed run must match)."""
        return {"data": self.source, "proxy_resolution": None if self.proxy_resolution is None else
                list(self.proxy_resolution), "val_fraction": self.val_fraction,
                "max_train_samples": self.max_train_samples, "max_val_samples": self.max_val_samples}


@dataclass(frozen=True)
class ArrayData:
    """Images ``N x C x H x W`` (any numeric dtype) and integer labels ``N``."""

    images: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class Splits:
    """Train/validation (and, never used by the search, test) tensors, ready to train on."""

    train_x: torch.Tensor | CachedImages  # indexed alike; a cached folder too large for memory
    train_y: torch.Tensor
    val_x: torch.Tensor | CachedImages
    val_y: torch.Tensor
    test_x: torch.Tensor | None
    test_y: torch.Tensor | None
    num_classes: int
    source: str

    @property
    def in_channels(self) -> int:
        return self.train_x.shape[1]

    @property
    def resolution(self) -> tuple[int, int]:
        return tuple(self.train_x.shape[2:])  # type: ignore[return-value]

    def deployed(self, spec: NetworkSpec) -> NetworkSpec:
        """``spec`` as it runs on this data: the data's input channels and classes."""
        return dataclasses.replace(spec, in_channels=self.in_channels, num_classes=self.num_classes)


# --- readers ----------------------------------------------------------------------------------


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (plain or gzipped), the MNIST family's format."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError, zlib.error) as error:
        reason = "corrupt compressed data" if isinstance(error, zlib.error) else str(error)
        raise DataError(f"{path}: cannot read IDX file ({reason})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: IDX header says {ndim} dimensions but the file ends after {len(data)} bytes")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    if len(data) - header != int(np.prod(shape)):
        raise DataError(f"{path}: IDX header says {shape} but the file holds {len(data) - header} bytes")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _idx_file(directory: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def _is_idx_dir(directory: Path) -> bool:
    return _idx_file(directory, "train-images-idx3-ubyte") is not None


def read_idx_dir(directory: Path) -> tuple[ArrayData, ArrayData | None]:
    """MNIST-style directory: ``train-*`` and, if present, ``t10k-*`` image/label files."""
    parts = []
    for prefix in ("train", "t10k"):
        images = _idx_file(directory, f"{prefix}-images-idx3-ubyte")
        labels = _idx_file(directory, f"{prefix}-labels-idx1-ubyte")
        if images is None or labels is None:
            if prefix == "train":
                raise DataError(f"{directory}: missing train-images-idx3-ubyte(.gz) or train-labels-idx1-ubyte(.gz)")
            parts.append(None)
            continue
        parts.append(ArrayData(read_idx(images), read_idx(labels)))
    return parts[0], parts[1]


def read_npz(path: Path) -> tuple[ArrayData, ArrayData | None]:
    """``x`` (N x H x W or N x C x H x W) and ``y`` (N); optional ``x_test``/``y_test``."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded as archive:
                arrays = {name: archive[name] for name in archive.files}
    except (OSError, *ARCHIVE_ERRORS) as error:
        # Whichever reader a truncated or corrupt archive fails in, it means the same to the user.
        raise DataError(f"{path}: cannot read as .npz ({type(error).__name__}: {str(error)[:120]})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):  # np.load reads a lone .npy array whatever its name
        raise DataError(f"{path}: holds a single array, not an .npz archive of x and y (numpy.savez writes one)")
    missing = [name for name in ("x", "y") if name not in arrays]
    if missing:
        raise DataError(f"{path}: missing array(s) {', '.join(missing)}; expected x (N x H x W or N x C x H x W) and y (N)")
    test = None
    if "x_test" in arrays or "y_test" in arrays:
        if not ("x_test" in arrays and "y_test" in arrays):
            raise DataError(f"{path}: give both x_test and y_test, or neither")
        test = ArrayData(arrays["x_test"], arrays["y_test"])
    return ArrayData(arrays["x"], arrays["y"]), test


def find_fashion_mnist() -> Path:
    """Fashion-MNIST's directory from ``$FASHION_MNIST`` or the Debian package."""
    candidates = [Path(os.environ["FASHION_MNIST"])] if os.environ.get("FASHION_MNIST") else []
    candidates.append(DEBIAN_FASHION_MNIST)
    for candidate in candidates:
        if candidate.is_dir() and _is_idx_dir(candidate):
            return candidate
    raise DataError(INSTALL_HINT)


def is_image_folder(ref: str | Path | None) -> bool:
    """Whether ``ref`` names a directory of class folders (not IDX files)."""
    return ref is not None and Path(ref).is_dir() and not _is_idx_dir(Path(ref))


def read_arrays(ref: str | Path | None) -> tuple[ArrayData, ArrayData | None, str]:
    """Raw train (and test) arrays from ``ref``: IDX dir, ``.npz``, or ``None`` for
    Fashion-MNIST found on this machine (image folders go through :func:`prepare`'s cache)."""
    if ref is None:
        directory = find_fashion_mnist()
        return (*read_idx_dir(directory), str(directory))
    path = Path(ref)
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if path.is_file():
        if path.suffix != ".npz":
            raise DataError(f"{path}: a data file must be .npz (arrays x and y); or pass a directory")
        return (*read_npz(path), str(path))
    return (*read_idx_dir(path), str(path))


# --- checks and preparation ---------------------------------------------------------------------


def _checked(data: ArrayData, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = np.asarray(data.images), np.asarray(data.labels)
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4:
        raise DataError(f"{where}: images must be N x H x W or N x C x H x W, got shape {images.shape}")
    if len(images) == 0:
        raise DataError(f"{where}: no samples")
    if min(images.shape[1:]) == 0:
        raise DataError(f"{where}: images have an empty axis, shape {images.shape}")
    if not np.issubdtype(images.dtype, np.number) or np.issubdtype(images.dtype, np.complexfloating):
        raise DataError(f"{where}: images must be real numbers, got dtype {images.dtype}")
    if not np.isfinite(images).all():
        raise DataError(f"{where}: images contain NaN or infinite values")
    return torch.from_numpy(images.astype(np.float32)), _checked_labels(labels, len(images), where)


def _checked_labels(labels: np.ndarray, samples: int, where: str) -> torch.Tensor:
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != samples:
        raise DataError(f"{where}: labels must have shape ({samples},) to match the images, got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        if np.issubdtype(labels.dtype, np.floating) and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise DataError(f"{where}: labels must be integers, got dtype {labels.dtype}")
    if labels.min() < 0:
        raise DataError(f"{where}: labels must be >= 0, got {labels.min()}")
    return torch.from_numpy(labels.astype(np.int64))


def default_proxy_resolution(native: tuple[int, int]) -> tuple[int, int]:
    """The data's own size, enlarged (keeping its aspect ratio) until the shorter side is at
    least 32, since EfficientNets downsample 32x.

    >>> default_proxy_resolution((28, 28)), default_proxy_resolution((20, 30)), default_proxy_resolution((64, 200))
    ((32, 32), (32, 48), (64, 200))
    """
    factor = max(1.0, 32 / min(native))
    return round(native[0] * factor), round(native[1] * factor)


def _check_memory(source: str, images: int, channels: int, size: tuple[int, int]) -> None:
    """One line, before any allocation, when the prepared float32 splits cannot fit in memory."""
    needed = images * channels * size[0] * size[1] * 4
    available = available_memory()
    if available is not None and needed > 0.8 * available:
        raise DataError(f"{source}: {images:,} images at {size[0]}x{size[1]} need {needed / 2**30:,.1f} GiB as float32, "
                        f"more than this machine's {available / 2**30:,.1f} GiB available: lower --proxy-resolution "
                        f"or --max-train-samples")


def _class_count(largest_label: int, num_classes: int | None, source: str) -> int:
    """The number of classes: ``num_classes`` if given (labels checked against it), else
    the largest label + 1, within [2, MAX_CLASSES]."""
    if num_classes is not None and largest_label >= num_classes:
        raise DataError(f"{source}: label {largest_label} is out of range 0..{num_classes - 1} for {num_classes} classes")
    num_classes = num_classes or largest_label + 1
    if num_classes > MAX_CLASSES:
        # Otherwise the classifier alone outgrows any budget, and the user would read that
        # the budget is too small rather than that the labels are wrong.
        raise DataError(f"{source}: labels go up to {largest_label}, i.e. {num_classes:,} classes (at most "
                        f"{MAX_CLASSES:,}): is y the label column?")
    if num_classes < 2:
        raise DataError(f"{source}: need at least 2 classes, labels are all {largest_label}")
    return num_classes


def _split(samples: int, options: DataOptions, source: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Training and validation indices: validation drawn with ``options.seed``, both cut to
    the options' maxima."""
    order = torch.randperm(samples, generator=torch.Generator().manual_seed(split_seed(options.seed)))
    n_val = max(1, int(round(samples * options.val_fraction)))
    if samples - n_val < 1:
        raise DataError(f"{source}: {samples} samples are too few to hold out a validation split")
    val_index, train_index = order[:n_val], order[n_val:]
    if options.max_val_samples:
        val_index = val_index[: options.max_val_samples]
    if options.max_train_samples:
        train_index = train_index[: options.max_train_samples]
    return train_index, val_index


def _proxy_size(options: DataOptions, native: tuple[int, int], source: str) -> tuple[int, int]:
    size = options.proxy_resolution or default_proxy_resolution(native)
    size = round(size[0] * options.resolution_scale), round(size[1] * options.resolution_scale)
    if max(size) > MAX_SIDE:
        raise DataError(f"{source}: images are {'x'.join(map(str, native))}, which makes a proxy resolution of "
                        f"{size[0]}x{size[1]}, above {MAX_SIDE:,} pixels a side: pass --proxy-resolution HxW")
    return tuple(size)


def prepare(options: DataOptions, num_classes: int | None = None) -> Splits:
    """Load, check, split off validation (from the training data), normalise and resize.

    The validation split is drawn with ``options.seed`` from the training data; the test
    split (if the source has one) is prepared the same way but only benchmarks read it.
    """
    if is_image_folder(options.source):
        return _prepare_image_folder(options, num_classes)
    if _npz_exceeds_memory(options.source):
        return _prepare_large_npz(options, num_classes)
    train, test, source = read_arrays(options.source)
    x, y = _checked(train, source)
    num_classes = _class_count(int(y.max()), num_classes, source)
    test_x = test_y = None
    if test is not None:
        test_x, test_y = _checked(test, f"{source} (test split)")
        if test_x.shape[1:] != x.shape[1:]:
            raise DataError(f"{source}: test images are {tuple(test_x.shape[1:])}, training images {tuple(x.shape[1:])}")
        if int(test_y.max()) >= num_classes:
            raise DataError(f"{source}: test label {int(test_y.max())} is out of range 0..{num_classes - 1}")
    train_index, val_index = _split(len(x), options, source)

    train_x = x[train_index]
    # Per-channel statistics of the training split only: the validation split stays unseen.
    mean = train_x.mean(dim=(0, 2, 3), keepdim=True)
    std = train_x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    size = _proxy_size(options, tuple(x.shape[2:]), source)
    _check_memory(source, len(train_index) + len(val_index) + (0 if test_x is None else len(test_x)),
                  x.shape[1], size)

    def ready(images: torch.Tensor) -> torch.Tensor:
        images = (images - mean) / std
        if tuple(images.shape[2:]) != tuple(size):
            images = F.interpolate(images, size=size, mode="bilinear", align_corners=False)
        return images.contiguous()

    return Splits(
        train_x=ready(train_x),
        train_y=y[train_index],
        val_x=ready(x[val_index]),
        val_y=y[val_index],
        test_x=None if test_x is None else ready(test_x),
        test_y=test_y,
        num_classes=num_classes,
        source=source,
    )


def _npz_exceeds_memory(ref: str | Path | None) -> bool:
    """Whether loading an ``.npz``'s images as float32 would take more than
    :data:`IN_MEMORY_SHARE` of the memory available (read from the array headers alone; a
    damaged archive is left to :func:`read_npz`'s one-line errors)."""
    if ref is None or Path(ref).suffix != ".npz" or not Path(ref).is_file():
        return False
    try:
        with zipfile.ZipFile(ref) as archive:
            names = {name.removesuffix(".npy") for name in archive.namelist()}
            needed = sum(int(np.prod(read_npz_header(archive, member).shape)) * 4
                         for member in ("x", "x_test") if member in names)
    except (OSError, KeyError, *ARCHIVE_ERRORS):
        return False
    available = available_memory()
    return available is not None and needed > IN_MEMORY_SHARE * available


def _prepare_large_npz(options: DataOptions, num_classes: int | None) -> Splits:
    """:func:`prepare` for an ``.npz`` too large for memory: its images are read from the
    archive in chunks and resized into an on-disk float32 cache (:func:`cache_npz_member`);
    only the labels are loaded."""
    path = Path(options.source)
    source = str(path)
    try:
        with np.load(path, allow_pickle=False) as archive:  # an NpzFile reads a member only when asked
            members = set(archive.files)
            labels = {name: archive[name] for name in ("y", "y_test") if name in members}
    except (OSError, *ARCHIVE_ERRORS) as error:
        raise DataError(f"{path}: cannot read as .npz ({type(error).__name__}: {str(error)[:120]})") from None
    if "y" not in labels or "x" not in members:
        raise DataError(f"{path}: missing array(s) x or y; expected x (N x H x W or N x C x H x W) and y (N)")
    with zipfile.ZipFile(path) as archive:
        native = read_npz_header(archive, "x").shape[-2:]
    size = _proxy_size(options, tuple(native), source)
    cache, shape = cache_npz_member(path, "x", size, show_progress=options.show_progress)
    y = _checked_labels(labels["y"], shape[0], source)
    num_classes = _class_count(int(y.max()), num_classes, source)
    train_index, val_index = _split(len(y), options, source)
    # Statistics at the images' own resolution, as the in-memory path computes them, so that
    # the splits do not depend on whether the data fitted in memory.
    mean, std = native_statistics(cache, train_index.numpy(), tuple(native))
    train_x, val_x = (CachedImages(cache, shape, index.numpy(), mean, std, np.float32) for index in (train_index, val_index))
    test_x = test_y = None
    if "x_test" in members and "y_test" in labels:
        test_cache, test_shape = cache_npz_member(path, "x_test", size, show_progress=options.show_progress)
        test_y = _checked_labels(labels["y_test"], test_shape[0], f"{source} (test split)")
        if int(test_y.max()) >= num_classes:
            raise DataError(f"{source}: test label {int(test_y.max())} is out of range 0..{num_classes - 1}")
        test_x = CachedImages(test_cache, test_shape, np.arange(test_shape[0]), mean, std, np.float32)
    return Splits(train_x=train_x, train_y=y[train_index], val_x=val_x, val_y=y[val_index], test_x=test_x,
                  test_y=test_y, num_classes=num_classes, source=source)


def _prepare_image_folder(options: DataOptions, num_classes: int | None) -> Splits:
    """:func:`prepare` for a folder of class folders, through the on-disk cache: memory holds
    at most the float32 splits at the proxy resolution, and only when they fit."""
    source = str(options.source)
    folder = ImageFolder.scan(Path(source))
    labels = torch.from_numpy(folder.labels)
    num_classes = _class_count(int(labels.max()), num_classes, source)
    train_index, val_index = _split(len(labels), options, source)
    size = _proxy_size(options, folder.native_size, source)
    path = cache_image_folder(folder, size, show_progress=options.show_progress)
    shape = (len(labels), folder.channels, *size)
    train_rows, val_rows = train_index.numpy(), val_index.numpy()
    # Statistics of the training split only, as above, in the order of the file for speed.
    mean, std = channel_statistics(CachedImages(path, shape, np.sort(train_rows)))
    train_x = CachedImages(path, shape, train_rows, mean, std)
    val_x = CachedImages(path, shape, val_rows, mean, std)
    needed = (len(train_rows) + len(val_rows)) * folder.channels * size[0] * size[1] * 4
    available = available_memory()
    if available is None or needed <= IN_MEMORY_SHARE * available:
        train_x, val_x = train_x[:], val_x[:]
    return Splits(train_x=train_x, train_y=labels[train_index], val_x=val_x, val_y=labels[val_index],
                  test_x=None, test_y=None, num_classes=num_classes, source=source)
