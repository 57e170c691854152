"""``python -m scaling.check``: train a scaling run's members and check them against the law.

    python -m scaling.check runs/scaling --members b0,b1,b2     # B0 (the base), B1, B2
    python -m scaling.check runs/scaling --members b1 --device cuda

Each member trains fully (``runners.train``'s resumable run directory, in
RUN_DIR/trained/<member>-<key of its network>) with the scaling run's own recipe (its data, epochs, batch size,
learning rate and split, unless flags say otherwise), at its proxy resolution (the base's
times the member's resolution multiplier), at a seed index the run never used
(:data:`scaling.members.MEASURED_REPLICATE`). With that recipe the measured validation
accuracy is exactly what the run's power law predicted, and it is written into family.csv
next to the predicted band; with another recipe the results stay in their run directories.
"""

from __future__ import annotations

if __name__ == "__main__":  # before the imports (torch): a Ctrl-C while starting exits 130, no traceback
    from infra.stopping import exit_quietly_on_interrupt

    exit_quietly_on_interrupt()

import argparse
import sys
from pathlib import Path

from infra.cli import ArgumentParser, checked, integer, run_main
from infra.errors import UsageError
from infra.run_dirs import read_config
from runners.data.sources import DataOptions, Splits, prepare
from runners.flags import add_proxy_arguments, data_options, train_config
from runners.train.targets import TRAINING, Regime, Target, fill_recipe, same_recipe, train_target
from scaling.members import MEASURED_REPLICATE, band_verdict, measured_members, read_family, record_measured
from scaling.run_files import TRAINED_DIR, is_scaling_run, read_base, read_member_spec, trained_member_dir
from search_space import resolution_multiplier, scale_resolution


def parse_members(text: str) -> tuple[str, ...]:
    """``b0,b1,ghost-b2``: member names, each once, in the order given."""
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",")))
    for name in names:
        phi = name.removeprefix("ghost-").removeprefix("b")
        if not (name.removeprefix("ghost-").startswith("b") and phi.isdigit() and phi.isascii()
                and 0 <= int(phi) <= 99):
            raise ValueError(f"expected member names such as b0,b1,ghost-b2, got {name!r}")
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m scaling.check", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", metavar="RUN_DIR", type=Path,
                        help="a scaling run directory (python -m scaling.fit --out)")
    parser.add_argument("--members", type=checked(parse_members), required=True,
                        help="comma-separated members to train: b0 (the base) .. b7, ghost-b1 .. ghost-b7")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"where the members' run directories go; when not given, RUN_DIR/{TRAINED_DIR}")
    parser.add_argument("--seed", type=integer, default=None, help="when not given, the scaling run's")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_proxy_arguments(parser, title="data and training", defaults=TRAINING, otherwise=", or the scaling run's")
    return parser


def member_data(run: Path, target: Target, base_data: Splits) -> Splits:
    """A member trains where the scaling grid trained it: the base's proxy resolution times
    its resolution multiplier."""
    resolution = scale_resolution(base_data.resolution, resolution_multiplier(read_base(run), target.spec))
    return base_data if resolution == base_data.resolution else prepare(target.data.at_resolution(resolution))


def check_members(run: Path, members: tuple[str, ...], args: argparse.Namespace) -> list[dict]:
    """Train ``members`` of the scaling run at ``run`` with the recipe of ``args`` (flags not
    given: the run's) and, when that is the run's recipe, record each in ``family.csv``."""
    if not is_scaling_run(run):
        raise UsageError(f"{run}: not a scaling run directory (python -m scaling.fit --out makes one)")
    recorded = read_config(run)  # the recipe the run trained with
    args = fill_recipe(args, recorded)
    options: DataOptions = data_options(args)
    train = train_config(args)
    out = args.out or run / TRAINED_DIR
    specs = {member: read_member_spec(run, member) for member in members}
    targets = [Target(member, spec, trained_member_dir(out, member, spec), options, MEASURED_REPLICATE)
               for member, spec in specs.items()]
    comparable = same_recipe(args, recorded)
    if not comparable:
        print(f"trained with another recipe than the scaling grid of {run}: its family.csv keeps the prediction "
              "alone (each result stays in its run directory)")
    base_data = prepare(options)
    results = []
    for target in targets:
        result = train_target(target, member_data(run, target, base_data), train, Regime(), args.quiet)
        if comparable:
            print(record_measured(run, target.name, result["val_accuracy"], result["test_accuracy"]))
        results.append(result)
    return results


def check_first_members(run: Path, count: int, *, device: str, quiet: bool) -> str:
    """Train B1..B<count> of a finished scaling run with its own recipe (what ``scaling.fit
    --check-members`` does: this command's path, flags left to the run) and return the verdict
    line, e.g. "2 of 2 measured members inside the predicted band"."""
    members = [f"b{phi}" for phi in range(1, count + 1)]
    args = build_parser().parse_args([str(run), "--members", ",".join(members), "--device", device]
                                     + (["--quiet"] if quiet else []))
    check_members(run, args.members, args)
    measured = measured_members(read_family(run))
    return band_verdict(measured[measured["phi"].between(1, count)])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_main(lambda: _check(args))


def _check(args: argparse.Namespace) -> int:
    check_members(args.run, args.members, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
