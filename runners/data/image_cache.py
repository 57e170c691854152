"""Image folders larger than memory: decoded and resized once into an on-disk ``uint8`` cache.

A folder of class sub-folders is decoded by a ``torch.utils.data.DataLoader`` with worker
processes, each image converted to gray (1 channel) or RGB (3), resized to the proxy
resolution and written, in order, into a raw ``uint8`` array file ``N x C x H x W``. Memory
stays bounded by one batch per worker, whatever the folder's size. The cache is keyed by
the folder's path, every file's name, size and modification time, the resolution and the
channels, so a changed folder is cached again and an unchanged one never is. It is built
in a temporary file renamed into place at the end: a kill leaves no half cache behind.

:class:`CachedImages` reads it back as the float32 tensors training wants, one batch at a
time from the file (the kernel's page cache holds what fits).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from infra.errors import DataError
from infra.progress import progress_bar

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
GRAY_MODES = ("L", "1", "I;16", "I", "F")
CACHE_VERSION = 1  # bump when the cached bytes of an unchanged folder would change
DECODE_BATCH = 64
# What reading a damaged or foreign .npz raises: the zip reader (BadZipFile, and
# NotImplementedError for a version or compression method a damaged directory claims), the
# decompressor (zlib.error) and numpy's header parser (ValueError, EOFError).
ARCHIVE_ERRORS = (ValueError, EOFError, NotImplementedError, zipfile.BadZipFile, zlib.error)


def default_cache_root() -> Path:
    """``$XDG_CACHE_HOME/efficientnet-nas`` (``~/.cache/efficientnet-nas`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "efficientnet-nas"


@dataclass(frozen=True)
class ImageFolder:
    """``DIR/<class name>/<image>``: the files in a fixed order and their labels."""

    root: Path
    files: tuple[Path, ...]
    labels: np.ndarray  # int64, one per file
    classes: tuple[str, ...]

    @classmethod
    def scan(cls, directory: Path) -> "ImageFolder":
        classes = sorted(p for p in directory.iterdir() if p.is_dir())
        if len(classes) < 2:
            raise DataError(f"{directory}: expected one sub-folder per class (at least 2), found {len(classes)}")
        files, labels = [], []
        for label, folder in enumerate(classes):
            found = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise DataError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)})")
            files += found
            labels += [label] * len(found)
        return cls(directory, tuple(files), np.asarray(labels, dtype=np.int64), tuple(p.name for p in classes))

    @functools.cached_property
    def _first_shape(self) -> tuple[int, int, int]:
        return decode_image(self.files[0]).shape

    @property
    def native_size(self) -> tuple[int, int]:
        """``(height, width)`` of the first image, which every image must share."""
        return tuple(self._first_shape[:2])

    @property
    def channels(self) -> int:
        """1 (gray) or 3, from the first image's mode, which every image must share."""
        return self._first_shape[2]

    def fingerprint(self) -> str:
        """Changes with any file's name, size or modification time."""
        digest = hashlib.sha256(str(self.root.resolve()).encode())
        for file in self.files:
            status = file.stat()
            digest.update(f"{file.relative_to(self.root)}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())
        return digest.hexdigest()


def decode_image(file: Path) -> np.ndarray:
    """One image as ``H x W x C`` uint8 (C = 1 for gray modes, else 3), or an
    :class:`DataError` naming the file."""
    from PIL import Image

    try:
        with Image.open(file) as image:
            converted = image.convert("L") if image.mode in GRAY_MODES else image.convert("RGB")
            array = np.asarray(converted)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as error:
        # Pillow reports damaged files through all of these (SyntaxError for some PNG chunks).
        raise DataError(f"{file}: cannot read image ({type(error).__name__}: {str(error)[:100]})") from None
    return array if array.ndim == 3 else array[..., None]


class _ResizedImages(torch.utils.data.Dataset):
    """Item ``i``: file ``i`` decoded and resized to ``size``, ``C x H x W`` uint8; or the
    error's message (a worker's exception would reach the user wrapped in a traceback)."""

    def __init__(self, files: tuple[Path, ...], size: tuple[int, int], native: tuple[int, int]):
        self.files, self.size, self.native = files, size, native

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> np.ndarray | str:
        from PIL import Image

        try:
            array = decode_image(self.files[index])
        except DataError as error:
            return str(error)
        if array.shape[:2] != self.native:
            return (f"{self.files[index]}: {array.shape[0]}x{array.shape[1]} pixels, but {self.files[0].name} has "
                    f"{self.native[0]}x{self.native[1]}: the images of a folder share one size")
        height, width = self.size
        if array.shape[:2] != (height, width):
            channels = [Image.fromarray(array[..., c]).resize((width, height), Image.BILINEAR)
                        for c in range(array.shape[2])]
            array = np.stack([np.asarray(c) for c in channels], axis=-1)
        return np.ascontiguousarray(array.transpose(2, 0, 1))


def _as_list(batch: list) -> list:
    return batch


def _cache_file(kind: str, key_parts: list, suffix: str, root: Path | None) -> Path:
    key = hashlib.sha256(json.dumps([CACHE_VERSION, *key_parts]).encode()).hexdigest()
    return (root or default_cache_root()) / kind / f"{key[:32]}{suffix}"


def _write_cache(path: Path, rows: Iterator[np.ndarray], total: int, description: str,
                 show_progress: bool = True) -> Path:
    """Write the row blocks ``rows`` yields, in order, into ``path`` through a temporary file
    renamed at the end (a kill leaves no half cache), with a progress bar over ``total`` rows.
    Never mapped whole, so a cache larger than the address space a process may use is built
    all the same."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"cannot create the data cache {path.parent} ({error.strerror}); "
                        "set XDG_CACHE_HOME to a writable directory") from None
    partial = path.with_suffix(f".partial-{os.getpid()}")
    # Not left on screen: a build that fails ends with its one error line alone.
    bar = progress_bar(total, description, "sample", quiet=not show_progress, leave=False)
    try:
        with partial.open("wb") as cache:
            for block in rows:
                cache.write(np.ascontiguousarray(block).tobytes())
                bar.update(len(block))
        partial.replace(path)
    except OSError as error:
        raise DataError(f"cannot write the data cache {partial} ({error.strerror or error}); set XDG_CACHE_HOME to "
                        "a directory with room for it") from None
    finally:
        bar.close()
        partial.unlink(missing_ok=True)
    return path


def cache_image_folder(folder: ImageFolder, size: tuple[int, int], root: Path | None = None,
                       workers: int | None = None, show_progress: bool = True) -> Path:
    """The cache file of ``folder`` at ``size`` (``height, width``), built when missing;
    ``uint8``, shape ``(len(folder.files), folder.channels, *size)``."""
    channels = folder.channels
    path = _cache_file("images", [folder.fingerprint(), list(size), channels], ".u8", root)
    if path.is_file() and path.stat().st_size == len(folder.files) * channels * size[0] * size[1]:
        return path
    loader = torch.utils.data.DataLoader(
        _ResizedImages(folder.files, tuple(size), folder.native_size), batch_size=DECODE_BATCH, collate_fn=_as_list,
        num_workers=min(4, os.cpu_count() or 1) if workers is None else workers)

    def rows() -> Iterator[np.ndarray]:
        done = 0
        for batch in loader:
            for item in batch:
                if isinstance(item, str):
                    raise DataError(item)
                if item.shape[0] != channels:
                    raise DataError(f"{folder.files[done]}: {item.shape[0]} channel(s), but {folder.files[0].name} "
                                    f"has {channels}: the images of a folder share one mode")
                done += 1
            yield np.stack(batch)

    return _write_cache(path, rows(), len(folder.files), f"caching {folder.root.name} at {size[0]}x{size[1]}",
                        show_progress)


@dataclass(frozen=True)
class ArrayHeader:
    """What an ``.npz`` member's ``.npy`` header says, read without loading the array."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool


def _read_npy_header(stream) -> ArrayHeader:
    """An open ``.npy`` stream's header; the stream is left at the array's first byte."""
    version = np.lib.format.read_magic(stream)
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = reader(stream)
    return ArrayHeader(tuple(shape), np.dtype(dtype), fortran_order)


def read_npz_header(archive: zipfile.ZipFile, member: str) -> ArrayHeader:
    with archive.open(f"{member}.npy") as stream:
        return _read_npy_header(stream)


def cache_npz_member(path: Path, member: str, size: tuple[int, int], root: Path | None = None,
                     chunk_bytes: int = 32 * 2**20, show_progress: bool = True) -> tuple[Path, tuple[int, int, int, int]]:
    """Images ``member`` of the archive ``path`` (``N x H x W`` or ``N x C x H x W``, any real
    dtype) resized to ``size`` into a ``float32`` cache, read from the archive in chunks whose
    float64 copy takes about ``chunk_bytes`` (stored or compressed alike), never whole.
    Returns the cache and its shape."""
    status = path.stat()
    with zipfile.ZipFile(path) as archive:
        header = read_npz_header(archive, member)
        if header.fortran_order or len(header.shape) not in (3, 4) or header.dtype.kind not in "biuf":
            raise DataError(f"{path}: {member} must be a C-ordered real array N x H x W or N x C x H x W, got "
                            f"{header.dtype} {header.shape}{' in Fortran order' if header.fortran_order else ''}")
        samples, *image = header.shape
        image = [1, *image] if len(image) == 2 else image
        shape = (samples, image[0], *size)
        cache = _cache_file("arrays", [str(path.resolve()), status.st_size, status.st_mtime_ns, member, list(size)],
                            ".f32", root)
        sums_file = cache.with_suffix(".sums.npy")
        if cache.is_file() and cache.stat().st_size == int(np.prod(shape)) * 4 and sums_file.is_file():
            return cache, shape
        row_bytes = int(np.prod(image)) * header.dtype.itemsize
        per_chunk = max(1, chunk_bytes // (8 * int(np.prod(image))))  # its float64 copy is the largest
        # Per sample and channel: the sum and the sum of squares of its pixels at their own
        # resolution, so that any split's statistics are those the in-memory path computes.
        sums = np.zeros((samples, image[0], 2))

        def rows() -> Iterator[np.ndarray]:
            with archive.open(f"{member}.npy") as stream:
                _read_npy_header(stream)
                for start in range(0, samples, per_chunk):
                    count = min(per_chunk, samples - start)
                    block = np.frombuffer(stream.read(count * row_bytes), dtype=header.dtype).reshape(count, *image)
                    if not np.isfinite(block).all():
                        raise DataError(f"{path}: {member} holds NaN or infinite values (samples {start}..)")
                    pixels = torch.from_numpy(block.astype(np.float32))
                    as_float = pixels.double()
                    sums[start : start + count, :, 0] = as_float.sum(dim=(2, 3)).numpy()
                    sums[start : start + count, :, 1] = (as_float**2).sum(dim=(2, 3)).numpy()
                    if tuple(image[1:]) != tuple(size):
                        pixels = F.interpolate(pixels, size=size, mode="bilinear", align_corners=False)
                    yield pixels.numpy()

        try:
            partial = _write_cache(cache.with_suffix(".partial"), rows(), samples,
                                   f"caching {path.name}:{member} at {size[0]}x{size[1]}", show_progress)
            np.save(sums_file, sums)
            partial.replace(cache)  # last: a cache file is complete with its sums
            return cache, shape
        except ARCHIVE_ERRORS as error:
            raise DataError(f"{path}: cannot read {member} ({type(error).__name__}: {str(error)[:120]})") from None


class CachedImages:
    """A lazy, normalised ``float32`` view of rows of a cached array, indexed like
    the tensor it stands for (an index tensor, a slice or an integer array picks rows).

    Rows are read with ``pread`` (no mapping: the cache may be larger than the address
    space a process may use; the kernel's page cache keeps what fits). It pickles as its
    file's path, so worker processes reopen the cache instead of receiving its bytes.
    """

    def __init__(self, path: Path, shape: tuple[int, int, int, int], rows: np.ndarray,
                 mean: torch.Tensor | None = None, std: torch.Tensor | None = None, dtype=np.uint8):
        self.path, self.full_shape, self.dtype = Path(path), tuple(shape), np.dtype(dtype)
        self.rows = np.asarray(rows, dtype=np.int64)
        channels = self.full_shape[1]
        self.mean = (torch.zeros(channels) if mean is None else mean).reshape(1, -1, 1, 1).float()
        self.std = (torch.ones(channels) if std is None else std).reshape(1, -1, 1, 1).float()
        self._file: int | None = None

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self.rows), *self.full_shape[1:]))

    def pixels(self, index) -> np.ndarray:
        """The selected rows' raw pixels (the cache's dtype), ``n x C x H x W``."""
        if isinstance(index, torch.Tensor):
            index = index.numpy()
        rows = np.atleast_1d(self.rows[index])
        if self._file is None:
            self._file = os.open(self.path, os.O_RDONLY)
        size = int(np.prod(self.full_shape[1:])) * self.dtype.itemsize
        buffer = bytearray(len(rows) * size)
        for slot, row in enumerate(rows):
            buffer[slot * size : (slot + 1) * size] = os.pread(self._file, size, int(row) * size)
        return np.frombuffer(buffer, dtype=self.dtype).reshape(len(rows), *self.full_shape[1:])

    def __getitem__(self, index) -> torch.Tensor:
        return (torch.from_numpy(self.pixels(index)).float() - self.mean) / self.std

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_file": None}

    def __del__(self) -> None:
        if getattr(self, "_file", None) is not None:
            os.close(self._file)


def native_statistics(cache: Path, rows: np.ndarray, native: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and (unbiased) standard deviation of the samples ``rows`` of an
    ``.npz`` cache at their own resolution ``native``, from the sums kept next to it."""
    sums = np.load(cache.with_suffix(".sums.npy"))[rows].sum(axis=0)
    count = len(rows) * native[0] * native[1]
    mean = sums[:, 0] / count
    variance = np.maximum(sums[:, 1] / count - mean**2, 0.0) * count / max(1, count - 1)
    return torch.from_numpy(mean).float(), torch.from_numpy(np.sqrt(variance)).float().clamp_min(1e-6)


def channel_statistics(images: CachedImages, chunk_bytes: int = 32 * 2**20) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation of ``images``' raw pixels, read in chunks of
    about ``chunk_bytes`` (float64 sums), as the in-memory path computes them over the
    training split."""
    channels = images.full_shape[1]
    chunk = max(1, chunk_bytes // (8 * int(np.prod(images.full_shape[1:]))))
    total, squares = np.zeros(channels), np.zeros(channels)
    for start in range(0, len(images), chunk):
        pixels = images.pixels(slice(start, start + chunk)).astype(np.float64)
        total += pixels.sum(axis=(0, 2, 3))
        squares += (pixels**2).sum(axis=(0, 2, 3))
    count = len(images) * images.full_shape[2] * images.full_shape[3]
    mean = total / count
    variance = np.maximum(squares / count - mean**2, 0.0) * count / max(1, count - 1)
    return torch.from_numpy(mean).float(), torch.from_numpy(np.sqrt(variance)).float().clamp_min(1e-6)


__all__ = ["ArrayHeader", "CachedImages", "IMAGE_SUFFIXES", "ImageFolder", "cache_image_folder", "cache_npz_member",
           "channel_statistics", "decode_image", "default_cache_root", "native_statistics", "read_npz_header"]
