"""python -m search_space export: the fused eval model as ONNX (run in onnxruntime) and
TorchScript, equal to PyTorch's outputs on 1-channel non-square input at any batch size;
checkpoints round-trip; damaged checkpoints are one line."""

from __future__ import annotations

import collections
import dataclasses
import functools
import io

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from search_space import build_model, load_spec, to_json
from search_space.__main__ import main
from search_space.checkpoint import load_checkpoint, save_checkpoint
from tests.commands import assert_one_line_error, call


def trained_like(spec):
    """A model whose weights and batch-norm statistics are far from their initial values, so
    that every layer (zero-initialised residual branches included) shapes the output."""
    torch.manual_seed(0)
    model = build_model(spec)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn_like(parameter) * 0.2)
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.copy_(torch.randn_like(module.running_mean) * 0.1)
                module.running_var.copy_(torch.rand_like(module.running_var) + 0.5)
    return model.eval()


SPECS = {
    "efficientnet-b0": dict(),  # MBConv with squeeze-excitation
    "ghost-efficientnetv2": dict(width_mult=0.5, depth_mult=0.5),  # Fused-MBConv, Ghost modules, ECA
}


@pytest.fixture(scope="module", params=list(SPECS))
def checkpoint(request, tmp_path_factory):
    spec = dataclasses.replace(load_spec(request.param, **SPECS[request.param]), in_channels=1, num_classes=7,
                               resolution=(40, 72))
    model = trained_like(spec)
    path = save_checkpoint(tmp_path_factory.mktemp("ckpt") / "model.pt", spec, model, epoch=3)
    return path, model


def test_a_checkpoint_round_trips(checkpoint):
    path, model = checkpoint
    spec, loaded = load_checkpoint(path)
    x = torch.randn(2, 1, 40, 72)
    assert spec.resolution == (40, 72) and spec.in_channels == 1
    assert torch.equal(loaded(x), model(x))


def test_onnx_export_runs_in_onnxruntime_like_pytorch(checkpoint, tmp_path, capsys):
    import onnxruntime

    path, model = checkpoint
    out = tmp_path / "model.onnx"
    outcome = call(main, ["export", path, "--format", "onnx", "--out", out], capsys)
    assert outcome.code == 0, outcome.err
    assert "input N x 1 x 40 x 72 (N free)" in outcome.out
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for batch in (1, 3, 8):
        x = torch.randn(batch, 1, 40, 72)
        expected = model(x).detach().numpy()
        assert np.abs(expected).max() > 0.1  # outputs that mean something
        [logits] = session.run(None, {session.get_inputs()[0].name: x.numpy()})
        assert logits.shape == (batch, 7)
        assert np.abs(logits - expected).max() <= 1e-4


def test_torchscript_export_matches_pytorch(checkpoint, tmp_path, capsys):
    path, model = checkpoint
    out = tmp_path / "model.pt"
    assert call(main, ["export", path, "--format", "torchscript", "--out", out], capsys).code == 0
    scripted = torch.jit.load(str(out))
    for batch in (1, 5):
        x = torch.randn(batch, 1, 40, 72)
        assert (scripted(x) - model(x)).abs().max().item() <= 1e-4


def test_a_spec_exports_with_initial_weights_and_says_so_in_one_line(tmp_path):
    from tests.commands import spawn

    outcome = spawn("search_space", "export", "efficientnet-b0", "--format", "onnx", "--out", tmp_path / "b0.onnx")
    assert outcome.code == 0 and "initial weights" in outcome.out
    assert outcome.err == ""  # the exporter's own narration and warnings stay out of the terminal
    assert [path.name for path in tmp_path.iterdir()] == ["b0.onnx"]  # no partial file left


def test_an_output_folder_that_cannot_be_written_is_refused_before_exporting(capsys):
    assert_one_line_error(call(main, ["export", "efficientnet-b0", "--out", "/proc/model.onnx"], capsys),
                          "cannot write in /proc")


@pytest.mark.parametrize("damage, words", [
    (lambda path: path.write_bytes(b"not a checkpoint"), "not a checkpoint torch can read"),
    (lambda path: torch.save({"format": 1, "spec": "{", "state_dict": {}}, path), "its spec is invalid"),
    (lambda path: torch.save({"weights": 1}, path), "not a checkpoint of this suite"),
    (lambda path: path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2]), "not a checkpoint torch can read"),
])
def test_a_damaged_checkpoint_is_one_line(checkpoint, tmp_path, damage, words, capsys):
    path = tmp_path / "damaged.pt"
    path.write_bytes(checkpoint[0].read_bytes())
    damage(path)
    assert_one_line_error(call(main, ["export", path, "--out", tmp_path / "x.onnx"], capsys), words)


def test_weights_of_another_network_are_one_line(checkpoint, tmp_path, capsys):
    payload = torch.load(checkpoint[0], weights_only=True)
    other = dataclasses.replace(load_spec("efficientnet-b0"), in_channels=1, num_classes=3)
    from search_space import to_json

    torch.save({**payload, "spec": to_json(other)}, tmp_path / "mixed.pt")
    assert_one_line_error(call(main, ["export", tmp_path / "mixed.pt", "--out", tmp_path / "x.onnx"], capsys),
                          "its weights do not fit its spec")


def _int8_ops(model: torch.fx.GraphModule) -> collections.Counter:
    """How many int8 kernels of each kind the converted graph calls (FX traces the suite's
    layers into functional calls: the int8 ones are ``quantized.*``)."""
    return collections.Counter(str(node.target) for node in model.graph.nodes
                               if node.op == "call_function" and str(node.target).startswith("quantized."))


def test_int8_quantization_keeps_a_trained_network_s_predictions(tmp_path):
    from runners.learning.loop import TrainConfig, evaluate, train_model
    from search_space import load_space, quantize_int8
    from tests.datasets import TINY_SPACE, load, write_npz

    (tmp_path / "space.yaml").write_text(TINY_SPACE)
    data = load(write_npz(tmp_path / "d.npz", n=320, shape=(24, 36)), val_fraction=0.25)
    spec = data.deployed(load_space(tmp_path / "space.yaml").sample(0))
    model, result = train_model(spec, data, TrainConfig(epochs=3, batch_size=32))
    assert result.accuracy > 0.6  # a network worth quantizing
    calibration = [data.train_x[:64], data.train_x[64:128]]
    fp32 = evaluate(model, data.val_x, data.val_y, 64, "cpu")
    everywhere = quantize_int8(model, calibration, float_modules=())
    int8_convs = _int8_ops(everywhere)["quantized.conv2d"]
    assert int8_convs == sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    assert _int8_ops(everywhere)["quantized.linear"] == 1
    assert evaluate(everywhere, data.val_x, data.val_y, 64, "cpu") >= fp32 - 0.1
    # The default keeps the stem (one conv) and the classifier in float, and nothing else.
    default = quantize_int8(model, calibration)
    assert _int8_ops(default)["quantized.conv2d"] == int8_convs - 1 and _int8_ops(default)["quantized.linear"] == 0
    assert evaluate(default, data.val_x, data.val_y, 64, "cpu") >= fp32 - 0.1
    stem_only = quantize_int8(model, calibration, float_modules="stem")  # one name, not its letters
    assert _int8_ops(stem_only)["quantized.conv2d"] == int8_convs - 1 and _int8_ops(stem_only)["quantized.linear"] == 1
    with pytest.raises(ValueError, match="calibration"):
        quantize_int8(model, [])
    with pytest.raises(ValueError, match="float_modules: stages.99 not in the model"):
        quantize_int8(model, calibration, float_modules=("stem", "stages.99"))


TINY_NETWORK = """name: tiny
resolution: 16
in_channels: 1
num_classes: 3
stem_channels: 8
head_channels: 16
stages: [r1_k3_s11_e1_i8_o8_se0.25, r1_k3_s22_e2_i8_o8]
"""


@functools.lru_cache(maxsize=1)
def _tiny_checkpoint():
    from search_space import from_yaml

    spec = from_yaml(TINY_NETWORK)
    buffer = io.BytesIO()
    torch.save({"format": 1, "spec": to_json(spec), "state_dict": trained_like(spec).state_dict()}, buffer)
    return spec, buffer.getvalue()


def test_a_damaged_byte_in_any_member_of_a_checkpoint_is_one_line(tmp_path):
    """Each member of the checkpoint's archive damaged in its data and in its header's name
    length: every one is a CheckpointError line (torch.load alone loads some of them)."""
    import zipfile

    from search_space.checkpoint import CheckpointError

    _, original = _tiny_checkpoint()
    with zipfile.ZipFile(io.BytesIO(original)) as archive:
        members = [(info.filename, info.header_offset, info.file_size) for info in archive.infolist()]
    path = tmp_path / "damaged.pt"
    for name, header, size in members:
        data = header + 30 + int.from_bytes(original[header + 26 : header + 28], "little") + int.from_bytes(
            original[header + 28 : header + 30], "little")  # past the local header, its name and extra field
        places = [header + 26] + ([data + size // 2] if size else [])  # the name's length; a byte of the data
        for place in places:
            damaged = bytearray(original)
            damaged[place] ^= 0x5A
            path.write_bytes(bytes(damaged))
            with pytest.raises(CheckpointError) as error:
                load_checkpoint(path)
            assert str(path) in str(error.value) and "\n" not in str(error.value), (name, place)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 10**6), st.integers(0, 255))
@example(b"", 8754, 3)  # a member's header damaged: torch.load read its weights from elsewhere
def test_random_or_damaged_checkpoints_load_whole_or_fail_in_one_line(tmp_path_factory, noise, where, byte):
    """A checkpoint of a real network, damaged at one byte, cut short, or replaced by noise:
    loading either raises one CheckpointError line naming the file, or gives a network
    that is whole (its weights are the file's, shaped as its spec says, and it runs)."""
    from search_space.checkpoint import CheckpointError

    folder = tmp_path_factory.mktemp("fuzz")
    spec, original = _tiny_checkpoint()
    good = folder / "good.pt"
    good.write_bytes(original)
    loaded_spec, loaded = load_checkpoint(good)  # the undamaged file round-trips exactly
    assert loaded_spec == spec and all(torch.equal(value, trained_like(spec).state_dict()[key])
                                       for key, value in loaded.state_dict().items())
    damaged = bytearray(original)
    damaged[where % len(damaged)] = byte
    cut = original[: where % len(original)]  # always shorter than the file: never a whole checkpoint
    for content, can_load in ((noise, True), (bytes(damaged), True), (cut, False)):
        path = folder / "fuzzed.pt"
        path.write_bytes(content)
        try:
            fuzzed_spec, model = load_checkpoint(path)
        except CheckpointError as error:
            assert str(path) in str(error) and "\n" not in str(error)
            continue
        assert can_load, f"a checkpoint cut to {len(content)} of {len(original)} bytes loaded"
        weights = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
        assert all(torch.equal(value, weights[key]) for key, value in model.state_dict().items())
        side = fuzzed_spec.resolution
        assert model(torch.zeros(1, fuzzed_spec.in_channels, *side)).shape == (1, fuzzed_spec.num_classes)