"""Builder behaviour: forward passes, heads, stochastic depth, freezing, fusion, channel adaptation."""

import dataclasses

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from search_space import (adapt_input_channels, build_model, count_cost, fuse_model, load_adapted_state_dict,
                          load_space, load_spec, set_trainable_layers)
from search_space.layers import CosineClassifier, DropPath, FastTrainingConv2d, GhostModule, eca_kernel_size
from tests.strategies import networks, stages


@settings(max_examples=30)
@given(seed=st.integers(0, 2**31 - 1))
def test_every_sampled_spec_builds_and_runs(seed):
    spec = load_space("default").sample(seed)
    model = build_model(spec, num_classes=7, in_channels=1).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, 40, 56))
    assert out.shape == (2, 7)
    assert torch.isfinite(out).all()


@settings(max_examples=30)
@given(networks())
def test_arbitrary_specs_train_one_step(spec):
    spec = dataclasses.replace(spec, num_classes=max(2, spec.num_classes))  # one class has no gradient
    model = build_model(spec).train()
    x = torch.randn(2, spec.in_channels, *spec.resolution)
    target = torch.randint(0, spec.num_classes, (2,))
    loss = torch.nn.functional.cross_entropy(model(x, target), target)
    loss.backward()
    assert torch.isfinite(loss)
    # Every parameter is reached by the backward pass with a finite gradient. (Not "some
    # gradient is non-zero": a 1-channel head behind ReLU or dropout can be dead on a batch.)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", ["efficientnet-b0", "efficientnetv2-s", "ghost-efficientnetv2"])
def test_one_channel_non_square_spectrogram_input(name):
    model = build_model(load_spec(name), num_classes=5, in_channels=1).eval()
    with torch.no_grad():
        assert model(torch.randn(3, 1, 128, 431)).shape == (3, 5)
    assert model.spec.in_channels == 1 and model.spec.num_classes == 5
    assert count_cost(model.spec).params == sum(p.numel() for p in model.parameters())


def test_stochastic_depth_rises_linearly_over_global_block_index():
    spec = load_spec("efficientnet-b0")
    model = build_model(spec)
    blocks = model.blocks
    assert len(blocks) == spec.total_blocks == 16
    expected = [spec.drop_path_rate * i / 16 for i in range(16)]
    actual = [b.drop_path.probability if b.drop_path is not None else 0.0 for b in blocks]
    # Blocks without a residual (stride 2 or new width) have nothing to drop.
    for block, want, got in zip(blocks, expected, actual):
        assert got == pytest.approx(want) if block.residual else got == 0.0
    assert max(actual) == pytest.approx(0.2 * 14 / 16)  # block 15 changes width: no residual


def test_drop_path_drops_whole_samples_and_keeps_expectation():
    torch.manual_seed(0)
    layer = DropPath(0.5).train()
    out = layer(torch.ones(4000, 3, 2, 2))
    per_sample = out.flatten(1)
    assert set(per_sample.unique().tolist()) == {0.0, 2.0}
    assert (per_sample == per_sample[:, :1]).all()
    assert out.mean().item() == pytest.approx(1.0, abs=0.05)
    assert torch.equal(layer.eval()(torch.ones(2, 3)), torch.ones(2, 3))


def test_cosine_head_is_bounded_by_scale_and_margin_lowers_target_logit():
    spec = dataclasses.replace(load_spec("efficientnet-b0"), classifier="cosine", cosine_scale=16.0,
                               cosine_margin=0.3, num_classes=4, resolution=32)
    model = build_model(spec)
    assert isinstance(model.classifier, CosineClassifier)
    x, target = torch.randn(6, 3, 32, 32), torch.tensor([0, 1, 2, 3, 0, 1])
    model.eval()
    with torch.no_grad():
        plain = model(x)
        assert plain.abs().max() <= 16.0 + 1e-4
        assert torch.equal(plain, model(x, target))  # no margin at evaluation
        model.train()
        model.dropout.p = 0.0
        for block in model.blocks:
            block.drop_path = None
        features = model.forward_features(x)
        with_margin = model.classifier(features, target)
        without = model.classifier(features)
    picked = torch.arange(6), target
    assert (with_margin[picked] < without[picked]).all()
    others = torch.ones_like(without, dtype=torch.bool)
    others[picked] = False
    assert torch.allclose(with_margin[others], without[others])


def test_set_trainable_layers_counts():
    model = build_model(load_spec("efficientnet-b0"), num_classes=10)
    head_params = {id(p) for m in (model.head, model.classifier) for p in m.parameters()}

    def trainable():
        return {id(p) for p in model.parameters() if p.requires_grad}

    set_trainable_layers(model, 0)
    assert trainable() == head_params
    set_trainable_layers(model, 2)
    last_two = {id(p) for b in model.blocks[-2:] for p in b.parameters()}
    assert trainable() == head_params | last_two
    set_trainable_layers(model, -1)
    assert trainable() == {id(p) for p in model.parameters()}
    for bad in (-2, 17, 1.5, True):
        with pytest.raises(ValueError, match="trainable_blocks"):
            set_trainable_layers(model, bad)


def test_frozen_batch_norm_keeps_statistics_in_train_mode():
    model = build_model(load_spec("efficientnet-b0"), num_classes=3)
    set_trainable_layers(model, 1)
    model.train()
    stem_mean = model.stem.norm.running_mean.clone()
    last_block_norm = model.blocks[-1].body[-1].norm
    last_mean = last_block_norm.running_mean.clone()
    model(torch.randn(4, 3, 64, 64)).sum().backward()
    assert torch.equal(model.stem.norm.running_mean, stem_mean)
    assert not torch.equal(last_block_norm.running_mean, last_mean)
    assert model.stem.conv.weight.grad is None


@pytest.mark.parametrize("name", ["efficientnet-b0", "efficientnetv2-s", "ghost-efficientnetv2"])
def test_fuse_model_matches_unfused_eval_outputs(name):
    torch.manual_seed(0)
    model = build_model(load_spec(name), num_classes=10, in_channels=1)
    # Non-trivial batch-norm statistics, as after training.
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, 1, 48, 80))
    model.eval()
    x = torch.randn(4, 1, 48, 80)
    fused = fuse_model(model)
    with torch.no_grad():
        reference, out = model(x), fused(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # original untouched
    assert torch.allclose(out, reference, atol=1e-5, rtol=0), (out - reference).abs().max()


def test_adapt_three_channel_weights_to_one_and_n_channels():
    source = build_model(load_spec("efficientnet-b0"), num_classes=10)
    state = source.state_dict()
    rgb = state["stem.conv.weight"]
    mono = build_model(load_spec("efficientnet-b0"), num_classes=10, in_channels=1)
    load_adapted_state_dict(mono, state)
    assert torch.allclose(mono.stem.conv.weight, rgb.mean(dim=1, keepdim=True))
    # Same response to a gray image as the RGB model fed the gray replicated into 3 channels, / 3.
    gray = torch.randn(1, 1, 32, 32)
    mono_out = torch.nn.functional.conv2d(gray, mono.stem.conv.weight, padding=1)
    rgb_out = torch.nn.functional.conv2d(gray.repeat(1, 3, 1, 1), rgb, padding=1)
    assert torch.allclose(mono_out * 3, rgb_out, atol=1e-5)
    five = adapt_input_channels(state, 5)["stem.conv.weight"]
    assert five.shape == (32, 5, 3, 3) and torch.allclose(five[:, 4], rgb.mean(dim=1))
    assert adapt_input_channels(state, 3)["stem.conv.weight"] is rgb
    with pytest.raises(ValueError, match="in_channels"):
        adapt_input_channels(state, 0)
    with pytest.raises(KeyError, match="first conv"):
        adapt_input_channels({}, 1)


def test_ghost_module_keeps_requested_channels_and_is_cheaper():
    for out in (1, 7, 16, 33):
        module = GhostModule(12, out)
        assert module(torch.randn(1, 12, 5, 5)).shape == (1, out, 5, 5)
    spec = load_spec("efficientnetv2-s")
    from search_space import to_ghost
    assert count_cost(to_ghost(spec)).macs < count_cost(spec).macs


@pytest.mark.parametrize("channels, kernel", [(16, 3), (64, 3), (96, 3), (256, 5), (1280, 5), (4096, 7), (2, 1)])
def test_eca_adaptive_kernel(channels, kernel):
    assert eca_kernel_size(channels) == kernel


def test_ghost_preset_is_v2s_with_ghost_blocks_eca_and_layer_scale():
    ghost, v2s = load_spec("ghost-efficientnetv2"), load_spec("efficientnetv2-s")
    assert [s.block for s in ghost.stages] == ["Ghost" + s.block for s in v2s.stages]
    assert all((s.attention is None) == (t.attention is None) for s, t in zip(ghost.stages, v2s.stages))
    assert all(str(s.attention) == "eca" for s in ghost.stages if s.attention is not None)
    assert all(s.layer_scale == 1e-5 for s in ghost.stages)
    half = load_spec("ghost-efficientnetv2", width_mult=0.5, depth_mult=0.5)
    assert count_cost(half).params < count_cost(ghost).params
    assert [s.repeats for s in half.stages] == [1, 2, 2, 3, 5, 8]
    model = build_model(ghost)
    assert sum(isinstance(m, GhostModule) for m in model.modules()) > 0
    assert sum(m.gamma.numel() for n, m in model.named_modules() if n.endswith("layer_scale")) > 0


@settings(deadline=None, max_examples=40)
@given(kernel=st.sampled_from([1, 3, 5, 7]), depthwise=st.booleans(), height=st.integers(1, 6),
       width=st.integers(1, 6), channels_last=st.booleans(), bias=st.booleans())
# The pointwise shortcut's own case (a one-pixel map), which random draws rarely reach.
@example(kernel=1, depthwise=False, height=1, width=1, channels_last=True, bias=True)
@example(kernel=1, depthwise=False, height=1, width=1, channels_last=False, bias=True)
def test_fast_training_conv_equals_the_plain_conv(kernel, depthwise, height, width, channels_last, bias):
    """Its shortcuts (pointwise as a matrix product, taps that only meet padding skipped)
    give the plain convolution's output and gradients."""
    channels = 6
    torch.manual_seed(0)
    fast = FastTrainingConv2d(channels, channels, kernel, 1, kernel // 2, groups=channels if depthwise else 1,
                              bias=bias).train()
    layout = torch.channels_last if channels_last else torch.contiguous_format
    images = torch.randn(3, channels, height, width).contiguous(memory_format=layout).requires_grad_()
    output = fast(images)
    expected = torch.nn.functional.conv2d(images, fast.weight, fast.bias, 1, kernel // 2, 1, fast.groups)
    assert torch.allclose(output, expected, atol=1e-5)
    upstream = torch.randn_like(output)
    gradients = torch.autograd.grad(output, (images, fast.weight), upstream)
    expected_gradients = torch.autograd.grad(expected, (images, fast.weight), upstream)
    for actual, wanted in zip(gradients, expected_gradients):
        assert torch.allclose(actual, wanted, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(networks(max_stages=3), stages())
def test_every_residual_block_starts_as_the_identity(spec, last):
    """Zero-initialised residual branches (Goyal et al. 2017): a block with a shortcut and no
    LayerScale returns its input at initialisation, whatever its type and attention. The last
    stage is made to repeat at stride 1 with a shortcut, so every example checks a block."""
    last = dataclasses.replace(last, repeats=2, stride=1, skip=True, layer_scale=None)
    spec = dataclasses.replace(spec, stages=(*spec.stages, last))
    model = build_model(spec).eval()
    checked = 0
    with torch.no_grad():
        x = model.stem(torch.randn(2, spec.in_channels, *spec.resolution))
        for block in model.blocks:
            if block.residual and block.layer_scale is None:
                torch.testing.assert_close(block(x), x)
                checked += 1
            x = block(x)
    assert checked >= 1
