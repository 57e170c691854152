"""The memory a training checks before its first step: a lower bound counted from autograd's
saved tensors (exactly linear in the batch), taken without touching the training it
precedes; a training that cannot fit is one line (exit 2), one that may not is warned of."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from runners.learning import memory
from runners.learning.memory import (EVALUATION_BATCH_BYTES, MAX_EVALUATION_BATCH, PEAK_OVER_BOUND, LiveTensorBytes,
                                     check_fits, evaluation_batch, fitting_calibration_batch, inference_bytes,
                                     largest_fitting_batch, saved_bytes, training_memory)
from runners.train import full_run
from runners.train.command import main
from search_space import build_model, read_spec_file
from tests.commands import assert_one_line_error, call
from tests.datasets import write_idx_dir
from tests.test_train_cli import tiny, train_args


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    torch.manual_seed(0)
    spec = read_spec_file(tiny(tmp_path_factory.mktemp("spec") / "tiny.yaml"))
    return build_model(dataclasses.replace(spec, dropout=0.5, drop_path_rate=0.2))


@settings(max_examples=10, deadline=None)
@given(batch=st.integers(2, 9), height=st.integers(8, 40), width=st.integers(8, 40),
       layout=st.sampled_from([torch.contiguous_format, torch.channels_last]))
def test_the_count_is_exact_at_every_batch(network, batch, height, width, layout):
    bound = training_memory(network, (1, height, width), layout)
    measured = saved_bytes(network.train(), torch.zeros(batch, 1, height, width).contiguous(memory_format=layout))
    parameters = sum(p.numel() * 4 for p in network.parameters())
    assert bound.fixed == 3 * parameters  # all trainable: a gradient and two moments each
    assert bound.per_image * batch <= measured <= bound.per_image * batch + 64 * 2**10  # the batch-free rest: BN stats


def test_counting_changes_nothing_of_the_training_it_precedes(network):
    network.eval()
    weights = {key: value.clone() for key, value in network.state_dict().items()}
    random_state = torch.get_rng_state()
    training_memory(network, (1, 24, 40))
    assert not network.training
    assert all(torch.equal(weights[key], value) for key, value in network.state_dict().items())
    assert torch.equal(random_state, torch.get_rng_state())


def test_frozen_layers_need_no_gradients_or_moments(network):
    whole = training_memory(network, (1, 16, 16))
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    try:
        frozen = training_memory(network, (1, 16, 16))
    finally:
        for parameter in network.parameters():
            parameter.requires_grad_(True)
    assert frozen.fixed == 0 < whole.fixed and frozen.per_image < whole.per_image


@given(per_image=st.integers(1, 2**30), fixed=st.integers(0, 2**32), available=st.integers(0, 2**40))
def test_the_largest_fitting_batch_fits_and_one_more_does_not(per_image, fixed, available):
    bound = memory.TrainingMemory(per_image=per_image, fixed=fixed)
    batch = largest_fitting_batch(bound, available)
    assert batch == 0 or bound.step(batch) <= available
    assert bound.step(batch + 1) > available


@settings(max_examples=10, deadline=None)
@given(batch=st.integers(2, 6), height=st.integers(8, 40), width=st.integers(8, 40), training=st.booleans())
def test_a_pass_without_gradients_is_counted_exactly_per_image(network, batch, height, width, training):
    network.train(training)
    per_image = inference_bytes(network, (1, height, width))
    counter = LiveTensorBytes()
    with torch.inference_mode(), counter:
        images = torch.zeros(batch, 1, height, width)
        counter.track(images)
        network(images)
    assert per_image * batch <= counter.peak <= per_image * batch + 64 * 2**10  # the rest: BN statistics
    # The first activation alone, and the batch itself, are a floor.
    assert per_image > 4 * height * width


@pytest.mark.parametrize("inplace", [False, True])
def test_live_tensors_are_counted_as_a_hand_count_has_them(inplace):
    """1 -> 4 -> 8 channels: the input (held by the caller) and both convolutions' outputs
    coexist while the second runs: 13 floats a pixel; an in-place activation adds nothing."""
    layers = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(inplace=inplace),
                                 torch.nn.Conv2d(4, 8, 3, padding=1)).eval()
    assert inference_bytes(layers, (1, 6, 10)) == 13 * 4 * 6 * 10


@given(per_image=st.integers(1, 2**34))
def test_the_evaluation_batch_holds_about_its_bytes(per_image):
    batch = evaluation_batch(per_image)
    assert 1 <= batch <= MAX_EVALUATION_BATCH and batch & (batch - 1) == 0  # a power of two
    if 1 < batch < MAX_EVALUATION_BATCH:
        assert EVALUATION_BATCH_BYTES / 2**0.5 <= batch * per_image <= EVALUATION_BATCH_BYTES * 2**0.5


@given(per_image=st.integers(1, 2**28), fixed=st.integers(0, 2**30), wanted=st.integers(2, 4096),
       available=st.one_of(st.none(), st.integers(0, 2**40)))
def test_recalibration_keeps_its_batch_unless_it_cannot_fit(per_image, fixed, wanted, available):
    bound = memory.TrainingMemory(per_image=1, fixed=fixed, inference_per_image=per_image)
    batch = fitting_calibration_batch(bound, wanted, available)
    if available is None or bound.inference(wanted) <= available:
        assert batch == wanted
    else:
        assert 2 <= batch <= wanted and (batch == 2 or bound.inference(batch) <= available)
        assert bound.inference(2 * batch) > available or 2 * batch >= wanted


def test_the_loop_evaluates_at_the_batch_its_tensors_favour_unless_one_is_given(network, tmp_path):
    from runners.data.sources import DataOptions, prepare
    from runners.learning.loop import TrainConfig, TrainingLoop

    data = prepare(DataOptions(source=str(write_idx_dir(tmp_path / "idx", n=64, test=8)), proxy_resolution=(24, 40)))
    shape = (data.in_channels, *data.resolution)
    chosen = TrainingLoop(network, data, TrainConfig(), seed=0).evaluation_batch()
    assert chosen == evaluation_batch(inference_bytes(network.eval(), shape, torch.channels_last))
    assert TrainingLoop(network, data, TrainConfig(eval_batch_size=7), seed=0).evaluation_batch() == 7


def test_a_batch_that_fits_passes_and_unknown_memory_is_not_checked():
    bound = memory.TrainingMemory(per_image=2**20, fixed=2**20)
    check_fits(bound, 64, 65 * 2**20, "training")
    check_fits(bound, 10**6, None, "training")


@pytest.fixture
def idx(tmp_path):
    return str(write_idx_dir(tmp_path / "idx", n=96, test=16))


def test_a_training_that_cannot_fit_is_one_line_before_its_first_step(tmp_path, idx, capsys, monkeypatch):
    monkeypatch.setattr(full_run, "device_memory", lambda device: 2**20)  # 1 MiB left
    outcome = call(main, train_args(tmp_path, idx), capsys)
    assert_one_line_error(outcome, "training tiny on 1x", "at batch 32 needs more than", "of activations an image",
                          "lower --batch-size to")
    assert not (tmp_path / "run" / "last.pt").exists()


def test_a_training_that_may_not_fit_is_warned_of_and_runs(tmp_path, idx, capsys, monkeypatch):
    counted = {}

    def just_above_the_bound(model, shape, layout):
        counted["bound"] = training_memory(model, shape, layout)
        return counted["bound"]

    monkeypatch.setattr(full_run, "training_memory", just_above_the_bound)
    monkeypatch.setattr(full_run, "device_memory",
                        lambda device: int(counted["bound"].step(32) * (1 + PEAK_OVER_BOUND) / 2))
    outcome = call(main, train_args(tmp_path, idx), capsys)
    assert outcome.code == 0, outcome.err
    assert "warning: training tiny" in outcome.out + outcome.err and "may peak at up to" in outcome.out + outcome.err
    assert (tmp_path / "run" / "result.json").exists()
