"""Every data format, the split discipline, and one clear error per kind of bad data."""

import numpy as np
import pytest
import torch

from runners.data import sources as data_module
from runners.data.sources import DataError, default_proxy_resolution, read_idx
from tests.datasets import load, separable, write_idx_dir, write_image_folder, write_npz


def test_npz_one_channel_non_square(tmp_path):
    splits = load(write_npz(tmp_path / "d.npz", shape=(40, 100)), val_fraction=0.25)
    assert splits.in_channels == 1 and splits.resolution == (40, 100)
    assert splits.num_classes == 4 and len(splits.val_x) == 40 and len(splits.train_x) == 120
    assert splits.test_x is None


def test_npz_channels_first_and_proxy_resolution(tmp_path):
    splits = load(write_npz(tmp_path / "d.npz", channels=3, shape=(16, 24)), proxy_resolution=(32, 64))
    assert splits.train_x.shape[1:] == (3, 32, 64)


@pytest.mark.parametrize("shape, proxy, scale, expected", [((16, 24), None, 2.0, (64, 96)),
                                                       ((16, 24), (20, 30), 1.5, (30, 45)),
                                                       ((40, 100), None, 0.5, (20, 50))])
def test_a_resolution_scale_multiplies_both_sides_of_the_proxy_resolution(tmp_path, shape, proxy, scale, expected):
    """The finalists rung's larger size: the proxy resolution (given, or the data's own at
    least 32 a side) times the scale, the aspect ratio kept."""
    splits = load(write_npz(tmp_path / "d.npz", shape=shape), proxy_resolution=proxy, resolution_scale=scale)
    assert splits.resolution == expected and splits.train_x.shape[2:] == expected


def test_npz_test_split_is_kept_apart(tmp_path):
    x, y = separable()
    np.savez(tmp_path / "d.npz", x=x, y=y, x_test=x[:10], y_test=y[:10])
    splits = load(tmp_path / "d.npz")
    assert len(splits.test_x) == 10 and len(splits.train_x) + len(splits.val_x) == len(x)


def test_validation_is_disjoint_and_normalisation_uses_training_only(tmp_path):
    x, y = separable(n=100)
    x = x + np.arange(100, dtype=np.float32)[:, None, None]  # each sample identifiable by its offset
    np.savez(tmp_path / "d.npz", x=x, y=y)
    splits = load(tmp_path / "d.npz", proxy_resolution=(20, 30), val_fraction=0.2, seed=3)
    assert splits.train_x.mean().abs() < 1e-4  # standardised with the training split's statistics
    train_ids = set(splits.train_x.mean(dim=(1, 2, 3)).round(decimals=3).tolist())
    val_ids = set(splits.val_x.mean(dim=(1, 2, 3)).round(decimals=3).tolist())
    assert not train_ids & val_ids
    again = load(tmp_path / "d.npz", proxy_resolution=(20, 30), val_fraction=0.2, seed=3)
    assert torch.equal(again.val_y, splits.val_y)


def test_sample_limits(tmp_path):
    splits = load(write_npz(tmp_path / "d.npz", n=200), max_train_samples=50, max_val_samples=7)
    assert len(splits.train_x) == 50 and len(splits.val_x) == 7


@pytest.mark.parametrize("gz", [True, False])
def test_idx_directory(tmp_path, gz):
    splits = load(write_idx_dir(tmp_path / "fm", gz=gz))
    assert splits.resolution == (32, 32) and splits.in_channels == 1
    assert len(splits.test_x) == 40 and splits.num_classes == 4


def test_fashion_mnist_lookup_order(tmp_path, monkeypatch):
    monkeypatch.setattr(data_module, "DEBIAN_FASHION_MNIST", tmp_path / "absent")
    monkeypatch.delenv("FASHION_MNIST", raising=False)
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load(None)
    monkeypatch.setenv("FASHION_MNIST", str(write_idx_dir(tmp_path / "env")))
    assert load(None).source == str(tmp_path / "env")


def test_image_folder(tmp_path):
    splits = load(write_image_folder(tmp_path / "imgs"), val_fraction=0.25)
    assert splits.num_classes == 3 and splits.in_channels == 1 and splits.resolution == (32, 48)
    rgb = load(write_image_folder(tmp_path / "rgb", mode="RGB"))
    assert rgb.in_channels == 3


@pytest.mark.parametrize("native, proxy", [((28, 28), (32, 32)), ((20, 30), (32, 48)), ((128, 431), (128, 431))])
def test_default_proxy_resolution_keeps_aspect(native, proxy):
    assert default_proxy_resolution(native) == proxy


def bad_npz(tmp_path, **arrays):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("arrays, words", [
    ({"x": np.zeros((10, 8, 8))}, "missing array(s) y"),
    ({"x": np.zeros((10, 8)), "y": np.zeros(10, int)}, "N x H x W or N x C x H x W"),
    ({"x": np.zeros((10, 1, 8, 8)), "y": np.zeros(9, int)}, "labels must have shape (10,)"),
    ({"x": np.zeros((10, 8, 8)), "y": -np.ones(10, int)}, "labels must be >= 0"),
    ({"x": np.zeros((10, 8, 8)), "y": np.full(10, 0.5)}, "labels must be integers"),
    ({"x": np.full((10, 8, 8), np.nan), "y": np.zeros(10, int)}, "NaN"),
    ({"x": np.zeros((10, 8, 8)), "y": np.zeros(10, int)}, "need at least 2 classes"),
    ({"x": np.zeros((0, 8, 8)), "y": np.zeros(0, int)}, "no samples"),
    ({"x": np.zeros((10, 8, 8)), "y": np.arange(10) % 2, "x_test": np.zeros((3, 8, 8)), "y_test": np.array([0, 1, 5])},
     "test label 5 is out of range 0..1"),
    ({"x": np.zeros((10, 8, 8)), "y": np.arange(10) % 2, "x_test": np.zeros((3, 8, 8))}, "both x_test and y_test"),
])
def test_bad_npz(tmp_path, arrays, words):
    with pytest.raises(DataError) as caught:
        load(bad_npz(tmp_path, **arrays))
    assert words in str(caught.value)


def test_labels_beyond_declared_classes(tmp_path):
    with pytest.raises(DataError, match="out of range 0..2 for 3 classes"):
        load(write_npz(tmp_path / "d.npz", classes=4), num_classes=3)


def test_bad_paths(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load(tmp_path / "nothing")
    (tmp_path / "data.csv").write_text("1,2")
    with pytest.raises(DataError, match="must be .npz"):
        load(tmp_path / "data.csv")
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot read as .npz"):
        load(tmp_path / "broken.npz")
    (tmp_path / "one" / "only").mkdir(parents=True)
    with pytest.raises(DataError, match="one sub-folder per class"):
        load(tmp_path / "one")
    (tmp_path / "fm").mkdir()
    truncated = tmp_path / "fm" / "train-images-idx3-ubyte"
    truncated.write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x05")
    with pytest.raises(DataError, match="file ends after 8 bytes"):
        read_idx(truncated)
    truncated.write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05\x01")
    with pytest.raises(DataError, match="IDX header says"):
        read_idx(truncated)
