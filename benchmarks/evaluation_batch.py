"""How fast evaluation runs, and how much memory it takes, at each evaluation batch size.

    python benchmarks/evaluation_batch.py > benchmarks/outputs/evaluation_batch.txt
    python benchmarks/evaluation_batch.py --network ghost-efficientnetv2 --sizes 64x64,128x431 --batches 8,16,32,64,128,256,512 --repeats 2
        > benchmarks/outputs/evaluation_batch_ghost.txt
    python benchmarks/evaluation_batch.py --sizes 128x431 --batches 8,16,32 --repeats 2
        > benchmarks/outputs/evaluation_batch_128x431_small.txt

Evaluation (eval mode, no gradients) gives the same logits at any batch size, up to the
order of floating-point sums, so its batch is a choice of speed and memory alone. B0 (1
channel, 10 classes, channels_last, 2 threads) scores 1,024 images at each size in batches of
16 to 512 (``--batches``); the batch sizes take turns within each of ``--repeats`` rounds (drift of the machine
hits every one alike) and the best round is reported, with the tensors' peak of one batch
(counted by :func:`runners.learning.memory.inference_bytes`, exact for the tensors, before the
allocator's slack).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from infra.units import parse_resolution
from runners.learning.memory import inference_bytes
from search_space import build_model, load_spec

IMAGES = 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="32x32,64x64,128x128,128x431")
    parser.add_argument("--batches", default="16,32,64,128,256,512")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--network", default="efficientnet-b0")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    print(f"{args.network}, {IMAGES} images, {torch.get_num_threads()} threads; images/s (best of {args.repeats} "
          "rounds) and the tensors' peak of one batch", flush=True)
    for size in map(parse_resolution, args.sizes.split(",")):
        torch.manual_seed(0)
        spec = dataclasses.replace(load_spec(args.network), in_channels=1, num_classes=10)
        model = build_model(spec).eval().to(memory_format=torch.channels_last)
        images = torch.randn(IMAGES, 1, *size).contiguous(memory_format=torch.channels_last)
        per_image = inference_bytes(model, (1, *size), torch.channels_last)
        best = {batch: float("inf") for batch in batches}
        with torch.inference_mode():
            for batch in batches:
                model(images[:batch])  # warm-up: kernels and the allocator
            for _ in range(args.repeats):
                for batch in batches:
                    start = time.perf_counter()
                    for first in range(0, IMAGES, batch):
                        model(images[first : first + batch])
                    best[batch] = min(best[batch], time.perf_counter() - start)
        fastest = min(best.values())
        print(f"1x{size[0]}x{size[1]}: " + "; ".join(
            f"batch {batch} {IMAGES / seconds:,.0f} images/s ({fastest / seconds:.0%} of the fastest), "
            f"{per_image * batch / 2**20:,.0f} MiB" for batch, seconds in best.items()), flush=True)


if __name__ == "__main__":
    main()
