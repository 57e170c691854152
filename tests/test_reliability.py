"""What a ranking is worth (infra.reliability): planted differences are separated, noise is
not, and the answer ignores what cannot change a ranking (a shared seed effect, the order of
the candidates)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from infra.reliability import SEPARATION_LEVEL, ranking_reliability

shapes = st.tuples(st.integers(2, 8), st.integers(2, 5))


def _noise(seed: int, shape: tuple[int, int], scale: float = 0.02) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, scale, shape)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shape=st.tuples(st.integers(3, 8), st.integers(2, 5)))
def test_a_planted_spread_far_above_the_noise_is_separated(seed, shape):
    # 0.3 between the ends, noise 0.01: at the smallest table (3 x 2, F on 2 and 2 degrees of
    # freedom) a miss needs a residual variance about 24x its expectation (chance ~ e^-24).
    levels = np.linspace(0.6, 0.9, shape[0])
    table = levels[:, None] + _noise(seed, shape, 0.01)
    reliability = ranking_reliability(table, bootstrap=50)
    assert reliability.separates
    assert reliability.between_share > 0.5


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shape=shapes)
def test_pure_noise_is_separated_no_more_often_than_the_test_level_allows(seed, shape):
    rng = np.random.default_rng(seed)
    draws = 300
    separated = sum(ranking_reliability(rng.normal(0.75, 0.02, shape), bootstrap=10).separates for _ in range(draws))
    # One-sided binomial test at 1e-3 against the level: a test that separated noise at any
    # higher rate would fail here.
    assert stats.binomtest(separated, draws, SEPARATION_LEVEL, alternative="greater").pvalue > 1e-3


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shape=shapes, data=st.data())
def test_a_shared_seed_effect_and_the_candidates_order_change_nothing(seed, shape, data):
    table = 0.7 + np.linspace(0, 0.05, shape[0])[:, None] + _noise(seed, shape)
    shift = np.asarray(data.draw(st.lists(st.floats(-0.2, 0.2), min_size=shape[1], max_size=shape[1])))
    order = np.asarray(data.draw(st.permutations(range(shape[0]))))
    plain = ranking_reliability(table, bootstrap=50)
    moved = ranking_reliability(table[order] + shift[None, :], bootstrap=50)
    for name in ("between_share", "mean_share", "seed_noise", "spread", "p_value"):
        assert getattr(moved, name) == pytest.approx(getattr(plain, name), rel=1e-6, abs=1e-9)
    assert 0.0 <= plain.between_share <= plain.mean_share <= 1.0


def test_identical_rankings_at_every_seed_are_perfectly_reliable():
    table = np.array([[0.7, 0.8], [0.6, 0.7], [0.9, 1.0]])  # seed 1 = seed 0 + 0.1 for everyone
    reliability = ranking_reliability(table, bootstrap=50)
    assert reliability.separates and reliability.between_share == 1.0 and reliability.kendall.mean == 1.0
    assert "separates these candidates" in reliability.describe()
    assert "a ranking by the mean of 1 seed is expected to reach Kendall 0.5" in reliability.describe()


def test_all_candidates_equal_is_not_separated():
    reliability = ranking_reliability(np.full((4, 3), 0.7), bootstrap=50)
    assert not reliability.separates and reliability.between_share == 0.0
    assert "not distinguishable" in reliability.describe()


@pytest.mark.parametrize("table", [[[0.7, 0.8]], [[0.7], [0.8]], [[0.7, float("nan")], [0.8, 0.9]]])
def test_tables_that_cannot_be_judged_are_refused(table):
    with pytest.raises(ValueError, match="ranking reliability needs"):
        ranking_reliability(table)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shape=shapes, spread=st.floats(0.0, 0.05))
def test_the_kendall_expected_of_a_seed_mean_grows_with_seeds_and_matches_the_shares(seed, shape, spread):
    table = 0.7 + np.linspace(0, spread, shape[0])[:, None] + _noise(seed, shape)
    reliability = ranking_reliability(table, bootstrap=10)
    expected = [reliability.kendall_at(seeds) for seeds in range(1, 9)]
    assert all(0.0 <= value <= 1.0 for value in expected)
    assert expected == sorted(expected)
    # One seed is ICC(3,1); the table's own seed count is ICC(3,k): Spearman-Brown links them.
    assert expected[0] == pytest.approx(2 / np.pi * np.arcsin(reliability.between_share))
    assert reliability.kendall_at(shape[1]) == pytest.approx(2 / np.pi * np.arcsin(reliability.mean_share))


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), share=st.floats(0.1, 0.9), seeds=st.integers(1, 4))
def test_the_kendall_expected_of_a_seed_mean_is_what_two_such_rankings_reach(seed, share, seeds):
    # Normal candidates with a known share of between-candidate variance: the Kendall tau of
    # two independent rankings by the mean of `seeds` seeds, simulated, against the forecast
    # made from a separate 8-seed table. With 1,500 candidates the simulated tau's standard
    # error is under 0.02 and the forecast's (from the estimated share) about 0.01: the
    # tolerance of 0.08 is over 3.5 of both together.
    rng = np.random.default_rng(seed)
    candidates, noise = 1500, 1.0
    truth = rng.normal(0.0, noise * np.sqrt(share / (1 - share)), candidates)
    measured = truth[:, None] + rng.normal(0.0, noise, (candidates, 8))
    forecast = ranking_reliability(measured, bootstrap=1).kendall_at(seeds)
    first, second = (truth + rng.normal(0.0, noise, (seeds, candidates)).mean(axis=0) for _ in range(2))
    assert stats.kendalltau(first, second)[0] == pytest.approx(forecast, abs=0.08)


def test_a_seed_count_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        ranking_reliability([[0.7, 0.8], [0.6, 0.7], [0.9, 0.8]], bootstrap=10).kendall_at(0)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shape=shapes, spread=st.floats(0.0, 0.05), kendall=st.floats(0.05, 0.95))
def test_the_seeds_needed_are_the_fewest_that_reach_the_kendall(seed, shape, spread, kendall):
    reliability = ranking_reliability(0.7 + np.linspace(0, spread, shape[0])[:, None] + _noise(seed, shape),
                                      bootstrap=10)
    needed = reliability.seeds_for(kendall)
    if reliability.between_share == 0:
        assert needed is None and "no number of seeds" in reliability.describe()
    else:
        assert reliability.kendall_at(needed) >= kendall
        assert needed == 1 or reliability.kendall_at(needed - 1) < kendall
