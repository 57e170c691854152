"""Image folders through the on-disk uint8 cache: built once, rebuilt when the folder
changes, read lazily with the same values as in memory, and a folder far larger than a
memory cap searched under that cap."""

from __future__ import annotations

import pickle
import resource
import subprocess
import sys

import numpy as np
import pytest
import torch

from runners.data import sources as data_module
from runners.data.image_cache import CachedImages, default_cache_root
from runners.data.sources import DataOptions, prepare
from runners.learning.loop import TrainConfig, train_and_evaluate
from search_space import load_space
from tests.datasets import TINY_SPACE, write_image_folder


def cache_files():
    return sorted((default_cache_root() / "images").glob("*.u8"))


def test_a_folder_is_cached_once_and_again_when_it_changes(tmp_path):
    folder = write_image_folder(tmp_path / "images")
    first = prepare(DataOptions(source=str(folder), proxy_resolution=(32, 48)))
    [cache] = cache_files()
    stamp = cache.stat().st_mtime_ns
    again = prepare(DataOptions(source=str(folder), proxy_resolution=(32, 48)))
    assert cache_files() == [cache] and cache.stat().st_mtime_ns == stamp  # not rebuilt
    assert torch.equal(first.train_x, again.train_x)
    assert first.train_x.shape[1:] == (1, 32, 48) and first.resolution == (32, 48)

    image = sorted((folder / "owl").glob("*.png"))[0]
    image.write_bytes((folder / "cat" / "0.png").read_bytes())  # a changed file: a new cache
    prepare(DataOptions(source=str(folder), proxy_resolution=(32, 48)))
    assert len(cache_files()) == 2
    prepare(DataOptions(source=str(folder), proxy_resolution=(16, 16)))  # another resolution: another cache
    assert len(cache_files()) == 3


def test_the_lazy_view_reads_what_memory_holds_and_trains(tmp_path, monkeypatch):
    folder = write_image_folder(tmp_path / "images", mode="RGB")
    options = DataOptions(source=str(folder), proxy_resolution=(32, 32), val_fraction=0.25)
    in_memory = prepare(options)
    monkeypatch.setattr(data_module, "IN_MEMORY_SHARE", 0.0)  # as if the splits did not fit
    lazy = prepare(options)
    assert isinstance(lazy.train_x, CachedImages) and isinstance(in_memory.train_x, torch.Tensor)
    assert lazy.in_channels == 3 and lazy.resolution == (32, 32)
    assert torch.equal(lazy.train_x[torch.arange(len(lazy.train_x))], in_memory.train_x)
    assert torch.equal(lazy.val_x[3:7], in_memory.val_x[3:7])
    # Normalised with the training split's statistics.
    assert in_memory.train_x.mean(dim=(0, 2, 3)).abs().max() < 1e-4
    # A worker receives the file's path, not its bytes, and reads the same rows.
    shipped = pickle.dumps(lazy.train_x)
    assert len(shipped) < 4096 < in_memory.train_x.numel()
    assert torch.equal(pickle.loads(shipped)[[5, 0, 2]], in_memory.train_x[[5, 0, 2]])
    (tmp_path / "tiny.yaml").write_text(TINY_SPACE)
    spec = lazy.deployed(load_space(tmp_path / "tiny.yaml").sample(0))
    # Training reads the same batches from the cache as from memory: the same result.
    result = train_and_evaluate(spec, lazy, TrainConfig(epochs=1, batch_size=8))
    eager = train_and_evaluate(spec, in_memory, TrainConfig(epochs=1, batch_size=8))
    assert result.accuracy == eager.accuracy and result.validation_loss == pytest.approx(eager.validation_loss)
    assert result.train_loss == pytest.approx(eager.train_loss) and np.isfinite(result.train_loss)


# The address space of a search process (and of its decoding workers) in the tests below: the
# least a search of tiny data runs in (torch and its libraries reserve about 1.3 GiB), so that
# the data that must exceed it stays small enough to write quickly.
MEMORY_CAP = 3 * 2**29  # 1.5 GiB


def _write_large_folder(root, per_class: int, side: int) -> int:
    """Two classes of ``side`` x ``side`` gray PNGs (cheap to write: mostly flat); returns
    the bytes they decode to as uint8."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in range(2):
        (root / f"class{label}").mkdir(parents=True)
        for index in range(per_class):
            pixels = np.full((side, side), 40 + 120 * label, np.uint8)
            pixels[:64, :64] = rng.integers(0, 255, (64, 64), dtype=np.uint8)
            Image.fromarray(pixels).save(root / f"class{label}" / f"{index:05d}.png", compress_level=1)
    return 2 * per_class * side * side


def test_a_folder_larger_than_the_memory_cap_is_searched_under_it(tmp_path):
    cap = MEMORY_CAP
    decoded = _write_large_folder(tmp_path / "large", per_class=1000, side=1024)
    assert decoded > 1.25 * cap  # as uint8; as the float32 the in-memory path builds, 5x the cap
    (tmp_path / "tiny.yaml").write_text(TINY_SPACE)

    def capped():
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    run = tmp_path / "run"
    outcome = subprocess.run(
        [sys.executable, "-m", "runners.search", "--data", str(tmp_path / "large"), "--space", str(tmp_path / "tiny.yaml"),
         "--budget-flops", "12M", "--proxy-resolution", "64x64", "--trials", "1", "--epochs", "1",
         "--max-train-samples", "256", "--max-val-samples", "64", "--out", str(run)],
        capture_output=True, text=True, timeout=600, preexec_fn=capped)
    assert outcome.returncode == 0, outcome.stderr[-3000:]
    assert "caching large at 64x64" in outcome.stderr  # the cache's progress bar (not with --quiet)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(f"folder {decoded / 2**30:.2f} GiB as uint8 under a {cap / 2**30:.1f} GiB cap: peak RSS "
          f"{peak / 2**30:.2f} GiB")
    assert (run / "best.yaml").is_file()


def _write_npz_streaming(path, samples: int, side: int, compressed: bool = True) -> int:
    """An ``.npz`` of ``samples`` gray ``side`` x ``side`` uint8 images and labels, written a
    chunk at a time (the test never holds the array); returns the images' uint8 bytes."""
    import zipfile

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, samples)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED,
                         compresslevel=1) as archive:
        with archive.open("x.npy", "w", force_zip64=True) as stream:
            np.lib.format.write_array_header_2_0(stream, {"descr": "|u1", "fortran_order": False,
                                                          "shape": (samples, side, side)})
            for label in labels:
                image = np.full((side, side), 40 + 120 * int(label), np.uint8)
                image[:32, :32] = rng.integers(0, 255, (32, 32), dtype=np.uint8)
                stream.write(image.tobytes())
        with archive.open("y.npy", "w") as stream:
            np.lib.format.write_array(stream, labels)
    return samples * side * side


@pytest.mark.parametrize("compressed", [True, False])
def test_an_npz_too_large_for_memory_is_read_in_chunks_into_a_cache(tmp_path, monkeypatch, compressed):
    path = tmp_path / "d.npz"
    _write_npz_streaming(path, samples=40, side=48, compressed=compressed)
    options = DataOptions(source=str(path), proxy_resolution=(32, 32), val_fraction=0.25)
    in_memory = prepare(options)
    monkeypatch.setattr(data_module, "available_memory", lambda: 1000)  # as if nothing fitted
    lazy = prepare(options)
    assert isinstance(lazy.train_x, CachedImages) and isinstance(in_memory.train_x, torch.Tensor)
    assert torch.equal(lazy.train_y, in_memory.train_y) and torch.equal(lazy.val_y, in_memory.val_y)
    # Resized before rather than after normalising (a linear map either way), statistics at
    # the native resolution in both: the same values up to float rounding.
    assert torch.allclose(lazy.train_x[torch.arange(len(lazy.train_x))], in_memory.train_x, atol=1e-4)
    assert torch.allclose(lazy.val_x[:], in_memory.val_x, atol=1e-4)
    assert lazy.resolution == (32, 32) and lazy.in_channels == 1


def test_an_npz_larger_than_the_memory_cap_is_searched_under_it(tmp_path):
    cap = MEMORY_CAP
    decoded = _write_npz_streaming(tmp_path / "large.npz", samples=2000, side=1024)
    assert decoded > 1.25 * cap  # as uint8; as the float32 an in-memory load makes, 5x the cap
    (tmp_path / "tiny.yaml").write_text(TINY_SPACE)

    def capped():
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    outcome = subprocess.run(
        [sys.executable, "-m", "runners.search", "--data", str(tmp_path / "large.npz"), "--space",
         str(tmp_path / "tiny.yaml"), "--budget-flops", "12M", "--proxy-resolution", "64x64", "--trials", "1",
         "--epochs", "1", "--max-train-samples", "256", "--max-val-samples", "64",
         "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=600, preexec_fn=capped)
    assert outcome.returncode == 0, outcome.stderr[-3000:]
    assert "caching large.npz:x at 64x64" in outcome.stderr
    print(f".npz {decoded / 2**30:.2f} GiB as uint8 under a {cap / 2**30:.1f} GiB cap: peak RSS of the commands "
          f"so far {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20:.2f} GiB")
    assert (tmp_path / "run" / "best.yaml").is_file(), outcome.stdout[-3000:]
