"""Search benchmark on Fashion-MNIST, all measured in this one run:

(a) TPE vs random search at an equal number of trials: best reward per seed;
(b) the searched base vs efficientnet-b0 projected to the same budget, each retrained
    with one longer recipe and scored on the test split: mean and std over seeds;
(c) how well each zero-cost score ranks the trained candidates of (a) (Spearman).

    python benchmarks/search.py [--trials 12] [--seeds 0 1 2] [--out runs/benchmark-search]

Search runs are ordinary run directories under --out, so an interrupted benchmark
resumes where it stopped. Record the printed figures in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import pandas as pd

from runners.budget import project
from search_space import parse_macs
from runners.data import DataOptions, prepare
from runners.results import read_records
from runners.search import main as search
from runners.training import TrainConfig, train_and_evaluate
from runners.zero_cost import SCORES, zero_cost_scores
from search_space import count_cost, load_spec, spec_from_dict, stages_summary


def run_searches(args) -> dict[str, list[float]]:
    best = {}
    for sampler in ("tpe", "random"):
        for seed in args.seeds:
            out = args.out / f"{sampler}-seed{seed}"
            code = search(["--budget-flops", args.budget, "--sampler", sampler, "--seed", str(seed),
                           "--trials", str(args.trials), "--out", str(out), "--quiet"])
            if code:
                raise SystemExit(f"search {out} failed with exit code {code}")
            rewards = [r.reward for r in read_records(out) if r.state == "COMPLETE" and r.reward is not None]
            best.setdefault(sampler, []).append(max(rewards))
    return best


def zero_cost_correlations(args, data) -> pd.DataFrame:
    rows = []
    for run in sorted(args.out.glob("*-seed*")):
        for record in read_records(run):
            if record.state == "COMPLETE" and record.spec_dict:
                scores = zero_cost_scores(spec_from_dict(record.spec_dict), data, seed=record.number)
                rows.append({"run": run.name, "accuracy": record.proxy_accuracy, **scores})
    frame = pd.DataFrame(rows)
    frame.to_csv(args.out / "zero_cost.csv", index=False)
    return frame


def retrain(args, data, budget: int) -> dict[str, list[float]]:
    tpe_runs = [args.out / f"tpe-seed{seed}" for seed in args.seeds]
    searched_record = max((r for run in tpe_runs for r in read_records(run) if r.state == "COMPLETE"),
                          key=lambda r: r.reward)
    searched = spec_from_dict(searched_record.spec_dict)
    b0 = data.deployed(load_spec("efficientnet-b0"))
    baseline = project(b0, budget).spec
    recipe = TrainConfig(epochs=args.final_epochs)
    print(f"retraining with {args.final_epochs} epochs on {len(data.train_x)} samples, test split of {len(data.test_x)}:")
    print(f"  searched: {count_cost(searched).macs / 1e6:.1f}M MACs, {count_cost(searched).params:,} params "
          f"(trial {searched_record.number}: {searched_record.spec})")
    print(f"  efficientnet-b0 projected: {count_cost(baseline).macs / 1e6:.1f}M MACs, {count_cost(baseline).params:,} params "
          f"({project(b0, budget).action})")
    cache = args.out / "retrain.json"
    results = json.loads(cache.read_text()) if cache.exists() else {}
    for name, spec in (("searched", searched), ("efficientnet-b0 projected", baseline)):
        for seed in args.seeds:
            key = f"{name}/{seed}/{stages_summary(spec)}"  # a new best after more search retrains
            if key not in results:
                results[key] = train_and_evaluate(spec, data, recipe, seed=seed, evaluate_on="test").accuracy
                cache.write_text(json.dumps(results, indent=2))
    specs = {"searched": searched, "efficientnet-b0 projected": baseline}
    return {name: [results[f"{name}/{seed}/{stages_summary(spec)}"] for seed in args.seeds] for name, spec in specs.items()}


def describe(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} +- {spread:.4f}  ({', '.join(f'{v:.4f}' for v in values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget", default="400M")
    parser.add_argument("--final-epochs", type=int, default=4)
    parser.add_argument("--final-train-samples", type=int, default=8000)
    parser.add_argument("--out", type=Path, default=Path("runs/benchmark-search"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    best = run_searches(args)
    print(f"(a) best reward after {args.trials} trials, budget {args.budget}, seeds {args.seeds}:")
    for sampler, values in best.items():
        print(f"  {sampler:7s} {describe(values)}")
    print(f"  TPE / random mean best reward: {statistics.mean(best['tpe']) / statistics.mean(best['random']):.3f}")

    search_data = prepare(DataOptions(max_train_samples=2048, max_val_samples=1024))
    frame = zero_cost_correlations(args, search_data)
    print(f"(c) Spearman rank correlation of zero-cost scores with trained proxy accuracy, "
          f"{len(frame)} complete trials:")
    for score in SCORES:
        # Spearman = Pearson on ranks (no SciPy needed).
        print(f"  {score:9s} {frame[score].rank().corr(frame['accuracy'].rank()):+.3f}")

    final_data = prepare(DataOptions(max_train_samples=args.final_train_samples, max_val_samples=1024))
    accuracies = retrain(args, final_data, parse_macs(args.budget))
    print(f"(b) test accuracy, mean +- std over seeds {args.seeds}:")
    for name, values in accuracies.items():
        print(f"  {name:26s} {describe(values)}")


if __name__ == "__main__":
    main()
