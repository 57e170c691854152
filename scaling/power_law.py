"""Power laws of error against compute: ``error = E + A * C^(-a)``.

``C`` is MACs or parameters, ``E`` the irreducible error, ``a`` the scaling exponent
(Kaplan et al. 2020, arXiv 2001.08361; Hoffmann et al. 2022, arXiv 2203.15556). The fit
follows Hoffmann et al. appendix D.2: a Huber loss on the residuals of log error
(robust to the odd diverged run), minimised with L-BFGS-B from a grid of starting
points, keeping the best. Compute is divided by its geometric mean inside the fit so
that the problem is well conditioned for any unit; ``A`` is reported in the caller's
units.

Uncertainty comes from a row bootstrap (refits on rows drawn with replacement), and
the law is validated by holding out the largest compute levels, refitting on the rest
and checking that the held-out points fall inside the refit's band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from infra.errors import UserError
from infra.statistics import INTERVAL_LEVEL, percentile_interval

HUBER_DELTA = 1e-3  # on log error, as in Hoffmann et al.
PARAMETERS = ("E", "A", "a")
EXPONENT_BOUNDS = (1e-4, 5.0)
LOG_SCALE_BOUNDS = (-30.0, 30.0)  # log A after normalising compute
MIN_LEVELS = 4  # distinct compute values needed to fit 3 parameters with a residual left


class LawError(UserError):
    """The data cannot support a fit (too few points, non-positive values)."""


@dataclass(frozen=True)
class PowerLaw:
    """``error(C) = E + A * C^(-a)`` in the caller's compute units."""

    E: float
    A: float
    a: float

    def error(self, compute) -> np.ndarray:
        compute = np.asarray(compute, dtype=float)
        return self.E + self.A * compute ** (-self.a)


@dataclass(frozen=True)
class LawFit:
    law: PowerLaw
    loss: float  # mean Huber loss of the log residuals, in units of HUBER_DELTA^2
    converged: bool
    on_bound: tuple[str, ...]  # parameters that ended on a bound of the search box
    points: int
    levels: int  # distinct compute values
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    band_compute: tuple[float, ...] = ()
    band_low: tuple[float, ...] = ()
    band_high: tuple[float, ...] = ()
    bootstrap_samples: int = 0

    @property
    def healthy(self) -> bool:
        return self.converged and not self.on_bound


def _huber(residual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Huber loss of ``residual / delta`` and its derivative with respect to ``residual``."""
    scaled = residual / HUBER_DELTA
    small = np.abs(scaled) <= 1
    loss = np.where(small, 0.5 * scaled**2, np.abs(scaled) - 0.5)
    slope = np.where(small, scaled, np.sign(scaled)) / HUBER_DELTA
    return loss, slope


def _objective(theta: np.ndarray, log_x: np.ndarray, log_y: np.ndarray, share: np.ndarray) -> tuple[float, np.ndarray]:
    """Weighted mean Huber loss of ``log(E + exp(log_A - a log x)) - log y`` and its gradient;
    ``share`` is each distinct point's share of the rows."""
    irreducible, log_scale, exponent = theta
    reducible = np.exp(log_scale - exponent * log_x)
    prediction = irreducible + reducible
    loss, slope = _huber(np.log(prediction) - log_y)
    weight = slope / prediction * share
    gradient = np.array([weight.sum(), (weight * reducible).sum(), -(weight * reducible * log_x).sum()])
    return float((loss * share).sum()), gradient


def _minimise(start, log_x, log_y, share, bounds):
    return minimize(_objective, np.asarray(start, dtype=float), args=(log_x, log_y, share), jac=True,
                    method="L-BFGS-B", bounds=bounds, options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-12})


def _starts(log_x: np.ndarray, error: np.ndarray, share: np.ndarray, upper_irreducible: float):
    """A grid of (E, log A, a): E as a share of the smallest error, ``a`` over decades;
    log A from the least-squares line through log(error - E) given the other two."""
    for fraction in (0.0, 0.3, 0.6, 0.9):
        irreducible = fraction * upper_irreducible
        remainder = np.log(np.maximum(error - irreducible, 1e-12))
        for exponent in (0.03, 0.1, 0.3, 1.0, 3.0):
            yield irreducible, float(((remainder + exponent * log_x) * share).sum()), exponent


def _fit(compute: np.ndarray, error: np.ndarray, start=None):
    """The best optimiser result and the normalisation; ``start`` skips the grid (bootstrap).

    Identical rows become one point with a weight: repeating every row then gives the very
    same floating-point problem, so the same answer (the loss is flat along ridges where an
    optimiser could otherwise stop at a different place)."""
    points, counts = np.unique(np.column_stack([compute, error]), axis=0, return_counts=True)
    compute, error, share = points[:, 0], points[:, 1], counts / counts.sum()
    reference = float(np.exp((np.log(compute) * share).sum()))
    log_x, log_y = np.log(compute / reference), np.log(error)
    upper_irreducible = float(error.min()) * (1 - 1e-9)
    bounds = [(0.0, upper_irreducible), LOG_SCALE_BOUNDS, EXPONENT_BOUNDS]
    starts = [start] if start is not None else list(_starts(log_x, error, share, upper_irreducible))
    best = None
    for guess in starts:
        guess = np.clip(np.asarray(guess, dtype=float), [b[0] for b in bounds], [b[1] for b in bounds])
        result = _minimise(guess, log_x, log_y, share, bounds)
        if best is None or result.fun < best.fun:
            best = result
    return best, reference, bounds


def _law(theta: np.ndarray, reference: float) -> PowerLaw:
    irreducible, log_scale, exponent = (float(v) for v in theta)
    # error = E + exp(log_scale) * (C / reference)^-a  =>  A = exp(log_scale) * reference^a
    return PowerLaw(irreducible, math.exp(log_scale + exponent * math.log(reference)), exponent)


def _converged(result, bounds) -> bool:
    """L-BFGS-B's own verdict, or a projected gradient that is zero to 1e-4 relative to the loss:
    its line search can stop at machine precision on the kink of the Huber loss."""
    if result.success:
        return True
    gradient = np.array(result.jac, dtype=float)
    for index, (value, (low, high)) in enumerate(zip(result.x, bounds)):
        # At a bound, a gradient pointing out of the box is not a sign of non-convergence.
        if (value <= low and gradient[index] > 0) or (value >= high and gradient[index] < 0):
            gradient[index] = 0.0
    return bool(np.all(np.isfinite(result.x)) and np.abs(gradient).max() <= 1e-4 * max(1.0, abs(result.fun)))


def _on_bound(theta: np.ndarray, bounds) -> tuple[str, ...]:
    names = []
    for name, value, (low, high) in zip(PARAMETERS, theta, bounds):
        span = high - low
        # E = 0 is a legitimate answer (no irreducible error), so only its upper bound counts.
        if (name != "E" and value <= low + 1e-6 * span) or value >= high - 1e-6 * span:
            names.append(name)
    return tuple(names)


def check_points(compute, error, needed_levels: int = MIN_LEVELS) -> tuple[np.ndarray, np.ndarray]:
    """Validated float arrays; one :class:`LawError` line for anything a fit cannot use."""
    compute, error = np.asarray(compute, dtype=float), np.asarray(error, dtype=float)
    if compute.shape != error.shape or compute.ndim != 1:
        raise LawError("compute and error must be equally long lists of numbers")
    if not (np.isfinite(compute).all() and np.isfinite(error).all()):
        raise LawError("compute and error must be finite numbers (found NaN or infinity)")
    if (compute <= 0).any():
        raise LawError(f"compute must be > 0, found {compute[compute <= 0][0]:g}")
    if (error <= 0).any():
        raise LawError(f"error must be > 0 for a log fit, found {error[error <= 0][0]:g}")
    levels = len(np.unique(compute))
    if levels < needed_levels:
        raise LawError(f"a power law E + A*C^-a needs at least {needed_levels} distinct compute values, got {levels}")
    return compute, error


def fit_power_law(compute, error, *, bootstrap: int = 1000, seed: int = 0, band_points: int = 60,
                  band_range: tuple[float, float] | None = None) -> LawFit:
    """Fit ``error = E + A * C^(-a)`` with bootstrap intervals and a prediction band.

    The result is independent of the order of the rows, and of duplicating all of them
    (the loss is a mean). The band covers ``band_range`` (default: the data's range) on a
    log grid: the central 95% (:data:`INTERVAL_LEVEL`) of the bootstrap fits' predictions, each times a log
    residual of the full fit drawn at random, so it is a band for new observations.

    >>> import numpy as np
    >>> compute = np.geomspace(1e6, 1e9, 8)
    >>> fit = fit_power_law(compute, 0.05 + 30 * compute ** -0.3, bootstrap=0)
    >>> [round(v, 4) for v in (fit.law.E, fit.law.A, fit.law.a)], fit.healthy
    ([0.05, 30.0, 0.3], True)
    """
    compute, error = check_points(compute, error)
    # A canonical row order makes every floating-point sum, and so the answer, independent of it.
    order = np.lexsort((error, compute))
    compute, error = compute[order], error[order]
    result, reference, bounds = _fit(compute, error)
    law = _law(result.x, reference)
    low_c, high_c = band_range or (float(compute.min()), float(compute.max()))
    grid = np.geomspace(low_c, high_c, band_points)
    intervals, band_low, band_high, used = {}, (), (), 0
    if bootstrap > 0:
        rng = np.random.default_rng(seed)
        residuals = np.log(error) - np.log(law.error(compute))
        estimates, predictions = [], []
        for _ in range(bootstrap):
            pick = np.sort(rng.integers(0, len(compute), len(compute)))
            if len(np.unique(compute[pick])) < 3:
                continue  # a resample on two compute values cannot pin down three parameters
            sample, sample_reference, _ = _fit(compute[pick], error[pick], start=_start_for(law, compute[pick],
                                                                                             error[pick]))
            fitted = _law(sample.x, sample_reference)
            estimates.append((fitted.E, fitted.A, fitted.a))
            # A band for a new observation: the refit's prediction times a drawn log residual.
            predictions.append(fitted.error(grid) * np.exp(rng.choice(residuals, size=len(grid))))
        used = len(estimates)
        if used:
            estimates_array, predictions_array = np.array(estimates), np.array(predictions)
            intervals = {name: percentile_interval(estimates_array[:, i], getattr(law, name)) for i, name in enumerate(PARAMETERS)}
            band_low = tuple(np.quantile(predictions_array, (1 - INTERVAL_LEVEL) / 2, axis=0))
            band_high = tuple(np.quantile(predictions_array, (1 + INTERVAL_LEVEL) / 2, axis=0))
    return LawFit(law=law, loss=float(result.fun), converged=_converged(result, bounds), on_bound=_on_bound(result.x, bounds),
                  points=len(compute), levels=len(np.unique(compute)), intervals=intervals,
                  band_compute=tuple(grid), band_low=band_low, band_high=band_high, bootstrap_samples=used)


def _start_for(law: PowerLaw, compute: np.ndarray, error: np.ndarray) -> tuple[float, float, float]:
    """The full fit's parameters in a resample's normalisation (a warm start)."""
    reference = float(np.exp(np.mean(np.log(compute))))
    irreducible = min(law.E, float(error.min()) * (1 - 1e-9))
    return irreducible, math.log(law.A) - law.a * math.log(reference), law.a


@dataclass(frozen=True)
class HeldOutPoint:
    compute: float
    observed: float
    predicted: float
    log_error: float  # log(predicted / observed)
    inside_band: bool


@dataclass(frozen=True)
class Validation:
    """The law refitted without the largest compute levels, tested on them."""

    fit: LawFit
    held_out: tuple[HeldOutPoint, ...]

    @property
    def mean_absolute_log_error(self) -> float:
        return float(np.mean([abs(p.log_error) for p in self.held_out]))

    @property
    def inside_band_fraction(self) -> float:
        return float(np.mean([p.inside_band for p in self.held_out]))


def holdout_levels(levels: int) -> int:
    """Default number of largest compute levels to hold out: a fifth, at least one."""
    return max(1, round(levels / 5))


def validate_by_holdout(compute, error, held_levels: int | None = None, *, bootstrap: int = 1000,
                        seed: int = 0) -> Validation:
    """Refit on all but the ``held_levels`` largest compute values and predict those."""
    compute, error = check_points(compute, error)
    levels = np.unique(compute)
    held_levels = holdout_levels(len(levels)) if held_levels is None else held_levels
    if len(levels) - held_levels < MIN_LEVELS:
        raise LawError(f"holding out the {held_levels} largest of {len(levels)} compute values leaves "
                       f"{len(levels) - held_levels}; a power law needs at least {MIN_LEVELS} to fit")
    threshold = levels[-held_levels]
    kept = compute < threshold
    fit = fit_power_law(compute[kept], error[kept], bootstrap=bootstrap, seed=seed,
                        band_range=(float(compute.min()), float(compute.max())))
    band = np.asarray(fit.band_compute)
    points = []
    for c, observed in sorted(zip(compute[~kept], error[~kept])):
        predicted = float(fit.law.error(c))
        low, high = np.interp(c, band, fit.band_low), np.interp(c, band, fit.band_high)
        inside = bool(fit.band_low) and bool(low * (1 - 1e-9) <= observed <= high * (1 + 1e-9))
        points.append(HeldOutPoint(float(c), float(observed), predicted, math.log(predicted / observed), inside))
    return Validation(fit, tuple(points))


__all__ = ["HeldOutPoint", "LawError", "LawFit", "PowerLaw", "Validation", "check_points", "fit_power_law",
           "holdout_levels", "validate_by_holdout"]
