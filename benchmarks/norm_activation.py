"""What fusing each batch norm with its activation would buy in B0's training step.

    python benchmarks/norm_activation.py [--sizes 32x32:128,64x64:64,128x431:16]
        > benchmarks/outputs/norm_activation.txt

The profile of B0's step (``benchmarks/foundation.py --profile``) puts a third of its time in
batch norm and SiLU, forward and backward: one ATen kernel each, called as timm calls them.
This script records the input of every conv-norm-activation layer of one real step of B0
(channels_last, 1 channel, 10 classes) and times, for each, in the same run:

* **eager**: training-mode ``batch_norm`` then SiLU, forward and backward (what the step runs);
* **Inductor**: the same two ops compiled together by ``torch.compile`` (one generated C++
  kernel per pass, the fusion it offers), and its first call (the compilation);
* **one pass**: a copy of the tensor into a fresh one, the time any elementwise kernel that
  reads it once and writes it once takes here.

Eager moves the tensor 13 times (batch norm: statistics 1 read, normalisation 1 read + 1
write; SiLU 1 + 1; backward: SiLU 2 reads + 1 write, batch norm 2 passes of 2 reads and a
write); a kernel fusing both could at best move it 8 times (statistics 1 read, then
normalise-and-activate 1 read + 1 write; backward: a reduction over the output's gradient and
the input, 2 reads, then the input's gradient, 2 reads and a write). Eager time over the
one-pass time says how close eager already is to its memory traffic; the fused bound
(eager x 8 / 13) is printed next to the step's time.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import tempfile
import time

# Inductor's on-disk caches in a directory of this run: the compilation times printed are a
# first run's, as a user's first training would pay them.
INDUCTOR_CACHE = os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-")

import torch  # noqa: E402  (after the cache directory is set)
import torch.nn.functional as F

from b0_step import b0_step  # benchmarks/ is the script's own directory
from infra.units import parse_resolution
from search_space.layers import ConvNormAct
from timing import median_seconds

REPEATS = 9  # timed calls per shape (the median is reported)
EAGER_PASSES, FUSED_PASSES = 13, 8  # tensor-sized reads and writes, counted in the docstring


def norm_activation(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, mean: torch.Tensor,
                    var: torch.Tensor) -> torch.Tensor:
    return F.silu(F.batch_norm(x, mean, var, weight, bias, True, 0.01, 1e-3))


def recorded_shapes(model: torch.nn.Module, step) -> collections.Counter:
    """How often each input shape a conv-norm-SiLU layer normalises occurs in one ``step``."""
    shapes: collections.Counter = collections.Counter()
    hooks = [layer.norm.register_forward_hook(lambda module, inputs, output: shapes.update([tuple(inputs[0].shape)]))
             for layer in model.modules() if isinstance(layer, ConvNormAct) and isinstance(layer.act, torch.nn.SiLU)]
    step()
    for hook in hooks:
        hook.remove()
    return shapes


def forward_backward(function, x: torch.Tensor, parameters: list[torch.Tensor], grad: torch.Tensor):
    def call():
        function(x, *parameters).backward(grad)
    return call


def measure(height: int, width: int, batch: int) -> None:
    model, step = b0_step(height, width, batch)
    shapes = recorded_shapes(model, step)  # also the warm-up of the timed steps
    step_ms = 1e3 * median_seconds(step, repeats=5)
    print(f"efficientnet-b0 1x{height}x{width}, batch {batch}: training step {step_ms:.1f} ms, "
          f"{sum(shapes.values())} batch norms followed by SiLU", flush=True)
    totals = collections.Counter()
    for shape, count in sorted(shapes.items(), key=lambda item: -item[0][0] * item[0][2] * item[0][3]):
        x = torch.randn(shape).contiguous(memory_format=torch.channels_last).requires_grad_()
        channels = shape[1]
        parameters = [torch.rand(channels, requires_grad=True), torch.randn(channels, requires_grad=True),
                      torch.zeros(channels), torch.ones(channels)]
        grad = torch.randn_like(x)
        torch._dynamo.reset()  # a graph of its own per shape: Dynamo stops compiling after 8 shapes of one function
        compiled = torch.compile(norm_activation, dynamic=False)
        start = time.perf_counter()
        compiled(x, *parameters).backward(grad)
        warm_up = time.perf_counter() - start
        eager_x, compiled_x = x.detach().clone().requires_grad_(), x.detach().clone().requires_grad_()
        norm_activation(eager_x, *parameters).backward(grad)
        compiled(compiled_x, *parameters).backward(grad)
        error = ((eager_x.grad - compiled_x.grad).abs().max() / eager_x.grad.abs().max()).item()
        if error > 1e-4:
            raise SystemExit(f"Inductor's gradient differs from eager's by {error:.1e} (relative) at {shape}")
        eager = 1e3 * median_seconds(forward_backward(norm_activation, x, parameters, grad), REPEATS)
        inductor = 1e3 * median_seconds(forward_backward(compiled, x, parameters, grad), REPEATS)
        one_pass = 1e3 * median_seconds(lambda: x.detach().clone(memory_format=torch.channels_last), REPEATS)
        totals.update(eager=eager * count, inductor=inductor * count, one_pass=one_pass * count,
                      warm_up=warm_up)
        print(f"  {'x'.join(map(str, shape)):>16s} (x{count}): eager {eager:6.2f} ms ({eager / one_pass:4.1f} "
              f"passes), Inductor {inductor:6.2f} ms ({eager / inductor:.2f}x eager, compiled in {warm_up:.1f} s)",
              flush=True)
    fused_bound = totals["eager"] * FUSED_PASSES / EAGER_PASSES
    print(f"  all: eager {totals['eager']:.1f} ms ({totals['eager'] / step_ms:.0%} of the step, "
          f"{totals['eager'] / totals['one_pass']:.1f} passes), Inductor {totals['inductor']:.1f} ms "
          f"({totals['eager'] / totals['inductor']:.2f}x eager; {totals['warm_up']:.0f} s to compile); a fused kernel at "
          f"{FUSED_PASSES} passes would save at most {totals['eager'] - fused_bound:.1f} ms, "
          f"{(totals['eager'] - fused_bound) / step_ms:.1%} of the step", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="32x32:128,64x64:64,128x431:16", help="HxW:BATCH,... (default: %(default)s)")
    args = parser.parse_args()
    print(f"{torch.get_num_threads()} threads", flush=True)
    try:
        for item in args.sizes.split(","):
            size, batch = item.split(":")
            measure(*parse_resolution(size), int(batch))
    finally:
        shutil.rmtree(INDUCTOR_CACHE, ignore_errors=True)


if __name__ == "__main__":
    main()
