"""Latency predictor: the per-block lookup table against measured batch-1 latency.

The table is filled from ``--fill`` specs sampled from the default space (each timed once,
whole, with its parts timed where they run), then ``--specs`` other sampled specs are
predicted and measured. The predictions are pure: nothing of an evaluated spec is run before
its prediction, and the table is frozen after filling. Parts of an evaluated spec that the
table holds are looked up; the others are predicted by the table's regression
(``search_space.latency.PartModel``), as the search's ``--budget-latency`` predicts them.

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
        errors, known_share, kinds, repeats = [], [], set(), []
        for seed in range(args.specs):
            spec = sampled(seed)
            parts = spec_parts(spec)
            known_share.append(sum(part.key in table.entries for part in parts) / len(parts))
            kinds |= {part.kind for part in parts}
            predicted = table.predict(spec, measure_unseen=False)
            measured = measure_latency(spec, args.threads).median_ms
            errors.append(predicted / measured - 1)
            if seed < 20:  # the measurement's own repeatability: the floor under any predictor's error
                repeats.append(abs(measure_latency(spec, args.threads).median_ms / measured - 1))
        model = table.model()
        unseen = sorted(kinds - set(model.kinds))
        print(f"parts of the evaluated specs found in the table: {100 * statistics.mean(known_share):.0f}% on average; "
              f"the rest predicted by the regression ({len(model.kinds)} kinds of part"
              + (f"; never seen: {', '.join(unseen)}" if unseen else "") + ")")
    print(f"the same spec measured twice ({len(repeats)} specs): |difference| median "
          f"{100 * statistics.median(repeats):.1f}%, worst {100 * max(repeats):.1f}%")
    within = sum(abs(e) <= 0.10 for e in errors)
    print(f"pure predictions: {len(errors)} specs; within +-10%: {within} ({100 * within / len(errors):.0f}%); "
          f"median |error| {100 * statistics.median(abs(e) for e in errors):.1f}%; worst "
          f"{100 * max(errors, key=abs):+.1f}%; mean {100 * statistics.mean(errors):+.1f}%")


if __name__ == "__main__":
    main()
