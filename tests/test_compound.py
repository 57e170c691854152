"""Compound-scaling coefficients on the share simplex (building blocks of scaling.fit)."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.compound import Coefficients, compound_scale, corrected_scale, simplex_grid
from search_space import Multipliers, count_cost, load_space, load_spec, scale_resolution

shares = st.tuples(st.floats(0, 1), st.floats(0, 1)).filter(lambda p: p[0] + p[1] <= 1).map(
    lambda p: (p[0], p[1], max(0.0, 1 - p[0] - p[1])))


@pytest.mark.parametrize("step", [0.1, 0.25, 0.5, 1.0, 0.125])
def test_grid_points_satisfy_the_constraint(step):
    points = simplex_grid(step)
    divisions = round(1 / step)
    assert len(points) == (divisions + 1) * (divisions + 2) // 2
    for point in points:
        assert point.flop_factor == pytest.approx(2.0, rel=1e-12)
        assert min(point.alpha, point.beta, point.gamma) >= 1.0
        assert sum(point.shares) == pytest.approx(1.0)
    assert len({tuple(round(s, 9) for s in p.shares) for p in points}) == len(points)


@pytest.mark.parametrize("step", [0.3, 0, -0.1, 2.0])
def test_bad_steps(step):
    with pytest.raises((ValueError, ZeroDivisionError)):
        simplex_grid(step)


@given(shares)
def test_shares_round_trip(values):
    coefficients = Coefficients.from_shares(*values)
    assert coefficients.shares == pytest.approx(values, abs=1e-12)


def test_paper_coefficients_shares():
    paper = Coefficients(1.2, 1.1, 1.15)
    depth, width, resolution = paper.shares
    assert paper.flop_factor == pytest.approx(1.92, abs=0.005)
    assert depth == pytest.approx(math.log2(1.2))


def test_phi_zero_is_the_base():
    base = load_spec("efficientnet-b0")
    scaled = compound_scale(base, Coefficients(1.2, 1.1, 1.15), phi=0)
    assert scaled.spec == base and scaled.realised_ratio == 1.0


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10**6), shares.filter(lambda p: p[2] > 0))
def test_corrected_scale_hits_two_within_five_percent(seed, values):
    """Where resolution carries any of the growth, its one-pixel steps (about 1% of the MACs
    each) correct what rounding widths and repeats did. Without it a point can miss: whole
    blocks are coarse steps, and so is one multiple of 8 channels on a wide early stage (see
    the width-only test below); the grid reports such points as off target."""
    base = load_space("default").sample(seed)
    scaled = corrected_scale(base, Coefficients.from_shares(*values), phi=1.0, depth_rule="total")
    assert scaled.realised_ratio == pytest.approx(2.0, rel=0.05)


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 10**6))
def test_a_width_only_scaling_stays_width_only_and_is_the_closest_width_can_reach(seed):
    """Width alone moves the MACs in steps of one multiple of 8 channels per layer; on some
    bases (about one in six of the default space's samples) no width lands within 5% of 2x.
    The corrected network is within 5% where one is, else the closest any width multiplier
    reaches (a fine scan), and its realised ratio says how far off it is."""
    base = load_space("default").sample(seed)
    scaled = corrected_scale(base, Coefficients.from_shares(0.0, 1.0, 0.0), phi=1.0, depth_rule="total")
    assert scaled.effective[0] == 1.0 and scaled.effective[2] == 1.0
    assert scaled.realised_ratio == count_cost(scaled.spec).macs / count_cost(base).macs
    base_macs = count_cost(base).macs
    reachable = min(abs(count_cost(Multipliers(1.0, 1.25 + 0.001 * step, 1.0).apply(base)).macs / base_macs / 2 - 1)
                    for step in range(401))  # widths 1.25..1.65 span 1.6x..2.7x the MACs
    miss = abs(scaled.realised_ratio / 2 - 1)
    assert miss <= 0.05 if reachable <= 0.05 else miss <= reachable + 1e-12


@given(st.tuples(st.integers(1, 600), st.integers(1, 600)), st.floats(1.0, 3.0))
def test_scale_resolution(resolution, multiplier):
    scaled = scale_resolution(resolution, multiplier)
    assert all(abs(s - r * multiplier) <= 0.5 for s, r in zip(scaled, resolution))
