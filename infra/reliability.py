"""What a ranking of candidates is worth: seed noise against the spread between candidates.

Candidates trained at the same seed replicates (common random numbers: one data order and
random stream per replicate) form a ``candidates x seeds`` table. A two-way analysis of
variance without interaction (candidate + seed, Shrout & Fleiss 1979, model 3) separates

- the spread **between candidates** (what a ranking is meant to find),
- a shared **seed effect** (a replicate that is good for every candidate changes no ranking,
  so it is removed rather than counted as noise), and
- the **residual**: how a candidate's score moves from seed to seed relative to the others,
  the noise that reorders a ranking.

From these:

- ``between_share``: ICC(3,1), the share of one seed's score variance that is between
  candidates, ``(MS_c - MS_e) / (MS_c + (k - 1) MS_e)`` with ``k`` seeds (0: a ranking by one
  seed is pure noise; 1: no noise). ``mean_share`` is the same for the mean over the ``k``
  seeds, ICC(3,k) ``= (MS_c - MS_e) / MS_c``.
- the F-test of "all candidates equal" (``F = MS_c / MS_e``): the proxy **separates** the
  candidates when its p-value is below :data:`SEPARATION_LEVEL`.
- Kendall's tau between the first two seeds' rankings with a bootstrap interval over
  candidates (:func:`infra.statistics.rank_agreement`), with three or more candidates.
- :meth:`RankingReliability.kendall_at`: the Kendall tau two independent rankings by the mean
  of ``m`` seeds are expected to reach, from ``between_share`` by the Spearman-Brown formula
  (the reliability of an ``m``-seed mean) and Greiner's relation for normal scores
  (``tau = 2/pi asin(rho)``, Kendall 1948): how many seeds a ranking needs to be reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from infra.statistics import Estimate, rank_agreement

SEPARATION_LEVEL = 0.05  # the F-test's level for "the proxy separates these candidates"
# A ranking is called reproducible at this Kendall tau between two independent repeats: half
# of all pairs more often in agreement than not (the search's rung target, BENCHMARKS.md).
REPRODUCIBLE_KENDALL = 0.5


@dataclass(frozen=True)
class RankingReliability:
    """How reproducibly one proxy ranks ``candidates`` candidates measured at ``seeds`` paired seeds."""

    candidates: int
    seeds: int
    between_share: float  # ICC(3,1): a ranking by one seed
    mean_share: float  # ICC(3,k): a ranking by the mean of the k seeds
    seed_noise: float  # residual standard deviation of one score (the noise that reorders)
    spread: float  # standard deviation of the candidates' true scores implied by the variance components
    f_statistic: float
    p_value: float
    kendall: Estimate | None  # seed 0's ranking against seed 1's; None below 3 candidates

    @property
    def separates(self) -> bool:
        return self.p_value < SEPARATION_LEVEL

    def kendall_at(self, seeds: int) -> float:
        """Kendall tau expected between two independent rankings of these candidates, each by
        the mean of ``seeds`` seeds (normal scores; see the module's docstring)."""
        if seeds < 1:
            raise ValueError(f"seeds must be at least 1, got {seeds}")
        share = self.between_share
        correlation = seeds * share / (1 + (seeds - 1) * share) if share > 0 else 0.0
        return 2 / math.pi * math.asin(correlation)

    def seeds_for(self, kendall: float = REPRODUCIBLE_KENDALL) -> int | None:
        """The fewest seeds whose mean ranks these candidates reproducibly at ``kendall``
        (:meth:`kendall_at`); ``None`` when no number does (no spread between candidates)."""
        if not 0 < kendall < 1:
            raise ValueError(f"kendall must be in (0, 1), got {kendall}")
        share = self.between_share
        if share <= 0:
            return None
        if share >= 1:
            return 1
        correlation = math.sin(math.pi * kendall / 2)  # the m-seed reliability that reaches it
        seeds = max(1, math.ceil(correlation * (1 - share) / (share * (1 - correlation)) - 1e-9))
        while self.kendall_at(seeds) < kendall:  # guards the rounding of the inverse
            seeds += 1
        return seeds

    def describe(self, proxy: str = "the proxy") -> str:
        verdict = (f"{proxy} separates these candidates" if self.separates
                   else f"the candidates are not distinguishable at {proxy}")
        tau = ("" if self.kendall is None else
               f"; seed 0 vs seed 1 Kendall {self.kendall.mean:+.2f} [{self.kendall.low:+.2f}, {self.kendall.high:+.2f}]")
        needed = self.seeds_for()
        forecast = ("; no number of seeds ranks them reproducibly" if needed is None else
                    f"; a ranking by the mean of {needed} seed{'s' if needed > 1 else ''} is expected to reach "
                    f"Kendall {REPRODUCIBLE_KENDALL}")
        return (f"{verdict} (F-test p = {self.p_value:.2g} over {self.candidates} candidates x {self.seeds} seeds; "
                f"{self.between_share:.0%} of one seed's variance is between candidates, {self.mean_share:.0%} "
                f"of the {self.seeds}-seed mean's; seed noise {self.seed_noise:.4f} against a spread of "
                f"{self.spread:.4f}{tau}{forecast})")

    def to_json(self) -> dict:
        return {"candidates": self.candidates, "seeds": self.seeds, "between_share": self.between_share,
                "mean_share": self.mean_share, "seed_noise": self.seed_noise, "spread": self.spread,
                "f_statistic": self.f_statistic, "p_value": self.p_value, "separates": self.separates,
                "kendall": None if self.kendall is None else self.kendall.to_json()}


def ranking_reliability(scores: Sequence[Sequence[float]], *, bootstrap: int = 2000,
                        seed: int = 0) -> RankingReliability:
    """The reliability of a ``candidates x seeds`` table of scores (column ``j``: seed
    replicate ``j`` of every candidate). Needs 2 or more candidates and seeds.

    >>> planted = [[0.70, 0.71, 0.69], [0.80, 0.81, 0.79], [0.90, 0.91, 0.89]]
    >>> reliability = ranking_reliability(planted, bootstrap=100)
    >>> reliability.separates, round(reliability.between_share, 3)
    (True, 1.0)
    """
    table = np.asarray(scores, dtype=float)
    if table.ndim != 2 or table.shape[0] < 2 or table.shape[1] < 2:
        raise ValueError(f"ranking reliability needs a table of 2 or more candidates x 2 or more seeds, "
                         f"got shape {table.shape}")
    if not np.isfinite(table).all():
        raise ValueError("ranking reliability needs finite scores")
    n, k = table.shape
    grand = table.mean()
    candidate_effect = table.mean(axis=1) - grand
    seed_effect = table.mean(axis=0) - grand
    residual = table - grand - candidate_effect[:, None] - seed_effect[None, :]
    ms_candidates = k * float((candidate_effect**2).sum()) / (n - 1)
    ms_error = float((residual**2).sum()) / ((n - 1) * (k - 1))
    tiny = 1e-15 * max(1.0, float(np.abs(table).max()) ** 2)
    if ms_error <= tiny:
        # No residual noise: every seed ranks alike; candidates differ unless all are equal.
        f_statistic = np.inf if ms_candidates > tiny else 0.0
        p_value = 0.0 if ms_candidates > tiny else 1.0
        between = mean = 1.0 if ms_candidates > tiny else 0.0
    else:
        from scipy import stats  # here, not at import: scipy.stats costs address space a capped search needs

        f_statistic = ms_candidates / ms_error
        p_value = float(stats.f.sf(f_statistic, n - 1, (n - 1) * (k - 1)))
        between = max(0.0, (ms_candidates - ms_error) / (ms_candidates + (k - 1) * ms_error))
        mean = max(0.0, (ms_candidates - ms_error) / ms_candidates) if ms_candidates > 0 else 0.0
    spread = float(np.sqrt(max(0.0, ms_candidates - ms_error) / k))
    kendall = (rank_agreement(table[:, 0], table[:, 1], bootstrap=bootstrap, seed=seed).kendall
               if n >= 3 else None)
    return RankingReliability(n, k, float(between), float(mean), float(np.sqrt(ms_error)), spread,
                              float(f_statistic), float(p_value), kendall)


__all__ = ["REPRODUCIBLE_KENDALL", "RankingReliability", "SEPARATION_LEVEL", "ranking_reliability"]
