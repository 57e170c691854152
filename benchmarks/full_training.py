"""A full training end to end, this tree against an earlier revision, one after the other.

    python benchmarks/full_training.py --before REV [--epochs 10] [--samples 20000] [--resolution 64]
        [--augmentation M] > benchmarks/outputs/full_training.txt

Runs ``python -m runners.train efficientnet-b0`` on Fashion-MNIST at ``--resolution`` (N or
HxW, e.g. 128x431 for a spectrogram's shape) with ``--samples`` training images for
``--epochs`` epochs (``--augmentation``: with the random zoom and shift), first from a
``git worktree`` of ``--before`` (in a temporary directory; its own code is imported, since
``python -m`` puts the working directory first on the path), then from this tree, and
prints each run's wall time and training images per second end to end (data preparation,
every epoch, evaluation and checkpoints included) and its peak resident memory. Each run gets
this shell's environment without ``THP_MEM_ALLOC_ENABLE``, so that each tree requests huge
pages (``infra.huge_pages``) or not as its own code does. The bare step's images per second
at the same size are in ``benchmarks/foundation.py``'s output.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from infra.huge_pages import HUGE_PAGES_VARIABLE
from infra.units import parse_resolution

REPOSITORY = Path(__file__).resolve().parent.parent


def timed_training(tree: Path, out: Path, epochs: int, samples: int, resolution: str,
                   augmentation: float | None) -> tuple[float, float]:
    """Wall seconds and peak resident memory in GiB of one ``runners.train`` in ``tree``."""
    command = [sys.executable, "-m", "runners.train", "efficientnet-b0", "--epochs", str(epochs),
               "--max-train-samples", str(samples), "--proxy-resolution", resolution, "--out", str(out),
               "--quiet", *([] if augmentation is None else ["--augmentation", str(augmentation)])]
    env = {key: value for key, value in os.environ.items() if key != HUGE_PAGES_VARIABLE}
    with tempfile.TemporaryFile("w+") as errors:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=errors, text=True)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak memory, not the largest child's so far
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            errors.seek(0)
            raise SystemExit(f"error: {' '.join(command)} in {tree} exited {child.returncode}: "
                             f"{errors.read().strip()[-500:]}")
    return seconds, usage.ru_maxrss / 2**20  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the git revision to compare against")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--resolution", default="64", help="N or HxW (default: %(default)s)")
    parser.add_argument("--augmentation", type=float, default=None, help="runners.train's --augmentation")
    args = parser.parse_args()
    height, width = parse_resolution(args.resolution)
    images = args.epochs * args.samples
    with tempfile.TemporaryDirectory() as scratch:
        before = Path(scratch) / "before"
        subprocess.run(["git", "-C", str(REPOSITORY), "worktree", "add", "--detach", str(before), args.before],
                       check=True, capture_output=True)
        try:
            seconds = {}
            for label, tree in ((f"before ({args.before})", before), ("this tree", REPOSITORY)):
                seconds[label], peak = timed_training(tree, Path(scratch) / "runs" / label.split()[0], args.epochs,
                                                      args.samples, args.resolution, args.augmentation)
                print(f"{label:28s} {seconds[label]:7.1f} s  {images / seconds[label]:6.1f} training images/s end to "
                      f"end, peak memory {peak:.1f} GiB", flush=True)
        finally:
            subprocess.run(["git", "-C", str(REPOSITORY), "worktree", "remove", "--force", str(before)],
                           capture_output=True)
    first, second = seconds.values()
    augmented = "" if args.augmentation is None else f", augmentation {args.augmentation:g}"
    print(f"runners.train efficientnet-b0, {args.epochs} epochs on {args.samples:,} Fashion-MNIST images at "
          f"{height}x{width}{augmented}: this tree {first / second:.2f}x as fast as {args.before}")


if __name__ == "__main__":
    main()
