"""``python -m scaling.fit``: fit compound-scaling coefficients and emit the scaled family.

    python -m scaling.fit                                 # newest search run's best.yaml, else efficientnet-b0
    python -m scaling.fit --base runs/20261123-0900 --step 0.1 --seeds 2
    python -m scaling.fit --mode width                    # single-dimension baseline, same MACs
    python -m scaling.fit --results grid.csv --out fit/   # fit an existing table, no training
    python -m scaling.fit --power-law results.csv --x macs --y metric

Everything goes into ``--out``: ``evaluations.jsonl`` and ``grid.csv`` (training runs),
``coefficients.json``, ``specs/b1.yaml`` .. ``specs/b7.yaml`` and ``specs/ghost-b*.yaml``,
``family.csv``, ``laws.json`` and ``report.html``. Rerunning a training command with the
same ``--out`` continues it.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.scaling_report import scaling_summary
from runners.cli import (USAGE_ERROR, ArgumentParser, UsageError, checked, claim_run_dir, non_negative_int,
                         positive_float, positive_int, seconds)
from runners.data import DataError, parse_resolution, prepare
from runners.results import write_atomically
from runners.training import TrainConfig, resolve_device
from scaling.coefficient_fit import CoefficientFit, fit_coefficients
from scaling.compound import Coefficients, corrected_scale, simplex_grid
from scaling.family import scaled_family, write_family
from scaling.grid_run import (DataSettings, Evaluation, ProxyEvaluator, base_task, grid_tasks, law_tasks,
                              read_evaluations, run_tasks)
from scaling.power_law import LawError, LawFit, PowerLaw, Validation, fit_power_law, validate_by_holdout
from scaling.tables import GRID_COLUMNS, TableError, read_grid_table, read_table
from search_space import NetworkSpec, SpecError, load_spec, spec_to_dict

MODES = {"compound": None, "depth": (1.0, 0.0, 0.0), "width": (0.0, 1.0, 0.0), "resolution": (0.0, 0.0, 1.0)}


def _phis(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"expected comma-separated numbers like -2,-1, got {text!r}") from None
    if any(value >= 1 for value in values):
        raise ValueError(f"law phis must be < 1 (phi 0 and 1 are always evaluated), got {text!r}")
    return values


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m scaling.fit", description=__doc__.split("\n\n")[0])
    what = parser.add_argument_group("what to fit")
    what.add_argument("--base", default=None, help="preset, YAML/JSON spec, or search run directory (its best.yaml); "
                                                   "default: newest run under runs/ with a best.yaml, else efficientnet-b0")
    what.add_argument("--results", type=Path, default=None,
                      help=f"fit coefficients from this table (columns {', '.join(GRID_COLUMNS)}) without training")
    what.add_argument("--power-law", type=Path, default=None, help="fit error = E + A*C^-a to this table and stop")
    what.add_argument("--x", default="macs", help="--power-law: the compute column (MACs or params)")
    what.add_argument("--y", default="metric", help="--power-law: the metric column (accuracy in [0, 1] by default)")
    what.add_argument("--lower-is-better", action="store_true",
                      help="--power-law: --y is already an error or loss (otherwise error = 1 - y)")
    what.add_argument("--holdout", type=non_negative_int, default=None,
                      help="--power-law: number of largest compute values held out (default: a fifth, at least 1)")
    what.add_argument("--mode", choices=tuple(MODES), default="compound",
                      help="compound: grid over alpha, beta, gamma; depth/width/resolution: scale only that one "
                           "to the same MACs (the paper's single-dimension baselines)")
    grid = parser.add_argument_group("grid")
    grid.add_argument("--step", type=positive_float, default=0.1, help="grid step on the FLOP-share simplex")
    grid.add_argument("--seeds", type=positive_int, default=2, help="training repeats per grid point")
    grid.add_argument("--law-phis", type=checked(_phis), default=(-2.0, -1.0),
                      help="smaller members trained along the chosen direction to fit the metric-vs-MACs law "
                           "that predicts the family's metric ('' for none)")
    grid.add_argument("--time-limit", type=checked(seconds), default=18 * 60.0,
                      help="stop starting grid evaluations after this long (90s, 20m, 2h); rerun to continue")
    grid.add_argument("--no-time-limit", action="store_true", help="evaluate the whole grid however long it takes")
    grid.add_argument("--bootstrap", type=non_negative_int, default=1000, help="bootstrap samples for intervals")
    proxy = parser.add_argument_group("proxy training (the search's proxy; defaults sized for 2 CPU cores)")
    proxy.add_argument("--data", default=None, help="IDX directory, .npz or class folders; default Fashion-MNIST")
    proxy.add_argument("--proxy-resolution", type=checked(parse_resolution), default=None,
                       help="proxy resolution of the base (N or HxW); grid points scale it by their multiplier")
    proxy.add_argument("--epochs", type=positive_int, default=1)
    proxy.add_argument("--batch-size", type=positive_int, default=16)
    proxy.add_argument("--learning-rate", type=positive_float, default=3e-3)
    proxy.add_argument("--max-train-samples", type=positive_int, default=1024)
    proxy.add_argument("--max-val-samples", type=positive_int, default=512)
    proxy.add_argument("--val-fraction", type=positive_float, default=0.1)
    proxy.add_argument("--device", default="auto")
    run = parser.add_argument_group("run")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--out", type=Path, default=None, help="output directory (default runs/scaling-<timestamp>)")
    run.add_argument("--quiet", action="store_true")
    return parser


# --- the base -----------------------------------------------------------------------------------


def default_base(runs: Path = Path("runs")) -> str:
    """The newest search run under ``runs/`` that has a ``best.yaml``, else ``efficientnet-b0``."""
    candidates = sorted((p for p in runs.glob("*/best.yaml") if p.is_file()), key=lambda p: p.stat().st_mtime)
    return str(candidates[-1].parent) if candidates else "efficientnet-b0"


# --- fitting and writing ------------------------------------------------------------------------


def coefficients_summary(chosen: Coefficients, realised_ratio: float | None, fit: CoefficientFit | None = None,
                         fixed_mode: str | None = None) -> dict:
    """``coefficients.json``: the chosen coefficients and, for a grid fit, how they were chosen;
    ``fixed_mode`` names a single-dimension run, whose coefficients are not fitted."""
    surrogate = fit.surrogate if fit else None
    grid_best = fit.grid_best if fit else None
    names = ("alpha", "beta", "gamma")
    return {
        "alpha": chosen.alpha, "beta": chosen.beta, "gamma": chosen.gamma,
        "shares": dict(zip(("depth", "width", "resolution"), chosen.shares)),
        "intervals": {name: list(bounds) for name, bounds in fit.intervals.items()} if fit else
                     {name: [getattr(chosen, name)] * 2 for name in names},
        "interval_level": 0.95,
        "method": fit.method if fit else f"fixed: {fixed_mode} only",
        "realised_mac_ratio": realised_ratio,
        "constraint": "alpha * beta^2 * gamma^2 = 2",
        "grid_best": None if grid_best is None else {
            **dataclasses.asdict(grid_best), **{name: getattr(grid_best.coefficients, name) for name in names}},
        "surrogate": None if surrogate is None else {
            "optimum_shares": list(surrogate.optimum), "predicted_metric": surrogate.predicted_optimum,
            "loo_r2": surrogate.loo_r2, "loo_rmse": surrogate.loo_rmse, "seed_noise_se": surrogate.noise_se,
            "adequate": surrogate.adequate, "judgement": surrogate.reason},
        "points": [dataclasses.asdict(point) for point in fit.points] if fit else [],
        "bootstrap_samples": fit.bootstrap_samples if fit else 0,
        "note": fit.note if fit else f"--mode {fixed_mode}: no grid",
        "paper": {"alpha": 1.2, "beta": 1.1, "gamma": 1.15},
    }


def law_summary(fit: LawFit, validation: Validation | None, x: str, y: str, transform: str, compute, error,
                reason: str = "") -> dict:
    law = fit.law
    return {
        "data": {"compute": [float(c) for c in compute], "error": [float(e) for e in error]},
        "x": x, "y": y, "error": transform, "law": "error = E + A * C^(-a)",
        "E": law.E, "A": law.A, "a": law.a,
        "intervals": {name: list(bounds) for name, bounds in fit.intervals.items()},
        "converged": fit.converged, "on_bound": list(fit.on_bound), "healthy": fit.healthy, "loss": fit.loss,
        "points": fit.points, "compute_levels": fit.levels, "bootstrap_samples": fit.bootstrap_samples,
        "band": {"compute": list(fit.band_compute), "low": list(fit.band_low), "high": list(fit.band_high)},
        "held_out": None if validation is None else {
            "points": [dataclasses.asdict(p) for p in validation.held_out],
            "mean_absolute_log_error": validation.mean_absolute_log_error,
            "inside_band_fraction": validation.inside_band_fraction,
            "refit": {"E": validation.fit.law.E, "A": validation.fit.law.A, "a": validation.fit.law.a},
            "band": {"compute": list(validation.fit.band_compute), "low": list(validation.fit.band_low),
                     "high": list(validation.fit.band_high)}},
        "held_out_note": reason,
    }


def _write_json(path: Path, data) -> None:
    write_atomically(path, lambda temporary: temporary.write_text(json.dumps(data, indent=2, allow_nan=True)))


def fit_law_table(compute, error, x: str, y: str, transform: str, holdout: int | None, bootstrap: int,
                  seed: int) -> dict:
    """The full fit, and (where enough compute levels remain) the held-out validation."""
    fit = fit_power_law(compute, error, bootstrap=bootstrap, seed=seed)
    validation, reason = None, ""
    if holdout != 0:
        try:
            validation = validate_by_holdout(compute, error, holdout, bootstrap=bootstrap, seed=seed)
        except LawError as problem:
            if holdout is not None:
                raise
            reason = f"no held-out validation: {problem}"
    return law_summary(fit, validation, x, y, transform, compute, error, reason)


def power_law_command(args) -> int:
    frame = read_table(args.power_law, (args.x, args.y))
    compute, values = frame[args.x].to_numpy(float), frame[args.y].to_numpy(float)
    if args.lower_is_better:
        error, transform = values, f"{args.y}"
    else:
        if ((values < 0) | (values > 1)).any():
            raise UsageError(f"{args.power_law}: --y {args.y} must be an accuracy in [0, 1] (found "
                             f"{values[(values < 0) | (values > 1)][0]:g}); pass --lower-is-better for an error or loss")
        error, transform = 1 - values, f"1 - {args.y}"
    out = _out_dir(args, "power-law")
    summary = fit_law_table(compute, error, args.x, args.y, transform, args.holdout, args.bootstrap, args.seed)
    _write_json(out / "laws.json", {"laws": [summary]})
    _report(out, f"Power law: {args.y} vs {args.x}")
    law = summary
    low, high = law["intervals"].get("a", [law["a"]] * 2)
    print(f"{_describe_law(law, args.x)} (a in [{low:.3g}, {high:.3g}])")
    if law["held_out"]:
        held = law["held_out"]
        print(f"held out {len(held['points'])} largest: mean |log error| {held['mean_absolute_log_error']:.4f}, "
              f"{held['inside_band_fraction']:.0%} inside the band")
    elif law["held_out_note"]:
        print(law["held_out_note"])
    print(f"wrote {out / 'laws.json'} and {out / 'report.html'}")
    return 0


def _describe_law(law: dict, compute: str) -> str:
    """``error = E + A * C^(-a) (healthy)``, or what the optimiser check found."""
    health = "healthy" if law["healthy"] else ("CHECK: not converged" if not law["converged"] else
                                               "CHECK: on a bound of " + ", ".join(law["on_bound"]))
    return f"error = {law['E']:.4g} + {law['A']:.4g} * {compute}^(-{law['a']:.4g}) ({health})"


def _out_dir(args, kind: str) -> Path:
    out = args.out or Path("runs") / f"scaling-{kind}-{datetime.now():%Y%m%d-%H%M%S}"
    out.mkdir(parents=True, exist_ok=True)
    return out


def _family_outputs(out: Path, base: NetworkSpec, coefficients: Coefficients, law: dict | None) -> None:
    members = scaled_family(base, coefficients)
    predictions = {}
    if law is not None:
        fitted = PowerLaw(law["E"], law["A"], law["a"])
        band = law["band"]
        for member in members:
            metric = 1 - float(fitted.error(member.macs))
            if band["low"]:
                # The band was computed over the family's MAC range (see run_command).
                low = 1 - float(np.interp(np.log(member.macs), np.log(band["compute"]), band["high"]))
                high = 1 - float(np.interp(np.log(member.macs), np.log(band["compute"]), band["low"]))
            else:
                low = high = metric
            predictions[member.phi] = (metric, low, high)
    write_family(members, out, predictions)


def results_command(args) -> int:
    table = read_grid_table(args.results)
    if len(table) < 2:
        raise UsageError(f"{args.results}: {len(table)} row; a grid needs at least 2 points to choose between")
    out = _out_dir(args, "fit")
    fit = fit_coefficients(table, bootstrap=args.bootstrap, seed=args.seed)
    base = load_spec(args.base or default_base())
    realised = corrected_scale(base, fit.chosen, 1.0).realised_ratio
    summary = coefficients_summary(fit.chosen, realised, fit)
    _write_json(out / "coefficients.json", summary)
    _family_outputs(out, base, fit.chosen, None)
    _report(out, f"Compound-scaling fit of {args.results.name}")
    print(scaling_summary(summary))
    print(f"wrote {out}/coefficients.json, family.csv, specs/ and report.html")
    return 0


def _grid_frame(evaluations: list[Evaluation]) -> pd.DataFrame:
    rows = [dataclasses.asdict(e) for e in evaluations if e.role == "grid" and e.state == "COMPLETE"]
    frame = pd.DataFrame(rows, columns=[f.name for f in dataclasses.fields(Evaluation)])
    return frame.sort_values(["share_depth", "share_width", "seed"]).reset_index(drop=True)


def run_command(args) -> int:
    device = resolve_device(args.device)
    if args.mode == "compound":
        simplex_grid(args.step)  # refuses a step that does not divide 1, before any work
    base_ref = args.base or default_base()
    base = load_spec(base_ref)
    data_settings = DataSettings(args.data, args.proxy_resolution, args.val_fraction, args.max_train_samples,
                                 args.max_val_samples, args.seed)
    probe = prepare(args.data, proxy_resolution=args.proxy_resolution, val_fraction=args.val_fraction,
                    max_train_samples=args.max_train_samples, max_val_samples=args.max_val_samples, seed=args.seed)
    # The family is deployed on this data: its channels and classes are part of every member.
    base = dataclasses.replace(base, in_channels=probe.in_channels, num_classes=probe.num_classes)
    # What defines the run: resuming with any other value is refused (the time limit is not part of it).
    identity = {"base_spec": spec_to_dict(base), "mode": args.mode, "step": args.step, "seeds": args.seeds,
                "law_phis": list(args.law_phis), "data": args.data, "proxy_resolution": args.proxy_resolution and
                list(args.proxy_resolution), "epochs": args.epochs, "batch_size": args.batch_size,
                "learning_rate": args.learning_rate, "max_train_samples": args.max_train_samples,
                "max_val_samples": args.max_val_samples, "val_fraction": args.val_fraction, "seed": args.seed}
    out = args.out or Path("runs") / f"scaling-{datetime.now():%Y%m%d-%H%M%S}"
    resuming = claim_run_dir(out, identity, "scaling")
    train = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                        calibration_samples=256, device=device)
    evaluator = ProxyEvaluator(data_settings, train, probe)
    start = time.monotonic()
    deadline = None if args.no_time_limit else start + args.time_limit
    print(f"{'resuming' if resuming else 'starting'} scaling run in {out}: base {base.name} "
          f"({base_ref}), mode {args.mode}, proxy at {'x'.join(map(str, probe.resolution))} on {probe.source}",
          flush=True)
    corner = MODES[args.mode]
    tasks = [base_task(base, seed) for seed in range(args.seeds)]
    if corner is None:
        grid, duplicates = grid_tasks(base, args.step, args.seeds)
        tasks += grid
        if duplicates:
            print(f"{duplicates} of {len(simplex_grid(args.step))} grid points round to the same network as another "
                  "point and are trained once", flush=True)
    else:
        tasks += law_tasks(base, Coefficients.from_shares(*corner), (1.0,), args.seeds)
    try:
        evaluations = run_tasks(out, tasks[: args.seeds], evaluator, quiet=args.quiet, description="base")
        base_seconds = np.mean([e.seconds for e in evaluations if e.role == "base"] or [0.0])
        # Leave time for the law members (smaller than the base) and a phi = 1 member.
        reserve = base_seconds * args.seeds * (0.6 * len(args.law_phis) + 2.2)
        grid_deadline = None if deadline is None else deadline - reserve
        evaluations = run_tasks(out, tasks[args.seeds:], evaluator, deadline=grid_deadline, required=3 * args.seeds,
                                quiet=args.quiet,
                                description="grid at phi=1" if corner is None else f"{args.mode} at phi=1")
        chosen_fit, chosen = _choose(args, evaluations, corner)
        law_list = law_tasks(base, chosen, args.law_phis, args.seeds)
        if corner is None:
            # The chosen point again on seeds the grid never used: its grid mean was picked
            # as the best of many noisy means, so it is biased upwards (winner's curse).
            law_list += law_tasks(base, chosen, (1.0,), args.seeds, first_seed=args.seeds)
        evaluations = run_tasks(out, law_list, evaluator, quiet=args.quiet, description="law members")
    except KeyboardInterrupt:
        print("\ninterrupted: finished evaluations are saved; rerun the same command to continue", file=sys.stderr)
        evaluations = read_evaluations(out)
        chosen_fit, chosen = _choose(args, evaluations, corner)
    grid_frame = _grid_frame(evaluations)
    write_atomically(out / "grid.csv", lambda path: grid_frame.to_csv(path, index=False))
    missed = grid_frame.loc[~grid_frame["realised_ratio"].between(1.9, 2.1), ["share_depth", "share_width"]]
    if len(missed):
        print(f"warning: {len(missed.drop_duplicates())} grid networks are outside 2 +- 5% of the base's MACs "
              "(rounding is too coarse for this base there); grid.csv has each realised ratio", flush=True)
    failures = [e for e in evaluations if e.state == "FAIL"]
    realised = corrected_scale(base, chosen, 1.0).realised_ratio
    summary = coefficients_summary(chosen, realised, chosen_fit, None if corner is None else args.mode)
    summary["fresh_seeds"] = fresh_seed_check(evaluations, chosen, args.seeds) if corner is None else None
    summary["grid_complete"] = bool(corner is not None or len(grid_frame) >= len(tasks) - args.seeds)
    summary["grid_points_trained"] = int(grid_frame[["share_depth", "share_width"]].drop_duplicates().shape[0]
                                         if len(grid_frame) else 0)
    _write_json(out / "coefficients.json", summary)
    law, law_rows = _direction_law(evaluations, chosen, base, args)
    _write_json(out / "laws.json", {"laws": [law] if law else [], "note": "" if law else law_rows})
    _family_outputs(out, base, chosen, law)
    _report(out, f"Scaling run {out.name}")
    print(scaling_summary(summary))
    done_grid = grid_frame[["share_depth", "share_width"]].drop_duplicates().shape[0] if len(grid_frame) else 0
    print(f"grid points evaluated: {done_grid}; evaluations: {len(evaluations)} ({len(failures)} failed); "
          f"{(time.monotonic() - start) / 60:.1f} min in this invocation")
    if not summary["grid_complete"]:
        print("the time limit stopped the grid early: rerun the same command to evaluate more points")
    if law:
        print(f"law along the chosen direction: {_describe_law(law, 'MACs')}")
    else:
        print(f"no metric-vs-MACs law: {law_rows}")
    return 0


def _along(evaluation: Evaluation, chosen: Coefficients) -> bool:
    """Whether ``evaluation`` was trained in the direction of ``chosen`` (same shares)."""
    depth, width, _ = chosen.shares
    return abs(evaluation.share_depth - depth) < 1e-9 and abs(evaluation.share_width - width) < 1e-9


def _chosen_at_phi_one(evaluations: list[Evaluation], chosen: Coefficients, role: str) -> list[Evaluation]:
    return [e for e in evaluations if e.role == role and e.phi == 1.0 and e.state == "COMPLETE" and _along(e, chosen)]


def fresh_seed_check(evaluations: list[Evaluation], chosen: Coefficients, grid_seeds: int) -> dict | None:
    """The chosen point's metric on seeds the grid never used, beside its grid mean.

    The grid mean of the chosen point is the largest of many noisy means, so it overstates
    what the point achieves; the fresh seeds' mean does not (``None`` before they ran).
    """
    fresh = [e for e in _chosen_at_phi_one(evaluations, chosen, "law") if e.seed >= grid_seeds]
    if not fresh:
        return None
    selected = [e.metric for e in _chosen_at_phi_one(evaluations, chosen, "grid")]
    return {"seeds": [e.seed for e in fresh], "metrics": [e.metric for e in fresh],
            "mean": float(np.mean([e.metric for e in fresh])),
            "grid_mean": float(np.mean(selected)) if selected else None}


def _choose(args, evaluations: list[Evaluation], corner) -> tuple[CoefficientFit | None, Coefficients]:
    if corner is not None:
        return None, Coefficients.from_shares(*corner)
    frame = _grid_frame(evaluations)
    if frame[["share_depth", "share_width"]].drop_duplicates().shape[0] < 2:
        raise UsageError("fewer than 2 grid points finished: nothing to choose between (raise --time-limit or rerun)")
    # The fit places each network by its effective multipliers: where rounding really put it.
    fit = fit_coefficients(frame, bootstrap=args.bootstrap, seed=args.seed)
    return fit, fit.chosen


def _law_arrays(evaluations: list[Evaluation], chosen: Coefficients) -> tuple[np.ndarray, np.ndarray]:
    rows = [e for e in evaluations if e.state == "COMPLETE" and (
        e.role == "base" or (e.role == "law" and _along(e, chosen)))]
    rows += _chosen_at_phi_one(evaluations, chosen, "grid")
    return np.array([e.macs for e in rows], dtype=float), np.array([1 - e.metric for e in rows], dtype=float)


def _direction_law(evaluations, chosen: Coefficients, base: NetworkSpec, args) -> tuple[dict | None, str]:
    compute, error = _law_arrays(evaluations, chosen)
    try:
        fit = fit_power_law(compute, error, bootstrap=args.bootstrap, seed=args.seed,
                            band_range=(float(compute.min()) if len(compute) else 1.0,
                                        float(corrected_scale(base, chosen, 7.0).macs) * 1.2))
    except LawError as problem:
        return None, str(problem)
    return law_summary(fit, None, "macs", "proxy accuracy", "1 - proxy accuracy", compute, error,
                       "fitted on the members along the chosen direction; too few levels to hold any out"), ""


def _report(out: Path, title: str) -> None:
    from analysis import write_scaling_report
    write_scaling_report(out, title)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.power_law is not None:
            return power_law_command(args)
        if args.results is not None:
            return results_command(args)
        return run_command(args)
    except (UsageError, SpecError, DataError, TableError, LawError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
