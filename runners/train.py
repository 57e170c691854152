"""``python -m runners.train``: train a network fully, resumably, and score it on the test split.

    python -m runners.train efficientnet-b0 --epochs 30
    python -m runners.train runs/20261124-120000 --progressive --augmentation 0.3   # a search's best.yaml
    python -m runners.train runs/scaling --members b0,b1,b2     # a scaling run's family, checked against its law
    python -m runners.train my_net.yaml --init imagenet.pt --classifier cosine --trainable-blocks 2

The data flags are the search's (same sources, same split at the same --seed). Each training
checkpoints every epoch into its run directory (see runners.train_run): after a kill, the
same command with the same --out continues where it stopped. --members trains a scaling
run's B0 (its base) and scaled members with that run's own recipe by default, at their
proxy resolutions, and writes each measured metric into the run's family.csv next to the
predicted band.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

from runners.data import DataOptions, Splits, prepare
from runners.family_check import MEASURED_REPLICATE, record_measured
from runners.options import ProxyDefaults, add_proxy_arguments, data_options, train_config
from runners.progressive import PAPER_STAGES, progressive_schedule
from runners.run_dir import claim_run_dir, default_run_dir, read_config
from runners.train_run import FineTuning, initial_model, train_run, with_head
from runners.training import Stage, TrainConfig, replicate_seed
from search_space import NetworkSpec, load_spec, resolution_multiplier, scale_resolution, spec_to_dict
from search_space.common.cli import ArgumentParser, checked, float_between, integer, integer_between, run_main
from search_space.common.errors import UsageError
from search_space.common.units import format_macs
from search_space.cost_model import count_cost

# A full training's defaults: every training image, 10 epochs of batch 128.
TRAINING = ProxyDefaults(epochs=10, batch_size=128, learning_rate=5e-3, max_train_samples=None, max_val_samples=None)
# The flags that define what a trained member's metric means; --members takes them from the
# scaling run unless given.
RECIPE_FLAGS = ("data", "proxy_resolution", "val_fraction", "max_train_samples", "max_val_samples", "epochs",
                "batch_size", "learning_rate", "seed")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m runners.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("target", metavar="SPEC|RUN_DIR",
                        help="preset name, spec file, a search run directory (its best.yaml) or, with --members, a "
                             "scaling run directory")
    parser.add_argument("--members", type=checked(parse_members), default=None,
                        help="comma-separated members of a scaling run to train: b0 (its base) .. b7, ghost-b1 .. "
                             "ghost-b7")
    parser.add_argument("--out", type=Path, default=None,
                        help="run directory (resumed when it holds this training); when not given, "
                             "runs/train-<timestamp>, or RUN_DIR/trained/<member> for --members")
    parser.add_argument("--seed", type=integer, default=None,
                        help="data split, initial weights and data order; when not given, 0, or the scaling run's "
                             "with --members")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_proxy_arguments(parser, title="data and training", defaults=TRAINING,
                        otherwise=", or the scaling run's with --members")
    schedule = parser.add_argument_group("progressive learning and regularisation")
    schedule.add_argument("--progressive", action="store_true",
                          help="EfficientNetV2 progressive learning: image size, dropout and augmentation grow "
                               "together over --progressive-stages stages")
    schedule.add_argument("--progressive-stages", type=integer_between(1, 100), default=PAPER_STAGES,
                          help="stages of the progressive schedule")
    schedule.add_argument("--augmentation", type=float_between(0.0, 1.0, include_low=True), default=0.0,
                          help="random zoom and shift magnitude in [0, 1] (the final one with --progressive)")
    tuning = parser.add_argument_group("fine-tuning")
    tuning.add_argument("--init", type=Path, default=None,
                        help="start from this checkpoint's weights (same architecture; the stem is adapted to the "
                             "data's channels, a classifier of another shape starts afresh)")
    tuning.add_argument("--classifier", choices=("linear", "cosine"), default=None,
                        help="the head: linear, or cosine (ArcFace-style); when not given, the spec's")
    tuning.add_argument("--trainable-blocks", type=integer_between(-1, None), default=-1,
                        help="-1 trains everything, 0 only the head, N the head and the last N blocks")
    return parser


def parse_members(text: str) -> tuple[str, ...]:
    """``b0,b1,ghost-b2``: member names, each once, in the order given."""
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",")))
    for name in names:
        phi = name.removeprefix("ghost-").removeprefix("b")
        if not (name.removeprefix("ghost-").startswith("b") and phi.isdigit() and phi.isascii()
                and 0 <= int(phi) <= 99):
            raise ValueError(f"expected member names such as b0,b1,ghost-b2, got {name!r}")
    return names


@dataclass(frozen=True)
class Target:
    """One training: what, on which data, where, and its scaling-run member if any."""

    name: str
    spec: NetworkSpec
    out: Path
    data: DataOptions
    replicate: int = 0
    member: str | None = None  # a member of the scaling run at `scaling_run`
    scaling_run: Path | None = None


def _is_scaling_run(path: Path) -> bool:
    return path.is_dir() and read_config(path).get("kind") == "scaling"


def _member_spec(run: Path, member: str) -> NetworkSpec:
    path = run / "specs" / f"{member}.yaml"
    if not path.is_file():
        available = sorted(p.stem for p in (run / "specs").glob("*.yaml"))
        raise UsageError(f"{run}: the family has no member {member} (it has {', '.join(available) or 'none'})")
    return load_spec(path)


def _recorded(config: dict, flag: str):
    """A flag's value as a run's ``config.json`` holds it, in the type the flag parses to
    (JSON has no tuples: a proxy resolution comes back as a list)."""
    value = config[flag]
    return tuple(value) if flag == "proxy_resolution" and value is not None else value


def _fill_recipe(args: argparse.Namespace, scaling: dict | None) -> argparse.Namespace:
    """The flags not given: from the scaling run's config (``--members``), else the defaults."""
    filled = vars(args).copy()
    for flag in RECIPE_FLAGS:
        if filled[flag] is None:
            if scaling is not None and flag in scaling:
                filled[flag] = _recorded(scaling, flag)
            else:
                filled[flag] = {"seed": 0, "val_fraction": 0.1, **dataclasses.asdict(TRAINING)}.get(flag)
    return argparse.Namespace(**filled)


def _targets(args: argparse.Namespace) -> tuple[argparse.Namespace, list[Target]]:
    target = Path(args.target)
    if _is_scaling_run(target):
        if not args.members:
            raise UsageError(f"{target} is a scaling run: name the members to train with --members, e.g. b0,b1,b2")
        args = _fill_recipe(args, read_config(target))
        out = args.out or target / "trained"
        return args, [Target(member, _member_spec(target, member), out / member, data_options(args),
                             MEASURED_REPLICATE, member, target) for member in args.members]
    if args.members:
        raise UsageError(f"--members needs a scaling run directory, and {args.target} is not one")
    args = _fill_recipe(args, None)
    spec = load_spec(args.target)
    return args, [Target(spec.name, spec, args.out or default_run_dir("train-"), data_options(args))]


def _file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError as error:
        raise UsageError(f"--init {path}: cannot be read ({error.strerror})") from None


def _identity(target: Target, spec: NetworkSpec, train: TrainConfig, args: argparse.Namespace,
              init_digest: str | None) -> dict:
    """What defines a training: a rerun resumes only when all of it matches."""
    return {"spec": spec_to_dict(spec), **target.data.identity(), "epochs": train.epochs,
            "batch_size": train.batch_size, "learning_rate": train.learning_rate, "seed": target.data.seed,
            "replicate": target.replicate, "progressive": args.progressive,
            "progressive_stages": args.progressive_stages if args.progressive else None,
            "augmentation": args.augmentation, "trainable_blocks": args.trainable_blocks,
            "init": None if args.init is None else {"path": str(args.init), "sha256": init_digest}}


def _member_data(target: Target, base_data: Splits) -> Splits:
    """A member trains where the scaling grid trained it: the base's proxy resolution times
    its resolution multiplier."""
    if target.member is None:
        return base_data
    base = load_spec(target.scaling_run / "base.yaml")
    resolution = scale_resolution(base_data.resolution, resolution_multiplier(base, target.spec))
    if resolution == base_data.resolution:
        return base_data
    return prepare(target.data.at_resolution(resolution))


def _same_recipe_as_grid(args: argparse.Namespace, scaling: dict) -> bool:
    """True when a member's metric means what the scaling run's law predicts: its recipe,
    no augmentation, no progressive schedule, no fine-tuning."""
    return (all(getattr(args, flag) == _recorded(scaling, flag) for flag in RECIPE_FLAGS if flag in scaling)
            and not args.progressive and args.augmentation == 0 and args.init is None
            and args.classifier is None and args.trainable_blocks == -1)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_main(lambda: _train(args))


def _train(args: argparse.Namespace) -> int:
    args, targets = _targets(args)
    train = train_config(args)
    init_digest = None if args.init is None else _file_digest(args.init)  # unreadable: one line before any work
    base_data = prepare(targets[0].data)
    comparable = (targets[0].scaling_run is not None
                  and _same_recipe_as_grid(args, read_config(targets[0].scaling_run)))
    if targets[0].scaling_run is not None and not comparable:
        print(f"trained with another recipe than the scaling grid of {targets[0].scaling_run}: its family.csv "
              "keeps the prediction alone (each result stays in its run directory)")
    for target in targets:
        data = _member_data(target, base_data)
        spec = data.deployed(with_head(target.spec, args.classifier))
        seed = replicate_seed(target.data.seed, target.replicate)
        identity = _identity(target, spec, train, args, init_digest)
        # Checked before the run directory exists: a checkpoint that does not fit makes none.
        model, notes = initial_model(spec, FineTuning(args.init, args.trainable_blocks), seed)
        resuming = claim_run_dir(target.out, identity, "train")
        final = data.resolution
        schedule = (progressive_schedule(train.epochs, final, spec.dropout, args.augmentation, args.progressive_stages)
                    if args.progressive else [Stage(augmentation=args.augmentation)] * train.epochs)
        print(f"{'resuming' if resuming else 'training'} {target.name} ({format_macs(count_cost(spec).macs)} MACs at "
              f"{spec.resolution[0]}x{spec.resolution[1]}) at {final[0]}x{final[1]} on {data.source}, "
              f"{train.epochs} epochs{' (progressive)' if args.progressive else ''} -> {target.out}")
        for note in notes:
            print(note)
        result = train_run(target.out, model, data, train, schedule, seed=seed, quiet=args.quiet)
        test = "no test split" if result["test_accuracy"] is None else f"test accuracy {result['test_accuracy']:.4f}"
        print(f"{target.name}: validation accuracy {result['val_accuracy']:.4f}, {test}, "
              f"{result['seconds']:.0f} s -> {target.out}")
        if comparable and target.member is not None:
            print(record_measured(target.scaling_run, target.member, result["val_accuracy"],
                                  result["test_accuracy"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
