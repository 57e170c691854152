"""Proxy training learns, reports every epoch, stops when told, and refuses NaN losses."""

import pytest
import torch

from runners import training

from runners.training import TrainConfig, TrainingDiverged, evaluate, resolve_device, train_and_evaluate
from runners.zero_cost import SCORES, zero_cost_scores
from search_space import load_space
from tests.datasets import TINY_SPACE, load, write_npz


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    (folder / "space.yaml").write_text(TINY_SPACE)
    data = load(write_npz(folder / "d.npz", n=240, shape=(24, 36)), val_fraction=0.25)
    spec = load_space(folder / "space.yaml").sample(0)
    return data, spec


def test_training_beats_chance_and_reports_each_epoch(setup):
    data, spec = setup
    reports = []
    result = train_and_evaluate(spec, data, TrainConfig(epochs=3, batch_size=32), report=lambda e, a: reports.append(e))
    assert reports == [1, 2, 3] and result.epochs == 3 and not result.pruned
    assert result.accuracy > 0.5  # 4 classes: chance is 0.25


def test_report_returning_true_stops_training(setup):
    data, spec = setup
    result = train_and_evaluate(spec, data, TrainConfig(epochs=3, batch_size=32), report=lambda e, a: e == 1)
    assert result.pruned and result.epochs == 1


def test_same_seed_same_result(setup):
    data, spec = setup
    first = train_and_evaluate(spec, data, TrainConfig(epochs=1, batch_size=32), seed=5)
    second = train_and_evaluate(spec, data, TrainConfig(epochs=1, batch_size=32), seed=5)
    assert first.accuracy == second.accuracy and first.train_loss == second.train_loss


def test_nan_loss_raises(setup, monkeypatch):
    data, spec = setup
    real = training.F.cross_entropy

    class Poisoned:
        def __getattr__(self, name):
            return getattr(torch.nn.functional, name)

        @staticmethod
        def cross_entropy(*args, **kwargs):
            return real(*args, **kwargs) * float("nan")

    monkeypatch.setattr(training, "F", Poisoned())
    with pytest.raises(TrainingDiverged, match="loss became nan"):
        train_and_evaluate(spec, data, TrainConfig(epochs=1, batch_size=32))


def test_evaluate_counts_correct_predictions():
    class Constant(torch.nn.Module):
        def forward(self, x):
            return torch.tensor([[0.0, 1.0]]).repeat(len(x), 1)

    labels = torch.tensor([1, 1, 0, 1])
    assert evaluate(Constant(), torch.zeros(4, 1, 2, 2), labels, batch_size=3, device="cpu") == 0.75


def test_resolve_device():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    with pytest.raises(RuntimeError):
        resolve_device("banana")


def test_zero_cost_scores_are_finite_and_deterministic(setup):
    data, spec = setup
    scores = zero_cost_scores(spec, data, batches=1, batch_size=16, seed=1)
    assert set(scores) == set(SCORES)
    assert all(torch.isfinite(torch.tensor(v)) for v in scores.values())
    assert scores == zero_cost_scores(spec, data, batches=1, batch_size=16, seed=1)
