"""Post-training int8 quantization on Fashion-MNIST: the accuracy it costs, measured.

Trains a network with the suite's training loop (longer than the search's proxy) at each
of ``--seeds``, then scores on the test split: the fp32 model, its fused copy, and the int8
models from ``search_space.quantize_int8`` calibrated on training images, for three
placements of the float modules (its default, stem and classifier; the default plus every
attention gate; none); prints each drop and the batch-1 CPU time of fp32 and int8.

    python benchmarks/quantization.py [--spec efficientnet-b0] [--epochs 4] [--samples 16384] [--seeds 0,1]

Record the printed figures in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import time

import torch

from runners.data.sources import DataOptions, prepare
from runners.learning.loop import TrainConfig, evaluate, train_model
from search_space import fuse_model, load_spec, quantize_int8
from search_space.latency import time_module
from search_space.layers import EfficientChannelAttentionLayer, SqueezeExcitationLayer
from search_space.quantization import FLOAT_MODULES


def placements(model: torch.nn.Module) -> dict[str, tuple[str, ...]]:
    """The float modules of each placement compared, by label."""
    gates = tuple(name for name, module in model.named_modules()
                  if isinstance(module, (SqueezeExcitationLayer, EfficientChannelAttentionLayer)))
    return {"stem and classifier in float (the default)": FLOAT_MODULES,
            "stem, classifier and attention gates in float": (*FLOAT_MODULES, *gates),
            "int8 everywhere": ()}


def measure(model: torch.nn.Module, data, calibration_images: int) -> None:
    model = model.cpu().eval()
    test_x, test_y = data.test_x, data.test_y
    fp32 = evaluate(model, test_x, test_y, 512, "cpu")
    fused = evaluate(fuse_model(model), test_x, test_y, 512, "cpu")
    calibration = [data.train_x[start : start + 128] for start in range(0, calibration_images, 128)]
    print(f"test accuracy ({len(test_y)} images): fp32 {fp32:.4f}, fused fp32 {fused:.4f}")
    image = test_x[:1]
    print(f"batch-1 latency, median of 50: fp32 (fused) {time_module(fuse_model(model), image).median_ms:.2f} ms")
    for label, float_modules in placements(model).items():
        int8_model = quantize_int8(model, calibration, float_modules=float_modules)
        int8 = evaluate(int8_model, test_x, test_y, 512, "cpu")
        print(f"int8, {label}: accuracy {int8:.4f}, drop {100 * (fp32 - int8):.2f} points; batch-1 latency "
              f"{time_module(int8_model, image).median_ms:.2f} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", default="efficientnet-b0")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--samples", type=int, default=16384, help="training images")
    parser.add_argument("--calibration", type=int, default=512, help="calibration images")
    parser.add_argument("--seeds", default="0,1", help="training seeds, comma-separated (default: %(default)s)")
    args = parser.parse_args()
    data = prepare(DataOptions(proxy_resolution=(32, 32), max_train_samples=args.samples))
    spec = data.deployed(load_spec(args.spec))
    config = TrainConfig(epochs=args.epochs, batch_size=128, learning_rate=1e-2)
    for seed in map(int, args.seeds.split(",")):
        start = time.perf_counter()
        model, _ = train_model(spec, data, config, seed=seed, evaluate_on="test")
        print(f"{spec.name}, seed {seed}: trained {args.epochs} epochs on {len(data.train_x)} images in "
              f"{time.perf_counter() - start:.0f} s, {torch.get_num_threads()} threads")
        measure(model, data, args.calibration)


if __name__ == "__main__":
    main()
