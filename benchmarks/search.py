"""Search benchmark (issue 9, item 4): TPE vs random search at an equal number of trials,
over paired seeds, each search's best retrained with the proxy-fidelity reference recipe.

    python benchmarks/search.py [--trials 12] [--seeds 0 1 2 3 4] [--samplers tpe,random]

For each seed ``s`` every sampler runs ``python -m runners.search --budget-flops 400M --seed s``
with the search's default proxy (plus ``--search-args``). One seed gives every sampler the same
data split and training streams, so the samplers are compared paired by seed. Each search's
``best.yaml`` is then trained once with ``fidelity.REFERENCE`` (64x64, 6 epochs on 20,000
images, test split; the same training seed for every network, as on the fidelity panel).

Search runs are ordinary run directories under ``--out`` (resumable). The retrainings append
to ``benchmarks/search/retrained.jsonl`` (one line per distinct network, kept in the repository:
a kill loses the training in flight only, and two searches that find the same network share
its training). The printed figures go into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

from fidelity import REFERENCE, recipe_data, train_with  # benchmarks/ is the script's own directory

from infra.files import append_json_line, read_json_lines
from infra.statistics import mean_interval, paired_difference
from runners.flags import checked_device
from runners.search.command import main as search
from runners.search.records import read_records
from search_space import count_cost, load_spec, spec_to_dict, stages_summary

LOG = Path(__file__).parent / "search" / "retrained.jsonl"


def network_key(spec) -> str:
    """The same network (whatever run found it) gets the same key: its training is shared."""
    return hashlib.sha256(json.dumps(spec_to_dict(spec), sort_keys=True).encode()).hexdigest()[:16]


def run_search(sampler: str, seed: int, args) -> Path:
    out = args.out / f"{sampler}-seed{seed}"
    code = search(["--budget-flops", args.budget, "--sampler", sampler, "--seed", str(seed), "--trials",
                   str(args.trials), "--out", str(out), "--quiet", *args.search_args.split()])
    if code:
        raise SystemExit(f"search {out} failed with exit code {code}")
    return out


def best_proxy_reward(run: Path) -> float:
    return max(r.reward for r in read_records(run) if r.state == "COMPLETE" and r.reward is not None)


def retrain(spec, key: str, data, device: str) -> dict:
    """The reference score of ``spec``, from ``LOG`` or trained now and appended to it."""
    known = {row["network"]: row for row in read_json_lines(LOG)} if LOG.exists() else {}
    if key not in known:
        start = time.perf_counter()
        result = train_with(REFERENCE, spec, data, device)
        append_json_line(LOG, {"network": key, "blocks": stages_summary(spec), "macs": count_cost(spec).macs,
                               "accuracy": result.accuracy, "seconds": time.perf_counter() - start,
                               "spec": spec_to_dict(spec)})
        known = {row["network"]: row for row in read_json_lines(LOG)}
    return known[key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--samplers", default="tpe,random", help="the first is compared with each other one")
    parser.add_argument("--budget", default="400M")
    parser.add_argument("--search-args", default="", help="more flags for every search, e.g. '--seeds 2'")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path("runs/benchmark-search"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    LOG.parent.mkdir(parents=True, exist_ok=True)
    samplers = args.samplers.split(",")
    device = checked_device(args.device)

    runs = {(sampler, seed): run_search(sampler, seed, args) for seed in args.seeds for sampler in samplers}
    data = recipe_data(REFERENCE)
    rows = {}
    for (sampler, seed), run in runs.items():
        spec = load_spec(run / "best.yaml")
        retrained = retrain(spec, network_key(spec), data, device)
        rows[sampler, seed] = {"proxy": best_proxy_reward(run), "reference": retrained["accuracy"],
                               "blocks": retrained["blocks"], "macs": retrained["macs"]}

    print(f"{args.trials} trials per search, budget {args.budget}, seeds {args.seeds}; each best retrained with "
          f"the reference recipe ({REFERENCE.resolution[0]}x{REFERENCE.resolution[1]}, {REFERENCE.epochs} epochs on "
          f"{REFERENCE.train_samples:,} images, test split):")
    for (sampler, seed), row in rows.items():
        print(f"  {sampler:7s} seed {seed}: proxy reward {row['proxy']:.4f}  reference {row['reference']:.4f}  "
              f"{row['macs'] / 1e6:.0f}M MACs  {row['blocks']}")
    for sampler in samplers:
        for measure in ("proxy", "reference"):
            print(f"  {sampler:7s} {measure:9s} mean {mean_interval([rows[sampler, s][measure] for s in args.seeds])}")
    first = samplers[0]
    for other in samplers[1:]:
        for measure in ("proxy", "reference"):
            difference = paired_difference([rows[first, s][measure] for s in args.seeds],
                                           [rows[other, s][measure] for s in args.seeds])
            print(f"  {first} - {other}, {measure}: {difference.describe()}: {difference.verdict}")


if __name__ == "__main__":
    main()
