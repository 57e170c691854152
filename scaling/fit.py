"""python -m scaling.fit: fit compound-scaling coefficients and emit the scaled family.

    python -m scaling.fit                                 # newest search run's best.yaml, else efficientnet-b0
    python -m scaling.fit --base runs/20261123-0900 --step 0.1 --seeds 2
    python -m scaling.fit --mode width                    # single-dimension baseline, same MACs
    python -m scaling.fit --results grid.csv --out fit/   # fit an existing table, no training
    python -m scaling.fit --power-law results.csv --x macs --y metric

Everything goes into --out: evaluations.jsonl and grid.csv (training runs),
coefficients.json, specs/b1.yaml .. specs/b7.yaml and specs/ghost-b*.yaml,
family.csv and laws.json. Rerunning a training command with the same --out
continues it. Look at a run with python -m analysis.dashboard RUN_DIR.
"""

from __future__ import annotations

if __name__ == "__main__":  # before the imports (torch): a Ctrl-C while starting exits 130, no traceback
    from infra.stopping import exit_quietly_on_interrupt

    exit_quietly_on_interrupt()

import math
import sys
from pathlib import Path

from infra.cli import ArgumentParser, checked, integer, integer_between, non_negative_int, positive_float, run_main
from infra.errors import UsageError
from infra.files import check_creatable, make_directory
from infra.run_dirs import RUNS, default_run_dir
from infra.seeds import bootstrap_seed
from infra.trial_state import TrialState
from infra.units import parse_seconds
from runners.executors import make_executor
from runners.flags import (MAX_SEEDS, ProxyDefaults, add_backend_arguments, add_proxy_arguments,
                           check_backend_arguments, data_options, train_config)
from scaling.check import check_first_members
from scaling.compound import RATIO_TOLERANCE
from scaling.pipeline import MODES, GridOptions, fit_grid_table, fit_law_table, run_scaling
from scaling.reports import LawReport, write_laws
from scaling.run_files import LAWS_FILE
from scaling.tables import GRID_COLUMNS, read_grid_table, read_table
from search_space import NetworkSpec, load_spec
from search_space.rules import DEPTH_RULES

MAX_BOOTSTRAP = 100_000  # resamples per interval: 1,000 give two decimals already
MIN_LAW_PHI = -8  # a member 2^-8 = 1/256 of the base's MACs; smaller ones are a typo, not a law


def _phis(text: str) -> tuple[float, ...]:
    try:
        if not text.isascii():  # float() also reads other scripts' digits
            raise ValueError
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"expected comma-separated numbers like -2,-1, got {text!r}") from None
    if any(not (math.isfinite(value) and MIN_LAW_PHI <= value < 1) for value in values):
        raise ValueError(f"law phis must be numbers in [{MIN_LAW_PHI}, 1) (phi 0 and 1 are always evaluated), "
                         f"got {text!r}")
    return values

# A grid trains dozens of networks per run. 2 epochs on 2,048 images ranked ten phi = 1 networks
# closer to a 32x longer training than 1 epoch on 1,024 did, and gave a usable law where the
# shorter one gave none (benchmarks/grid_fidelity.py, BENCHMARKS.md).
GRID_PROXY = ProxyDefaults(epochs=2, batch_size=16, learning_rate=3e-3, max_train_samples=2048, max_val_samples=512)
DEFAULTS = GridOptions()


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m scaling.fit", description=__doc__.split("\n\n")[0])
    what = parser.add_argument_group("what to fit")
    what.add_argument("--base", default=None,
                      help="preset, YAML/JSON spec, or search run directory (its best.yaml); when not given: with "
                           "--results, the base the table names; otherwise the newest run under runs/ with a "
                           "best.yaml, else efficientnet-b0 (printed and recorded either way)")
    what.add_argument("--results", type=Path, default=None,
                      help=f"fit coefficients from this table (columns {', '.join(GRID_COLUMNS)}) without training")
    what.add_argument("--power-law", type=Path, default=None, help="fit error = E + A*C^-a to this table and stop")
    what.add_argument("--x", default=None, help="--power-law: the compute column (MACs or params); when not given, macs")
    what.add_argument("--y", default=None,
                      help="--power-law: the metric column, an accuracy in [0, 1] unless --lower-is-better"
                           "; when not given, metric")
    what.add_argument("--lower-is-better", action="store_true",
                      help="--power-law: --y is already an error or loss (otherwise error = 1 - y)")
    what.add_argument("--holdout", type=non_negative_int, default=None,
                      help="--power-law: number of largest compute values held out; when not given, a fifth, at least 1")
    what.add_argument("--mode", choices=tuple(MODES), default="compound",
                      help="compound: grid over alpha, beta, gamma; depth/width/resolution: scale only that one "
                           "to the same MACs (the paper's single-dimension baselines)")
    grid = parser.add_argument_group("grid")
    grid.add_argument("--step", type=positive_float, default=DEFAULTS.step,
                      help="grid step on the FLOP-share simplex (0.25: 15 points, 0.1: 66)")
    grid.add_argument("--seeds", type=integer_between(1, MAX_SEEDS), default=DEFAULTS.seeds,
                      help="training repeats per grid point")
    grid.add_argument("--law-phis", type=checked(_phis), default=",".join(f"{phi:g}" for phi in DEFAULTS.law_phis),
                      help="smaller members trained along the chosen direction to fit the metric-vs-MACs law "
                           "that predicts the family's metric ('' for none)")
    grid.add_argument("--law-seeds", type=integer_between(1, MAX_SEEDS), default=DEFAULTS.law_seeds,
                      help="seeds of the base and of each law member (small networks; more points resolve the law)")
    grid.add_argument("--check-members", type=integer_between(0, 7), default=2,
                      help="train the first N family members (B1..BN) with the run's own recipe at a seed the grid "
                           "never used and write measured beside predicted in family.csv (0: skip)")
    grid.add_argument("--time-limit", type=checked(parse_seconds), default="18m",
                      help="stop starting grid evaluations after this long (90s, 20m, 2h); rerun to continue")
    grid.add_argument("--no-time-limit", action="store_true", help="evaluate the whole grid however long it takes")
    grid.add_argument("--bootstrap", type=integer_between(0, MAX_BOOTSTRAP), default=1000, help="bootstrap samples for intervals")
    grid.add_argument("--depth-rule", choices=DEPTH_RULES, default="total",
                      help="how a depth multiplier becomes repeats: 'total' scales the network's block count "
                           "(a one-block-per-stage base can grow by one block), 'per-stage' is the reference "
                           "ceil per stage (B1..B7 from B0); see BENCHMARKS.md")
    grid.add_argument("--comparison-seeds", type=integer_between(1, MAX_SEEDS), default=DEFAULTS.comparison_seeds,
                      help="the most paired seeds the chosen direction and each single-dimension corner get "
                           "until their difference at phi = 1 separates (within the time limit)")
    add_proxy_arguments(parser, title="proxy training (the search's proxy; defaults sized for 2 CPU cores)",
                        defaults=GRID_PROXY)
    run = parser.add_argument_group("run")
    run.add_argument("--seed", type=integer, default=0, help="seed of the data split, training and the bootstrap")
    run.add_argument("--out", type=Path, default=None,
                     help="run directory; when not given, runs/scaling-<timestamp>")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    add_backend_arguments(run, workers_help="networks trained at once (processes, or Ray tasks); the results are "
                                            "those of one worker")
    return parser


def default_base(runs: Path = RUNS) -> str:
    """The newest search run under ``runs/`` that has a ``best.yaml``, else ``efficientnet-b0``."""
    candidates = sorted((p for p in runs.glob("*/best.yaml") if p.is_file()), key=lambda p: p.stat().st_mtime)
    return str(candidates[-1].parent) if candidates else "efficientnet-b0"


def _out_dir(args, kind: str) -> Path:
    return args.out or default_run_dir(f"scaling-{kind}-")


def power_law_command(args) -> int:
    args.x, args.y = args.x or "macs", args.y or "metric"
    frame = read_table(args.power_law, (args.x, args.y))
    compute, values = frame[args.x].to_numpy(float), frame[args.y].to_numpy(float)
    if args.lower_is_better:
        error, error_name = values, f"{args.y}"
    else:
        outside = (values < 0) | (values > 1)
        if outside.any():
            raise UsageError(f"{args.power_law}: --y {args.y} must be an accuracy in [0, 1] (found "
                             f"{values[outside][0]:g}); pass --lower-is-better for an error or loss")
        error, error_name = 1 - values, f"1 - {args.y}"
    law = fit_law_table(compute, error, args.x, args.y, error_name, args.holdout, args.bootstrap,
                        bootstrap_seed(args.seed))
    out = _out_dir(args, "power-law")
    make_directory(out, "--out")
    write_laws(out, [law])
    print("\n".join(law_lines(law)))
    print(f"wrote {out / LAWS_FILE}; dashboard: python -m analysis.dashboard {out}")
    return 0


def law_lines(law: LawReport, compute_name: str | None = None) -> list[str]:
    """A law as the command prints it: the law, the model choice, E's identifiability, the holdout."""
    low, high = law.intervals.get("a", (law.law.a, law.law.a))
    lines = [f"{law.describe(compute_name)} (a in [{low:.3g}, {high:.3g}])", f"model: {law.choice}"]
    if law.identified:
        lines.append(law.identified)
    if law.held_out:
        held = law.held_out
        lines.append(f"held out the {len(held.points)} largest: mean |log error| {held.mean_absolute_log_error:.4f}, "
                     f"{held.inside_band_fraction:.0%} inside the refit's band")
    elif law.held_out_note:
        lines.append(law.held_out_note)
    return lines


def _table_base(args) -> tuple[NetworkSpec, str]:
    """The base of a results table: --base, else the spec file its ``base`` column names."""
    if args.base is not None:
        return load_spec(args.base), args.base
    names = read_table(args.results, ()).get("base")
    if names is None or names.dropna().empty:
        raise UsageError(f"{args.results}: the table names no base (no base column): pass --base PRESET|SPEC|RUN_DIR")
    reference = args.results.parent / str(names.dropna().iloc[0])
    return load_spec(reference), str(reference)


def results_command(args) -> int:
    table = read_grid_table(args.results)
    base, base_ref = _table_base(args)
    print(f"base: {base.name} ({base_ref})")
    out = _out_dir(args, "fit")
    report = fit_grid_table(table, base, out, base_ref=base_ref, bootstrap=args.bootstrap,
                            seed=bootstrap_seed(args.seed),
                            depth_rule=args.depth_rule)
    print(report.summary())
    print(f"wrote {out}/coefficients.json, family.csv and specs/; dashboard: python -m analysis.dashboard {out}")
    return 0


def run_command(args) -> int:
    grid = GridOptions(mode=args.mode, step=args.step, seeds=args.seeds, law_phis=args.law_phis,
                       law_seeds=args.law_seeds,
                       time_limit=None if args.no_time_limit else args.time_limit, bootstrap=args.bootstrap,
                       comparison_seeds=args.comparison_seeds, depth_rule=args.depth_rule)
    train = train_config(args, calibration_samples=256)
    base_ref = args.base or default_base()
    base = load_spec(base_ref)
    if args.base is None:
        print(f"base: {base_ref} (no --base given)", flush=True)
    out = _out_dir(args, "") if args.out is None else args.out
    executor = make_executor(args.backend, args.workers, args.ray_address, train.device)
    try:
        result = run_scaling(out, base, data_options(args), train, grid, base_ref=base_ref, quiet=args.quiet,
                             log=lambda line: print(line, flush=True), executor=executor)
    except BaseException:  # a fault or a stop: the networks in flight are redone on resume, not awaited
        executor.abort()
        raise
    finally:
        executor.close()
    if result.off_target:
        print(f"warning: {result.off_target} grid networks are outside 2 +- {RATIO_TOLERANCE:.0%} of the base's MACs "
              "(rounding is too coarse for this base there); grid.csv has each realised ratio")
    print(result.coefficients.summary())
    failures = sum(e.state is TrialState.FAIL for e in result.evaluations)
    print(f"grid points evaluated: {result.coefficients.grid_points_trained}; evaluations: "
          f"{len(result.evaluations)} ({failures} failed); {result.seconds / 60:.1f} min in this invocation")
    if not result.coefficients.grid_complete:
        print("the time limit stopped the grid early: rerun the same command to evaluate more points")
    if result.laws:
        law = result.laws[0]
        print("law along the chosen direction: " + "\n  ".join(law_lines(law, "MACs")))
        if not law.usable:
            print("the law is not usable: family.csv has no predicted metric (it is not extrapolated)")
    else:
        print(f"no metric-vs-MACs law: {result.law_note}")
    if result.stop is not None:
        raise result.stop  # run_main's one line and exit code 130 or 143
    if args.check_members:
        print(f"checking the family: training B1..B{args.check_members} with the run's recipe", flush=True)
        print(f"family check: {check_first_members(out, args.check_members, device=args.device, quiet=args.quiet)}"
              " (family.csv)")
    print(f"dashboard: python -m analysis.dashboard {out}")
    return 0


POWER_LAW_ONLY = ("x", "y", "holdout", "lower_is_better")


def _check_flags(args) -> None:
    """Flags that only one mode reads are refused in the others, and --out before any work."""
    if args.power_law is None:
        given = [name for name in POWER_LAW_ONLY if getattr(args, name) not in (None, False)]
        if given:
            raise UsageError(f"--{given[0].replace('_', '-')} is read only with --power-law TABLE")
    if args.out is not None:
        check_creatable(args.out, "--out")
    check_backend_arguments(args)


def _fit(args) -> int:
    _check_flags(args)
    if args.power_law is not None:
        return power_law_command(args)
    if args.results is not None:
        return results_command(args)
    return run_command(args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_main(lambda: _fit(args))


if __name__ == "__main__":
    sys.exit(main())
