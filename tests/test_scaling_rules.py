"""Reference rounding and compound scaling: properties and the official B1..B7."""

import dataclasses
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from scaling.compound import Coefficients, corrected_scale
from search_space import SpecError, count_cost, load_space, load_spec, round_filters, round_repeats, scale
from search_space.rules import REPEATS_TOLERANCE, distribute_repeats
from tests.reference import OFFICIAL_SCALING, REFERENCE_PARAMS
from tests.strategies import networks

multipliers = st.floats(1.0, 4.0, allow_nan=False)


@given(st.integers(1, 2048), st.floats(0.05, 8.0, allow_nan=False))
def test_round_filters_is_a_multiple_of_8_and_at_least_90_percent(channels, mult):
    assume(mult != 1.0)
    rounded = round_filters(channels, mult)
    assert rounded % 8 == 0 and rounded >= 8
    assert rounded >= 0.9 * channels * mult
    # Nearest-multiple rounding never overshoots by more than one step.
    assert rounded <= max(8, channels * mult + 8)


@given(st.integers(1, 2048))
def test_round_filters_identity_at_one(channels):
    assert round_filters(channels, 1.0) == channels


@given(st.integers(1, 256).map(lambda c: 8 * c), multipliers, multipliers)
def test_round_filters_monotone_for_reference_widths(channels, a, b):
    low, high = sorted((a, b))
    assert round_filters(channels, low) <= round_filters(channels, high)


@given(st.integers(1, 2048), st.floats(1.0001, 4.0), st.floats(1.0001, 4.0))
def test_round_filters_monotone_above_one_for_any_width(channels, a, b):
    low, high = sorted((a, b))
    assert round_filters(channels, low) <= round_filters(channels, high)


@given(st.integers(1, 64), multipliers)
def test_round_repeats_is_the_smallest_integer_above_the_product_less_float_noise(repeats, mult):
    exact = Fraction(repeats) * Fraction(mult)
    rounded = round_repeats(repeats, mult)
    assert rounded >= repeats
    assert rounded >= exact - REPEATS_TOLERANCE > rounded - 1


@given(st.integers(1, 64), multipliers, multipliers)
def test_round_repeats_is_monotone(repeats, a, b):
    low, high = sorted((a, b))
    assert round_repeats(repeats, low) <= round_repeats(repeats, high)


@pytest.mark.parametrize("repeats, mult, expected", [
    (3, 1.1, 4), (1, 1.0000000000000002, 1), (1, (2 ** 0.5) ** 2, 2), (2, 1.5, 3), (1, 1.000001, 2), (4, 1.0, 4)])
def test_round_repeats_examples(repeats, mult, expected):
    assert round_repeats(repeats, mult) == expected


@given(networks())
def test_scale_identity_at_one(spec):
    assert scale(spec, 1.0, 1.0) == spec
    assert scale(spec, 1.0, 1.0, spec.resolution) == spec


@given(st.integers(0, 10**6), multipliers, multipliers, multipliers)
def test_scale_never_decreases_width_depth_or_macs(seed, w, d, extra):
    base = load_space("default").sample(seed)
    smaller = scale(base, w, d)
    larger_w, larger_d = scale(base, w * extra, d), scale(base, w, d * extra)
    for larger in (larger_w, larger_d):
        assert larger.stem_channels >= smaller.stem_channels
        assert larger.head_channels >= smaller.head_channels
        for small, big in zip(smaller.stages, larger.stages):
            assert big.out_channels >= small.out_channels and big.repeats >= small.repeats
        assert count_cost(larger).macs >= count_cost(smaller).macs
    assert count_cost(smaller).macs >= count_cost(base).macs
    big_resolution = scale(base, w, d, round(224 * extra))
    assert count_cost(big_resolution).macs >= count_cost(smaller).macs


def test_b7_widths_and_depths():
    b7 = load_spec("efficientnet-b7")
    assert b7.stem_channels == 64 and b7.head_channels == 2560
    assert [s.out_channels for s in b7.stages] == [32, 48, 80, 160, 224, 384, 640]
    assert [s.repeats for s in b7.stages] == [4, 7, 7, 10, 10, 13, 4]
    assert b7.resolution == (600, 600) and b7.dropout == 0.5


def test_scale_keeps_everything_but_widths_repeats_and_resolution():
    base = dataclasses.replace(load_spec("ghost-efficientnetv2"), in_channels=1, num_classes=7)
    scaled = scale(base, 1.3, 1.7, (128, 400))
    assert scaled.resolution == (128, 400)
    for a, b in zip(base.stages, scaled.stages):
        assert dataclasses.replace(b, out_channels=a.out_channels, repeats=a.repeats) == a
    assert (scaled.in_channels, scaled.num_classes, scaled.dropout) == (1, 7, base.dropout)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "2", True])
def test_bad_multipliers(bad):
    with pytest.raises(SpecError, match="width_mult: must be a number > 0"):
        scale(load_spec("efficientnet-b0"), bad, 1.0)


repeat_lists = st.lists(st.integers(1, 8), min_size=1, max_size=9).map(tuple)
depths = st.floats(0.2, 6.0, allow_nan=False)


@given(repeat_lists, depths)
def test_total_depth_rule_hands_out_the_scaled_block_count(repeats, depth):
    given_out = distribute_repeats(repeats, depth)
    assert len(given_out) == len(repeats) and min(given_out) >= 1
    scaled = Fraction(sum(repeats)) * Fraction(depth)  # the exact block count asked for
    assert abs(sum(given_out) - scaled) <= Fraction(1, 2) + REPEATS_TOLERANCE or sum(given_out) == len(repeats) > scaled


@given(repeat_lists, depths, depths)
def test_total_depth_rule_never_takes_a_block_away_as_depth_grows(repeats, first, second):
    smaller, larger = sorted((first, second))
    assert all(a <= b for a, b in zip(distribute_repeats(repeats, smaller), distribute_repeats(repeats, larger)))
    if smaller >= 1:
        assert all(a >= r for a, r in zip(distribute_repeats(repeats, smaller), repeats))


@given(repeat_lists)
def test_total_depth_rule_at_one_is_the_identity(repeats):
    assert distribute_repeats(repeats, 1.0) == repeats


def test_a_one_block_per_stage_base_can_grow_by_less_than_double_with_the_total_rule():
    b0 = load_spec("efficientnet-b0")
    shallow = dataclasses.replace(b0, stages=tuple(dataclasses.replace(s, repeats=1) for s in b0.stages))
    point = Coefficients.from_shares(0.3, 0.4, 0.3)
    assert corrected_scale(shallow, point, 1.0, depth_rule="per-stage").effective[0] == 2.0  # ceil(1 * 1.x) = 2
    total = corrected_scale(shallow, point, 1.0, depth_rule="total")
    assert 1.0 < total.effective[0] < 2.0 and abs(total.realised_ratio - 2) <= 0.1



@pytest.mark.parametrize("name", list(OFFICIAL_SCALING))
def test_b0_scaled_by_the_official_table_with_the_reference_rule_has_the_official_parameter_count(name):
    """The reference rounding (round_filters, ceil of repeats per stage) applied to B0 with the
    official multipliers gives torchvision's parameter count of each of B1..B7."""
    width, depth, resolution, dropout = OFFICIAL_SCALING[name]
    scaled = scale(load_spec("efficientnet-b0"), width, depth, resolution, dropout=dropout, name=name)
    assert count_cost(scaled).params == REFERENCE_PARAMS[name]
    assert scaled.resolution == (resolution, resolution) and scaled.dropout == dropout


def test_unknown_depth_rule_names_the_field():
    with pytest.raises(SpecError, match="depth_rule"):
        scale(load_spec("efficientnet-b0"), depth_mult=1.2, depth_rule="nearest")
