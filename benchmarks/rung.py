"""What the finalists rung buys, replayed on the fidelity panel: no new training.

    python benchmarks/rung.py [--rung rung-64-2x4096] [--window 16] [--draws 4000]
        > benchmarks/outputs/rung.txt

The fidelity panel (``benchmarks/fidelity/``) holds, for the same 24 candidates of one
400M-MAC window, the default screening proxy at seeds 0-3, the rung's recipe at seeds 0-1 and
the reference. A search is replayed many times on it: ``--window`` candidates drawn at random
stand for the trials a search completes; the screening proxy at one seed ranks them; the top
``K`` go to the rung, are scored there at two paired seeds and decided as
``runners.search.finalists`` decides (simultaneous paired intervals, the cheapest by parameters
of the set not separated from the rung's winner). For every K the script reports the
reference accuracy of the reported best against the screening's top candidate, a random
candidate of the draw and the draw's best (the oracle), with the mean parameters of each and
how often the rung separated its winner. Screening and rung seeds are drawn at random among
those measured other than the reference's own seed (0), so seed luck is part of the replay and
no replayed ranking shares the reference's initial weights.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from fidelity import DIRECTORY, REFERENCE_SEED, SCREENING, independent_agreement, logged_rows, reference_seeds  # benchmarks/ is the script's own directory

from infra.statistics import rank_agreement
from runners.search.finalists import Finalist, comparison_level, decide


def panel_table(directory: Path, rung: str) -> tuple[dict, dict, np.ndarray, np.ndarray]:
    """Screening accuracies by seed, rung accuracies by seed (candidate -> value), reference
    accuracy and parameters per candidate."""
    rows = logged_rows(directory)
    screening, rung_scores = {}, {}
    for row in rows:
        if "accuracy" not in row or row.get("history"):
            continue
        if row["recipe"] == "default":
            screening.setdefault(row["seed"], {})[row["candidate"]] = row["accuracy"]
        elif row["recipe"] == rung:
            rung_scores.setdefault(row["seed"], {})[row["candidate"]] = row["accuracy"]
    panel = json.loads((directory / "panel.json").read_text())
    reference = reference_seeds(directory)[REFERENCE_SEED]
    size = len(panel)
    return (screening, rung_scores, np.array([reference[c] for c in range(size)]),
            np.array([entry["params"] for entry in panel], dtype=float))


def replay(screening, rung_scores, reference, params, count: int, window: int, draws: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    size = len(reference)
    # Seeds other than the reference's own, whose initial weights the reference shares.
    screening_seeds = sorted(s for s, values in screening.items() if len(values) == size and s != REFERENCE_SEED)
    rung_seeds = sorted(s for s, values in rung_scores.items() if len(values) == size and s != REFERENCE_SEED)
    level = comparison_level(count, 1)  # the default rung's budget makes one look at two seeds
    picked = {"reported": [], "rung winner": [], "screening top": [], "random": [], "oracle": []}
    cost = {name: [] for name in picked}
    separated = 0
    for _ in range(draws):
        drawn = rng.choice(size, window, replace=False)
        seed = rng.choice(screening_seeds)
        order = sorted(drawn, key=lambda c: -screening[seed][c])
        finalists = order[:count]
        first, second = rng.choice(rung_seeds, 2, replace=False)
        rows = [Finalist(int(c), str(c), screening[seed][c], params[c],
                         (rung_scores[first][c], rung_scores[second][c])) for c in finalists]
        decision = decide(rows, "params", level)
        separated += len(decision.equivalent) == 1
        choice = {"reported": decision.chosen, "rung winner": decision.winner, "screening top": order[0],
                  "random": rng.choice(drawn), "oracle": max(drawn, key=lambda c: reference[c])}
        for name, candidate in choice.items():
            picked[name].append(reference[candidate])
            cost[name].append(params[candidate])
    return picked, cost, separated / draws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rung", default="rung-64-2x4096", help="the rung's configuration in benchmarks/fidelity.py")
    parser.add_argument("--window", type=int, default=16, help="candidates a replayed search completes")
    parser.add_argument("--draws", type=int, default=4000)
    parser.add_argument("--counts", default="2,3,4,5")
    args = parser.parse_args()
    screening, rung_scores, reference, params = panel_table(DIRECTORY, args.rung)
    size = len(reference)
    for line in independent_agreement(DIRECTORY):
        if line.lstrip().startswith((SCREENING + ":", args.rung)):
            print(line)
    print(f"replayed searches: {args.draws} draws of {args.window} of the {size} candidates; reference accuracy "
          "(mean over draws) and parameters of the network each rule returns:")
    for count in (int(part) for part in args.counts.split(",")):
        picked, cost, separated = replay(screening, rung_scores, reference, params, count, args.window, args.draws)
        base = np.array(picked["screening top"])
        parts = []
        for name in picked:
            gain = np.array(picked[name]) - base
            parts.append(f"{name} {np.mean(picked[name]):.4f} ({np.mean(gain):+.4f} vs top, "
                         f"{np.mean(cost[name]) / 1e6:.2f}M params)")
        print(f"  K = {count}: " + "; ".join(parts) + f"; rung separated its winner in {separated:.0%}")


if __name__ == "__main__":
    main()
