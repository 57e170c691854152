"""What a scaling run reports, as typed objects with JSON round trips.

``coefficients.json`` holds one :class:`CoefficientsReport`; ``laws.json`` holds a list of
:class:`LawReport` (``{"laws": [...], "note": ...}``). The command writes them and
:mod:`analysis` reads them through :func:`read_coefficients` and :func:`read_laws`, so the
file format has one owner and a damaged file is one :class:`ReportError` line.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from infra.documents import DocumentError, read_json
from infra.errors import UserError
from infra.files import write_json
from infra.statistics import INTERVAL_LEVEL, interval_excludes
from scaling.coefficient_fit import MOSTLY_ON_EDGE, CoefficientFit, GridPoint
from scaling.compound import PAPER_COEFFICIENTS, Coefficients
from scaling.power_law import HeldOutPoint, LawFit, PowerLaw, Validation, judge
from scaling.run_files import COEFFICIENTS_FILE, LAWS_FILE

NAMES = ("alpha", "beta", "gamma")
# A direction whose grid best wins fewer bootstrap refits than this is not stable: at P(best)
# 0.61 and 0.52 two seeds of the default run chose different directions (BENCHMARKS.md).
STABLE_P_BEST = 0.9
# What a verdict against a corner is worth, as measured (benchmarks/grid_fidelity.py): on the
# search base, a 32x longer training agreed with the grid proxy's verdicts in sign, but its 2
# seeds separated only one of them.
PROXY_VERDICTS = ("these verdicts are the grid proxy's: a 32x longer training agreed with them in sign on the "
                  "measured base but did not confirm them all (BENCHMARKS.md); more --comparison-seeds or a longer "
                  "proxy before acting on one")


class ReportError(UserError):
    """A report file that cannot be read: the message names the file and what is wrong."""


# --- laws ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """A prediction band for new observations of the error, on a log grid of compute."""

    compute: tuple[float, ...] = ()
    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()

    def at(self, compute: float) -> tuple[float, float] | None:
        """``(low, high)`` of the error at ``compute`` (log-interpolated), or None without a band."""
        if not self.low:
            return None
        where = np.log(self.compute)
        return (float(np.interp(math.log(compute), where, self.low)),
                float(np.interp(math.log(compute), where, self.high)))

    def to_json(self) -> dict:
        return {"compute": list(self.compute), "low": list(self.low), "high": list(self.high)}

    @classmethod
    def from_json(cls, data: dict) -> "Band":
        return cls(*(tuple(float(v) for v in data[key]) for key in ("compute", "low", "high")))

    @classmethod
    def of(cls, fit: LawFit) -> "Band":
        return cls(tuple(fit.band_compute), tuple(fit.band_low), tuple(fit.band_high))


def _law_json(law: PowerLaw) -> dict:
    return {"E": law.E, "A": law.A, "a": law.a}


def _law_from(data: dict) -> PowerLaw:
    return PowerLaw(float(data["E"]), float(data["A"]), float(data["a"]))


@dataclass(frozen=True)
class HeldOut:
    """The law refitted without the largest compute levels, tested on them."""

    points: tuple[HeldOutPoint, ...]
    mean_absolute_log_error: float
    inside_band_fraction: float
    refit: PowerLaw
    band: Band

    @classmethod
    def of(cls, validation: Validation) -> "HeldOut":
        return cls(tuple(validation.held_out), validation.mean_absolute_log_error, validation.inside_band_fraction,
                   validation.fit.law, Band.of(validation.fit))


@dataclass(frozen=True)
class LawReport:
    """One fitted ``error = E + A * C^(-a)``: the model chosen, its intervals and band, the
    held-out validation, and whether it is usable for prediction (:func:`scaling.power_law.judge`)."""

    x: str  # the compute column
    y: str  # the metric column
    error_name: str  # how the error was made from y: "1 - proxy accuracy", or y itself
    law: PowerLaw
    compute: tuple[float, ...]
    error: tuple[float, ...]
    intervals: dict[str, tuple[float, float]]
    converged: bool
    on_bound: tuple[str, ...]
    loss: float
    points: int
    compute_levels: int
    bootstrap_samples: int
    band: Band
    held_out: HeldOut | None = None
    held_out_note: str = ""
    model: str = "saturating"  # "pure" (E = 0) or "saturating"
    choice: str = ""  # which model and why
    trend_p: float = math.nan
    identified: str = ""  # whether E is told apart from A (information, not a check)
    usable: bool = False
    verdict: str = ""  # why it is (not) usable

    # Predictions reach this factor beyond the largest fitted compute, at most (the held-out
    # validation tests one step of about 2x; the band widens with the distance, see family.csv).
    MAX_EXTRAPOLATION = 4.0

    @property
    def largest_compute(self) -> float:
        return max(self.compute)

    def extrapolation(self, compute: float) -> float:
        """How far ``compute`` lies beyond the fitted data: compute / largest fitted compute (<= 1 inside)."""
        return compute / self.largest_compute

    def predicts(self, compute: float) -> bool:
        """A usable law predicts up to :attr:`MAX_EXTRAPOLATION` times its largest fitted compute."""
        return self.usable and self.extrapolation(compute) <= self.MAX_EXTRAPOLATION * (1 + 1e-9)

    @property
    def health(self) -> str:
        return ("usable: " if self.usable else "NOT USABLE: ") + self.verdict

    def describe(self, compute_name: str | None = None) -> str:
        """``error = E + A * C^(-a) (pure; usable: 3 of 3 held-out points inside ...)``."""
        law = self.law
        return (f"error = {law.E:.4g} + {law.A:.4g} * {compute_name or self.x}^(-{law.a:.4g}) "
                f"({self.model}; {self.health})")

    @classmethod
    def of(cls, fit: LawFit, validation: Validation | None, x: str, y: str, error_name: str, compute, error,
           held_out_note: str = "") -> "LawReport":
        usable, verdict = judge(fit, validation)
        return cls(x, y, error_name, fit.law, tuple(float(c) for c in compute), tuple(float(e) for e in error),
                   {name: tuple(bounds) for name, bounds in fit.intervals.items()}, fit.converged,
                   tuple(fit.on_bound), fit.loss, fit.points, fit.levels, fit.bootstrap_samples, Band.of(fit),
                   None if validation is None else HeldOut.of(validation), held_out_note, fit.model, fit.choice,
                   fit.trend_p, fit.identified, usable, verdict)

    def to_json(self) -> dict:
        held = self.held_out
        return {
            "x": self.x, "y": self.y, "error": self.error_name, "law": "error = E + A * C^(-a)",
            **_law_json(self.law), "model": self.model, "choice": self.choice,
            "usable": self.usable, "verdict": self.verdict, "identified": self.identified,
            "trend_p": self.trend_p, "max_extrapolation": self.MAX_EXTRAPOLATION,
            "data": {"compute": list(self.compute), "error": list(self.error)},
            "intervals": {name: list(bounds) for name, bounds in self.intervals.items()},
            "interval_level": INTERVAL_LEVEL,
            "converged": self.converged, "on_bound": list(self.on_bound), "loss": self.loss,
            "points": self.points, "compute_levels": self.compute_levels, "bootstrap_samples": self.bootstrap_samples,
            "band": self.band.to_json(),
            "held_out": None if held is None else {
                "points": [dataclasses.asdict(point) for point in held.points],
                "mean_absolute_log_error": held.mean_absolute_log_error,
                "inside_band_fraction": held.inside_band_fraction,
                "refit": _law_json(held.refit), "band": held.band.to_json()},
            "held_out_note": self.held_out_note,
        }

    @classmethod
    def from_json(cls, data: dict) -> "LawReport":
        held = data.get("held_out")
        return cls(
            str(data["x"]), str(data["y"]), str(data["error"]), _law_from(data),
            tuple(float(c) for c in data["data"]["compute"]), tuple(float(e) for e in data["data"]["error"]),
            {str(name): (float(bounds[0]), float(bounds[1])) for name, bounds in data.get("intervals", {}).items()},
            bool(data["converged"]), tuple(data.get("on_bound", ())), float(data.get("loss", math.nan)),
            int(data.get("points", len(data["data"]["compute"]))), int(data.get("compute_levels", 0)),
            int(data.get("bootstrap_samples", 0)), Band.from_json(data["band"]),
            None if not held else HeldOut(
                tuple(HeldOutPoint(**point) for point in held["points"]), float(held["mean_absolute_log_error"]),
                float(held["inside_band_fraction"]), _law_from(held["refit"]), Band.from_json(held["band"])),
            str(data.get("held_out_note", "")), str(data.get("model", "saturating")), str(data.get("choice", "")),
            float(data.get("trend_p", math.nan)), str(data.get("identified", "")),
            # Files written before laws were judged by prediction: not usable until refitted.
            bool(data.get("usable", False)), str(data.get("verdict", "written by an older version: refit it")))


def write_laws(run_dir: Path, laws: list[LawReport], note: str = "") -> None:
    write_json(Path(run_dir) / LAWS_FILE, {"laws": [law.to_json() for law in laws], "note": note})


def _load_json(path: Path) -> object:
    try:
        return read_json(path)
    except DocumentError as error:
        raise ReportError(str(error)) from None


def read_laws(run_dir: Path) -> tuple[list[LawReport], str]:
    """The laws of a run directory (none when it has no ``laws.json``) and its note."""
    path = Path(run_dir) / LAWS_FILE
    if not path.exists():
        return [], ""
    data = _load_json(path)
    try:
        return [LawReport.from_json(law) for law in data["laws"]], str(data.get("note", ""))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        raise ReportError(f"{path}: not a laws file ({type(error).__name__}: {error})") from None


# --- coefficients -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FreshSeeds:
    """The chosen point on seeds the grid never used, beside its (selection-biased) grid mean."""

    seeds: tuple[int, ...]
    metrics: tuple[float, ...]
    mean: float
    grid_mean: float | None


@dataclass(frozen=True)
class SeedPairedComparison:
    """A winner against one alternative at phi = 1, paired by seed (both trained at the same
    seed indices, hence the same data order): the chosen direction against scaling one
    dimension only, or the grid's best point against its runner-up.

    ``difference`` is the winner's metric minus the alternative's, mean over ``seeds``;
    ``low``/``high`` its 95% Student-t interval (``None`` with fewer than 2 seeds).
    """

    winner: str  # "chosen" or "grid best"
    against: str  # "depth only", "width only", "resolution only", "grid runner-up (shares ...)"
    seeds: tuple[int, ...]
    difference: float
    low: float | None
    high: float | None

    @property
    def separated(self) -> bool:
        return interval_excludes(self.low, self.high)

    @property
    def verdict(self) -> str:
        if not self.separated:
            return "not separated"
        return f"{self.winner} better" if self.difference > 0 else f"{self.against} better"

    def to_json(self) -> dict:
        return {"winner": self.winner, "against": self.against, "seeds": list(self.seeds),
                "difference": self.difference, "low": self.low, "high": self.high, "separated": self.separated,
                "verdict": self.verdict}

    @classmethod
    def from_json(cls, data: dict) -> "SeedPairedComparison":
        bound = lambda value: None if value is None else float(value)  # noqa: E731
        return cls(str(data["winner"]), str(data["against"]), tuple(int(s) for s in data["seeds"]),
                   float(data["difference"]), bound(data.get("low")), bound(data.get("high")))

    def describe(self) -> str:
        interval = ("no interval" if self.low is None else f"95% interval [{self.low:+.4f}, {self.high:+.4f}]")
        return (f"{self.winner} vs {self.against} at phi = 1: {self.difference:+.4f} ({interval}, "
                f"{len(self.seeds)} paired seeds): {self.verdict}")


@dataclass(frozen=True)
class CoefficientsReport:
    """The chosen alpha, beta, gamma and how they were chosen (``coefficients.json``)."""

    chosen: Coefficients
    method: str  # "surrogate", "grid" or "fixed: <dimension> only"
    base: str = ""  # the base network: its name and where it came from
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    realised_mac_ratio: float | None = None
    grid_best: GridPoint | None = None
    surrogate: dict | None = None  # optimum_shares, predicted_metric, loo_r2, loo_rmse, seed_noise_se, ...
    points: tuple[GridPoint, ...] = ()
    bootstrap_samples: int = 0
    note: str = ""
    fresh_seeds: FreshSeeds | None = None
    grid_complete: bool | None = None
    grid_points_trained: int | None = None
    corner_comparisons: tuple[SeedPairedComparison, ...] = ()
    runner_up: SeedPairedComparison | None = None  # the grid's best point against its second best
    on_edge: dict[str, float] = field(default_factory=dict)  # share of refits with the coefficient at 1
    off_edge_intervals: dict[str, tuple[float, float] | None] = field(default_factory=dict)
    # The fitted choice's comparison with the corner that beat it at phi = 1 (the headline is then
    # that corner), and the fitted choice's coefficients; None when nothing overruled the fit.
    overruled: SeedPairedComparison | None = None
    fitted: Coefficients | None = None

    def overruled_by(self, corner: Coefficients, comparison: SeedPairedComparison) -> "CoefficientsReport":
        """This report with ``corner`` as the answer: the fitted choice lost to it on paired seeds
        (its bootstrap intervals describe the fitted choice, so they are not the corner's)."""
        name = comparison.against.removesuffix(" only")
        return dataclasses.replace(self, chosen=corner, method=f"corner: {name} only (beat the {self.method}'s choice)",
                                   intervals={}, on_edge={}, off_edge_intervals={}, overruled=comparison,
                                   fitted=self.chosen)

    @classmethod
    def of(cls, fit: CoefficientFit, realised_mac_ratio: float | None, base: str = "") -> "CoefficientsReport":
        surrogate = fit.surrogate
        return cls(fit.chosen, fit.method, base, {name: tuple(bounds) for name, bounds in fit.intervals.items()},
                   realised_mac_ratio, fit.grid_best, None if surrogate is None else {
                       "optimum_shares": list(surrogate.optimum), "predicted_metric": surrogate.predicted_optimum,
                       "loo_r2": surrogate.loo_r2, "loo_rmse": surrogate.loo_rmse,
                       "seed_noise_se": surrogate.noise_se, "adequate": surrogate.adequate,
                       "judgement": surrogate.reason},
                   tuple(fit.points), fit.bootstrap_samples, fit.note, on_edge=dict(fit.on_edge),
                   off_edge_intervals=dict(fit.off_edge_intervals))

    @classmethod
    def fixed(cls, mode: str, coefficients: Coefficients, realised_mac_ratio: float | None,
              base: str = "") -> "CoefficientsReport":
        """A single-dimension run: its coefficients are set, not fitted."""
        return cls(coefficients, f"fixed: {mode} only", base, {}, realised_mac_ratio, note=f"--mode {mode}: no grid")

    def interval(self, name: str) -> tuple[float, float]:
        value = getattr(self.chosen, name)
        return self.intervals.get(name, (value, value))

    def to_json(self) -> dict:
        best = self.grid_best
        return {
            **{name: getattr(self.chosen, name) for name in NAMES},
            "shares": dict(zip(("depth", "width", "resolution"), self.chosen.shares)),
            # Only the measured ones: a fixed or overruled coefficient has none (not a zero-width one).
            "intervals": {name: list(bounds) for name, bounds in self.intervals.items()},
            "interval_level": INTERVAL_LEVEL,
            "method": self.method, "base": self.base, "realised_mac_ratio": self.realised_mac_ratio,
            "constraint": "alpha * beta^2 * gamma^2 = 2",
            "grid_best": None if best is None else {
                **dataclasses.asdict(best), **{name: getattr(best.coefficients, name) for name in NAMES}},
            "surrogate": self.surrogate,
            "points": [dataclasses.asdict(point) for point in self.points],
            "bootstrap_samples": self.bootstrap_samples, "note": self.note,
            "paper": {name: getattr(PAPER_COEFFICIENTS, name) for name in NAMES},
            "fresh_seeds": None if self.fresh_seeds is None else dataclasses.asdict(self.fresh_seeds),
            "grid_complete": self.grid_complete, "grid_points_trained": self.grid_points_trained,
            "corner_comparisons": [comparison.to_json() for comparison in self.corner_comparisons],
            "runner_up": None if self.runner_up is None else self.runner_up.to_json(),
            "on_edge": self.on_edge, "on_boundary": list(self.on_boundary),
            "off_edge_intervals": {name: None if bounds is None else list(bounds)
                                   for name, bounds in self.off_edge_intervals.items()},
            "overruled": None if self.overruled is None else self.overruled.to_json(),
            "fitted": None if self.fitted is None else {name: getattr(self.fitted, name) for name in NAMES},
        }

    @property
    def on_boundary(self) -> tuple[str, ...]:
        """Coefficients whose bootstrap optimum is 1 (that dimension not scaled: an edge of the
        share simplex) in most refits: their interval is not a measurement of a value."""
        return tuple(name for name in NAMES if self.on_edge.get(name, 0.0) > MOSTLY_ON_EDGE)

    def describe_coefficient(self, name: str) -> str:
        """``beta 1.0000 ON THE BOUNDARY in 97% of refits (width not scaled); the other 3%: [1.01, 1.05]``,
        or ``alpha 1.2000 [1.150, 1.260]``."""
        value = getattr(self.chosen, name)
        if name in self.on_boundary:
            dimension = dict(zip(NAMES, ("depth", "width", "resolution")))[name]
            others = self.off_edge_intervals.get(name)
            rest = (f"; over the other {1 - self.on_edge[name]:.0%}: [{others[0]:.3f}, {others[1]:.3f}]"
                    if others else "")
            return (f"{name} {value:.4f} ON THE BOUNDARY: {dimension} not scaled in {self.on_edge[name]:.0%} of "
                    f"refits{rest}")
        if name not in self.intervals:
            return f"{name} {value:.4f}"
        low, high = self.intervals[name]
        width = "" if high > low else " (every refit chose this point: the grid step bounds its resolution)"
        return f"{name} {value:.4f} [{low:.3f}, {high:.3f}]{width}"

    @property
    def instability(self) -> str:
        """Why another ``--seed`` may choose another direction (empty when the grid's best point
        wins at least :data:`STABLE_P_BEST` of the refits and is separated from its runner-up)."""
        best = self.grid_best
        if best is None:
            return ""
        reasons = []
        if best.probability_best < STABLE_P_BEST:
            reasons.append(f"the grid's best point is best in {best.probability_best:.0%} of bootstrap refits")
        if self.runner_up is not None and not self.runner_up.separated:
            reasons.append("it is not separated from its runner-up")
        return ("NOT STABLE at this proxy: " + " and ".join(reasons) + "; another --seed may choose another "
                "direction (BENCHMARKS.md: three seeds of the default run)") if reasons else ""

    def overruling_line(self) -> str:
        """Why the headline is a corner, not the fitted choice (empty when it is the fitted choice)."""
        comparison, fitted = self.overruled, self.fitted
        if comparison is None or fitted is None:
            return ""
        shares = "/".join(f"{share:.2f}" for share in fitted.shares)
        return (f"OVERRULED: the fitted choice (shares d/w/r {shares}) lost to {comparison.against} at phi = 1 "
                f"({comparison.difference:+.4f}, 95% interval [{comparison.low:+.4f}, {comparison.high:+.4f}], "
                f"{len(comparison.seeds)} paired seeds): the answer is {comparison.against}, and the law follows it")

    def headline_reason(self) -> str:
        """Which answer the headline is and why, when the grid's best point and the surrogate's
        optimum disagree beyond the surrogate's intervals (empty when they agree)."""
        best, surrogate = self.grid_best, self.surrogate
        if best is None or surrogate is None or not self.intervals:
            return ""
        outside = [name for name in NAMES if not (self.intervals[name][0] - 1e-9 <= getattr(best.coefficients, name)
                                                  <= self.intervals[name][1] + 1e-9)]
        if not outside:
            return ""
        if self.method == "surrogate":
            return (f"the grid's best point lies outside the surrogate's interval of {', '.join(outside)}: the "
                    f"headline is the surrogate's optimum, fitted to all {len(self.points)} points "
                    f"({surrogate['judgement']}); the grid best is the largest of {len(self.points)} noisy means "
                    f"(P(best) {best.probability_best:.2f})")
        return (f"the surrogate's optimum disagrees with the grid's best point on {', '.join(outside)}: the headline "
                f"is the grid best because the surrogate is not adequate ({surrogate['judgement']})")

    @classmethod
    def from_json(cls, data: dict) -> "CoefficientsReport":
        def point(row: dict) -> GridPoint:
            return GridPoint(tuple(float(s) for s in row["shares"]), float(row["mean_metric"]), int(row["seeds"]),
                             float(row["mean_rank"]), float(row.get("probability_best", 0.0)))

        fresh = data.get("fresh_seeds")
        return cls(
            Coefficients(*(float(data[name]) for name in NAMES)), str(data["method"]), str(data.get("base", "")),
            {name: (float(bounds[0]), float(bounds[1])) for name, bounds in data.get("intervals", {}).items()},
            data.get("realised_mac_ratio"), point(data["grid_best"]) if data.get("grid_best") else None,
            data.get("surrogate"), tuple(point(row) for row in data.get("points", [])),
            int(data.get("bootstrap_samples", 0)), str(data.get("note", "")),
            None if not fresh else FreshSeeds(tuple(fresh["seeds"]), tuple(float(m) for m in fresh["metrics"]),
                                              float(fresh["mean"]), fresh.get("grid_mean")),
            data.get("grid_complete"), data.get("grid_points_trained"),
            tuple(SeedPairedComparison.from_json(row) for row in data.get("corner_comparisons", [])),
            SeedPairedComparison.from_json(data["runner_up"]) if data.get("runner_up") else None,
            {str(name): float(share) for name, share in data.get("on_edge", {}).items()},
            {str(name): None if bounds is None else (float(bounds[0]), float(bounds[1]))
             for name, bounds in data.get("off_edge_intervals", {}).items()},
            SeedPairedComparison.from_json(data["overruled"]) if data.get("overruled") else None,
            Coefficients(*(float(data["fitted"][name]) for name in NAMES)) if data.get("fitted") else None)

    def summary(self) -> str:
        """Plain-text lines on the chosen coefficients (printed, and at the top of a page)."""
        paper = ", ".join(f"{getattr(PAPER_COEFFICIENTS, name):g}" for name in NAMES)
        lines = [f"{'; '.join(self.describe_coefficient(name) for name in NAMES)} ({self.method}; "
                 f"{INTERVAL_LEVEL:.0%} intervals; paper {paper})"]
        if self.instability:
            lines.append(self.instability)
        if self.base:
            lines.append(f"base: {self.base}")
        best = self.grid_best
        if best:
            coefficients = best.coefficients
            lines.append(f"grid best: alpha {coefficients.alpha:.4f}, beta {coefficients.beta:.4f}, "
                         f"gamma {coefficients.gamma:.4f}; mean metric {best.mean_metric:.4f} over {best.seeds} "
                         f"seed(s), P(best) {best.probability_best:.2f}")
        if self.surrogate:
            verdict = "adequate" if self.surrogate["adequate"] else "not adequate"
            lines.append(f"surrogate {verdict}: {self.surrogate['judgement']}")
        headline = self.headline_reason()
        if headline:
            lines.append(headline)
        if self.overruled is not None:
            lines.append(self.overruling_line())
        fresh = self.fresh_seeds
        if fresh:
            against = ("" if fresh.grid_mean is None else
                       f" (its grid mean {fresh.grid_mean:.4f} was picked as the best of many, so it reads high)")
            point = "the overruled fitted choice" if self.overruled is not None else "chosen point"
            lines.append(f"{point} on {len(fresh.metrics)} fresh seed(s): mean metric {fresh.mean:.4f}{against}")
        if self.runner_up is not None:
            lines.append(self.runner_up.describe())
        lines += [comparison.describe() for comparison in self.corner_comparisons]
        if self.corner_comparisons:
            lines.append(PROXY_VERDICTS)
        if self.realised_mac_ratio:
            lines.append(f"realised MAC ratio at phi = 1: {self.realised_mac_ratio:.3f} (ideal 2)")
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)


def write_coefficients(run_dir: Path, report: CoefficientsReport) -> None:
    write_json(Path(run_dir) / COEFFICIENTS_FILE, report.to_json())


def read_coefficients(run_dir: Path) -> CoefficientsReport | None:
    """The run's coefficients, or None when it has none yet."""
    path = Path(run_dir) / COEFFICIENTS_FILE
    if not path.exists():
        return None
    data = _load_json(path)
    try:
        return CoefficientsReport.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        raise ReportError(f"{path}: not a coefficients file ({type(error).__name__}: {error})") from None


__all__ = ["Band", "CoefficientsReport", "SeedPairedComparison", "FreshSeeds", "HeldOut", "LawReport",
           "ReportError", "read_coefficients", "read_laws", "write_coefficients", "write_laws"]
