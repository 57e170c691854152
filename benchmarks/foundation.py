"""Foundation benchmark: analytic count_cost vs fvcore, and the training step vs timm's.

    ../shared/peers/install-timm.sh .peers
    PYTHONPATH=.peers python benchmarks/foundation.py [--repeats 7] [--steps 5]

Both sides of each comparison are measured in this one run (the machine is noisy);
medians over repeats are printed with their ratio. Record the output in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch
from fvcore.nn import FlopCountAnalysis

from runners.learning.loop import TrainConfig, make_optimizer, training_step
from search_space import build_model, count_cost, load_spec
from search_space.cost_model import stage_cost


def median_seconds(function, repeats: int, inner: int = 1) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            function()
        samples.append((time.perf_counter() - start) / inner)
    return statistics.median(samples)


def fvcore_macs(spec, model=None):
    model = (model or build_model(spec)).eval()
    with torch.no_grad():
        analysis = FlopCountAnalysis(model, torch.zeros(1, spec.in_channels, *spec.resolution))
        ops = analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).by_operator()
    return ops["conv"] + ops["linear"]


def count_cold(spec):
    stage_cost.cache_clear()  # what a never-seen architecture costs
    return count_cost(spec).macs


def bench_cost(repeats: int) -> None:
    spec = load_spec("efficientnet-b0")
    model = build_model(spec)
    assert fvcore_macs(spec, model) == count_cost(spec).macs == count_cold(spec)
    trace = median_seconds(lambda: fvcore_macs(spec, model), repeats)
    build_and_trace = median_seconds(lambda: fvcore_macs(spec), repeats)
    cold = median_seconds(lambda: count_cold(spec), repeats, inner=200)
    warm = median_seconds(lambda: count_cost(spec), repeats, inner=2000)
    print("count_cost vs fvcore, efficientnet-b0 at 224x224 (median of", repeats, "repeats)")
    print(f"  fvcore trace of a built model   {trace * 1e3:9.1f} ms")
    print(f"  fvcore build + trace            {build_and_trace * 1e3:9.1f} ms")
    print(f"  count_cost, cold stage cache    {cold * 1e6:9.1f} us   "
          f"{trace / cold:8.0f}x vs trace, {build_and_trace / cold:8.0f}x vs build + trace")
    print(f"  count_cost, warm stage cache    {warm * 1e6:9.1f} us   "
          f"{trace / warm:8.0f}x vs trace, {build_and_trace / warm:8.0f}x vs build + trace")


def sgemm_peak(size: int = 1024, repeats: int = 5) -> float:
    """FLOP/s of a square float32 matrix product on this machine's threads: the roof a
    convolution network's training step can at best approach."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    seconds = median_seconds(lambda: a @ b, repeats, inner=5)
    return 2 * size**3 / seconds


class WithoutTarget(torch.nn.Module):
    """timm's forward takes images only; the training step also passes the labels (for the
    project's cosine head)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(images)


def timm_model():
    """timm's efficientnet_b0 from a side directory (``../shared/peers/install-timm.sh .peers``
    and ``PYTHONPATH=.peers``); ``None`` when timm is not importable."""
    try:
        import timm
    except ImportError:
        return None
    return WithoutTarget(timm.create_model("efficientnet_b0", num_classes=10, in_chans=1))


def bench_training(repeats: int, steps: int, batch: int = 128) -> None:
    """The project's training step (channels_last, multi-tensor AdamW) against timm's B0
    with the same optimizer, eager and in channels_last, interleaved in one run."""
    torch.manual_seed(0)
    config = TrainConfig()
    images, labels = torch.randn(batch, 1, 32, 32), torch.randint(0, 10, (batch,))
    spec = load_spec("efficientnet-b0")

    def contender(model, layout):
        model = model.train().to(memory_format=layout)
        optimizer = make_optimizer(model, config)
        x = images.contiguous(memory_format=layout)
        return lambda: training_step(model, optimizer, x, labels, config.label_smoothing)

    ours = lambda: build_model(spec, num_classes=10, in_channels=1)  # noqa: E731
    contenders = {
        "this project, channels_last (the training default)": contender(ours(), torch.channels_last),
        "this project, contiguous": contender(ours(), torch.contiguous_format),
    }
    peer = timm_model()
    if peer is not None:
        contenders["timm efficientnet_b0, default (contiguous)"] = contender(peer, torch.contiguous_format)
        contenders["timm efficientnet_b0, channels_last"] = contender(timm_model(), torch.channels_last)
    for step in contenders.values():
        for _ in range(3):
            step()  # allocator and kernel warm-up
    samples = {name: [] for name in contenders}
    for _ in range(repeats):  # interleaved: drift of the machine hits every contender alike
        for name, step in contenders.items():
            samples[name].append(median_seconds(step, 1, inner=steps))
    seconds = {name: statistics.median(values) for name, values in samples.items()}
    flops_per_step = 3 * 2 * count_cost(dataclasses.replace(spec, resolution=(32, 32), in_channels=1,
                                                           num_classes=10)).macs * batch
    peak = sgemm_peak()
    print(f"training step, efficientnet-b0 1x32x32 10 classes, batch {batch}, AdamW, "
          f"{torch.get_num_threads()} threads, median of {repeats}x{steps} steps; sgemm peak {peak / 1e9:.1f} GFLOP/s")
    for name, value in seconds.items():
        ratios = ""
        if peer is not None:
            ratios = "  ".join(f"{seconds[base] / value:5.2f}x {label}" for base, label in (
                ("timm efficientnet_b0, default (contiguous)", "timm"),
                ("timm efficientnet_b0, channels_last", "timm channels_last")))
        print(f"  {name:52s} {value * 1e3:7.1f} ms {batch / value:7.1f} images/s "
              f"{flops_per_step / value / peak:6.1%} of sgemm peak  {ratios}")
    if peer is None:
        print("  (timm not importable: ../shared/peers/install-timm.sh .peers, then PYTHONPATH=.peers)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    bench_cost(args.repeats)
    bench_training(args.repeats, args.steps)


if __name__ == "__main__":
    main()
