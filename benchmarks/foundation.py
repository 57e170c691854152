"""Foundation benchmark: analytic count_cost vs fvcore, and B0 training throughput.

    python benchmarks/foundation.py [--repeats 7] [--steps 10]

Both sides of each comparison are measured in this one run (the machine is noisy);
medians over repeats are printed with their ratio. Record the output in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from fvcore.nn import FlopCountAnalysis

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


def bench_training(repeats: int, steps: int, batch: int = 128) -> None:
    torch.manual_seed(0)
    model = build_model(load_spec("efficientnet-b0"), num_classes=10, in_channels=1).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(batch, 1, 32, 32), torch.randint(0, 10, (batch,))

    def step():
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    for _ in range(3):
        step()  # allocator and kernel warm-up
    seconds = median_seconds(step, repeats, inner=steps)
    print(f"training, efficientnet-b0 1x32x32 10 classes, batch {batch}, SGD step, "
          f"{torch.get_num_threads()} threads: {batch / seconds:.1f} images/s "
          f"(median step {seconds * 1e3:.0f} ms over {repeats}x{steps} steps)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    bench_cost(args.repeats)
    bench_training(args.repeats, args.steps)


if __name__ == "__main__":
    main()
