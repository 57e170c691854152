"""Budget parsing, the window, projection into it, the smallest network of a space, the reward."""


import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runners.search.budget import project, reward, smallest_macs
from search_space import count_cost, format_macs, load_space, load_spec, parse_macs
from search_space.space import domain_values

DEFAULT = load_space("default")


@pytest.mark.parametrize("text, value", [
    ("400M", 400_000_000), ("1.2G", 1_200_000_000), ("4e8", 400_000_000), ("250k", 250_000),
    ("400000000", 400_000_000), (" 0.5g ", 500_000_000), ("1.5e3M", 1_500_000_000), (".5G", 500_000_000)])
def test_parse_macs(text, value):
    assert parse_macs(text) == value


@pytest.mark.parametrize("text", ["", "abc", "400 MB", "-400M", "4e8e2", "M", "0", "1.2.3G", "400X"])
def test_parse_macs_rejects(text):
    with pytest.raises(ValueError, match="MAC|at least 1"):
        parse_macs(text)


@given(st.integers(1, 10**12))
def test_format_then_parse_is_close(macs):
    assert parse_macs(format_macs(macs)) == pytest.approx(macs, rel=0.01)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([150e6, 400e6, 1e9]))
def test_accepted_candidates_sit_in_the_window(seed, budget):
    budget = int(budget)
    sampled = DEFAULT.sample(seed)
    projection = project(sampled, budget)
    assert projection.original_macs == count_cost(sampled).macs
    if projection.accepted:
        assert 0.9 * budget <= projection.macs <= budget
        assert count_cost(projection.spec).macs == projection.macs
        # Projection scales widths and repeats only: block types, kernels, attention stay.
        for a, b in zip(sampled.stages, projection.spec.stages):
            assert (a.block, a.kernel, a.stride, a.expansion, a.attention) == (b.block, b.kernel, b.stride, b.expansion, b.attention)
    else:
        assert projection.action.startswith("rejected")


def test_in_window_candidate_is_untouched():
    b0 = load_spec("efficientnet-b0")
    projection = project(b0, 400_000_000)
    assert projection.spec is b0 and projection.action == "in window" and not projection.projected


def test_too_big_and_too_small_are_projected():
    b0 = load_spec("efficientnet-b0")
    down, up = project(b0, 200_000_000), project(b0, 800_000_000)
    assert down.projected and up.projected
    assert 180e6 <= down.macs <= 200e6 and 720e6 <= up.macs <= 800e6


def test_projection_hit_rate_on_the_default_space():
    projections = [project(DEFAULT.sample(seed), 400_000_000) for seed in range(60)]
    assert sum(p.accepted for p in projections) >= 0.9 * len(projections)


def test_smallest_network_of_the_space():
    macs, spec = smallest_macs(DEFAULT)
    assert count_cost(spec).macs == macs
    for stage, choices in zip(spec.stages, DEFAULT.stages):
        assert stage.block in choices.block and stage.kernel in choices.kernel
        assert stage.out_channels in choices.out_channels and stage.repeats in domain_values(choices.repeats)
    assert all(count_cost(DEFAULT.sample(seed)).macs >= macs for seed in range(300))


@given(st.floats(0.01, 1), st.integers(1, 10**10), st.integers(1, 10**10), st.integers(2, 16))
def test_reward_is_accuracy_at_target_and_trades_mac_doublings_for_a_fixed_share(accuracy, macs, target, factor):
    assert reward(accuracy, target, target) == pytest.approx(accuracy)
    # Above the target a network pays, below it gains; each doubling of MACs costs the same share
    # (MnasNet: w = -0.07 means about 4.7% reward per doubling).
    assert (reward(accuracy, macs, target) < accuracy) == (macs > target) or macs == target
    assert reward(accuracy, 2 * macs, target) / reward(accuracy, macs, target) == pytest.approx(2 ** -0.07)
    assert reward(accuracy, factor * macs, target) < reward(accuracy, macs, target)
