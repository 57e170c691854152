"""``python -m runners.evaluate``: score given specs with exactly the search's proxy.

    python -m runners.evaluate efficientnet-b0 runs/20261124-120000 my_net.yaml --seeds 3
    python -m runners.evaluate efficientnet-b0 --json > scores.jsonl

Each spec (a preset, a YAML/JSON file or a run directory's ``best.yaml``) is trained as
given: no projection into a budget, with the data's channels and classes. Seeds are
replicate indices shared by every spec (common random numbers: the same data order and
random stream at one index), so differences between specs are paired by seed. ``--json``
prints one line per spec and seed as it finishes; otherwise a table with each spec's mean
and interval, whether the best is separated from the runner-up, and (with two or more specs
and seeds) what the ranking is worth (:mod:`infra.reliability`: whether the proxy separates
these specs, the share of variance between them, seed 0 vs seed 1 Kendall tau).
"""

from __future__ import annotations

import argparse
import json

from infra.cli import ArgumentParser, integer, integer_between, run_main
from infra.progress import progress_bar
from infra.reliability import ranking_reliability
from infra.seeds import replicate_seed
from infra.statistics import mean_interval, paired_difference
from infra.units import format_macs
from runners.data.sources import Splits, prepare
from runners.flags import MAX_SEEDS, SEARCH_PROXY, add_proxy_arguments, data_options, train_config
from runners.learning.loop import TrainConfig, train_and_evaluate
from search_space import CostReport, NetworkSpec, count_cost, load_spec, stages_summary


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m runners.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("specs", nargs="+", metavar="SPEC", help="preset name, spec file or run directory")
    parser.add_argument("--seeds", type=integer_between(1, MAX_SEEDS), default=1, help="seed replicates per spec")
    parser.add_argument("--seed", type=integer, default=0, help="run seed: the data split and the replicates' seeds")
    parser.add_argument("--json", action="store_true", help="one JSON line per spec and seed instead of a table")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_proxy_arguments(parser, title="proxy training (the search's flags and defaults)", defaults=SEARCH_PROXY)
    return parser


def measure(name: str, spec: NetworkSpec, cost: CostReport, data: Splits, train: TrainConfig, run_seed: int,
            replicate: int) -> dict:
    """One spec (``cost`` its :func:`count_cost`) at one seed replicate, as the JSON line ``--json`` prints."""
    result = train_and_evaluate(spec, data, train, seed=replicate_seed(run_seed, replicate))
    return {"spec": name, "seed": replicate, "accuracy": result.accuracy, "validation_loss": result.validation_loss,
            "training_loss_sum": result.training_loss_sum, "seconds": result.seconds, "macs": cost.macs,
            "params": cost.params, "proxy_resolution": "x".join(map(str, data.resolution)),
            "blocks": stages_summary(spec)}


def summary(rows: list[dict], names: list[str]) -> str:
    """Each spec's mean accuracy with its interval, best first, and the winner's verdict."""
    by_spec = {name: [row for row in rows if row["spec"] == name] for name in dict.fromkeys(names)}
    estimates = {name: mean_interval([r["accuracy"] for r in measured]) for name, measured in by_spec.items()}
    ranked = sorted(by_spec, key=lambda name: -estimates[name].mean)
    lines = [f"{'spec':40s} {'accuracy (mean, 95% interval)':34s} {'MACs':>8s} {'params':>11s} {'s/seed':>7s}"]
    for name in ranked:
        measured = by_spec[name]
        seconds = sum(r["seconds"] for r in measured) / len(measured)
        lines.append(f"{name[:40]:40s} {str(estimates[name]):34s} {format_macs(measured[0]['macs']):>8s} "
                     f"{measured[0]['params']:>11,} {seconds:7.1f}")
    if len(ranked) > 1:
        best, runner_up = ranked[0], ranked[1]
        comparison = paired_difference([r["accuracy"] for r in by_spec[best]],
                                       [r["accuracy"] for r in by_spec[runner_up]])
        if comparison.difference.n < 2:
            lines.append(f"best: {best}; one seed cannot separate it from {runner_up} (use --seeds 3 or more)")
        else:
            lines.append(f"best: {best}; {'separated from' if comparison.first_is_higher else 'NOT separated from'} "
                         f"{runner_up} ({comparison.describe()})")
    seeds = min(len(measured) for measured in by_spec.values())
    if len(ranked) > 1 and seeds >= 2:
        table = [[row["accuracy"] for row in sorted(by_spec[name], key=lambda r: r["seed"])[:seeds]] for name in ranked]
        lines.append("ranking: " + ranking_reliability(table).describe("this proxy"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_main(lambda: _evaluate(args))


def _evaluate(args: argparse.Namespace) -> int:
    specs = [(name, load_spec(name)) for name in args.specs]  # every spec checked before any training
    train = train_config(args)
    data = prepare(data_options(args))
    specs = [(name, data.deployed(spec)) for name, spec in specs]
    costs = {name: count_cost(spec) for name, spec in specs}
    rows: list[dict] = []
    bar = progress_bar(len(specs) * args.seeds, "trainings", "training", args.quiet)
    for replicate in range(args.seeds):  # seed-major: every spec has k seeds before any has k + 1
        for name, spec in specs:
            row = measure(name, spec, costs[name], data, train, args.seed, replicate)
            rows.append(row)
            if args.json:
                print(json.dumps(row), flush=True)
            bar.update(1)
    bar.close()
    if not args.json:
        print(summary(rows, [name for name, _ in specs]))
    return 0

