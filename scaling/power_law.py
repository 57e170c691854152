"""Power laws of error against compute: ``error = E + A * C^(-a)``, fitted by variable projection.

``C`` is MACs or parameters, ``E`` the irreducible error, ``a`` the scaling exponent
(Kaplan et al. 2020, arXiv 2001.08361; Hoffmann et al. 2022, arXiv 2203.15556).

**The fit.** The loss is the mean squared *relative* residual ``((E + A C^-a) - y) / y``
(to first order the log residual that Hoffmann et al. fit, but exactly quadratic in ``E``
and ``A``). For a given exponent ``a`` the model is linear in ``E`` and ``A``, so they have
a closed-form non-negative least-squares solution and the loss becomes a function of ``a``
alone, the *profile*: it is evaluated on a log grid of ``a`` and polished at its minimum
(variable projection, Golub and Pereyra 1973; recommended over fitting all three parameters
by Czech et al. 2026, arXiv 2603.22339). It is exact for this loss, needs no starting point,
and a bootstrap of a thousand refits is a few matrix products.

**Two models.** The *pure* law (``E = 0``, 2 parameters) and the *saturating* law
(``E >= 0``, 3 parameters) are both fitted; the one with the lower AICc (Hurvich and Tsai
1989; the same residuals for both, ``k`` counting the noise variance) is the answer, and
the saturating law needs 4 compute levels to be considered at all. Every bootstrap refit
makes this choice again, so the intervals and the prediction band carry the uncertainty of
the model as well as of its parameters.

**Whether the law predicts** is judged by :func:`validate_by_holdout`: refit without the
largest compute levels and see whether those points fall inside the refit's band as often
as a 95% band allows. Whether ``E`` and ``A`` can be told apart is reported as information
(:attr:`LawFit.identified`), not as a veto.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.stats import binom, f as f_distribution, t as student_t

from infra.errors import UserError
from infra.statistics import INTERVAL_LEVEL, percentile_interval

PARAMETERS = ("E", "A", "a")
EXPONENT_BOUNDS = (1e-3, 5.0)
EXPONENT_GRID = np.geomspace(*EXPONENT_BOUNDS, 400)  # the profile's grid; polished at its minimum
MIN_LEVELS = 3  # distinct compute values: the pure law's 2 parameters with a residual left
SATURATING_LEVELS = 4  # the saturating law's 3 parameters with a residual left
PURE, SATURATING = "pure", "saturating"
# The trend must be significant against "no trend" (an F-test at this level) before a law is
# usable: a law fitted to noise alone is never one (measured: BENCHMARKS.md, power laws).
TREND_LEVEL = 1e-4
HELD_OUT_TEST_LEVEL = 0.05  # the held-out points are inside the band too rarely for a 95% band


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
    """The chosen model's fit, with what the bootstrap and the model choice found.

    ``loss`` is the mean squared relative residual; ``criteria`` the AICc of each model
    fitted; ``saturating_share`` the share of bootstrap refits that chose the saturating law;
    ``trend_p`` the F-test p-value of the law against a constant error (no trend);
    ``profile_exponent``/``profile_loss`` the profile of each model's loss over ``a``.
    """

    law: PowerLaw
    model: str  # PURE or SATURATING
    loss: float
    converged: bool
    on_bound: tuple[str, ...]  # "a" when the profile's minimum is at an end of EXPONENT_BOUNDS
    points: int
    levels: int  # distinct compute values
    criteria: dict[str, float] = field(default_factory=dict)
    trend_p: float = 1.0
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    saturating_share: float = 0.0
    band_compute: tuple[float, ...] = ()
    band_low: tuple[float, ...] = ()
    band_high: tuple[float, ...] = ()
    bootstrap_samples: int = 0
    profile_exponent: tuple[float, ...] = ()
    profile_loss: dict[str, tuple[float, ...]] = field(default_factory=dict)

    @property
    def trend(self) -> bool:
        """The error falls with compute beyond what noise explains (``trend_p < TREND_LEVEL``)."""
        return self.trend_p < TREND_LEVEL

    @property
    def identified(self) -> str:
        """Whether the data tell ``E`` from ``A`` (information only: a law can predict without)."""
        low, high = self.intervals.get("E", (self.law.E, self.law.E))
        if high <= 0:
            return "E = 0: no irreducible error visible over this compute range"
        if low <= 0:
            return (f"E not identified: its interval [0, {high:.3g}] reaches 0 ({self.saturating_share:.0%} of "
                    "refits choose the saturating law)")
        return f"E identified: [{low:.3g}, {high:.3g}]"

    @property
    def choice(self) -> str:
        """Which model was chosen and why, in a line."""
        if SATURATING not in self.criteria:
            return f"pure power law (E = 0): {self.levels} compute levels, a saturating law needs {SATURATING_LEVELS}"
        pure, saturating = self.criteria[PURE], self.criteria[SATURATING]
        return (f"{'pure power law (E = 0)' if self.model == PURE else 'saturating law (E > 0)'}: lower AICc "
                f"({pure:.1f} pure vs {saturating:.1f} saturating)")


# --- the profile --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Profile:
    """Both models' closed-form (E, A) and loss for each weight vector (rows) and exponent (columns)."""

    E: np.ndarray
    A: np.ndarray
    loss: np.ndarray
    constant_loss: np.ndarray  # the best constant error: no trend


def _profile(weights: np.ndarray, x: np.ndarray, y: np.ndarray, exponents: np.ndarray, model: str) -> _Profile:
    """``weights``: ``B x n`` row weights summing to 1; ``x`` normalised compute; ``exponents`` ``G``
    values, or ``B x G`` (one row per weight vector).

    With ``u = 1/y`` and ``v = x^-a / y`` the loss is ``sum w (E u + A v - 1)^2``, a quadratic in
    ``(E, A)`` whose minimum over ``E, A >= 0`` is closed-form: the unconstrained solution, or
    on the edge ``E = 0`` (pure), or ``A = 0`` (a constant, no trend)."""
    u = 1 / y
    basis = x[None, :] ** -np.atleast_2d(exponents)[..., None]  # (1 or B) x G x n
    v = basis * u
    s_u, s_uu = weights @ u, weights @ u**2
    if v.shape[0] == 1:  # one exponent grid for every weight vector: plain matrix products
        s_v, s_vv, s_uv = weights @ v[0].T, weights @ (v[0] ** 2).T, weights @ (v[0] * u).T
    else:
        s_v, s_vv, s_uv = (np.einsum("bn,bgn->bg", weights, term) for term in (v, v**2, v * u))
    s_u, s_uu, total = s_u[:, None], s_uu[:, None], weights.sum(axis=1)[:, None]
    scale_pure = s_v / s_vv
    loss_pure = total - s_v * scale_pure
    constant_loss = (total - s_u**2 / s_uu)[:, 0]
    if model == PURE:
        return _Profile(np.zeros_like(scale_pure), scale_pure, loss_pure, constant_loss)
    determinant = s_uu * s_vv - s_uv**2
    safe = np.where(np.abs(determinant) > 1e-12 * s_uu * s_vv, determinant, np.nan)
    irreducible = (s_u * s_vv - s_v * s_uv) / safe
    scale = (s_v * s_uu - s_u * s_uv) / safe
    interior = np.isfinite(irreducible) & (irreducible >= 0) & (scale >= 0)
    loss = total - 2 * (irreducible * s_u + scale * s_v) + irreducible**2 * s_uu + 2 * irreducible * scale * s_uv \
        + scale**2 * s_vv
    # Off the interior the constrained optimum is on an edge: E = 0 (the pure law) or A = 0 (a
    # constant); the pure law is never worse than a constant with A > 0 available, so E = 0.
    return _Profile(np.where(interior, irreducible, 0.0), np.where(interior, scale, scale_pure),
                    np.where(interior, loss, loss_pure), constant_loss)


def _refine(log_grid: np.ndarray, loss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the grid minimum's index and the vertex of the parabola through it and its
    neighbours (in log a), clipped to the neighbours; the ends of the grid stay where they are."""
    index = np.argmin(loss, axis=1)
    inner = np.clip(index, 1, len(log_grid) - 2)
    rows = np.arange(len(loss))
    left, middle, right = loss[rows, inner - 1], loss[rows, inner], loss[rows, inner + 1]
    curvature = left - 2 * middle + right
    step = log_grid[1] - log_grid[0]
    offset = np.where(curvature > 0, 0.5 * (left - right) / np.where(curvature > 0, curvature, 1) * step, 0.0)
    refined = np.clip(log_grid[inner] + offset, log_grid[inner - 1], log_grid[inner + 1])
    at_end = (index == 0) | (index == len(log_grid) - 1)
    return index, np.where(at_end, log_grid[index], refined)


@dataclass(frozen=True)
class _Fits:
    """One model fitted to each weight vector: parameters in normalised units, loss, grid index."""

    E: np.ndarray
    A: np.ndarray
    a: np.ndarray
    loss: np.ndarray
    constant_loss: np.ndarray
    on_bound: np.ndarray
    profile: np.ndarray  # the grid's losses (B x G)


def _fit_model(weights: np.ndarray, x: np.ndarray, y: np.ndarray, model: str, polish: bool = False) -> _Fits:
    log_grid = np.log(EXPONENT_GRID)
    grid = _profile(weights, x, y, EXPONENT_GRID, model)
    index, log_exponent = _refine(log_grid, grid.loss)
    if polish:  # the full fit: the profile's minimum to machine precision between the neighbours
        for row in range(len(weights)):
            if 0 < index[row] < len(log_grid) - 1:
                def profile_at(t, row=row):
                    return float(_profile(weights[row:row + 1], x, y, np.array([math.exp(t)]), model).loss[0, 0])
                result = minimize_scalar(profile_at, bounds=(log_grid[index[row] - 1], log_grid[index[row] + 1]),
                                         method="bounded", options={"xatol": 1e-12})
                if result.fun <= profile_at(log_exponent[row]):
                    log_exponent[row] = result.x
    exponent = np.exp(log_exponent)
    at = _profile(weights, x, y, exponent[:, None], model)
    return _Fits(at.E[:, 0], at.A[:, 0], exponent, at.loss[:, 0], at.constant_loss,
                 (index == 0) | (index == len(log_grid) - 1), grid.loss)


def _aicc(loss: np.ndarray, rows: int, parameters: int) -> np.ndarray:
    """AICc of a least-squares fit with mean squared residual ``loss`` over ``rows`` rows;
    ``parameters`` counts the noise variance."""
    return rows * np.log(np.maximum(loss, 1e-300)) + 2 * parameters + 2 * parameters * (parameters + 1) / (
        rows - parameters - 1)


def _choose(fits: dict[str, _Fits], rows: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per weight vector: True where the saturating law wins on AICc; the AICc of each model."""
    criteria = {PURE: _aicc(fits[PURE].loss, rows, 3)}
    if SATURATING not in fits:
        return np.zeros(len(fits[PURE].loss), dtype=bool), criteria
    criteria[SATURATING] = _aicc(fits[SATURATING].loss, rows, 4)
    return criteria[SATURATING] < criteria[PURE], criteria


def _trend_p(loss: float, constant_loss: float, rows: int, parameters: int) -> float:
    """F-test of the law against a constant error (nested: A = 0)."""
    extra, residual_dof = parameters - 1, rows - parameters
    if residual_dof <= 0 or constant_loss <= 0:
        return 1.0
    if loss <= 0:
        return 0.0
    statistic = ((constant_loss - loss) / extra) / (loss / residual_dof)
    return float(f_distribution.sf(max(statistic, 0.0), extra, residual_dof))


# --- the public fit -----------------------------------------------------------------------------


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
        raise LawError(f"error must be > 0 for a power law, found {error[error <= 0][0]:g}")
    levels = len(np.unique(compute))
    if levels < needed_levels:
        raise LawError(f"a power law E + A*C^-a needs at least {needed_levels} distinct compute values, got {levels}")
    return compute, error


def _models(levels: int, rows: int) -> tuple[str, ...]:
    # AICc of the saturating law (4 parameters with the variance) needs rows > 4 + 1.
    return (PURE, SATURATING) if levels >= SATURATING_LEVELS and rows > 5 else (PURE,)


def _in_units(E, A, a, reference) -> PowerLaw:
    # error = E + A' (C / reference)^-a  =>  A = A' reference^a
    return PowerLaw(float(E), float(A) * float(reference) ** float(a), float(a))


def fit_power_law(compute, error, *, bootstrap: int = 1000, seed: int = 0, band_points: int = 60,
                  band_range: tuple[float, float] | None = None) -> LawFit:
    """Fit ``error = E + A * C^(-a)`` (pure or saturating, by AICc) with bootstrap intervals and a band.

    The result is independent of the order of the rows. The band covers ``band_range``
    (default: the data's range) on a log grid: the central 95% (:data:`INTERVAL_LEVEL`) of
    the bootstrap refits' predictions (each refit choosing its own model), each times a log
    residual of the full fit drawn at random, so it is a band for new observations.

    >>> import numpy as np
    >>> compute = np.geomspace(1e6, 1e9, 8)
    >>> fit = fit_power_law(compute, 0.05 + 30 * compute ** -0.3, bootstrap=0)
    >>> [round(v, 4) for v in (fit.law.E, fit.law.A, fit.law.a)], fit.model, fit.converged
    ([0.05, 30.0, 0.3], 'saturating', True)
    """
    compute, error = check_points(compute, error)
    # A canonical row order makes every floating-point sum, and so the answer, independent of it.
    order = np.lexsort((error, compute))
    compute, error = compute[order], error[order]
    rows, levels = len(compute), len(np.unique(compute))
    reference = float(np.exp(np.log(compute).mean()))  # a well-conditioned problem in any unit
    x = compute / reference
    models = _models(levels, rows)
    weights = np.full((1, rows), 1 / rows)
    fits = {model: _fit_model(weights, x, error, model, polish=True) for model in models}
    saturating, criteria = _choose(fits, rows)
    model = SATURATING if saturating[0] else PURE
    chosen = fits[model]
    law = _in_units(chosen.E[0], chosen.A[0], chosen.a[0], reference)
    parameters = 2 if model == PURE else 3
    low_c, high_c = band_range or (float(compute.min()), float(compute.max()))
    grid = np.geomspace(low_c, high_c, band_points)
    intervals, band_low, band_high, used, share = {}, (), (), 0, float(model == SATURATING)
    if bootstrap > 0:
        rng = np.random.default_rng(seed)
        draws = rng.multinomial(rows, np.full(rows, 1 / rows), size=bootstrap)
        # A resample on fewer than 3 compute values cannot pin a law down: it is skipped.
        level_of = np.unique(compute, return_inverse=True)[1].reshape(-1)
        covered = np.array([len(np.unique(level_of[draw > 0])) for draw in draws])
        draws, covered = draws[covered >= MIN_LEVELS], covered[covered >= MIN_LEVELS]
        used = len(draws)
        if used:
            weights = draws / rows
            refits = {name: _fit_model(weights, x, error, name) for name in models}
            # A resample's saturating fit needs 4 levels of its own.
            picks, _ = _choose(refits, rows)
            picks &= covered >= SATURATING_LEVELS
            pick = lambda attribute: np.where(picks, getattr(refits[models[-1]], attribute),  # noqa: E731
                                              getattr(refits[PURE], attribute))
            irreducible, scale, exponent = pick("E"), pick("A"), pick("a")
            scale = scale * reference**exponent
            share = float(picks.mean())
            estimates = np.column_stack([irreducible, scale, exponent])
            intervals = {name: percentile_interval(estimates[:, i], getattr(law, name))
                         for i, name in enumerate(PARAMETERS)}
            # The band for a new observation, in log error: the refits' spread (parameters and
            # model) and the residual scale with its degrees of freedom, widened by Student's t.
            # (A percentile band of a handful of points' refits covers less than it claims.)
            predictions = irreducible[:, None] + scale[:, None] * grid[None, :] ** -exponent[:, None]
            dof = max(rows - parameters, 1)
            spread = np.sqrt(np.log(predictions).var(axis=0) + float(chosen.loss[0]) * rows / dof)
            half_width = student_t.ppf((1 + INTERVAL_LEVEL) / 2, dof) * spread
            centre = np.log(law.error(grid))
            band_low, band_high = tuple(np.exp(centre - half_width)), tuple(np.exp(centre + half_width))
    on_bound = ("a",) if chosen.on_bound[0] else ()
    return LawFit(
        law=law, model=model, loss=float(chosen.loss[0]),
        converged=bool(np.isfinite([law.E, law.A, law.a]).all() and law.A > 0), on_bound=on_bound,
        points=rows, levels=levels, criteria={name: float(value[0]) for name, value in criteria.items()},
        trend_p=_trend_p(float(chosen.loss[0]), float(chosen.constant_loss[0]), rows, parameters),
        intervals=intervals, saturating_share=share, band_compute=tuple(grid), band_low=band_low,
        band_high=band_high, bootstrap_samples=used, profile_exponent=tuple(EXPONENT_GRID[::8]),
        profile_loss={name: tuple(fit.profile[0, ::8]) for name, fit in fits.items()})


# --- held-out validation ------------------------------------------------------------------------


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

    @property
    def passed(self) -> bool:
        """The held-out points fall inside the refit's 95% band as often as such a band allows:
        a one-sided binomial test at :data:`HELD_OUT_TEST_LEVEL` (with 3 held-out points, 2
        inside pass and 1 fails; a single point must be inside)."""
        inside = sum(point.inside_band for point in self.held_out)
        # P(at most this many inside | a true 95% band) at or below the level: rejected (the
        # 1e-9 keeps a single point outside, P = 0.05 exactly, a rejection despite rounding).
        return bool(self.held_out) and bool(binom.cdf(inside, len(self.held_out), INTERVAL_LEVEL)
                                            > HELD_OUT_TEST_LEVEL + 1e-9)


def judge(fit: LawFit, validation: Validation | None) -> tuple[bool, str]:
    """Whether a law is usable for prediction, and the reason in a few words.

    Usable: the fit converged with its exponent inside :data:`EXPONENT_BOUNDS`, the error
    falls with compute beyond noise (:attr:`LawFit.trend`), and the law refitted without the
    largest compute levels predicted them (:attr:`Validation.passed`). Whether ``E`` is
    identified is not part of it (see :attr:`LawFit.identified`). How often planted laws pass
    and noise does not: ``benchmarks/power_laws.py`` (BENCHMARKS.md)."""
    if not fit.converged:
        return False, "not converged"
    if fit.on_bound:
        return False, f"exponent on a bound of {EXPONENT_BOUNDS}"
    if not fit.trend:
        return False, f"no trend beyond noise (F-test p = {fit.trend_p:.2g} >= {TREND_LEVEL:g})"
    if validation is None:
        return False, "not validated (too few compute levels to hold any out)"
    inside = sum(point.inside_band for point in validation.held_out)
    verdict = f"{inside} of {len(validation.held_out)} held-out points inside the refit's band"
    return (True, verdict) if validation.passed else (False, verdict)


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
    band = np.log(fit.band_compute)
    points = []
    for c, observed in sorted(zip(compute[~kept], error[~kept])):
        predicted = float(fit.law.error(c))
        low, high = np.interp(math.log(c), band, fit.band_low), np.interp(math.log(c), band, fit.band_high)
        inside = bool(fit.band_low) and bool(low * (1 - 1e-9) <= observed <= high * (1 + 1e-9))
        points.append(HeldOutPoint(float(c), float(observed), predicted, math.log(predicted / observed), inside))
    return Validation(fit, tuple(points))


__all__ = ["HeldOutPoint", "LawError", "LawFit", "PURE", "PowerLaw", "SATURATING", "Validation", "check_points",
           "fit_power_law", "holdout_levels", "judge", "validate_by_holdout"]
