"""Latency predictor: the per-block lookup table against measured batch-1 latency.

The table is filled from ``--fill`` specs sampled from the default space (each timed once,
whole, with its parts timed where they run), then ``--specs`` other sampled specs are
predicted and measured. A part of an evaluated spec missing from the table is timed in that
spec's own run, so the prediction is shown two ways: for every spec, and for the specs all
of whose parts were already in the table (a pure prediction, nothing of the spec run).

    python benchmarks/latency.py [--fill 50] [--specs 50] [--threads 1]

Uses its own table file under the run's temporary directory; record the figures in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

from search_space import load_space
from search_space.latency import LatencyTable, measure_latency, spec_parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fill", type=int, default=50)
    parser.add_argument("--specs", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    space = load_space("default")

    def sampled(seed: int):
        return dataclasses.replace(space.sample(seed), in_channels=1, num_classes=10)

    with tempfile.TemporaryDirectory() as folder:
        table = LatencyTable(threads=args.threads, path=Path(folder) / "table.json")
        start = time.perf_counter()
        for seed in range(10_000, 10_000 + args.fill):
            table.predict(sampled(seed))
        print(f"table: {len(table.entries)} parts from {args.fill} specs in {time.perf_counter() - start:.0f} s, "
              f"{args.threads} thread(s), batch 1")
        errors, pure = [], []
        for seed in range(args.specs):
            spec = sampled(seed)
            known = all(part.key in table.entries for part in spec_parts(spec))
            predicted = table.predict(spec)
            measured = measure_latency(spec, args.threads).median_ms
            errors.append(predicted / measured - 1)
            if known:
                pure.append(errors[-1])
    for name, values in (("all specs", errors), ("specs whose parts were all in the table", pure)):
        if not values:
            print(f"{name}: none")
            continue
        within = sum(abs(e) <= 0.10 for e in values)
        print(f"{name}: {len(values)}; within +-10%: {within} ({100 * within / len(values):.0f}%); median |error| "
              f"{100 * statistics.median(abs(e) for e in values):.1f}%; worst {100 * max(values, key=abs):+.1f}%; "
              f"mean {100 * statistics.mean(values):+.1f}%")


if __name__ == "__main__":
    main()
