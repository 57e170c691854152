"""Properties of the compound-scaling fit, the family and the power laws (issue 4)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy.stats import binom
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling import Coefficients, compound_scale, simplex_grid
from scaling.coefficient_fit import GridPoint, fit_coefficients
from scaling.family import scaled_family
from scaling.grid_run import grid_tasks
from scaling.power_law import (PURE, HeldOutPoint, LawError, PowerLaw, Validation, fit_power_law, judge,
                               validate_by_holdout)
from scaling.reports import CoefficientsReport, SeedPairedComparison
from search_space import NetworkSpec, StageSpec, count_cost, load_spec
from tests.strategies import networks

shares_strategy = st.tuples(st.integers(0, 20), st.integers(0, 20)).filter(lambda t: sum(t) <= 20).map(
    lambda t: (t[0] / 20, t[1] / 20, (20 - t[0] - t[1]) / 20))


def grid_table(metric_of_shares, step=0.1, seeds=1, noise=0.0, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for point in simplex_grid(step):
        for repeat in range(seeds):
            rows.append({"depth_mult": point.alpha, "width_mult": point.beta, "resolution_mult": point.gamma,
                         "macs": 8e8, "seed": repeat,
                         "metric": metric_of_shares(np.array(point.shares)) + noise * rng.normal()})
    return pd.DataFrame(rows)


def concave(planted, weights):
    planted, weights = np.asarray(planted), np.asarray(weights)
    return lambda shares: 0.9 - float((weights * (shares - planted) ** 2).sum())


# --- the family ---------------------------------------------------------------------------------


@settings(max_examples=15)
@given(networks(max_stages=3, max_channels=32), shares_strategy)
def test_family_never_shrinks_with_phi(base, shares):
    members = scaled_family(base, Coefficients.from_shares(*shares), phis=(1, 2, 3))
    previous = base
    for member in members:
        spec = member.spec
        assert spec.resolution[0] >= previous.resolution[0] and spec.resolution[1] >= previous.resolution[1]
        assert spec.total_blocks >= previous.total_blocks
        assert all(s.repeats >= p.repeats and s.out_channels >= p.out_channels
                   for s, p in zip(spec.stages, previous.stages))
        assert spec.stem_channels >= previous.stem_channels and spec.head_channels >= previous.head_channels
        assert count_cost(spec).macs >= count_cost(previous).macs
        assert member.ghost.stages[0].block.startswith("Ghost")
        previous = spec


@settings(max_examples=20)
@given(networks(max_stages=3, max_channels=32), shares_strategy)
def test_phi_zero_family_member_is_the_base(base, shares):
    assert compound_scale(base, Coefficients.from_shares(*shares), 0.0).spec == base


@settings(max_examples=25)
@given(depth=st.integers(1, 3), width=st.integers(1, 2), resolution=st.integers(1, 2), phi=st.integers(1, 3),
       channels=st.sampled_from([8, 16, 24]), size=st.sampled_from([8, 12, 16]))
def test_unrounded_mac_ratio_of_scaled_convolutions_is_the_flop_factor_to_the_phi(
        depth, width, resolution, phi, channels, size):
    # Dense C->C convs at stride 1 scale exactly with repeats, channels^2 and pixels, and these
    # multipliers need no rounding, so the stages' MACs must grow by (alpha beta^2 gamma^2)^phi.
    stage = StageSpec("FusedMBConv", repeats=1, kernel=3, stride=1, expansion=1, out_channels=channels)
    base = NetworkSpec(stem_channels=channels, stages=(stage, stage), head_channels=32, resolution=size, stem_stride=1)
    coefficients = Coefficients(depth ** (1 / phi), width ** (1 / phi), resolution ** (1 / phi))
    scaled = compound_scale(base, coefficients, phi).spec
    stage_macs = lambda spec: sum(part.conv_macs for part in count_cost(spec).stages)  # noqa: E731
    assert stage_macs(scaled) / stage_macs(base) == pytest.approx(coefficients.flop_factor**phi, rel=1e-9)


def test_grid_trains_each_distinct_network_once_and_records_what_rounding_made():
    # One block per stage: any depth multiplier above 1 doubles every stage (ceil), so many
    # grid points round to the same network.
    stage = StageSpec("MBConv", repeats=1, kernel=3, stride=2, expansion=4, out_channels=32)
    base = NetworkSpec(stem_channels=16, stages=(stage,) * 3, head_channels=64, resolution=64)
    tasks, dropped = grid_tasks(base, 0.1, seeds=1)
    specs = [task.network.spec for task in tasks]
    assert dropped > 0 and len(tasks) + dropped == 66 and len(set(specs)) == len(specs)
    for task in tasks:
        depth, width, resolution = task.network.effective
        assert depth == task.network.spec.total_blocks / 3
        assert resolution == task.network.spec.resolution[0] / 64


# --- choosing alpha, beta, gamma ----------------------------------------------------------------


@settings(max_examples=20)
@given(planted=st.sampled_from([p.shares for p in simplex_grid(0.1)]),
       weights=st.tuples(*[st.floats(0.2, 5.0)] * 3))
def test_noiseless_grid_recovers_a_planted_optimum(planted, weights):
    fit = fit_coefficients(grid_table(concave(planted, weights)), bootstrap=0)
    assert fit.grid_best.shares == pytest.approx(planted, abs=1e-9)
    assert fit.surrogate.adequate and fit.method == "surrogate"
    assert fit.chosen.shares == pytest.approx(planted, abs=1e-6)


def test_surrogate_finds_an_optimum_between_grid_points():
    planted = (0.33, 0.22, 0.45)  # not on the 0.1 grid
    fit = fit_coefficients(grid_table(concave(planted, (1.0, 2.0, 1.5))), bootstrap=0)
    assert fit.chosen.shares == pytest.approx(planted, abs=0.006)  # lattice step 1/200
    assert fit.grid_best.shares != pytest.approx(planted, abs=0.006)


@settings(max_examples=15)
@given(seed=st.integers(0, 10_000), duplicate=st.booleans())
def test_coefficients_unchanged_by_permuting_or_duplicating_rows(seed, duplicate):
    table = grid_table(concave((0.3, 0.3, 0.4), (1, 1, 1)), step=0.25, seeds=2, noise=0.02, seed=seed)
    reference = fit_coefficients(table, bootstrap=50)
    shuffled = table.sample(frac=1.0, random_state=seed)
    if duplicate:
        shuffled = pd.concat([shuffled, shuffled])
    other = fit_coefficients(shuffled, bootstrap=50)
    assert other.grid_best.shares == reference.grid_best.shares
    assert other.method == reference.method
    assert other.chosen.alpha == pytest.approx(reference.chosen.alpha, rel=1e-12)
    assert other.chosen.gamma == pytest.approx(reference.chosen.gamma, rel=1e-12)
    if not duplicate:  # resampling a duplicated table is a different bootstrap
        assert other.intervals == reference.intervals


@settings(max_examples=25)
@given(seed=st.integers(0, 10_000), seeds=st.integers(1, 3),
       transform=st.sampled_from([np.exp, lambda m: m**3, lambda m: 1 / (1 + np.exp(-10 * m)), np.arctan]))
def test_increasing_transform_keeps_the_chosen_grid_point(seed, seeds, transform):
    table = grid_table(concave((0.5, 0.2, 0.3), (1, 1, 1)), step=0.25, seeds=seeds, noise=0.05, seed=seed)
    transformed = table.assign(metric=transform(table["metric"].to_numpy()))
    assert fit_coefficients(transformed, bootstrap=0).grid_best.shares == \
        fit_coefficients(table, bootstrap=0).grid_best.shares


@settings(max_examples=10)
@given(seed=st.integers(0, 10_000), noise=st.floats(0.001, 0.1))
def test_coefficient_intervals_contain_the_estimate(seed, noise):
    fit = fit_coefficients(grid_table(concave((0.2, 0.4, 0.4), (1, 2, 1)), step=0.25, seeds=2, noise=noise,
                                      seed=seed), bootstrap=100, seed=seed)
    for name in ("alpha", "beta", "gamma"):
        low, high = fit.intervals[name]
        assert low <= getattr(fit.chosen, name) <= high
    assert sum(point.probability_best for point in fit.points) == pytest.approx(1.0)


def test_noise_only_grid_is_judged_inadequate_and_falls_back_to_the_grid():
    rng = np.random.default_rng(3)
    table = grid_table(lambda shares: 0.0, seeds=2).assign(metric=lambda t: 0.5 + 0.01 * rng.normal(size=len(t)))
    fit = fit_coefficients(table, bootstrap=100)
    assert not fit.surrogate.adequate and fit.method == "grid"
    assert max(point.probability_best for point in fit.points) < 0.5


# --- power laws ---------------------------------------------------------------------------------

laws = st.tuples(st.floats(0.0, 0.3), st.floats(0.05, 1.0), st.floats(0.1, 1.0))


def planted_points(irreducible, exponent, reducible_at_smallest, points=8, low=1e6, decades=3.0):
    compute = np.geomspace(low, low * 10**decades, points)
    scale = reducible_at_smallest * low**exponent
    return compute, irreducible + scale * compute ** (-exponent), scale


@settings(max_examples=25)
@given(laws)
def test_noiseless_law_recovers_planted_parameters(law):
    irreducible, exponent, reducible = law
    compute, error, scale = planted_points(irreducible, exponent, reducible)
    fit = fit_power_law(compute, error, bootstrap=0)
    assert fit.converged
    assert fit.law.E == pytest.approx(irreducible, abs=1e-3)
    assert fit.law.a == pytest.approx(exponent, rel=1e-3)
    assert fit.law.A == pytest.approx(scale, rel=1e-3)


@settings(max_examples=10)
@given(laws, st.integers(0, 10_000))
def test_law_unchanged_by_permuting_rows(law, seed):
    compute, error, _ = planted_points(*law)
    error = error * np.exp(np.random.default_rng(seed).normal(0, 0.05, len(error)))
    reference = fit_power_law(compute, error, bootstrap=0)
    order = np.random.default_rng(seed).permutation(len(compute))
    other = fit_power_law(compute[order], error[order], bootstrap=0)
    assert other.model == reference.model
    for name in ("E", "A", "a"):
        assert getattr(other.law, name) == pytest.approx(getattr(reference.law, name), rel=1e-6, abs=1e-9)


def relative_loss(law, compute, error) -> float:
    return float(np.mean(((law.error(compute) - error) / error) ** 2))


@settings(max_examples=10)
@given(laws, st.integers(0, 10_000))
def test_variable_projection_finds_the_minimum_of_its_loss(law, seed):
    """No nearby (E, A, a) of the chosen model has a lower mean squared relative residual."""
    compute, error, _ = planted_points(*law)
    rng = np.random.default_rng(seed)
    error = error * np.exp(rng.normal(0, 0.05, len(error)))
    fit = fit_power_law(compute, error, bootstrap=0)
    best = relative_loss(fit.law, compute, error)
    assert best == pytest.approx(fit.loss, rel=1e-9)
    for _ in range(200):
        factors = np.exp(rng.normal(0, 0.02, 3))
        irreducible = 0.0 if fit.model == PURE else fit.law.E * factors[0]
        nearby = PowerLaw(irreducible, fit.law.A * factors[1], fit.law.a * factors[2])
        assert relative_loss(nearby, compute, error) >= best * (1 - 1e-9)


@settings(max_examples=5)
@given(laws, st.integers(0, 10_000))
def test_law_intervals_contain_the_estimate_and_the_band_brackets_the_fit(law, seed):
    compute, error, _ = planted_points(*law)
    error = error * np.exp(np.random.default_rng(seed).normal(0, 0.05, len(error)))
    fit = fit_power_law(compute, error, bootstrap=200, seed=seed)
    for name in ("E", "A", "a"):
        low, high = fit.intervals[name]
        assert low <= getattr(fit.law, name) <= high
    assert all(low <= fitted <= high for low, fitted, high in
               zip(fit.band_low, fit.law.error(fit.band_compute), fit.band_high))


def noisy_levels(rng, law, noise, levels=4, seeds=3, smallest=1e8, spacing=2.0):
    """``seeds`` observations at each of ``levels`` compute values ``spacing`` apart (a scaling
    run's phis), each with multiplicative log-normal noise of ``noise``."""
    compute = np.repeat(smallest * spacing ** np.arange(levels), seeds)
    return compute, law(compute) * np.exp(rng.normal(0, noise, len(compute)))


def judged(compute, error, seed):
    fit = fit_power_law(compute, error, bootstrap=200, seed=seed)
    validation = validate_by_holdout(compute, error, bootstrap=200, seed=seed)
    return judge(fit, validation)[0], validation


@settings(max_examples=4, deadline=None)
@given(st.floats(0.15, 0.5), st.floats(0.1, 0.5), st.floats(0.03, 0.05), st.integers(0, 2**31))
def test_a_planted_pure_power_law_over_four_levels_is_usable_and_predicts_its_held_out_points(
        exponent, error_at_smallest, noise, seed):
    """Four compute levels 2x apart (a scaling run's law phis), three seeds each."""
    rng = np.random.default_rng(seed)
    seeds = 3
    usable, inside = [], []
    for draw in range(40):
        compute, error = noisy_levels(rng, lambda c: error_at_smallest * (c / 1e8) ** -exponent, noise, seeds=seeds)
        verdict, validation = judged(compute, error, draw)
        usable.append(verdict)
        inside += [point.inside_band for point in validation.held_out]
    # "At least 90%" as a test: the counts must not be significantly (p < 0.001) below 90%.
    for outcomes in (usable, inside):
        assert binom.cdf(sum(outcomes), len(outcomes), 0.9) > 1e-3, np.mean(outcomes)


@settings(max_examples=3, deadline=None)
@given(st.floats(0.05, 0.3), st.floats(0.3, 1.0), st.floats(0.2, 0.6), st.integers(0, 2**31))
def test_a_planted_saturating_law_over_100x_of_compute_recovers_E_inside_its_interval(
        irreducible, exponent, reducible, seed):
    rng = np.random.default_rng(seed)
    inside = []
    for draw in range(20):
        compute, error = noisy_levels(rng, lambda c: irreducible + reducible * (c / 1e7) ** -exponent, 0.03,
                                      levels=6, seeds=2, smallest=1e7, spacing=100 ** (1 / 5))
        low, high = fit_power_law(compute, error, bootstrap=300, seed=draw).intervals["E"]
        inside.append(low <= irreducible <= high)
    assert binom.cdf(sum(inside), len(inside), 0.9) > 1e-3, np.mean(inside)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.05, 0.6), st.floats(0.01, 0.1), st.integers(4, 6), st.sampled_from([2, 3]), st.integers(0, 2**31))
def test_a_law_fitted_to_pure_noise_is_never_usable(level, noise, levels, seeds, seed):
    compute, error = noisy_levels(np.random.default_rng(seed), lambda c: np.full(len(c), level), noise,
                                  levels=levels, seeds=seeds)
    assert not judged(compute, error, seed)[0]


def test_held_out_points_pass_when_inside_as_often_as_a_95_percent_band_allows():
    def validation(*inside):
        return Validation(None, tuple(HeldOutPoint(1.0, 0.1, 0.1, 0.0, flag) for flag in inside))
    assert validation(True).passed and not validation(False).passed
    assert validation(True, True, False).passed and not validation(True, False, False).passed
    assert not validation().passed


def test_holdout_predicts_the_largest_points_of_a_true_law():
    compute, error, _ = planted_points(0.05, 0.3, 0.5, points=10)
    error = error * np.exp(np.random.default_rng(0).normal(0, 0.01, len(error)))
    validation = validate_by_holdout(compute, error, bootstrap=200)
    assert [p.compute for p in validation.held_out] == pytest.approx(sorted(compute)[-2:])
    assert validation.mean_absolute_log_error < 0.05
    assert validation.passed


@pytest.mark.parametrize("compute, error, words", [
    ([1e6, 1e7], [0.3, 0.2], "at least 3 distinct compute values"),
    ([1e6, 1e6, 1e6, 1e6, 1e6], [0.3, 0.2, 0.1, 0.1, 0.1], "at least 3 distinct"),
    ([1e6, 0, 1e8, 1e9], [0.3, 0.2, 0.1, 0.05], "compute must be > 0"),
    ([1e6, 1e7, 1e8, 1e9], [0.3, 0.2, 0.0, 0.05], "error must be > 0"),
    ([1e6, 1e7, math.nan, 1e9], [0.3, 0.2, 0.1, 0.05], "finite"),
])
def test_unusable_law_data_is_a_clear_error(compute, error, words):
    with pytest.raises(LawError, match=words):
        fit_power_law(compute, error, bootstrap=0)


def test_reference_b0_family_follows_the_paper_coefficients():
    family = scaled_family(load_spec("efficientnet-b0"), Coefficients(1.2, 1.1, 1.15), phis=(1, 2, 3))
    for member in family:
        assert abs(member.realised_ratio / member.ideal_ratio - 1) <= 0.05


def _planted_evaluator(advantage: float, noise: float):
    """Evaluations whose metric is a seed's luck (shared by every network: common random
    numbers), ``advantage`` for the off-corner direction, and independent noise."""

    from scaling.grid_run import NetworkEvaluation

    luck = np.random.default_rng(5).normal(0, 0.05, 64)
    rng = np.random.default_rng(6)

    class Planted:
        def evaluate(self, task):
            corner = max(task.coefficients.shares) > 0.999
            metric = 0.7 + luck[task.seed] + (0.0 if corner else advantage) + noise * rng.normal()
            depth, width, resolution = task.coefficients.shares
            return NetworkEvaluation(role=task.role, phi=task.phi, seed=task.seed, share_depth=depth, share_width=width,
                              share_resolution=resolution, depth_mult=1.0, width_mult=1.0, resolution_mult=1.0,
                              requested_depth=1.0, requested_width=1.0, requested_resolution=1.0, macs=1, params=1,
                              realised_ratio=2.0, resolution="8x8", proxy_resolution="8x8", spec="", metric=metric)

    return Planted()


@pytest.mark.parametrize("advantage, separates", [(0.05, True), (0.0, False)])
def test_corner_race_separates_a_planted_difference_and_not_pure_noise(tmp_path, advantage, separates):
    from scaling.compound import Coefficients
    from scaling.pipeline import GridOptions, compare_with_corners, race_corners
    from search_space import load_spec

    base = load_spec("efficientnet-b0")
    chosen = Coefficients.from_shares(0.4, 0.3, 0.3)
    grid = GridOptions(seeds=2, comparison_seeds=6, time_limit=None)
    evaluations = race_corners(tmp_path, base, chosen, _planted_evaluator(advantage, 0.002), grid, None, quiet=True)
    comparisons = compare_with_corners(evaluations, chosen)
    assert [c.against for c in comparisons] == ["depth only", "width only", "resolution only"]
    for comparison in comparisons:
        assert comparison.separated == separates
        if separates:
            assert comparison.verdict == "chosen better" and len(comparison.seeds) < 6  # stopped early
        else:
            assert comparison.verdict == "not separated" and len(comparison.seeds) == 6  # ran to the limit


@pytest.mark.parametrize("advantage, separates", [(0.05, True), (0.0, False)])
def test_grid_best_against_its_runner_up_is_paired_by_seed(advantage, separates):
    from scaling.compound import simplex_grid
    from scaling.grid_run import Task
    from scaling.pipeline import compare_best_with_runner_up

    planted = _planted_evaluator(0.0, 0.002)
    points = [p for p in simplex_grid(0.5) if max(p.shares) < 0.999][:2]  # two off-corner points
    evaluations = []
    for index, point in enumerate(points):
        for seed in range(5):
            evaluation = planted.evaluate(Task("grid", 1.0, point, seed, None))
            if index == 0:
                evaluation = dataclasses.replace(evaluation, metric=evaluation.metric + advantage)
            evaluations.append(evaluation)
    comparison = compare_best_with_runner_up(evaluations)
    assert comparison.seeds == (0, 1, 2, 3, 4) and comparison.winner == "grid best"
    assert comparison.separated == separates
    assert comparison.verdict == ("grid best better" if separates else "not separated")


@settings(max_examples=8, deadline=None)
@given(st.sampled_from([0, 1, 2]), st.floats(0.2, 0.6), st.integers(0, 10_000))
def test_a_coefficient_whose_optimum_sits_on_the_simplex_edge_is_reported_on_the_boundary(edge, rest, seed):
    """Scaling dimension ``edge`` only hurts: its share is 0 at the optimum, its coefficient 1.
    The report says so (share of refits on the edge) instead of a zero-width interval."""
    planted = np.array([rest, 1 - rest, 0.0]) if edge == 2 else np.insert(np.array([rest, 1 - rest]), edge, 0.0)
    metric = lambda shares: 0.9 - float(((shares - planted) ** 2).sum()) - 0.2 * shares[edge]  # noqa: E731
    fit = fit_coefficients(grid_table(metric, seeds=2, noise=0.002, seed=seed), bootstrap=200, seed=seed)
    report = CoefficientsReport.of(fit, 2.0)
    name = ("alpha", "beta", "gamma")[edge]
    assert name in report.on_boundary and fit.on_edge[name] > 0.5
    assert "ON THE BOUNDARY" in report.describe_coefficient(name)
    assert CoefficientsReport.from_json(report.to_json()).on_boundary == report.on_boundary
    # The interior coefficients are not on it.
    assert all(other not in report.on_boundary for other in ("alpha", "beta", "gamma") if other != name)


@pytest.mark.parametrize("probability, separated, warned", [(0.5, True, True), (0.95, False, True),
                                                             (0.95, True, False)])
def test_a_direction_another_seed_may_change_is_reported_not_stable(probability, separated, warned):
    best = GridPoint((0.0, 0.0, 1.0), 0.8, 2, 10.0, probability)
    runner_up = SeedPairedComparison("grid best", "grid runner-up", (0, 1), 0.02, *((0.01, 0.03) if separated
                                                                                   else (-0.1, 0.14)))
    report = CoefficientsReport(best.coefficients, "grid", grid_best=best, runner_up=runner_up)
    assert bool(report.instability) == warned
    assert ("NOT STABLE" in report.summary()) == warned


@pytest.mark.parametrize("advantage, overruled", [(-0.05, True), (0.0, False), (0.05, False)])
def test_a_corner_that_beats_the_fitted_direction_on_paired_seeds_overrules_it(tmp_path, advantage, overruled):
    """The fitted direction ``advantage`` above every corner: when it is below them and
    separated, the answer is a corner (and the report says what it overruled); otherwise the
    fitted direction stands."""
    from scaling.compound import Coefficients
    from scaling.pipeline import GridOptions, overruling_corner, race_corners
    from search_space import load_spec

    chosen = Coefficients.from_shares(0.4, 0.3, 0.3)
    grid = GridOptions(seeds=2, comparison_seeds=6, time_limit=None)
    evaluations = race_corners(tmp_path, load_spec("efficientnet-b0"), chosen, _planted_evaluator(advantage, 0.002),
                               grid, None, quiet=True)
    overruling = overruling_corner(evaluations, chosen)
    assert (overruling is not None) == overruled
    if not overruled:
        return
    corner, comparison = overruling
    assert max(corner.shares) == pytest.approx(1.0) and comparison.separated and comparison.difference < 0
    report = CoefficientsReport(chosen, "grid", intervals={"alpha": (1.0, 1.3)}).overruled_by(corner, comparison)
    assert report.chosen == corner and report.fitted == chosen and report.intervals == {}
    assert report.method.startswith(f"corner: {comparison.against}") and "OVERRULED" in report.summary()
    again = CoefficientsReport.from_json(report.to_json())
    assert again.chosen == corner and again.fitted == chosen and again.overruled == comparison
