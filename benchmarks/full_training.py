"""A full training end to end, this tree against an earlier revision, one after the other.

    python benchmarks/full_training.py --before REV [--epochs 10] [--samples 20000] [--resolution 64]
        > benchmarks/outputs/full_training.txt

Runs ``python -m runners.train efficientnet-b0`` on Fashion-MNIST at ``--resolution`` with
``--samples`` training images for ``--epochs`` epochs, first from a ``git worktree`` of
``--before`` (in a temporary directory; its own code is imported, since ``python -m`` puts
the working directory first on the path), then from this tree, and prints each run's wall
time and training images per second end to end (data preparation, every epoch, evaluation
and checkpoints included). The bare step's images per second at the same size are in
``benchmarks/foundation.py``'s output.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


def timed_training(tree: Path, out: Path, epochs: int, samples: int, resolution: int) -> float:
    command = [sys.executable, "-m", "runners.train", "efficientnet-b0", "--epochs", str(epochs),
               "--max-train-samples", str(samples), "--proxy-resolution", str(resolution), "--out", str(out),
               "--quiet"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=tree, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"error: {' '.join(command)} in {tree} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the git revision to compare against")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--resolution", type=int, default=64)
    args = parser.parse_args()
    images = args.epochs * args.samples
    with tempfile.TemporaryDirectory() as scratch:
        before = Path(scratch) / "before"
        subprocess.run(["git", "-C", str(REPOSITORY), "worktree", "add", "--detach", str(before), args.before],
                       check=True, capture_output=True)
        try:
            seconds = {}
            for label, tree in ((f"before ({args.before})", before), ("this tree", REPOSITORY)):
                seconds[label] = timed_training(tree, Path(scratch) / "runs" / label.split()[0], args.epochs, args.samples,
                                                args.resolution)
                print(f"{label:28s} {seconds[label]:7.1f} s  {images / seconds[label]:6.1f} training images/s end to "
                      "end", flush=True)
        finally:
            subprocess.run(["git", "-C", str(REPOSITORY), "worktree", "remove", "--force", str(before)],
                           capture_output=True)
    first, second = seconds.values()
    print(f"runners.train efficientnet-b0, {args.epochs} epochs on {args.samples:,} Fashion-MNIST images at "
          f"{args.resolution}x{args.resolution}: this tree {first / second:.2f}x as fast as {args.before}")


if __name__ == "__main__":
    main()
