"""What the finalists rung buys, replayed on the fidelity panel: no new training.

    python benchmarks/rung.py [--rung default] [--seeds 4,8] [--counts 2,3,4] [--window 16]
        [--draws 4000] > benchmarks/outputs/rung.txt

The fidelity panel (``benchmarks/fidelity/``) holds, for the same 24 candidates of one
400M-MAC window, the screening proxy and the rung recipes at several seeds each, and the
reference. A search is replayed many times on it: ``--window`` candidates drawn at random
stand for the trials a search completes; the screening proxy at one seed ranks them; the top
``K`` go to the rung, are scored there at ``m`` paired seeds and decided as
``runners.search.finalists`` decides (simultaneous paired intervals at the level of the
default race's planned looks, the cheapest by parameters of the set not separated from the
rung's winner). For every K and m the script reports the reference accuracy of the reported
best and of the rung's winner against the screening's top candidate, a random candidate of the
draw and the draw's best (the oracle), with the mean parameters of each and how often the rung
separated its winner. Screening and rung seeds are drawn at random among those measured other
than the reference's own seed (0), so seed luck is part of the replay and no replayed ranking
shares the reference's initial weights; where the rung is the screening's own recipe, its
seeds are drawn apart from the screening's (the search's rung uses seeds the screening never
used).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from fidelity import (DIRECTORY, REFERENCE_SEED, SCREENING, independent_agreement, logged_rows,  # benchmarks/: the script's own directory
                      reference_seeds, seed_tables)

from runners.search.finalists import RUNG_MAX_SEEDS, RUNG_MIN_SEEDS, Finalist, comparison_level, decide

RULES = ("reported", "rung winner", "screening top", "random", "oracle")


def independent_seeds(table: dict[int, dict[int, float]], size: int) -> list[int]:
    """The seeds that measured all ``size`` candidates, other than the reference's own (whose
    initial weights the reference shares)."""
    return sorted(s for s, values in table.items() if len(values) == size and s != REFERENCE_SEED)


def panel_table(directory: Path, rung: str) -> tuple[dict, dict, np.ndarray, np.ndarray]:
    """Screening accuracies by seed, rung accuracies by seed (candidate -> value), reference
    accuracy and parameters per candidate."""
    panel = json.loads((directory / "panel.json").read_text())
    reference = reference_seeds(directory)[REFERENCE_SEED]
    size = len(panel)
    rows = logged_rows(directory)
    return (seed_tables(rows, SCREENING), seed_tables(rows, rung),
            np.array([reference[c] for c in range(size)]), np.array([entry["params"] for entry in panel], dtype=float))


def replay(screening, rung_scores, reference, params, count: int, seeds: int, window: int, draws: int,
           same_recipe: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    size = len(reference)
    screening_seeds, rung_seeds = independent_seeds(screening, size), independent_seeds(rung_scores, size)
    level = comparison_level(count, RUNG_MAX_SEEDS - RUNG_MIN_SEEDS + 1)
    picked = {name: [] for name in RULES}
    cost = {name: [] for name in RULES}
    separated = 0
    for _ in range(draws):
        drawn = rng.choice(size, window, replace=False)
        screen_seed = rng.choice(screening_seeds)
        order = sorted(drawn, key=lambda c: -screening[screen_seed][c])
        finalists = order[:count]
        available = [s for s in rung_seeds if not (same_recipe and s == screen_seed)]
        chosen_seeds = rng.choice(available, seeds, replace=False)
        rows = [Finalist(int(c), str(c), screening[screen_seed][c], params[c],
                         tuple(rung_scores[s][c] for s in chosen_seeds)) for c in finalists]
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
    parser.add_argument("--rung", default=SCREENING, help="the rung's configuration in benchmarks/fidelity.py")
    parser.add_argument("--seeds", default="4,8", help="rung seeds per finalist (m)")
    parser.add_argument("--counts", default="2,3,4", help="finalists (K)")
    parser.add_argument("--window", type=int, default=16, help="candidates a replayed search completes")
    parser.add_argument("--draws", type=int, default=4000)
    args = parser.parse_args()
    screening, rung_scores, reference, params = panel_table(DIRECTORY, args.rung)
    for line in independent_agreement(DIRECTORY):
        print(line)
    print(f"replayed searches with the rung at {args.rung!r}: {args.draws} draws of {args.window} of the "
          f"{len(reference)} candidates; reference accuracy (mean over draws) and parameters of the network each "
          "rule returns:")
    # The screening seed that ranks a replay is never one of its rung seeds.
    independent = len(independent_seeds(rung_scores, len(reference))) - (args.rung == SCREENING)
    for seeds in (int(part) for part in args.seeds.split(",")):
        if seeds > independent:
            print(f"  m = {seeds} seeds: only {independent} rung seeds measured apart from the reference's; skipped")
            continue
        for count in (int(part) for part in args.counts.split(",")):
            picked, cost, separated = replay(screening, rung_scores, reference, params, count, seeds, args.window,
                                             args.draws, same_recipe=args.rung == SCREENING)
            base = np.array(picked["screening top"])
            parts = [f"{name} {np.mean(picked[name]):.4f} ({np.mean(np.array(picked[name]) - base):+.4f} vs top, "
                     f"{np.mean(cost[name]) / 1e6:.2f}M params)" for name in RULES]
            print(f"  K = {count}, m = {seeds} seeds: " + "; ".join(parts)
                  + f"; rung separated its winner in {separated:.0%}")


if __name__ == "__main__":
    main()
