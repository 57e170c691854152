"""count_cost equals torch's parameter count and fvcore's conv/linear MACs, exactly."""

import dataclasses

import pytest
import torch
from fvcore.nn import ActivationCountAnalysis, FlopCountAnalysis
from hypothesis import given, settings
from hypothesis import strategies as st

from search_space import PRESETS, build_model, count_cost, load_space, load_spec
from tests.reference import REFERENCE_PARAMS
from tests.strategies import networks


def measured(spec):
    """(params, conv MACs, linear MACs, activations) of the built model, by torch and fvcore."""
    model = build_model(spec).eval()
    x = torch.zeros(1, spec.in_channels, *spec.resolution)
    with torch.no_grad():
        flops = FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        by_op = flops.by_operator()
        activations = ActivationCountAnalysis(model, x).unsupported_ops_warnings(False).total()
    params = sum(p.numel() for p in model.parameters())
    return params, by_op.get("conv", 0), by_op.get("linear", 0), activations


def analytic(spec):
    report = count_cost(spec)
    return report.params, report.macs_by_op["conv"], report.macs_by_op["linear"], report.activations


@pytest.mark.parametrize("name", list(REFERENCE_PARAMS))
def test_preset_params_equal_reference_implementation(name):
    spec = load_spec(name)
    assert count_cost(spec).params == REFERENCE_PARAMS[name]
    assert sum(p.numel() for p in build_model(spec).parameters()) == REFERENCE_PARAMS[name]


def test_b0_macs_match_the_guide_reference():
    report = count_cost(load_spec("efficientnet-b0"))
    assert report.macs_by_op == {"conv": 384_534_752, "linear": 1_280_000}
    assert report.macs == sum(part.macs for part in report.parts)
    assert report.params == sum(part.params for part in report.parts)


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_equal_fvcore_at_a_small_resolution(name):
    # Tracing B7 at 600x600 takes seconds and tests nothing a small input does not: the cost of a
    # layer is the same function of its input size at any size (B0 at 224 is checked below).
    spec = dataclasses.replace(load_spec(name), resolution=(64, 80))
    assert analytic(spec) == measured(spec)


def test_b0_at_224_equals_fvcore_and_the_papers_figure():
    spec = load_spec("efficientnet-b0")
    assert analytic(spec) == measured(spec)
    assert count_cost(spec).macs_by_op == {"conv": 384_534_752, "linear": 1_280_000}


@pytest.mark.parametrize("name", ["efficientnet-b0", "efficientnetv2-s", "ghost-efficientnetv2"])
def test_presets_equal_fvcore_one_channel_non_square(name):
    spec = dataclasses.replace(load_spec(name), in_channels=1, num_classes=10, resolution=(96, 200))
    assert analytic(spec) == measured(spec)


@settings(max_examples=10)
@given(seed=st.integers(0, 2**31 - 1), resolution=st.sampled_from([64, (48, 112), (130, 37)]))
def test_sampled_specs_equal_fvcore(seed, resolution):
    spec = dataclasses.replace(load_space("default").sample(seed), resolution=resolution, num_classes=10)
    assert analytic(spec) == measured(spec)


@settings(max_examples=40)
@given(networks())
def test_arbitrary_specs_equal_fvcore(spec):
    # Odd widths, Ghost, ECA with fixed kernels, LayerScale, cosine heads, stride-1 stems.
    assert analytic(spec) == measured(spec)


def test_per_stage_figures_add_up_and_track_resolution():
    spec = dataclasses.replace(load_spec("efficientnet-b0"), resolution=(128, 431))
    report = count_cost(spec)
    assert [part.output_resolution for part in report.stages] == [
        (64, 216), (32, 108), (16, 54), (8, 27), (8, 27), (4, 14), (4, 14)]
    assert sum(part.macs for part in report.parts) == report.macs
    assert report.resolution == (128, 431)


def test_macs_grow_with_resolution():
    spec = load_spec("efficientnet-b0")
    small = count_cost(dataclasses.replace(spec, resolution=112)).macs
    assert small < count_cost(spec).macs
    # Params do not depend on resolution.
    assert count_cost(dataclasses.replace(spec, resolution=112)).params == count_cost(spec).params
