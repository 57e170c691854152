"""Choosing alpha, beta, gamma from a grid of evaluated scalings at phi = 1.

Each evaluated network is a point on the FLOP-share simplex (see
:mod:`scaling.compound`): its shares are recovered from its realised multipliers,
``s_d = log2 d``, ``s_w = 2 log2 w``, ``s_r = 2 log2 r``, normalised to sum to 1 (rounding
corrections move a network slightly off the ideal constraint; the direction is what
identifies it). Two answers are computed:

- **grid best**: the point whose seeds rank highest on average, ranking all rows of the
  table together (so any strictly increasing transform of the metric picks the same
  point; with one seed per point it is simply the best metric);
- **surrogate optimum**: a full quadratic in the shares fitted by least squares to the
  per-point mean metric, maximised over the whole simplex (so it may lie between grid
  points).

The surrogate is the headline answer when it is **adequate**: at least
:data:`MIN_SURROGATE_POINTS` distinct points, it predicts left-out points better than
their average does (leave-one-out R^2 > 0), and its leave-one-out error is no more
than twice the standard error of a point's mean from seed noise (with one seed per
point, where the noise is unknown, the leave-one-out R^2 must reach 0.5 instead).
Otherwise the grid best is the headline. A bootstrap that resamples each point's seeds
gives intervals on alpha, beta, gamma and the probability that each point is best.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from infra.errors import UsageError
from infra.statistics import percentile_interval
from scaling.compound import Coefficients

MIN_SURROGATE_POINTS = 8  # 6 quadratic coefficients, and two residual degrees of freedom
SURROGATE_LATTICE = 200  # the optimum is searched on a simplex lattice of step 1/200
POINT_DECIMALS = 9  # shares closer than this are the same grid point


def shares_of(depth_mult, width_mult, resolution_mult) -> np.ndarray:
    """Normalised FLOP shares ``(s_d, s_w, s_r)`` of multipliers; rows of an ``n x 3`` array."""
    logs = np.column_stack([np.log2(depth_mult), 2 * np.log2(width_mult), 2 * np.log2(resolution_mult)])
    logs = np.clip(logs, 0.0, None)
    total = logs.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(total > 0, logs / np.where(total > 0, total, 1), 1 / 3)
    return np.round(shares, POINT_DECIMALS)


@dataclass(frozen=True)
class GridPoint:
    shares: tuple[float, float, float]
    mean_metric: float
    seeds: int
    mean_rank: float
    probability_best: float = 0.0

    @property
    def coefficients(self) -> Coefficients:
        return Coefficients.from_shares(*self.shares)


@dataclass(frozen=True)
class Surrogate:
    """``metric ~ c0 + c1 x + c2 y + c3 x^2 + c4 x y + c5 y^2`` with ``x = s_d``, ``y = s_w``."""

    coefficients: tuple[float, ...]
    optimum: tuple[float, float, float]
    predicted_optimum: float
    loo_r2: float
    loo_rmse: float
    noise_se: float | None  # standard error of a point's mean from seed noise
    adequate: bool
    reason: str

    def predict(self, shares) -> np.ndarray:
        shares = np.atleast_2d(np.asarray(shares, dtype=float))
        return _design(shares) @ np.asarray(self.coefficients)


@dataclass(frozen=True)
class CoefficientFit:
    points: tuple[GridPoint, ...]
    grid_best: GridPoint
    surrogate: Surrogate | None
    method: str  # "surrogate" or "grid"
    chosen: Coefficients
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    bootstrap_samples: int = 0
    note: str = ""
    # Per coefficient: the share of refits whose optimum scales that dimension not at all (its
    # share 0, the coefficient 1: an edge of the simplex), and its interval over the others.
    on_edge: dict[str, float] = field(default_factory=dict)
    off_edge_intervals: dict[str, tuple[float, float] | None] = field(default_factory=dict)


COEFFICIENT_NAMES = ("alpha", "beta", "gamma")  # depth, width, resolution: the shares' order
MOSTLY_ON_EDGE = 0.5  # a coefficient at its edge in more refits than this is reported as on the boundary


def edge_summary(samples: np.ndarray, as_coefficients: np.ndarray
                 ) -> tuple[dict[str, float], dict[str, tuple[float, float] | None]]:
    """For each coefficient: the share of bootstrap optima on its edge (share 0) and the 95%
    interval over the optima that are not (None when none are)."""
    on_edge, off_edge = {}, {}
    for index, name in enumerate(COEFFICIENT_NAMES):
        edge = samples[:, index] <= 1e-9
        on_edge[name] = float(edge.mean())
        values = as_coefficients[~edge, index]
        off_edge[name] = percentile_interval(values, float(np.median(values))) if len(values) else None
    return on_edge, off_edge


def _design(shares: np.ndarray) -> np.ndarray:
    x, y = shares[:, 0], shares[:, 1]
    return np.column_stack([np.ones_like(x), x, y, x * x, x * y, y * y])


def _lattice() -> np.ndarray:
    n = SURROGATE_LATTICE
    return np.array([(i / n, j / n, (n - i - j) / n) for i in range(n + 1) for j in range(n + 1 - i)])


_LATTICE = _lattice()
_LATTICE_DESIGN = _design(_LATTICE)


def _aggregate(keys: np.ndarray, metric: np.ndarray, ranks: np.ndarray):
    """Per distinct point: shares, mean metric, count, mean rank, and the seed variance."""
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.bincount(inverse, minlength=len(unique))
    means = np.bincount(inverse, weights=metric, minlength=len(unique)) / counts
    mean_ranks = np.bincount(inverse, weights=ranks, minlength=len(unique)) / counts
    squares = np.bincount(inverse, weights=(metric - means[inverse]) ** 2, minlength=len(unique))
    best_ranks = np.full(len(unique), -np.inf)
    np.maximum.at(best_ranks, inverse, ranks)
    return unique, means, counts, mean_ranks, squares, best_ranks


def _best_index(mean_ranks: np.ndarray, best_ranks: np.ndarray) -> int:
    # Highest mean rank; ties by the best single rank, then the first point in share order:
    # all rank-based, so an increasing transform of the metric cannot change the choice.
    return int(np.lexsort((-best_ranks, -mean_ranks))[0])


def _fit_surrogate(unique: np.ndarray, means: np.ndarray, counts: np.ndarray, squares: np.ndarray) -> Surrogate | None:
    if len(unique) < 6:
        return None
    design = _design(unique)
    coefficients, *_ = np.linalg.lstsq(design, means, rcond=None)
    predictions = _LATTICE_DESIGN @ coefficients
    best = int(np.argmax(predictions))
    # Leave-one-out residuals of a linear least-squares fit: r_i / (1 - h_ii).
    hat = design @ np.linalg.pinv(design)
    leverage = np.clip(np.diag(hat), 0, 1 - 1e-12)
    loo = (means - design @ coefficients) / (1 - leverage)
    spread = float(((means - means.mean()) ** 2).sum())
    loo_r2 = 1 - float((loo**2).sum()) / spread if spread > 0 else (1.0 if np.allclose(loo, 0) else -math.inf)
    loo_rmse = float(np.sqrt(np.mean(loo**2)))
    dof = int((counts - 1).sum())
    noise_se = math.sqrt(float(squares.sum()) / dof / float(np.mean(counts))) if dof > 0 else None
    if len(unique) < MIN_SURROGATE_POINTS:
        adequate, reason = False, f"only {len(unique)} distinct points (needs {MIN_SURROGATE_POINTS})"
    elif loo_r2 <= 0:
        adequate, reason = False, f"leave-one-out R^2 {loo_r2:.2f} <= 0: no better than the mean"
    elif noise_se is not None and loo_rmse > 2 * noise_se and loo_rmse > 1e-12:
        adequate, reason = False, f"leave-one-out RMSE {loo_rmse:.4g} > 2 x seed noise {noise_se:.4g}"
    elif noise_se is None and loo_r2 < 0.5:
        adequate, reason = False, f"one seed per point and leave-one-out R^2 {loo_r2:.2f} < 0.5"
    else:
        adequate, reason = True, f"leave-one-out R^2 {loo_r2:.2f}, RMSE {loo_rmse:.4g}" + (
            f" (seed noise {noise_se:.4g})" if noise_se is not None else "")
    return Surrogate(tuple(float(c) for c in coefficients), tuple(float(s) for s in _LATTICE[best]),
                     float(predictions[best]), loo_r2, loo_rmse, noise_se, adequate, reason)


def _resample(keys, metric, groups, rng):
    """One bootstrap table: each point's rows drawn with replacement from its own rows."""
    pick = np.concatenate([rng.choice(rows, size=len(rows), replace=True) for rows in groups])
    return keys[pick], metric[pick]


def _ranks(metric: np.ndarray) -> np.ndarray:
    return pd.Series(metric).rank(method="average").to_numpy()


def fit_coefficients(table: pd.DataFrame, *, bootstrap: int = 1000, seed: int = 0) -> CoefficientFit:
    """Grid best and surrogate optimum over a grid table, with seed-bootstrap intervals.

    ``table`` needs ``depth_mult``, ``width_mult``, ``resolution_mult`` and ``metric``
    (higher is better), and normally ``seed``: rows with the same point and seed are one
    evaluation (their mean), so a duplicated row changes nothing. Without ``seed`` each row
    is its own evaluation.
    """
    keys = shares_of(table["depth_mult"].to_numpy(float), table["width_mult"].to_numpy(float),
                     table["resolution_mult"].to_numpy(float))
    metric = table["metric"].to_numpy(float)
    if "seed" in table:
        # (point, seed) identifies one evaluation: a row recorded twice is still one evaluation.
        frame = pd.DataFrame(keys, columns=["d", "w", "r"]).assign(seed=table["seed"].to_numpy(), metric=metric)
        frame = frame.groupby(["d", "w", "r", "seed"], as_index=False)["metric"].mean()
        keys, metric = frame[["d", "w", "r"]].to_numpy(float), frame["metric"].to_numpy(float)
    # Canonical row order: the answer cannot depend on how the table was sorted.
    order = np.lexsort((metric, keys[:, 2], keys[:, 1], keys[:, 0]))
    keys, metric = keys[order], metric[order]
    unique, means, counts, mean_ranks, squares, best_ranks = _aggregate(keys, metric, _ranks(metric))
    if len(unique) < 2:
        # Rows, not points, were counted before: one point repeated fits nothing, and its
        # bootstrap intervals would have zero width.
        raise UsageError(f"the table holds {len(unique)} distinct grid point(s) in {len(metric)} rows; "
                         "coefficients need at least 2 points to choose between")
    best = _best_index(mean_ranks, best_ranks)
    surrogate = _fit_surrogate(unique, means, counts, squares)
    method = "surrogate" if surrogate is not None and surrogate.adequate else "grid"
    chosen_shares = surrogate.optimum if method == "surrogate" else tuple(unique[best])
    chosen = Coefficients.from_shares(*chosen_shares)

    _, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    groups = [np.flatnonzero(inverse == i) for i in range(len(unique))]
    wins = np.zeros(len(unique))
    samples = []
    note = ""
    if counts.max() < 2:
        note = "one seed per point: the seed bootstrap has nothing to resample, intervals are points"
    rng = np.random.default_rng(seed)
    for _ in range(bootstrap if counts.max() >= 2 else 0):
        sample_keys, sample_metric = _resample(keys, metric, groups, rng)
        _, sample_means, sample_counts, sample_ranks, sample_squares, sample_best_ranks = _aggregate(
            sample_keys, sample_metric, _ranks(sample_metric))
        sample_best = _best_index(sample_ranks, sample_best_ranks)
        wins[sample_best] += 1
        if method == "surrogate":
            refit = _fit_surrogate(unique, sample_means, sample_counts, sample_squares)
            samples.append(refit.optimum)
        else:
            samples.append(tuple(unique[sample_best]))
    used = len(samples)
    on_edge, off_edge = {}, {}
    if used:
        probability = wins / used
        as_coefficients = np.array([[c.alpha, c.beta, c.gamma] for c in
                                    (Coefficients.from_shares(*s) for s in samples)])
        intervals = {name: percentile_interval(as_coefficients[:, i], getattr(chosen, name))
                     for i, name in enumerate(COEFFICIENT_NAMES)}
        on_edge, off_edge = edge_summary(np.array(samples, dtype=float), as_coefficients)
    else:
        probability = np.eye(len(unique))[best]
        intervals = {name: (getattr(chosen, name),) * 2 for name in ("alpha", "beta", "gamma")}
    points = tuple(GridPoint(tuple(float(s) for s in unique[i]), float(means[i]), int(counts[i]),
                             float(mean_ranks[i]), float(probability[i])) for i in range(len(unique)))
    return CoefficientFit(points, points[best], surrogate, method, chosen, intervals, used, note, on_edge, off_edge)


__all__ = ["COEFFICIENT_NAMES", "CoefficientFit", "GridPoint", "MIN_SURROGATE_POINTS", "MOSTLY_ON_EDGE", "Surrogate",
           "edge_summary", "fit_coefficients", "shares_of"]
