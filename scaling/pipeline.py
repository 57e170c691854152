"""The scaling experiments as functions: settings in, typed results and run-directory files out.

* :func:`run_scaling`: train the base, the share grid at phi = 1 (or one single-dimension
  corner), the chosen direction's smaller members and fresh seeds; fit the coefficients and
  the metric-vs-MACs law; write the family.
* :func:`fit_grid_table`: the coefficient fit and family of an existing grid table.
* :func:`fit_law_table`: one power law of a table, with its held-out validation.

:mod:`scaling.fit` is the command line over these; nothing here reads flags.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from infra.errors import UsageError, UserError
from infra.files import write_atomically
from infra.run_dirs import claim_run_dir
from infra.seeds import bootstrap_seed
from infra.statistics import paired_difference
from infra.trial_state import TrialState
from runners.data.sources import DataOptions, prepare
from runners.executors import InProcess
from runners.learning.loop import TrainConfig
from scaling.coefficient_fit import CoefficientFit, fit_coefficients
from scaling.compound import RATIO_TOLERANCE, Coefficients, corrected_scale, simplex_grid
from scaling.family import FamilyMember, scaled_family, write_family
from scaling.grid_run import (NetworkEvaluation, ProxyEvaluator, Task, base_task, grid_tasks, law_tasks,
                              read_evaluations, run_tasks)
from scaling.power_law import LawError, fit_power_law, validate_by_holdout
from scaling.reports import (CoefficientsReport, FreshSeeds, LawReport, SeedPairedComparison, write_coefficients,
                             write_laws)
from scaling.run_files import BASE_FILE, GRID_FILE, KIND
from search_space import NetworkSpec, spec_to_dict, write_spec_file

# The single-dimension corners of the share simplex (the paper's Figure 8 baselines).
MODES = {"compound": None, "depth": (1.0, 0.0, 0.0), "width": (0.0, 1.0, 0.0), "resolution": (0.0, 0.0, 1.0)}


@dataclass(frozen=True)
class GridOptions:
    """What a scaling run trains. ``time_limit`` (seconds, None for none) stops starting grid
    evaluations; the corners, base and law members always run."""

    mode: str = "compound"
    step: float = 0.25  # 15 points: the measured grid proxy costs 4x the images of the old one (0.1, 66)
    seeds: int = 2
    # With phi = 0 and 1: seven compute levels over 64x of MACs. Over 16x (down to -3) the law along
    # a width-and-resolution direction had no trend beyond seed noise at this proxy; down to -5 it
    # was usable along that direction and along resolution alone (BENCHMARKS.md).
    law_phis: tuple[float, ...] = (-5.0, -4.0, -3.0, -2.0, -1.0)
    # Seeds of the base and of each law member (small, so cheap): with 2, the default run's law
    # had its trend at F-test p = 7e-4, short of the 1e-4 a usable law needs (BENCHMARKS.md).
    law_seeds: int = 4
    time_limit: float | None = 18 * 60.0
    bootstrap: int = 1000
    comparison_seeds: int = 6  # the most seeds the chosen point and a corner get to separate
    depth_rule: str = "total"  # how depth multipliers become repeats (search_space.scale); see BENCHMARKS.md

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.mode == "compound":
            simplex_grid(self.step)  # refuses a step that does not divide 1, before any work


@dataclass(frozen=True)
class ScalingResult:
    coefficients: CoefficientsReport
    laws: list[LawReport]
    law_note: str  # why there is no law, when there is none
    family: list[FamilyMember]
    evaluations: list[NetworkEvaluation]
    grid: pd.DataFrame
    off_target: int  # grid networks outside 2 +- RATIO_TOLERANCE of the base's MACs
    seconds: float
    stop: KeyboardInterrupt | None = None  # a first SIGINT or SIGTERM ended the training (infra.stopping)


def grid_frame(evaluations: list[NetworkEvaluation]) -> pd.DataFrame:
    """The complete grid evaluations, one row each (``grid.csv`` without its base column)."""
    rows = [{**dataclasses.asdict(e), "state": e.state.value} for e in evaluations
            if e.role == "grid" and e.state is TrialState.COMPLETE]
    frame = pd.DataFrame(rows, columns=[f.name for f in dataclasses.fields(NetworkEvaluation)])
    return frame.sort_values(["share_depth", "share_width", "seed"]).reset_index(drop=True)


def _along(evaluation: NetworkEvaluation, chosen: Coefficients) -> bool:
    """Whether ``evaluation`` was trained in the direction of ``chosen`` (same shares)."""
    depth, width, _ = chosen.shares
    return abs(evaluation.share_depth - depth) < 1e-9 and abs(evaluation.share_width - width) < 1e-9


def _at_phi_one(evaluations: list[NetworkEvaluation], chosen: Coefficients, role: str) -> list[NetworkEvaluation]:
    return [e for e in evaluations
            if e.role == role and e.phi == 1.0 and e.state is TrialState.COMPLETE and _along(e, chosen)]


def fresh_seed_check(evaluations: list[NetworkEvaluation], chosen: Coefficients, grid_seeds: int) -> FreshSeeds | None:
    """The chosen point's metric on seeds the grid never used, beside its grid mean.

    The grid mean of the chosen point is the largest of many noisy means, so it overstates
    what the point achieves; the fresh seeds' mean does not (``None`` before they ran).
    """
    fresh = [e for e in _at_phi_one(evaluations, chosen, "law") if e.seed >= grid_seeds]
    if not fresh:
        return None
    selected = [e.metric for e in _at_phi_one(evaluations, chosen, "grid")]
    return FreshSeeds(tuple(e.seed for e in fresh), tuple(e.metric for e in fresh),
                      float(np.mean([e.metric for e in fresh])), float(np.mean(selected)) if selected else None)


CORNERS = {name: shares for name, shares in MODES.items() if shares is not None}


def _paired(winner: str, ours: dict[int, float], against: str, theirs: dict[int, float]) -> SeedPairedComparison | None:
    seeds = tuple(sorted(set(ours) & set(theirs)))
    if not seeds:
        return None
    difference = paired_difference([ours[s] for s in seeds], [theirs[s] for s in seeds]).difference
    bounds = (difference.low, difference.high) if difference.n >= 2 else (None, None)
    return SeedPairedComparison(winner, against, seeds, difference.mean, *bounds)


def compare_best_with_runner_up(evaluations: list[NetworkEvaluation]) -> SeedPairedComparison | None:
    """The grid point with the highest mean metric against the second highest, paired by seed."""
    points: dict[tuple[float, float, float], dict[int, float]] = {}
    for e in evaluations:
        if e.role == "grid" and e.state is TrialState.COMPLETE and e.metric is not None:
            points.setdefault((e.share_depth, e.share_width, e.share_resolution), {})[e.seed] = e.metric
    ranked = sorted(points, key=lambda point: -float(np.mean(list(points[point].values()))))
    if len(ranked) < 2:
        return None
    shares = "/".join(f"{share:.2f}" for share in ranked[1])
    return _paired("grid best", points[ranked[0]], f"grid runner-up (shares d/w/r {shares})", points[ranked[1]])


def metrics_by_seed(evaluations: list[NetworkEvaluation], coefficients: Coefficients) -> dict[int, float]:
    """The metric of the phi = 1 network along ``coefficients`` at each seed it was trained at."""
    return {e.seed: e.metric for e in evaluations if e.role in ("grid", "law") and e.phi == 1.0
            and e.state is TrialState.COMPLETE and e.metric is not None and _along(e, coefficients)}


def _corner_comparisons(evaluations: list[NetworkEvaluation], chosen: Coefficients) -> dict[str, SeedPairedComparison]:
    """By corner name ("depth", ...): the chosen direction against it, where both share seeds."""
    ours = metrics_by_seed(evaluations, chosen)
    comparisons = {}
    for name, shares in CORNERS.items():
        corner = Coefficients.from_shares(*shares)
        if np.allclose(corner.shares, chosen.shares):
            continue
        comparison = _paired("chosen", ours, f"{name} only", metrics_by_seed(evaluations, corner))
        if comparison is not None:
            comparisons[name] = comparison
    return comparisons


def overruling_corner(evaluations: list[NetworkEvaluation], chosen: Coefficients
                      ) -> tuple[Coefficients, SeedPairedComparison] | None:
    """The single-dimension corner that beat the chosen direction at phi = 1, separated on
    paired seeds (the largest such win), with that comparison; None when no corner did.

    A fitted direction that loses to a corner on the run's own paired seeds is not the
    answer: the corner is, at this proxy (the paper's Figure 8 asks the same of compound
    scaling)."""
    beaten = [(name, comparison) for name, comparison in _corner_comparisons(evaluations, chosen).items()
              if comparison.separated and comparison.difference < 0]
    if not beaten:
        return None
    name, comparison = min(beaten, key=lambda item: item[1].difference)
    return Coefficients.from_shares(*CORNERS[name]), comparison


def compare_with_corners(evaluations: list[NetworkEvaluation], chosen: Coefficients
                         ) -> tuple[SeedPairedComparison, ...]:
    """The chosen direction against each single-dimension corner, over the seeds both have."""
    return tuple(_corner_comparisons(evaluations, chosen).values())


def comparison_tasks(base: NetworkSpec, evaluations: list[NetworkEvaluation], directions: list[Coefficients],
                     seeds: int, depth_rule: str) -> list[Task]:
    """phi = 1 tasks that give each direction seeds ``0..seeds-1`` (those it lacks)."""
    tasks = []
    for direction in directions:
        have = metrics_by_seed(evaluations, direction)
        missing = [seed for seed in range(seeds) if seed not in have]
        tasks += [task for seed in missing for task in law_tasks(base, direction, (1.0,), 1, first_seed=seed,
                                                                       depth_rule=depth_rule)]
    return tasks


def race_corners(out: Path, base: NetworkSpec, chosen: Coefficients, evaluator: ProxyEvaluator, grid: GridOptions,
                 deadline: float | None, quiet: bool, executor: InProcess | None = None) -> list[NetworkEvaluation]:
    """Paired seeds for the chosen direction and every corner it is not yet separated from,
    one seed more each round, until all separate, ``grid.comparison_seeds`` is reached or
    the time is up."""
    evaluations = read_evaluations(out)
    seeds = grid.seeds
    contenders = [Coefficients.from_shares(*shares) for shares in CORNERS.values()]
    while True:
        tasks = comparison_tasks(base, evaluations, [chosen, *contenders], seeds, grid.depth_rule)
        if tasks:
            # The first round always runs: without shared seeds there is no comparison at all.
            evaluations = run_tasks(out, tasks, evaluator, deadline=deadline, quiet=quiet,
                                    required=len(tasks) if seeds == grid.seeds else 0,
                                    description=f"compound vs corners, {seeds} seeds", executor=executor)
        contenders = [Coefficients.from_shares(*CORNERS[name])
                      for name, comparison in _corner_comparisons(evaluations, chosen).items()
                      if not comparison.separated]
        if not contenders or seeds >= grid.comparison_seeds or (deadline is not None and time.monotonic() > deadline):
            return evaluations
        seeds += 1


def _trained_points(frame: pd.DataFrame) -> int:
    """The distinct share points of a grid table."""
    return int(frame[["share_depth", "share_width"]].drop_duplicates().shape[0]) if len(frame) else 0


@dataclass(frozen=True)
class CompoundDirection:
    """``--mode compound``: a grid over the share simplex at phi = 1, the direction chosen by
    the coefficient fit, that point again at fresh seeds, and the single-dimension corners
    raced against it on paired seeds (the paper's section 3.3 and Figure 8)."""

    def phi_one_tasks(self, base: NetworkSpec, grid: GridOptions, log) -> list[Task]:
        points, duplicates = grid_tasks(base, grid.step, grid.seeds, grid.depth_rule)
        if duplicates:
            log(f"{duplicates} of {len(simplex_grid(grid.step))} grid points round to the same network as another "
                "point and are trained once")
        return points

    def choose(self, grid: GridOptions, evaluations: list[NetworkEvaluation], run_seed: int
               ) -> tuple[CoefficientFit | None, Coefficients]:
        frame = grid_frame(evaluations)
        if frame[["share_depth", "share_width"]].drop_duplicates().shape[0] < 2:
            raise UsageError("fewer than 2 grid points finished: nothing to choose between (raise --time-limit or "
                             "rerun)")
        # The fit places each network by its effective multipliers: where rounding really put it.
        fit = fit_coefficients(frame, bootstrap=grid.bootstrap, seed=bootstrap_seed(run_seed))
        return fit, fit.chosen

    def law_members(self, base: NetworkSpec, chosen: Coefficients, grid: GridOptions) -> list[Task]:
        # The chosen point again on seeds the grid never used: its grid mean was picked
        # as the best of many noisy means, so it is biased upwards (winner's curse).
        return (law_tasks(base, chosen, grid.law_phis, grid.law_seeds, depth_rule=grid.depth_rule)
                + law_tasks(base, chosen, (1.0,), grid.seeds, first_seed=grid.seeds, depth_rule=grid.depth_rule))

    def compare(self, run: "_Run", chosen: Coefficients) -> list[NetworkEvaluation]:
        return race_corners(run.out, run.base, chosen, run.evaluator, run.grid, run.deadline, run.quiet,
                            run.executor)

    def settle(self, chosen: Coefficients, evaluations: list[NetworkEvaluation]) -> Coefficients:
        """The fitted direction, or the corner that beat it (:func:`overruling_corner`)."""
        overruling = overruling_corner(evaluations, chosen)
        return chosen if overruling is None else overruling[0]

    def report(self, fit: CoefficientFit | None, chosen: Coefficients, realised: float, described: str,
               evaluations: list[NetworkEvaluation], frame: pd.DataFrame, planned: int, grid: GridOptions
               ) -> CoefficientsReport:
        report = dataclasses.replace(
            CoefficientsReport.of(fit, realised, described),
            fresh_seeds=fresh_seed_check(evaluations, fit.chosen, grid.seeds), grid_complete=bool(len(frame) >= planned),
            grid_points_trained=_trained_points(frame), corner_comparisons=compare_with_corners(evaluations, chosen),
            runner_up=compare_best_with_runner_up(evaluations))
        overruling = overruling_corner(evaluations, fit.chosen)
        if overruling is None or overruling[0] != chosen:
            return report
        return report.overruled_by(overruling[0], overruling[1])


@dataclass(frozen=True)
class FixedDirection:
    """``--mode depth|width|resolution``: one single-dimension corner, trained and fitted
    along (a baseline for a compound run; nothing is chosen or compared)."""

    mode: str

    @property
    def coefficients(self) -> Coefficients:
        return Coefficients.from_shares(*MODES[self.mode])

    def phi_one_tasks(self, base: NetworkSpec, grid: GridOptions, log) -> list[Task]:
        return law_tasks(base, self.coefficients, (1.0,), grid.seeds, depth_rule=grid.depth_rule)

    def choose(self, grid: GridOptions, evaluations: list[NetworkEvaluation], run_seed: int
               ) -> tuple[CoefficientFit | None, Coefficients]:
        return None, self.coefficients

    def law_members(self, base: NetworkSpec, chosen: Coefficients, grid: GridOptions) -> list[Task]:
        return law_tasks(base, chosen, grid.law_phis, grid.law_seeds, depth_rule=grid.depth_rule)

    def compare(self, run: "_Run", chosen: Coefficients) -> list[NetworkEvaluation]:
        return read_evaluations(run.out)

    def settle(self, chosen: Coefficients, evaluations: list[NetworkEvaluation]) -> Coefficients:
        return chosen

    def report(self, fit: CoefficientFit | None, chosen: Coefficients, realised: float, described: str,
               evaluations: list[NetworkEvaluation], frame: pd.DataFrame, planned: int, grid: GridOptions
               ) -> CoefficientsReport:
        return dataclasses.replace(CoefficientsReport.fixed(self.mode, chosen, realised, described),
                                   grid_complete=True, grid_points_trained=_trained_points(frame))


def direction_strategy(mode: str) -> CompoundDirection | FixedDirection:
    """How a run of ``mode`` finds its scaling direction."""
    return CompoundDirection() if MODES[mode] is None else FixedDirection(mode)


def _direction_law(evaluations: list[NetworkEvaluation], chosen: Coefficients, base: NetworkSpec,
                   grid: GridOptions, run_seed: int) -> tuple[LawReport | None, str]:
    """The metric-vs-MACs law along the chosen direction: base, law members and phi = 1."""
    rows = [e for e in evaluations if e.state is TrialState.COMPLETE and (
        e.role == "base" or (e.role == "law" and _along(e, chosen)))]
    rows += _at_phi_one(evaluations, chosen, "grid")
    compute = np.array([e.macs for e in rows], dtype=float)
    error = np.array([1 - e.metric for e in rows], dtype=float)
    band_range = (float(compute.min()) if len(compute) else 1.0,
                  float(corrected_scale(base, chosen, 7.0, depth_rule=grid.depth_rule).macs) * 1.2)
    try:
        return fit_law_table(compute, error, "macs", "proxy accuracy", "1 - proxy accuracy", None, grid.bootstrap,
                             bootstrap_seed(run_seed), band_range=band_range), ""
    except LawError as problem:
        return None, str(problem)


def write_family_outputs(out: Path, base: NetworkSpec, coefficients: Coefficients,
                         law: LawReport | None, depth_rule: str) -> list[FamilyMember]:
    """``specs/``, ``family.csv``: the family B0..B7 (B0 the base) and, with a usable law, the
    predicted metric of each member it reaches (:meth:`LawReport.predicts`: an unusable law,
    or a member too far beyond the fitted compute, predicts nothing)."""
    members = scaled_family(base, coefficients, depth_rule=depth_rule)
    predictions = {}
    for member in members:
        if law is not None and law.predicts(member.macs):
            metric = 1 - float(law.law.error(member.macs))
            band = law.band.at(member.macs)  # the band covers the family's MAC range (see _direction_law)
            low, high = (metric, metric) if band is None else (1 - band[1], 1 - band[0])
            predictions[member.phi] = (metric, low, high)
    write_family(members, out, predictions, None if law is None else law.largest_compute)
    return members


def _write_grid(out: Path, frame: pd.DataFrame) -> None:
    named = frame.assign(base=BASE_FILE)
    write_atomically(out / GRID_FILE, lambda path: named.to_csv(path, index=False))


def identity(base: NetworkSpec, data: DataOptions, train: TrainConfig, grid: GridOptions) -> dict:
    """What defines a scaling run: resuming with any other value is refused (not the time limit)."""
    return {"base_spec": spec_to_dict(base), "mode": grid.mode, "step": grid.step, "seeds": grid.seeds,
            "law_seeds": grid.law_seeds,
            "depth_rule": grid.depth_rule,
            "law_phis": list(grid.law_phis), **data.identity(), "epochs": train.epochs,
            "batch_size": train.batch_size, "learning_rate": train.learning_rate, "seed": data.seed}


@dataclass(frozen=True)
class _Run:
    """One scaling run in progress: where, on what, and who trains."""

    out: Path
    base: NetworkSpec
    grid: GridOptions
    evaluator: ProxyEvaluator
    deadline: float | None
    quiet: bool
    executor: InProcess | None
    run_seed: int  # the data options' seed (infra.seeds)

    def train(self, tasks: list[Task], description: str, **limits) -> list[NetworkEvaluation]:
        return run_tasks(self.out, tasks, self.evaluator, quiet=self.quiet, description=description,
                         executor=self.executor, **limits)


def run_scaling(out: Path, base: NetworkSpec, data: DataOptions, train: TrainConfig, grid: GridOptions, *,
                base_ref: str = "", quiet: bool = False, log=print, executor: InProcess | None = None) -> ScalingResult:
    """Train and fit everything a scaling run needs; rerunning with the same ``out`` resumes.

    Phases: claim the run directory, train (the base; phi = 1 by the mode's
    :func:`direction_strategy`; the law members along the chosen direction; the comparisons),
    then fit and write (grid table, coefficients, law, family). ``executor``
    (:mod:`runners.executors`) spreads the evaluations over worker processes or Ray; the
    results are those of the sequential default.

    ``base`` is adapted to the data's channels and classes (the family is deployed on it).
    A ``KeyboardInterrupt`` (a first SIGINT or SIGTERM) stops training; what finished is
    fitted and written, and the result carries the stop for the command to exit with.
    """
    start = time.monotonic()
    probe = prepare(data)
    base = probe.deployed(base)
    # Runs made before --depth-rule existed used the reference per-stage rule; before
    # --law-seeds, the base and law members had the grid's seeds (2 by default).
    resuming = claim_run_dir(out, {**identity(base, data, train, grid), "base_ref": base_ref}, KIND,
                             predating={"depth_rule": "per-stage", "law_seeds": 2})
    write_spec_file(base, out / BASE_FILE)
    log(f"{'resuming' if resuming else 'starting'} scaling run in {out}: base {base.name} ({base_ref or 'given'}), "
        f"mode {grid.mode}, proxy at {'x'.join(map(str, probe.resolution))} on {probe.source}")
    run = _Run(out, base, grid, ProxyEvaluator(data, train, probe),
               None if grid.time_limit is None else start + grid.time_limit, quiet, executor, data.seed)
    strategy = direction_strategy(grid.mode)
    phi_one = strategy.phi_one_tasks(base, grid, log)
    stop = None
    try:
        fit, chosen, evaluations = _train_phases(run, strategy, phi_one)
    except KeyboardInterrupt as interrupt:
        stop = interrupt
        if executor is not None:
            executor.abort()  # the networks in flight are redone on resume, not waited for
        evaluations = read_evaluations(out)
        try:
            fit, chosen = strategy.choose(grid, evaluations, data.seed)
        except UserError:
            raise interrupt from None  # too little finished to fit: nothing more to write yet
        chosen = strategy.settle(chosen, evaluations)
    frame = grid_frame(evaluations)
    _write_grid(out, frame)
    off_target = frame.loc[(frame["realised_ratio"] / 2 - 1).abs() > RATIO_TOLERANCE,
                           ["share_depth", "share_width"]].drop_duplicates().shape[0]
    realised = corrected_scale(base, chosen, 1.0, depth_rule=grid.depth_rule).realised_ratio
    described = f"{base.name} ({base_ref})" if base_ref else base.name
    report = strategy.report(fit, chosen, realised, described, evaluations, frame, len(phi_one), grid)
    write_coefficients(out, report)
    law, law_note = _direction_law(evaluations, chosen, base, grid, data.seed)
    laws = [law] if law else []
    write_laws(out, laws, law_note)
    family = write_family_outputs(out, base, chosen, law, grid.depth_rule)
    return ScalingResult(report, laws, law_note, family, evaluations, frame, off_target, time.monotonic() - start,
                         stop)


def _train_phases(run: _Run, strategy: CompoundDirection | FixedDirection, phi_one: list[Task]
                  ) -> tuple[CoefficientFit | None, Coefficients, list[NetworkEvaluation]]:
    """The base, phi = 1, the law members along the chosen direction, the comparisons."""
    grid = run.grid
    evaluations = run.train([base_task(run.base, seed) for seed in range(grid.law_seeds)], "base")
    base_seconds = np.mean([e.seconds for e in evaluations if e.role == "base"] or [0.0])
    # Leave time for the law members (smaller than the base) and a phi = 1 member.
    reserve = base_seconds * (grid.law_seeds * 0.6 * len(grid.law_phis) + grid.seeds * 2.2)
    run.train(phi_one, "grid at phi=1" if isinstance(strategy, CompoundDirection) else f"{grid.mode} at phi=1",
              deadline=None if run.deadline is None else run.deadline - reserve, required=3 * grid.seeds)
    fit, chosen = strategy.choose(grid, read_evaluations(run.out), run.run_seed)
    run.train(strategy.law_members(run.base, chosen, grid), "law members")
    evaluations = strategy.compare(run, chosen)
    settled = strategy.settle(chosen, evaluations)
    if settled != chosen:  # a corner beat the fitted direction: the law follows the corner
        run.train(strategy.law_members(run.base, settled, grid), "law members along the corner that won")
        evaluations = read_evaluations(run.out)
    return fit, settled, evaluations


def fit_grid_table(table: pd.DataFrame, base: NetworkSpec, out: Path, *, base_ref: str = "", bootstrap: int = 1000,
                   seed: int = 0, depth_rule: str = "total") -> CoefficientsReport:
    """Coefficients and family of an existing grid table (no training)."""
    if len(table) < 2:
        raise UsageError(f"{len(table)} row; a grid needs at least 2 points to choose between")
    fit = fit_coefficients(table, bootstrap=bootstrap, seed=seed)
    realised = corrected_scale(base, fit.chosen, 1.0, depth_rule=depth_rule).realised_ratio
    report = CoefficientsReport.of(fit, realised, f"{base.name} ({base_ref})" if base_ref else base.name)
    out.mkdir(parents=True, exist_ok=True)
    write_spec_file(base, out / BASE_FILE)
    write_coefficients(out, report)
    write_family_outputs(out, base, fit.chosen, None, depth_rule)
    return report


def fit_law_table(compute, error, x: str, y: str, error_name: str, holdout: int | None, bootstrap: int,
                  seed: int, band_range: tuple[float, float] | None = None) -> LawReport:
    """The full fit and, where enough compute levels remain, the held-out validation
    (``holdout`` levels; None: a fifth, at least 1, skipped with a note when too few remain:
    the law is then not usable). ``band_range`` (compute) defaults to the data's."""
    fit = fit_power_law(compute, error, bootstrap=bootstrap, seed=seed, band_range=band_range)
    validation, note = None, ""
    if holdout != 0:
        try:
            validation = validate_by_holdout(compute, error, holdout, bootstrap=bootstrap, seed=seed)
        except LawError as problem:
            if holdout is not None:
                raise
            note = f"no held-out validation: {problem}"
    return LawReport.of(fit, validation, x, y, error_name, compute, error, note)


__all__ = ["overruling_corner", "CompoundDirection", "FixedDirection", "GridOptions", "MODES", "ScalingResult", "fit_grid_table", "fit_law_table", "grid_frame",
           "direction_strategy", "identity", "run_scaling", "write_family_outputs"]
