"""What a default search's answer is worth: its reported best against the alternatives a user has.

    python benchmarks/search_answers.py [--seeds 0 1 2 3 4] [--device cuda]
        > benchmarks/outputs/search_answers.txt

For each seed ``s`` the default search runs (``python -m runners.search --budget-flops 400M
--seed s``: screening, then the finalists rung and the tie-break by cost). Four networks of the
same 400M-MAC window are then retrained with the proxy-fidelity reference recipe
(``fidelity.REFERENCE``: 64x64, 6 epochs on 20,000 images, scored on the test split):

* ``reported``: the search's ``best.yaml`` (the cheapest finalist not separated from the rung's winner);
* ``screening top``: the screening's single best trial (what the search reported before the rung);
* ``random``: a random candidate of the space projected into the window (seeded by ``s``);
* ``B0 projected``: EfficientNet-B0's layout projected into the window.

Paired by seed, the script prints the reported best minus each other with a 95% interval, and
each network's cost (parameters, MACs, and batch-1 latency on one thread predicted by this
machine's latency table, ``runners.search --budget-latency``'s). Search runs are ordinary run directories under
``--out`` (resumable); retrainings share ``benchmarks/search/retrained.jsonl`` with
``benchmarks/search.py`` (one line per distinct network: a kill loses the training in flight).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from fidelity import REFERENCE, recipe_data  # benchmarks/ is the script's own directory
from search import LOG, network_key, retrain

from infra.statistics import mean_interval, paired_difference
from runners.flags import checked_device
from runners.search.budget import latency_table, project
from runners.search.command import main as search
from runners.search.records import Objective, read_records
from search_space import count_cost, load_spec, load_space, spec_from_dict
from search_space.space import replace_fixed

BUDGET = 400_000_000
NETWORKS = ("reported", "screening top", "random", "B0 projected")


def random_candidate(seed: int):
    """The first candidate of the default space, sampled from ``seed``, that projects into the window."""
    space = replace_fixed(load_space("default"), in_channels=1, num_classes=10)
    for draw in range(1000):
        projection = project(space.sample(10_000 * seed + draw), BUDGET)
        if projection.accepted:
            return projection.spec
    raise SystemExit("no random candidate of the default space lands in the window")


def answers(seed: int, out: Path) -> dict:
    run = out / f"default-seed{seed}"
    code = search(["--budget-flops", "400M", "--seed", str(seed), "--out", str(run), "--quiet"])
    if code:
        raise SystemExit(f"search {run} failed with exit code {code}")
    top = Objective().best(read_records(run))
    b0 = project(dataclasses.replace(load_spec("efficientnet-b0"), in_channels=1, num_classes=10), BUDGET)
    if not b0.accepted:
        raise SystemExit(f"EfficientNet-B0 does not project into the window: {b0.action}")
    return {"reported": load_spec(run / "best.yaml"), "screening top": spec_from_dict(top.spec_dict),
            "random": random_candidate(seed), "B0 projected": b0.spec}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path("runs/benchmark-answers"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    LOG.parent.mkdir(parents=True, exist_ok=True)
    device = checked_device(args.device)
    networks = {seed: answers(seed, args.out) for seed in args.seeds}
    data = recipe_data(REFERENCE)
    scores: dict[str, list[float]] = {name: [] for name in NETWORKS}
    costs: dict[str, list[tuple[int, int, float]]] = {name: [] for name in NETWORKS}
    table = latency_table(1)
    print(f"default search at 400M MACs, seeds {args.seeds}; each network retrained with the reference recipe "
          f"({REFERENCE.resolution[0]}x{REFERENCE.resolution[1]}, {REFERENCE.epochs} epochs on "
          f"{REFERENCE.train_samples:,} images, test split):")
    for seed, found in networks.items():
        for name in NETWORKS:
            spec = found[name]
            row = retrain(spec, network_key(spec), data, device)
            cost = count_cost(spec)
            scores[name].append(row["accuracy"])
            latency = table.predict(spec)
            costs[name].append((cost.params, cost.macs, latency))
            print(f"  seed {seed} {name:13s} reference {row['accuracy']:.4f}  {cost.params / 1e6:5.2f}M params  "
                  f"{cost.macs / 1e6:.0f}M MACs  {latency:5.1f} ms  {row['blocks']}", flush=True)
    for name in NETWORKS:
        params, latencies = [c[0] for c in costs[name]], [c[2] for c in costs[name]]
        print(f"  {name:13s} reference mean {mean_interval(scores[name])}; parameters mean "
              f"{sum(params) / len(params) / 1e6:.2f}M; predicted latency mean {sum(latencies) / len(latencies):.1f} ms")
    def change(name: str, column: int) -> float:
        """The reported best's cost against ``name``'s, in percent, averaged over seeds."""
        pairs = list(zip(costs["reported"], costs[name]))
        return 100 * sum(ours[column] / theirs[column] - 1 for ours, theirs in pairs) / len(pairs)

    for name in NETWORKS[1:]:
        difference = paired_difference(scores["reported"], scores[name])
        print(f"  reported - {name}: {difference.describe()}: {difference.verdict}; parameters "
              f"{change(name, 0):+.0f}%, predicted latency {change(name, 2):+.0f}% on average")


if __name__ == "__main__":
    main()
