"""Grid-proxy fidelity: do the scaling grid's short trainings rank scaling directions as a longer training does?

    python benchmarks/grid_fidelity.py train [--bases search,sampled] [--recipes grid,longer,reference]
                                             [--device cuda] [--workers 8]
    python benchmarks/grid_fidelity.py report          # benchmarks/outputs/grid_fidelity.txt

For two bases of the default space (the README search's winner, ``base-search.yaml``, and one
more candidate of the 400M-MAC window from ``benchmarks/fidelity/panel.json``), ten networks
at phi = 1 are trained the way ``scaling.fit`` trains its grid (each at the proxy resolution
times its resolution multiplier; ``scaling.grid_run``): the base itself (phi = 0), the three
single-dimension corners, the paper's point, the default run's chosen point (search base) and
four or five more points of the share simplex. Each network is trained with each recipe:

* ``grid``: the default grid proxy of ``scaling.fit`` (1 epoch on 1,024 images, batch 16),
  4 seeds;
* ``longer``: 2 epochs on 2,048 images (4x the images), batch 16, 4 seeds;
* ``reference``: 4 epochs on 8,192 images (32x the grid proxy's images), batch 64, learning
  rate 3e-3, scored on all 6,000 validation images, 2 seeds.

Every training is one line of ``benchmarks/grid_fidelity/results.jsonl``, appended as it
finishes (rerunning skips what is there: resumable). ``report`` prints, per base and recipe,
Kendall's tau of the recipe's mean against the reference's mean over the ten networks (with a
bootstrap interval), the reference's own seed-vs-seed tau, and each verdict "chosen vs <corner>"
of the default run as the recipe and the reference see it.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from infra.files import append_json_line, read_json_lines
from infra.statistics import paired_difference, rank_agreement
from runners.data.sources import DataOptions, prepare
from runners.learning.loop import TrainConfig
from scaling.compound import PAPER_COEFFICIENTS, Coefficients
from scaling.grid_run import ProxyEvaluator, Task, base_task, law_tasks
from search_space import NetworkSpec, read_spec_file, spec_from_dict

DIRECTORY = Path(__file__).parent / "grid_fidelity"
RESULTS = DIRECTORY / "results.jsonl"
DEPTH_RULE = "total"  # scaling.fit's default


@dataclass(frozen=True)
class Recipe:
    epochs: int
    train_samples: int
    val_samples: int | None
    batch_size: int
    learning_rate: float
    seeds: int


RECIPES = {
    "grid": Recipe(1, 1024, 512, 16, 3e-3, 4),  # scaling.fit's GRID_PROXY
    "longer": Recipe(2, 2048, 512, 16, 3e-3, 4),
    "reference": Recipe(4, 8192, None, 64, 3e-3, 2),
}

# The default run's chosen shares on the search base (benchmarks/outputs/scaling_default_varpro.txt).
DEFAULT_CHOSEN = (0.0, 0.455, 0.545)
CORNERS = {"depth only": (1.0, 0.0, 0.0), "width only": (0.0, 1.0, 0.0), "resolution only": (0.0, 0.0, 1.0)}
OTHERS = {"d/w 0.5/0.5": (0.5, 0.5, 0.0), "d/r 0.5/0.5": (0.5, 0.0, 0.5), "w/r 0.5/0.5": (0.0, 0.5, 0.5),
          "d/w/r 0.3/0.3/0.4": (0.3, 0.3, 0.4), "d/w/r 0.6/0.2/0.2": (0.6, 0.2, 0.2)}


def bases() -> dict[str, NetworkSpec]:
    panel = json.loads((Path(__file__).parent / "fidelity" / "panel.json").read_text())
    return {"search": read_spec_file(DIRECTORY / "base-search.yaml"),
            "sampled": spec_from_dict(panel[len(panel) // 3]["spec"])}


def points(base_name: str) -> dict[str, Coefficients | None]:
    """The networks of a base, by name: None is the base itself (phi = 0)."""
    named: dict[str, Coefficients | None] = {"base": None}
    named.update({name: Coefficients.from_shares(*shares) for name, shares in CORNERS.items()})
    named["paper"] = PAPER_COEFFICIENTS
    others = dict(OTHERS)
    if base_name == "search":
        named["chosen (default run)"] = Coefficients.from_shares(*DEFAULT_CHOSEN)
        others.pop("d/w/r 0.6/0.2/0.2")
    named.update({name: Coefficients.from_shares(*shares) for name, shares in others.items()})
    return named


def task(base: NetworkSpec, coefficients: Coefficients | None, seed: int) -> Task:
    if coefficients is None:
        return base_task(base, seed)
    return law_tasks(base, coefficients, (1.0,), 1, first_seed=seed, depth_rule=DEPTH_RULE)[0]


def jobs(recipes: list[str], base_names: list[str]) -> list[tuple[str, str, str, int]]:
    done = {(row["base"], row["point"], row["recipe"], row["seed"]) for row in read_json_lines(RESULTS)} \
        if RESULTS.exists() else set()
    todo = [(base, point, recipe, seed) for recipe in recipes for base in base_names for point in points(base)
            for seed in range(RECIPES[recipe].seeds)]
    return [job for job in todo if job not in done]


def run_jobs(batch: list[tuple[str, str, str, int]], data: str | None, device: str) -> list[dict]:
    """Train a worker's share of the jobs (one evaluator per recipe, data prepared once per size)."""
    evaluators, specs, rows = {}, bases(), []
    for base_name, point, recipe_name, seed in batch:
        recipe = RECIPES[recipe_name]
        if recipe_name not in evaluators:
            options = DataOptions(source=data, max_train_samples=recipe.train_samples,
                                  max_val_samples=recipe.val_samples)
            train = TrainConfig(epochs=recipe.epochs, batch_size=recipe.batch_size,
                                learning_rate=recipe.learning_rate, device=device)
            evaluators[recipe_name] = ProxyEvaluator(options, train, prepared := prepare(options))
            specs = {name: prepared.deployed(spec) for name, spec in specs.items()}  # as scaling.fit adapts its base
        evaluation = evaluators[recipe_name].evaluate(task(specs[base_name], points(base_name)[point], seed))
        row = {"base": base_name, "point": point, "recipe": recipe_name, "seed": seed, "metric": evaluation.metric,
               "macs": evaluation.macs, "proxy_resolution": evaluation.proxy_resolution,
               "seconds": evaluation.seconds, "device": device, "failure": evaluation.failure_reason}
        append_json_line(RESULTS, row)
        rows.append(row)
    return rows


def train(args) -> None:
    todo = jobs(args.recipes.split(","), args.bases.split(","))
    print(f"{len(todo)} trainings to run on {args.workers} worker(s), device {args.device}", flush=True)
    # Longest first (the reference), spread round-robin so every worker gets a share of each kind.
    todo.sort(key=lambda job: -RECIPES[job[2]].epochs * RECIPES[job[2]].train_samples)
    batches = [todo[i::args.workers] for i in range(args.workers)]
    with concurrent.futures.ProcessPoolExecutor(args.workers) as pool:
        for rows in pool.map(run_jobs, batches, [args.data] * len(batches), [args.device] * len(batches)):
            print(f"worker finished {len(rows)} trainings", flush=True)


def _means(rows: list[dict], base: str, recipe: str) -> dict[str, dict[int, float]]:
    by_point: dict[str, dict[int, float]] = {}
    for row in rows:
        if row["base"] == base and row["recipe"] == recipe and row["metric"] is not None:
            by_point.setdefault(row["point"], {})[row["seed"]] = row["metric"]
    return by_point


def report(_args) -> None:
    rows = list(read_json_lines(RESULTS))
    for base in bases():
        reference = _means(rows, base, "reference")
        names = [name for name in points(base) if name in reference]
        if len(names) < 4:
            print(f"base {base}: {len(names)} networks have a reference: too few to report")
            continue
        reference_mean = [np.mean(list(reference[name].values())) for name in names]
        print(f"\nbase {base}: {len(names)} networks at phi = 1; reference accuracy "
              f"{min(reference_mean):.4f} .. {max(reference_mean):.4f}")
        both = [name for name in names if {0, 1} <= set(reference[name])]
        if len(both) >= 4:
            tau = rank_agreement([reference[n][0] for n in both], [reference[n][1] for n in both]).kendall
            print(f"  reference seed 0 vs seed 1: Kendall {tau.mean:+.2f} [{tau.low:+.2f}, {tau.high:+.2f}]")
        for recipe in ("grid", "longer"):
            measured = _means(rows, base, recipe)
            shared = [name for name in names if name in measured]
            if len(shared) < 4:
                continue
            ref = [np.mean(list(reference[n].values())) for n in shared]
            tau = rank_agreement(ref, [np.mean(list(measured[n].values())) for n in shared]).kendall
            one = rank_agreement(ref, [measured[n].get(0, np.nan) for n in shared]).kendall
            seconds = np.mean([r["seconds"] for r in rows if r["base"] == base and r["recipe"] == recipe])
            print(f"  {recipe:9} mean of {RECIPES[recipe].seeds} seeds vs reference: Kendall {tau.mean:+.2f} "
                  f"[{tau.low:+.2f}, {tau.high:+.2f}]; one seed: {one.mean:+.2f} [{one.low:+.2f}, {one.high:+.2f}]; "
                  f"{seconds:.1f} s per training on {rows[0]['device']}")
        print("  verdicts (row minus corner at phi = 1, paired by seed; mean [95% interval]):")
        for recipe in ("grid", "longer", "reference"):
            measured = _means(rows, base, recipe)
            for winner in [name for name in ("chosen (default run)", *CORNERS) if name in measured]:
                parts = []
                for corner in CORNERS:
                    seeds = sorted(set(measured[winner]) & set(measured.get(corner, {})))
                    if corner != winner and len(seeds) >= 2:
                        difference = paired_difference([measured[winner][s] for s in seeds],
                                                       [measured[corner][s] for s in seeds]).difference
                        parts.append(f"vs {corner} {difference.mean:+.4f} [{difference.low:+.4f}, "
                                     f"{difference.high:+.4f}]")
                print(f"    {recipe:9} {winner}: " + "; ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("train")
    run.add_argument("--recipes", default="grid,longer,reference")
    run.add_argument("--bases", default="search,sampled")
    run.add_argument("--device", default="cpu")
    run.add_argument("--workers", type=int, default=1)
    run.add_argument("--data", default=None, help="Fashion-MNIST IDX directory; default: the Debian package's")
    run.set_defaults(handler=train)
    commands.add_parser("report").set_defaults(handler=report)
    args = parser.parse_args()
    args.handler(args)


if __name__ == "__main__":
    main()
