"""How much memory a training needs, against what a training counts before its first step.

    python benchmarks/training_memory.py > benchmarks/outputs/training_memory.txt

Before a training starts, ``runners.learning.memory.training_memory`` counts the tensors a
forward pass saves for the backward pass (at batch 2 and 4) plus the parameters' gradients
and AdamW's moments (a lower bound of the step's peak), and the tensors' peak of a pass
without gradients per image. For each case below (network, input 1xHxW, training batch), a
fresh process takes those counts, then runs what a training epoch runs: two training steps of
the suite's loop (channels_last, AdamW), batch-norm recalibration on 1,024 images in batches
of 512, and an evaluation of 1,024 images at the batch the loop picks; it reports the growth of
its peak resident memory (what the kernel's out-of-memory killer sees) over the process before
the first step, after the steps and after the rest.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import time

CHILD = "--child"
CASES = ("efficientnet-b0:32x32:128", "efficientnet-b0:64x64:128", "efficientnet-b0:128x128:128",
         "efficientnet-b0:128x431:32", "efficientnet-b0:128x431:128", "efficientnet-b3:128x128:64",
         "ghost-efficientnetv2:128x431:32", "efficientnetv2-s:64x64:64")
IMAGES = 1024  # recalibrated on, and evaluated


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def measure(name: str, size: tuple[int, int], batch: int) -> dict:
    import torch

    from runners.learning.loop import TrainConfig, evaluate_with_loss, make_optimizer, recalibrate_batch_norm, training_step
    from runners.learning.memory import evaluation_batch, training_memory
    from search_space import build_model, load_spec

    spec = dataclasses.replace(load_spec(name), in_channels=1, num_classes=10)
    config = TrainConfig()
    torch.manual_seed(0)
    model = build_model(spec).to(memory_format=torch.channels_last)
    start = time.perf_counter()
    bound = training_memory(model, (1, *size), torch.channels_last)
    probe_seconds = time.perf_counter() - start
    optimizer = make_optimizer(model, config)
    images = torch.randn(batch, 1, *size).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (batch,))
    held_out = torch.randn(IMAGES, 1, *size).contiguous(memory_format=torch.channels_last)
    held_out_labels = torch.randint(0, 10, (IMAGES,))
    before = peak_gib()
    model.train()
    for _ in range(2):
        training_step(model, optimizer, images, labels, 0.1)
    after_steps = peak_gib()
    recalibrate_batch_norm(model, held_out, config.calibration_batch_size, "cpu", torch.channels_last)
    after_calibration = peak_gib()
    evaluating = evaluation_batch(bound.inference_per_image)
    evaluate_with_loss(model, held_out, held_out_labels, evaluating, "cpu", torch.channels_last)
    return {"network": name, "input": f"1x{size[0]}x{size[1]}", "batch": batch,
            "step_bound_gib": bound.step(batch) / 2**30, "activations_mib_per_image": bound.per_image / 2**20,
            "calibration_count_gib": bound.inference(config.calibration_batch_size) / 2**30,
            "evaluation_batch": evaluating, "probe_seconds": probe_seconds, "step_peak_gib": after_steps - before,
            "calibration_peak_gib": after_calibration - before, "peak_gib": peak_gib() - before}


def main() -> None:
    if sys.argv[1:2] == [CHILD]:
        name, size, batch = json.loads(sys.argv[2])
        print(json.dumps(measure(name, tuple(size), batch)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES), help="NETWORK:HxW:BATCH,... (default: %(default)s)")
    from infra.units import parse_resolution

    print("network, input, training batch: the step's lower bound (activations an image, time to count) -> "
          "growth of the peak resident memory over two training steps, and their ratio; recalibration's count "
          "at batch 512 -> the growth after it; the evaluation batch picked -> the growth after evaluating",
          flush=True)
    for case in parser.parse_args().cases.split(","):
        name, size, batch = case.split(":")
        child = subprocess.run([sys.executable, __file__, CHILD, json.dumps([name, parse_resolution(size),
                                                                                 int(batch)])],
                               capture_output=True, text=True)
        if child.returncode:
            print(f"{case}: failed ({child.returncode}): {child.stderr.strip()[-300:]}", flush=True)
            continue
        row = json.loads(child.stdout.strip().splitlines()[-1])
        print(f"{row['network']}, {row['input']}, batch {row['batch']}: step bound {row['step_bound_gib']:.2f} GiB "
              f"({row['activations_mib_per_image']:.1f} MiB an image, {row['probe_seconds']:.2f} s) -> "
              f"{row['step_peak_gib']:.2f} GiB, ratio {row['step_peak_gib'] / row['step_bound_gib']:.2f}; "
              f"recalibration {row['calibration_count_gib']:.2f} GiB -> {row['calibration_peak_gib']:.2f} GiB; "
              f"evaluation batch {row['evaluation_batch']} -> {row['peak_gib']:.2f} GiB", flush=True)


if __name__ == "__main__":
    main()
