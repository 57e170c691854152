"""Where a full training's time goes, with and without huge pages for PyTorch's tensors.

    python benchmarks/training_phases.py [--sizes 64x64:8192,128x431:1024] [--batch 128]
        [--val 1024] > benchmarks/outputs/training_phases.txt

One epoch of ``runners.train``'s loop (B0 on Fashion-MNIST resized to each size ``HxW``, on
``IMAGES`` training images at ``--batch``, the training default of 128), phase by phase: the
training steps (the first, which pays the kernels' and the allocator's warm-up, the median of
the rest, and the whole epoch's images per second), batch-norm recalibration on 1,024 images and the evaluation of ``--val`` validation
images (recalibration in batches of 512, evaluation at the batch the loop picks), each with its minor page faults, and the
process's peak resident memory. Every size runs in two fresh processes, one after the other:
``THP_MEM_ALLOC_ENABLE=0`` (glibc's pages of 4 KiB) and ``=1`` (what every command of the suite
requests, :mod:`infra.huge_pages`); PyTorch reads the variable at its first allocation, so it
cannot change within one process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from infra.huge_pages import HUGE_PAGES_VARIABLE
from infra.units import parse_resolution

CHILD = "--child"


def faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def timed(function) -> tuple[float, int]:
    """Seconds and minor page faults of ``function()``."""
    before, start = faults(), time.perf_counter()
    function()
    return time.perf_counter() - start, faults() - before


def measure_phases(size: tuple[int, int], batch: int, train: int, val: int) -> dict:
    """One epoch's phases in this process (see the module's docstring)."""
    import torch

    from runners.data.sources import DataOptions, prepare
    from runners.learning.loop import TrainConfig, TrainingLoop, evaluate_with_loss, recalibrate_batch_norm
    from search_space import build_model, load_spec

    data = prepare(DataOptions(proxy_resolution=size, max_train_samples=train, max_val_samples=val))
    config = TrainConfig(epochs=1, batch_size=batch)
    torch.manual_seed(0)
    loop = TrainingLoop(build_model(data.deployed(load_spec("efficientnet-b0"))), data, config, seed=0)
    marks = [time.perf_counter()]
    step_faults = faults()
    loop.train_epoch(on_step=lambda: marks.append(time.perf_counter()))
    step_faults = faults() - step_faults
    steps = [end - start for start, end in zip(marks, marks[1:])]
    calibration = data.train_x[: config.calibration_samples]  # which images does not change the time
    recalibration, recalibration_faults = timed(lambda: recalibrate_batch_norm(
        loop.model, calibration, config.calibration_batch_size, config.device, loop.layout))
    evaluation, evaluation_faults = timed(lambda: evaluate_with_loss(
        loop.model, data.val_x, data.val_y, loop.evaluation_batch(), config.device, loop.layout))
    return {"first_step": steps[0], "step": statistics.median(steps[1:]), "steps": len(steps),
            "epoch_images_per_second": len(data.train_x) / (marks[-1] - marks[0]),
            "step_faults": step_faults / len(steps), "recalibration": recalibration,
            "calibration_images": len(calibration), "recalibration_faults": recalibration_faults,
            "evaluation": evaluation, "val_images": len(data.val_x), "evaluation_faults": evaluation_faults,
            "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


def run_child(size: str, images: int, args: argparse.Namespace, huge_pages: bool) -> dict:
    env = {**os.environ, HUGE_PAGES_VARIABLE: "1" if huge_pages else "0"}
    done = subprocess.run([sys.executable, __file__, CHILD, size, str(args.batch), str(images), str(args.val)],
                          env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"error: the {size} measurement exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.splitlines()[-1])


def report(size: str, batch: int, huge_pages: bool, phases: dict) -> None:
    label = "huge pages (the suite's default)" if huge_pages else "4 KiB pages (THP_MEM_ALLOC_ENABLE=0)"
    print(f"  {label}")
    print(f"    training step, batch {batch}: first {phases['first_step']:.2f} s, then {phases['step']:.3f} s "
          f"({batch / phases['step']:,.1f} images/s; median of {phases['steps'] - 1}), "
          f"{phases['step_faults'] / 1e3:,.0f}k page faults a step; the epoch "
          f"{phases['epoch_images_per_second']:,.1f} images/s")
    print(f"    batch-norm recalibration, {phases['calibration_images']:,} images: {phases['recalibration']:.2f} s, "
          f"{phases['recalibration_faults'] / 1e3:,.0f}k page faults")
    print(f"    evaluation, {phases['val_images']:,} images: {phases['evaluation']:.2f} s "
          f"({phases['val_images'] / phases['evaluation']:,.1f} images/s), "
          f"{phases['evaluation_faults'] / 1e3:,.0f}k page faults")
    print(f"    peak memory {phases['peak_gib']:.1f} GiB", flush=True)


def main() -> None:
    if sys.argv[1:2] == [CHILD]:
        size, batch, train, val = sys.argv[2], *map(int, sys.argv[3:6])
        print(json.dumps(measure_phases(parse_resolution(size), batch, train, val)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="64x64:8192,128x431:1024",
                        help="HxW:IMAGES,...: sizes and their training images (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--val", type=int, default=1024, help="validation images (default: %(default)s)")
    args = parser.parse_args()
    for item in args.sizes.split(","):
        size, images = item.split(":")
        height, width = parse_resolution(size)
        print(f"efficientnet-b0 at 1x{height}x{width}, one epoch of runners.train's loop on {int(images):,} "
              "Fashion-MNIST images, 2 threads:", flush=True)
        results = {}
        for huge_pages in (False, True):
            results[huge_pages] = run_child(size, int(images), args, huge_pages)
            report(size, args.batch, huge_pages, results[huge_pages])
        off, on = results[False], results[True]
        print(f"  huge pages: training step {off['step'] / on['step']:.2f}x (the epoch "
              f"{on['epoch_images_per_second'] / off['epoch_images_per_second']:.2f}x), recalibration "
              f"{off['recalibration'] / on['recalibration']:.2f}x, evaluation {off['evaluation'] / on['evaluation']:.2f}x "
              f"as fast; peak memory {on['peak_gib'] - off['peak_gib']:+.1f} GiB", flush=True)


if __name__ == "__main__":
    main()
