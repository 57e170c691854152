"""``python -m runners.train``: train a network fully, resumably, and score it on the test split.

    python -m runners.train efficientnet-b0 --epochs 30
    python -m runners.train runs/20261124-120000 --progressive --augmentation 0.3   # a search's best.yaml
    python -m runners.train my_net.yaml --init imagenet.pt --classifier cosine --trainable-blocks 2

The data flags are the search's (same sources, same split at the same --seed). Each training
checkpoints every epoch into its run directory (see runners.train.full_run): after a kill, the
same command with the same --out continues where it stopped. A scaling run's members are
trained and checked against their predicted band by python -m scaling.check.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from infra.cli import ArgumentParser, integer, run_main
from infra.errors import UsageError
from infra.run_dirs import default_run_dir, read_config
from runners.data.sources import prepare
from runners.flags import add_proxy_arguments, data_options, train_config
from runners.train.targets import TRAINING, Regime, Target, add_regime_arguments, fill_recipe, train_target
from search_space import load_spec


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m runners.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("target", metavar="SPEC|RUN_DIR",
                        help="preset name, spec file or a search run directory (its best.yaml)")
    parser.add_argument("--out", type=Path, default=None,
                        help="run directory (resumed when it holds this training); when not given, "
                             "runs/train-<timestamp>")
    parser.add_argument("--seed", type=integer, default=None,
                        help="data split, initial weights and data order; when not given, 0")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_proxy_arguments(parser, title="data and training", defaults=TRAINING)
    add_regime_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_main(lambda: _train(args))


def _train(args: argparse.Namespace) -> int:
    target = Path(args.target)
    if target.is_dir() and read_config(target).get("kind") == "scaling":
        raise UsageError(f"{target} is a scaling run: train and check its members with "
                         f"python -m scaling.check {target} --members b0,b1,b2")
    args = fill_recipe(args, None)
    train = train_config(args)
    regime = Regime.from_args(args)
    spec = load_spec(args.target)
    target = Target(spec.name, spec, args.out or default_run_dir("train-"), data_options(args))
    train_target(target, prepare(target.data), train, regime, args.quiet)
    return 0
