"""Progressive learning against fixed-size training at equal wall time, on Fashion-MNIST.

Both arms run ``python -m runners.train`` itself, at the same final image size, dropout and
augmentation magnitude (EfficientNetV2 section 4.2 compares the same way). The fixed arm
trains ``--epochs`` epochs; the progressive arm (``--progressive``, 4 stages from half the
size) gets as many epochs as fit in the time the fixed arm took: its epochs at small sizes
are cheaper, which is the method's point. Its epoch count is chosen from a timing of a few
batches at each stage size before it starts; the seconds each arm really took are printed
next to its test accuracy. Seeds are paired (same split, same initial weights).

    python benchmarks/progressive.py [--spec efficientnet-b0] [--epochs 4] [--samples 20000] [--seeds 2]

Record the printed figures in BENCHMARKS.md. Time it on idle cores: the comparison is of time.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from infra.statistics import paired_difference
from runners.data.sources import DataOptions, Splits, prepare
from runners.learning.loop import Stage, TrainConfig, TrainingLoop
from runners.learning.progressive import progressive_schedule
from runners.train.command import main as train_main
from search_space import build_model, load_spec

RESOLUTION = (32, 32)
AUGMENTATION = 0.3


def seconds_per_sample(spec, data: Splits, config: TrainConfig, size: tuple[int, int], batches: int = 12) -> float:
    """Training seconds per image at ``size`` (after one warm-up batch), timed on a few batches."""
    count = config.batch_size * (batches + 1)
    subset = Splits(data.train_x[:count], data.train_y[:count], data.val_x, data.val_y, None, None,
                    data.num_classes, data.source)
    loop = TrainingLoop(build_model(spec), subset, config, seed=0)
    seen = []
    loop.train_epoch(Stage(resolution=size), on_step=lambda: seen.append(time.perf_counter()))
    return (seen[-1] - seen[0]) / (config.batch_size * (len(seen) - 1))


def progressive_epochs(spec, data: Splits, config: TrainConfig, fixed_seconds: float, fixed_epochs: int) -> int:
    """The most epochs whose progressive schedule is predicted to fit in ``fixed_seconds``.

    An epoch costs its training images at the stage's size plus the evaluation at the
    final size, which both arms pay alike (the fixed arm's epoch minus its training part)."""
    full = seconds_per_sample(spec, data, config, RESOLUTION)
    evaluation = max(0.0, fixed_seconds / fixed_epochs - full * len(data.train_x))
    costs = {}
    epochs = fixed_epochs
    while True:
        schedule = progressive_schedule(epochs + 1, RESOLUTION, spec.dropout, AUGMENTATION)
        for stage in schedule:
            if stage.resolution not in costs:
                costs[stage.resolution] = seconds_per_sample(spec, data, config, stage.resolution)
        predicted = sum(costs[stage.resolution] * len(data.train_x) + evaluation for stage in schedule)
        if predicted > fixed_seconds:
            return epochs
        epochs += 1


def train(arm: str, spec_name: str, epochs: int, samples: int, seed: int, out: Path) -> dict:
    flags = [spec_name, "--epochs", epochs, "--max-train-samples", samples, "--proxy-resolution", "32",
             "--augmentation", AUGMENTATION, "--seed", seed, "--quiet", "--out", out]
    if arm == "progressive":
        flags.append("--progressive")
    code = train_main([str(flag) for flag in flags])
    if code != 0:
        raise SystemExit(f"runners.train failed with exit code {code}")
    return json.loads((out / "result.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", default="efficientnet-b0")
    parser.add_argument("--epochs", type=int, default=4, help="epochs of the fixed-size arm")
    parser.add_argument("--samples", type=int, default=20_000, help="training images")
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    data = prepare(DataOptions(proxy_resolution=RESOLUTION, max_train_samples=args.samples))
    spec = data.deployed(load_spec(args.spec))
    config = TrainConfig(epochs=args.epochs, batch_size=128)
    print(f"{spec.name} on {len(data.train_x)} Fashion-MNIST images at {RESOLUTION[0]}x{RESOLUTION[1]}, "
          f"dropout {spec.dropout}, augmentation {AUGMENTATION}, {torch.get_num_threads()} threads")
    results = {"fixed": [], "progressive": []}
    with tempfile.TemporaryDirectory() as scratch:
        for seed in range(args.seeds):
            fixed = train("fixed", args.spec, args.epochs, args.samples, seed, Path(scratch) / f"fixed-{seed}")
            epochs = progressive_epochs(spec, data, config, fixed["seconds"], args.epochs)
            progressive = train("progressive", args.spec, epochs, args.samples, seed,
                                Path(scratch) / f"progressive-{seed}")
            stages = [stage.resolution[0] for stage in progressive_schedule(epochs, RESOLUTION, 0, 0)]
            for arm, result in (("fixed", fixed), ("progressive", progressive)):
                results[arm].append(result)
                print(f"seed {seed} {arm:11s}: {result['epochs']:2d} epochs in {result['seconds']:6.1f} s, "
                      f"test accuracy {result['test_accuracy']:.4f}"
                      + (f" (sizes {stages})" if arm == "progressive" else ""))
    accuracy = {arm: [r["test_accuracy"] for r in rows] for arm, rows in results.items()}
    seconds = {arm: float(np.mean([r["seconds"] for r in rows])) for arm, rows in results.items()}
    print(f"mean test accuracy: fixed {np.mean(accuracy['fixed']):.4f}, progressive "
          f"{np.mean(accuracy['progressive']):.4f}; wall time progressive / fixed "
          f"{seconds['progressive'] / seconds['fixed']:.2f}")
    if args.seeds > 1:
        print(f"progressive - fixed, paired by seed: "
              f"{paired_difference(accuracy['progressive'], accuracy['fixed']).describe()}")


if __name__ == "__main__":
    main()
