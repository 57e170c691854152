"""The suite's statistics of noisy measurements, at one interval level for everything.

Proxy scores are noisy: one candidate trained at two seeds differs by as much as two
candidates do. Every output that names a winner therefore carries an interval, and the
comparisons here are *paired*: the suite trains all candidates of one seed index with the
same data order and initial random stream (:func:`runners.learning.loop.replicate_seed`), so
the difference of two candidates at one seed cancels most of that seed's luck.

* :func:`mean_interval` and :func:`paired_difference` use Student's t. At the 2-10 seeds
  a proxy can afford, a percentile bootstrap of a mean covers far less than its nominal
  level (with two values it can only return their range); t is exact for normal noise.
* :func:`separated_front` thins a Pareto front (cost down, score up) to the points that are
  separated from every cheaper one by :func:`could_beat`'s rule.
* :func:`rank_agreement` (Kendall's tau-b and Spearman's rho between two rankings) has no
  usable closed form for its interval, so it resamples candidates (percentile bootstrap).
  :func:`rank_agreement_difference` compares two proxies against one reference on the same
  resampled candidates (paired), which is far tighter than comparing their two intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

INTERVAL_LEVEL = 0.95  # every interval the suite reports (coefficients, laws, bands, seeds, rankings)


def interval_excludes(low: float | None, high: float | None, value: float = 0.0) -> bool:
    """Whether ``value`` lies outside the interval ``[low, high]``: the suite's one rule for
    "separated". A missing bound (``None``, fewer than two measurements) excludes nothing.

    >>> interval_excludes(0.01, 0.05), interval_excludes(-0.01, 0.05), interval_excludes(None, 0.05)
    (True, False, False)
    """
    return low is not None and high is not None and (value < low or value > high)


def percentile_interval(samples, estimate: float, level: float = INTERVAL_LEVEL) -> tuple[float, float]:
    """The central ``level`` of ``samples``, widened to include ``estimate`` (a skewed
    bootstrap distribution can otherwise leave the estimate just outside).

    >>> [round(bound, 6) for bound in percentile_interval(np.arange(101.0), 50.0)]
    [2.5, 97.5]
    """
    low, high = np.quantile(np.asarray(samples, dtype=float), [(1 - level) / 2, (1 + level) / 2])
    return float(min(low, estimate)), float(max(high, estimate))


@dataclass(frozen=True)
class Estimate:
    """A mean over ``n`` measurements and its ``level`` interval (infinite for one measurement)."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def excludes(self, value: float) -> bool:
        return interval_excludes(self.low, self.high, value)

    def to_json(self) -> dict:
        finite = lambda value: value if math.isfinite(value) else None  # noqa: E731  (JSON has no inf)
        return {"mean": self.mean, "low": finite(self.low), "high": finite(self.high), "n": self.n}

    def __str__(self) -> str:
        if self.n < 2:
            return f"{self.mean:.4f} (1 seed, no interval)"
        return f"{self.mean:.4f} +- {self.half_width:.4f} ({self.n} seeds)"


def mean_interval(values: Sequence[float], level: float = INTERVAL_LEVEL) -> Estimate:
    """Mean of ``values`` with its Student-t interval.

    >>> estimate = mean_interval([1.0, 2.0, 3.0])
    >>> estimate.mean, round(estimate.low, 3), round(estimate.high, 3)
    (2.0, -0.484, 4.484)
    """
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        raise ValueError("no measurements")
    mean = float(array.mean())
    if array.size < 2:
        return Estimate(mean, -math.inf, math.inf, 1)
    from scipy import stats  # on first use: scipy.stats costs every search process half a second to import

    half = float(stats.t.ppf((1 + level) / 2, array.size - 1) * array.std(ddof=1) / math.sqrt(array.size))
    return Estimate(mean, mean - half, mean + half, int(array.size))


@dataclass(frozen=True)
class PairedDifference:
    """``a - b`` over measurements paired by seed, and whether its interval excludes zero."""

    difference: Estimate

    @property
    def separated(self) -> bool:
        return self.difference.excludes(0.0)

    @property
    def verdict(self) -> str:
        if not self.separated:
            return "not separated"
        return "first is higher" if self.difference.mean > 0 else "second is higher"

    @property
    def first_is_higher(self) -> bool:
        """Separated, with the first above the second."""
        return self.separated and self.difference.mean > 0

    def describe(self) -> str:
        d = self.difference
        return f"paired difference {d.mean:+.4f}, 95% interval [{d.low:+.4f}, {d.high:+.4f}] over {d.n} seeds"

    def to_json(self) -> dict:
        return {**self.difference.to_json(), "separated": self.separated, "verdict": self.verdict}


def paired_difference(a: Sequence[float], b: Sequence[float], level: float = INTERVAL_LEVEL) -> PairedDifference:
    """The mean of ``a[i] - b[i]`` with its Student-t interval: ``a`` and ``b`` are two
    candidates' scores at the same seeds, in the same order."""
    if len(a) != len(b):
        raise ValueError(f"paired measurements need equal counts, got {len(a)} and {len(b)}")
    return PairedDifference(mean_interval(np.asarray(a, dtype=float) - np.asarray(b, dtype=float), level))


@dataclass(frozen=True)
class SeedNoise:
    """The standard deviation of one measurement across seeds, pooled over every candidate
    measured at two or more seeds, with its degrees of freedom."""

    std: float
    degrees_of_freedom: int

    @classmethod
    def pooled(cls, measurements: Sequence[Sequence[float]]) -> "SeedNoise | None":
        """``None`` until some candidate has two seeds."""
        repeated = [np.asarray(values, dtype=float) for values in measurements if len(values) >= 2]
        dof = sum(values.size - 1 for values in repeated)
        if dof == 0:
            return None
        return cls(math.sqrt(sum(float(((values - values.mean()) ** 2).sum()) for values in repeated) / dof), dof)


def could_beat(candidate: Sequence[float], incumbent: Sequence[float], noise: SeedNoise | None,
               level: float = INTERVAL_LEVEL) -> bool:
    """The racing rule: may ``candidate`` (its scores so far) still be at least as good as
    ``incumbent``, given the run's seed noise? A candidate that cannot gets no more seeds.

    Each mean is uncertain by ``noise.std / sqrt(n)``; the candidate stays in the race
    while the one-sided ``level`` bound of its difference to the incumbent reaches zero.
    Without a noise estimate yet, or an incumbent, every candidate stays (its seeds are
    what the estimate is pooled from). Treating the two means as independent ignores the
    positive correlation that common random numbers create, which errs towards more seeds.

    >>> noise = SeedNoise(0.01, 20)
    >>> could_beat([0.50], [0.80, 0.81, 0.79], noise), could_beat([0.795], [0.80, 0.81, 0.79], noise)
    (False, True)
    """
    if noise is None or not incumbent or not candidate:
        return True
    gap = float(np.mean(candidate)) - float(np.mean(incumbent))
    spread = noise.std * math.sqrt(1 / len(candidate) + 1 / len(incumbent))
    from scipy import stats

    return gap + float(stats.t.ppf(level, noise.degrees_of_freedom)) * spread >= 0


def pareto_front(costs: Sequence[float], values: Sequence[float]) -> list[int]:
    """Indices of the non-dominated points (lower cost, higher value), cheapest first.

    >>> pareto_front([1, 2, 3, 4], [0.5, 0.4, 0.7, 0.6])
    [0, 2]
    """
    order = sorted(range(len(costs)), key=lambda i: (costs[i], -values[i]))
    front, best = [], -math.inf
    for index in order:
        if values[index] > best:
            front.append(index)
            best = values[index]
    return front


def separated_front(costs: Sequence[float], scores: Sequence[Sequence[float]], noise: SeedNoise | None,
                    level: float = INTERVAL_LEVEL) -> list[int]:
    """The Pareto front of the mean scores, thinned to points that are separated.

    Walking the front from its cheapest point, a point is kept only when the last kept
    (cheaper) point could not be as good (:func:`could_beat`, one-sided, with each point's
    seeds and the run's pooled ``noise``); the others are as good as a cheaper point within
    the noise, and the cheaper one is the better answer for whoever deploys it (the
    tie-break by cost of a single-winner search, applied along the front). Without a noise
    estimate nothing can be separated and the front is returned whole.

    ``level`` is family-wise: front points are maxima picked from all ``n`` points, so each
    comparison is made at ``1 - (1 - level) / (n - 1)`` (Bonferroni). Uncorrected, a chance
    step survived in about a quarter of simulated fronts of 20 equally good points (4 seeds
    each); corrected, in 3%.

    >>> separated_front([1, 2, 3], [[0.80, 0.81], [0.805, 0.80], [0.90, 0.91]], SeedNoise(0.01, 10))
    [0, 2]
    """
    front = pareto_front(costs, [float(np.mean(values)) for values in scores])
    if noise is None or not front:
        return front
    each = 1 - (1 - level) / max(1, len(costs) - 1)
    kept = [front[0]]
    for index in front[1:]:
        if not could_beat(scores[kept[-1]], scores[index], noise, each):
            kept.append(index)
    return kept


@dataclass(frozen=True)
class RankAgreement:
    """How well one ranking of candidates agrees with another (1: the same order)."""

    kendall: Estimate  # Kendall's tau-b, its bootstrap interval; n is the number of candidates
    spearman: Estimate

    def to_json(self) -> dict:
        return {"kendall": self.kendall.to_json(), "spearman": self.spearman.to_json()}


def _correlations(reference: np.ndarray, candidate: np.ndarray) -> tuple[float, float]:
    """Kendall's tau-b and Spearman's rho of one pair of rankings (0 for a constant one)."""
    kendall, spearman = _correlations_of_draws(reference[None, :], candidate[None, :])[0]
    return float(kendall), float(spearman)


def _correlations_of_draws(reference: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """Kendall's tau-b and Spearman's rho (with average ranks for ties) of each row pair of
    two ``draws x candidates`` arrays, at once: ``draws x 2``. A row that is constant in
    either ranking carries no order and gets 0 (scipy's answer there is NaN).

    Tau-b counts each pair's concordance ``sign(dx) * sign(dy)`` over ``sqrt`` of the pairs
    untied in x times those untied in y (Kendall 1945); a candidate drawn twice by the
    bootstrap is tied with itself in both rankings, so it counts in neither.
    """
    sign_x = np.sign(reference[:, :, None] - reference[:, None, :])
    sign_y = np.sign(candidate[:, :, None] - candidate[:, None, :])
    untied = np.sqrt((sign_x**2).sum(axis=(1, 2)) * (sign_y**2).sum(axis=(1, 2)))
    concordance = (sign_x * sign_y).sum(axis=(1, 2))
    kendall = np.divide(concordance, untied, out=np.zeros_like(concordance), where=untied > 0)
    # Average ranks: the smaller values plus half the ties (the value itself excluded).
    rank_x = (sign_x > 0).sum(axis=2) + 0.5 * ((sign_x == 0).sum(axis=2) - 1)
    rank_y = (sign_y > 0).sum(axis=2) + 0.5 * ((sign_y == 0).sum(axis=2) - 1)
    rank_x = rank_x - rank_x.mean(axis=1, keepdims=True)
    rank_y = rank_y - rank_y.mean(axis=1, keepdims=True)
    spread = np.sqrt((rank_x**2).sum(axis=1) * (rank_y**2).sum(axis=1))
    covariance = (rank_x * rank_y).sum(axis=1)
    spearman = np.divide(covariance, spread, out=np.zeros_like(covariance), where=spread > 0)
    return np.stack([kendall, spearman], axis=1)


def _rankings(*rankings: Sequence[float]) -> list[np.ndarray]:
    """The rankings as float arrays, checked to cover the same 3 or more candidates."""
    arrays = [np.asarray(values, dtype=float) for values in rankings]
    if len({array.shape for array in arrays}) != 1 or arrays[0].size < 3:
        raise ValueError(f"rank agreement needs the same 3 or more candidates in all {len(arrays)} rankings")
    return arrays


def _bootstrap_indices(size: int, bootstrap: int, seed: int) -> np.ndarray:
    """``bootstrap`` resamples (with replacement) of ``size`` candidates, as indices."""
    return np.random.default_rng(seed).integers(0, size, (bootstrap, size))


def rank_agreement(reference: Sequence[float], candidate: Sequence[float], *, bootstrap: int = 2000, seed: int = 0,
                   level: float = INTERVAL_LEVEL) -> RankAgreement:
    """Kendall's tau-b and Spearman's rho of ``candidate`` against ``reference`` (both:
    higher is better, one value per candidate), with percentile-bootstrap intervals from
    resampling the candidates.

    >>> agreement = rank_agreement([1, 2, 3, 4, 5], [2, 1, 3, 4, 5], bootstrap=200)
    >>> round(agreement.kendall.mean, 3), round(agreement.spearman.mean, 3)
    (0.8, 0.9)
    """
    reference_array, candidate_array = _rankings(reference, candidate)
    kendall, spearman = _correlations(reference_array, candidate_array)
    index = _bootstrap_indices(reference_array.size, bootstrap, seed)
    draws = _correlations_of_draws(reference_array[index], candidate_array[index])
    n = int(reference_array.size)
    return RankAgreement(Estimate(kendall, *percentile_interval(draws[:, 0], kendall, level), n),
                         Estimate(spearman, *percentile_interval(draws[:, 1], spearman, level), n))


def rank_agreement_difference(reference: Sequence[float], first: Sequence[float], second: Sequence[float], *,
                              bootstrap: int = 2000, seed: int = 0, level: float = INTERVAL_LEVEL) -> Estimate:
    """Kendall's tau of ``first`` against ``reference`` minus that of ``second``, with a
    percentile-bootstrap interval from resampling the candidates once for both (paired: a
    candidate that is hard for one proxy to place is usually hard for the other).

    >>> difference = rank_agreement_difference([1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [2, 1, 3, 5, 4], bootstrap=200)
    >>> round(difference.mean, 3)
    0.4
    """
    reference_array, first_array, second_array = _rankings(reference, first, second)
    estimate = _correlations(reference_array, first_array)[0] - _correlations(reference_array, second_array)[0]
    index = _bootstrap_indices(reference_array.size, bootstrap, seed)
    draws = (_correlations_of_draws(reference_array[index], first_array[index])[:, 0]
             - _correlations_of_draws(reference_array[index], second_array[index])[:, 0])
    return Estimate(estimate, *percentile_interval(draws, estimate, level), int(reference_array.size))


__all__ = ["Estimate", "INTERVAL_LEVEL", "interval_excludes", "PairedDifference", "RankAgreement", "SeedNoise", "could_beat", "mean_interval",
           "paired_difference", "pareto_front", "percentile_interval", "rank_agreement", "rank_agreement_difference",
           "separated_front"]
