"""Proxy training learns, reports every epoch, stops when told, and refuses NaN losses."""

import pytest
import torch

from infra.seeds import replicate_seed
from runners.learning import loop as training
from runners.learning.loop import TrainConfig, TrainingDiverged, evaluate, resolve_device, train_and_evaluate
from runners.learning.zero_cost import SCORES, zero_cost_scores
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


@pytest.mark.parametrize("cuda", [True, False])
def test_auto_picks_cuda_exactly_when_torch_sees_one_and_named_devices_pass_through(monkeypatch, cuda):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert resolve_device("auto") == ("cuda" if cuda else "cpu")
    assert resolve_device("cpu") == "cpu" and resolve_device("cuda:1") == "cuda:1"
    with pytest.raises(RuntimeError):
        resolve_device("banana")


def test_zero_cost_scores_are_finite_and_deterministic(setup):
    data, spec = setup
    scores = zero_cost_scores(spec, data, batches=1, batch_size=16, seed=1)
    assert set(scores) == set(SCORES)
    assert all(torch.isfinite(torch.tensor(v)) for v in scores.values())
    assert scores == zero_cost_scores(spec, data, batches=1, batch_size=16, seed=1)


def _targets_seen(monkeypatch, spec, data, seed):
    """The labels of every training batch, in order: they reveal the data order."""
    seen = []
    real = training.F.cross_entropy

    class Spy:
        def __getattr__(self, name):
            return getattr(torch.nn.functional, name)

        @staticmethod
        def cross_entropy(logits, target, **kwargs):
            if torch.is_grad_enabled():
                seen.append(target.clone())
            return real(logits, target, **kwargs)

    monkeypatch.setattr(training, "F", Spy())
    train_and_evaluate(spec, data, TrainConfig(epochs=2, batch_size=16), seed=seed)
    monkeypatch.undo()
    return torch.cat(seen)


def test_common_random_numbers_two_candidates_see_the_same_data_order(setup, tmp_path, monkeypatch):
    data, spec = setup
    other = load_space(_space_file(tmp_path)).sample(7)
    assert other != spec
    first = _targets_seen(monkeypatch, spec, data, seed=3)
    assert torch.equal(first, _targets_seen(monkeypatch, other, data, seed=3))
    assert not torch.equal(first, _targets_seen(monkeypatch, other, data, seed=4))


def _space_file(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(TINY_SPACE)
    return path


def test_replicate_seeds_differ_by_replicate_and_run_seed():
    seeds = {replicate_seed(run, replicate) for run in range(30) for replicate in range(30)}
    assert len(seeds) == 900


def _model(spec, data, layout=torch.contiguous_format):
    torch.manual_seed(0)
    model = training.build_model(spec, num_classes=data.num_classes, in_channels=data.in_channels)
    return model.to(memory_format=layout)


def test_channels_last_gives_the_reference_step(setup):
    """The NHWC layout changes the speed of a step, not its loss or gradients."""
    data, spec = setup
    images, labels = data.train_x[:32], data.train_y[:32]
    outcomes = []
    for layout in (torch.contiguous_format, torch.channels_last):
        model = _model(spec, data, layout)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: the step leaves the gradients to compare
        loss = training.training_step(model, optimizer, images.contiguous(memory_format=layout), labels)
        outcomes.append((loss, [p.grad.clone() for p in model.parameters()]))
    (loss, gradients), (fast_loss, fast_gradients) = outcomes
    assert torch.allclose(fast_loss, loss, rtol=1e-5)
    scale = max(float(gradient.abs().max()) for gradient in gradients)  # rounding noise is relative to it
    for expected, actual in zip(gradients, fast_gradients):
        assert torch.allclose(actual, expected, rtol=1e-3, atol=1e-5 * scale)


def test_multi_tensor_adamw_gives_the_reference_update(setup):
    data, spec = setup
    config = TrainConfig(learning_rate=1e-2)
    images, labels = data.train_x[:32], data.train_y[:32]
    parameters = []
    for optimizer_of in (lambda m: torch.optim.AdamW(m.parameters(), lr=config.learning_rate,
                                                     weight_decay=config.weight_decay, foreach=False),
                         lambda m: training.make_optimizer(m, config)):
        model = _model(spec, data)
        optimizer = optimizer_of(model)
        for _ in range(2):
            training.training_step(model, optimizer, images, labels)
        parameters.append([p.detach().clone() for p in model.parameters()])
    for expected, actual in zip(*parameters):
        assert torch.allclose(actual, expected, rtol=1e-5, atol=1e-6)


def test_training_reports_the_ranking_signals(setup):
    data, spec = setup
    result = train_and_evaluate(spec, data, TrainConfig(epochs=2, batch_size=32))
    assert result.training_loss_sum > result.train_loss > 0  # two epochs' mean losses summed
    assert 0 < result.validation_loss < 10


@pytest.mark.parametrize("device, available, bf16, mixed, expected", [
    ("cpu", False, False, True, None),  # bf16 measured slower on the CPU: fp32
    ("cuda", True, True, True, torch.bfloat16),
    ("cuda:1", True, True, True, torch.bfloat16),
    ("cuda", True, False, True, None),  # a GPU without bf16 (before Ampere): fp32, no loss scaling to manage
    ("cuda", True, True, False, None),  # mixed precision switched off
])
def test_bf16_autocast_only_on_a_cuda_device_that_has_it(monkeypatch, device, available, bf16, mixed, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    assert training.autocast_dtype(device, mixed) == expected


def test_to_device_on_the_cpu_keeps_values_and_sets_the_layout():
    batch = torch.randn(4, 3, 5, 7)
    moved = training.to_device(batch, "cpu", torch.channels_last)
    assert torch.equal(moved, batch) and moved.is_contiguous(memory_format=torch.channels_last)
    assert not moved.is_pinned()  # pinned host memory only for a CUDA copy
