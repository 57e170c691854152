"""Intervals, paired comparisons and rank agreement against known cases and planted effects."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from infra.statistics import (SeedNoise, could_beat, mean_interval, paired_difference, pareto_front, rank_agreement,
                              rank_agreement_difference, separated_front)

scores = st.lists(st.integers(-1000, 1000), min_size=3, max_size=25)


def test_kendall_and_spearman_known_cases():
    same = rank_agreement([1, 2, 3, 4, 5, 6], [10, 20, 30, 40, 50, 60], bootstrap=100)
    assert same.kendall.mean == pytest.approx(1.0) and same.spearman.mean == pytest.approx(1.0)
    reversed_order = rank_agreement([1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1], bootstrap=100)
    assert reversed_order.kendall.mean == pytest.approx(-1.0)
    one_swap = rank_agreement([1, 2, 3, 4], [1, 2, 4, 3], bootstrap=100)
    # 6 pairs, one discordant: (5 - 1) / 6.
    assert one_swap.kendall.mean == pytest.approx(4 / 6)
    assert one_swap.spearman.mean == pytest.approx(1 - 6 * 2 / (4 * 15))


@given(scores, st.integers(0, 2**16))
def test_rank_agreement_is_invariant_to_increasing_transforms_and_bounded(values, seed):
    reference = np.arange(len(values), dtype=float)
    agreement = rank_agreement(reference, values, bootstrap=50, seed=seed)
    for estimate in (agreement.kendall, agreement.spearman):
        assert -1 - 1e-9 <= estimate.low <= estimate.mean <= estimate.high <= 1 + 1e-9
        assert estimate.n == len(values)
    transformed = rank_agreement(reference, np.asarray(values, dtype=float) ** 3 + 5 * np.asarray(values), bootstrap=50, seed=seed)
    assert transformed.kendall.mean == pytest.approx(agreement.kendall.mean, abs=1e-9)


def test_rank_agreement_interval_covers_the_population_tau():
    """Candidates drawn from a population with a known Kendall tau: the 95% interval holds it
    in roughly 95% of panels of 24 (and never in a handful)."""
    rng = np.random.default_rng(0)
    rho = 0.8
    population_tau = 2 / math.pi * math.asin(rho)  # bivariate normal
    covered = 0
    panels = 80
    for panel in range(panels):
        x, noise = rng.normal(size=(2, 24))
        y = rho * x + math.sqrt(1 - rho**2) * noise
        agreement = rank_agreement(x, y, bootstrap=400, seed=panel)
        covered += agreement.kendall.low <= population_tau <= agreement.kendall.high
    assert covered / panels >= 0.85


@given(scores, st.integers(0, 2**16))
def test_rank_agreement_difference_of_a_ranking_with_itself_is_exactly_zero(values, seed):
    reference = np.arange(len(values), dtype=float)
    difference = rank_agreement_difference(reference, values, values, bootstrap=50, seed=seed)
    assert difference.mean == difference.low == difference.high == 0.0
    swapped = rank_agreement_difference(reference, values, reference, bootstrap=50, seed=seed)
    back = rank_agreement_difference(reference, reference, values, bootstrap=50, seed=seed)
    assert swapped.mean == pytest.approx(-back.mean) and swapped.low == pytest.approx(-back.high)


def test_rank_agreement_difference_separates_a_planted_gap_that_the_two_intervals_often_do_not():
    """Two proxies of one panel share most of their errors (the same hard candidates); the
    worse one adds noise of its own. Over 20 panels of 24 the paired difference separates
    them nearly always, while their separate intervals overlap in many panels."""
    rng = np.random.default_rng(1)
    separated = overlapping = 0
    panels = 20
    for panel in range(panels):
        truth, shared, own = rng.normal(size=(3, 24))
        better = truth + 0.3 * shared
        worse = better + 1.2 * own
        separated += rank_agreement_difference(truth, better, worse, bootstrap=200, seed=panel).low > 0
        first = rank_agreement(truth, better, bootstrap=200, seed=panel).kendall
        second = rank_agreement(truth, worse, bootstrap=200, seed=panel).kendall
        overlapping += first.low < second.high
    assert separated >= 18
    assert overlapping >= 5


def test_rank_agreement_difference_rarely_separates_two_equally_good_proxies():
    rng = np.random.default_rng(2)
    separated = 0
    panels = 40
    for panel in range(panels):
        truth = rng.normal(size=24)
        first, second = truth + rng.normal(size=(2, 24))
        separated += rank_agreement_difference(truth, first, second, bootstrap=200, seed=panel).excludes(0.0)
    assert separated / panels <= 0.15


def test_rank_agreement_difference_needs_matching_rankings():
    with pytest.raises(ValueError):
        rank_agreement_difference([1, 2, 3], [1, 2, 3], [1, 2])


def test_mean_interval_matches_students_t():
    values = [0.61, 0.64, 0.58, 0.66]
    estimate = mean_interval(values)
    low, high = stats.t.interval(0.95, 3, loc=np.mean(values), scale=stats.sem(values))
    assert (estimate.low, estimate.high) == pytest.approx((low, high))
    single = mean_interval([0.5])
    assert single.n == 1 and math.isinf(single.low) and not single.excludes(0.0)
    assert single.to_json()["low"] is None


def test_paired_difference_finds_a_planted_difference_that_seed_noise_hides():
    """Seed luck shared by both candidates (common random numbers) is large; the planted
    difference is small: paired, it separates; the unpaired intervals overlap."""
    rng = np.random.default_rng(1)
    seed_luck = rng.normal(0, 0.05, size=5)
    a = 0.70 + seed_luck + rng.normal(0, 0.004, size=5)
    b = 0.68 + seed_luck + rng.normal(0, 0.004, size=5)
    comparison = paired_difference(a, b)
    assert comparison.separated and comparison.verdict == "first is higher"
    assert comparison.difference.low > 0
    assert mean_interval(a).low < mean_interval(b).high  # without pairing: not separable


def test_paired_difference_rarely_separates_pure_noise():
    rng = np.random.default_rng(2)
    trials = 1000
    false_alarms = sum(paired_difference(*rng.normal(0.6, 0.05, size=(2, 4))).separated for _ in range(trials))
    assert false_alarms / trials <= 0.075  # the nominal rate is 5%


def test_paired_difference_needs_equal_counts():
    with pytest.raises(ValueError, match="equal counts"):
        paired_difference([1.0, 2.0], [1.0])


def test_pooled_seed_noise_and_the_racing_rule():
    from infra.statistics import SeedNoise, could_beat

    assert SeedNoise.pooled([[0.5], [0.7]]) is None  # no candidate with two seeds yet
    noise = SeedNoise.pooled([[1.0, 3.0], [2.0, 4.0, 6.0], [9.0]])
    assert noise.degrees_of_freedom == 3 and noise.std == pytest.approx(math.sqrt((2 + 8) / 3))
    assert could_beat([0.1], [0.9, 0.9], None)  # without a noise estimate everyone races on
    assert not could_beat([0.5], [0.80, 0.81, 0.79], SeedNoise(0.01, 30))
    assert could_beat([0.5], [0.80, 0.81, 0.79], SeedNoise(0.5, 30))  # the same gap inside wide noise


@given(st.lists(st.tuples(st.integers(0, 5) | st.floats(-10, 10), st.integers(0, 5) | st.floats(-10, 10)),
                min_size=3, max_size=30))
def test_vectorised_kendall_tau_b_and_spearman_equal_scipy_with_ties(pairs):
    from infra.statistics import _correlations

    x, y = (np.array(values, dtype=float) for values in zip(*pairs))
    kendall, spearman = _correlations(x, y)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        assert (kendall, spearman) == (0.0, 0.0)  # a constant ranking carries no order
    else:
        assert kendall == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)
        assert spearman == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)


points = st.lists(st.tuples(st.floats(1, 1000), st.lists(st.floats(0, 1), min_size=1, max_size=4)), min_size=1,
                  max_size=25)


@given(points=points, std=st.floats(1e-4, 0.5), dof=st.integers(1, 60))
def test_the_separated_front_is_the_front_thinned_from_its_cheapest_point_to_separated_steps(points, std, dof):
    costs = [cost for cost, _ in points]
    scores = [values for _, values in points]
    means = [float(np.mean(values)) for values in scores]
    front = pareto_front(costs, means)
    kept = separated_front(costs, scores, SeedNoise(std, dof))
    assert kept[0] == front[0] and set(kept) <= set(front)
    assert [costs[i] for i in kept] == sorted(costs[i] for i in kept)
    each = 1 - 0.05 / max(1, len(points) - 1)  # the family-wise level, per comparison
    for cheaper, dearer in zip(kept, kept[1:]):  # each step up is beyond the noise
        assert not could_beat(scores[cheaper], scores[dearer], SeedNoise(std, dof), each)
    for index in set(front) - set(kept):  # each dropped point is as good as a cheaper kept one, within the noise
        previous = max((i for i in kept if costs[i] <= costs[index] and i != index), key=lambda i: costs[i])
        assert could_beat(scores[previous], scores[index], SeedNoise(std, dof), each)
    assert separated_front(costs, scores, None) == front  # no noise measured: nothing is thinned


def test_fronts_of_pure_noise_keep_only_their_cheapest_point_at_the_stated_family_wise_rate():
    """Equally good candidates (4 seeds each): a kept second point is a false "separated";
    over 200 fronts of 20 it happens at about the 5% the family-wise level allows."""
    extra = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        costs = list(rng.uniform(100, 400, 20))
        scores = rng.normal(0.8, 0.01, (20, 4)).tolist()
        kept = separated_front(costs, scores, SeedNoise.pooled(scores))
        assert kept[0] == int(np.argmin(costs))
        extra += len(kept) > 1
    assert extra / 200 <= 0.08, extra


@given(seed=st.integers(0, 10_000), size=st.integers(2, 8))
def test_a_planted_staircase_far_above_the_noise_is_kept_whole(seed, size):
    rng = np.random.default_rng(seed)
    costs = list(rng.uniform(100, 400, size))
    ranks = np.argsort(np.argsort(costs))
    staircase = [[0.5 + 0.1 * rank + e for e in rng.normal(0, 0.01, 4)] for rank in ranks]
    assert separated_front(costs, staircase, SeedNoise.pooled(staircase)) == sorted(range(size), key=costs.__getitem__)
