"""What a hand-written kernel for the depthwise convolutions' weight gradient would buy.

    python benchmarks/depthwise_gradient.py [--sizes 32x32:128,64x64:64,128x431:16]
        > benchmarks/outputs/depthwise_gradient.txt

The profile of B0's training step (``benchmarks/foundation.py --profile``) puts the depthwise
convolutions' backward far above their forward. This script records every depthwise
``convolution_backward`` call of one real step of B0 (channels_last, 1 channel, 10 classes),
times oneDNN's weight gradient for each against a plain C++ loop (compiled here with
``torch.utils.cpp_extension``: g++ and ninja needed; channels-last, vectorised over channels,
parallel over output rows), checks that the two agree, and prints the time the loop would
save as a share of the whole step, measured in the same run. It is a measurement for
deciding whether a compiled extension is worth a build step; the suite does not use it.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.cpp_extension import load_inline

from b0_step import b0_step  # benchmarks/ is the script's own directory
from infra.units import parse_resolution
from timing import median_seconds

REPEATS = 7  # timed calls per depthwise gradient (the median is reported)

# grad_w[c, i, j] = sum over (b, ho, wo) of g[b, ho, wo, c] * x[b, ho*s + i - p, wo*s + j - p, c]
SOURCE = r"""
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <vector>

torch::Tensor depthwise_weight_gradient(torch::Tensor x, torch::Tensor g, int64_t kh, int64_t kw,
                                        int64_t s, int64_t ph, int64_t pw) {
  auto xn = x.permute({0, 2, 3, 1}).contiguous();  // a view for channels_last input: no copy
  auto gn = g.permute({0, 2, 3, 1}).contiguous();
  const int64_t B = xn.size(0), H = xn.size(1), W = xn.size(2), C = xn.size(3);
  const int64_t Ho = gn.size(1), Wo = gn.size(2), taps = kh * kw;
  const float* X = xn.data_ptr<float>();
  const float* G = gn.data_ptr<float>();
  std::vector<std::vector<float>> partial(at::get_num_threads(), std::vector<float>(taps * C, 0.f));
  at::parallel_for(0, B * Ho, 1, [&](int64_t begin, int64_t end) {
    float* A = partial[at::get_thread_num()].data();
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row / Ho, ho = row % Ho;
      for (int64_t wo = 0; wo < Wo; ++wo) {
        const float* gp = G + ((b * Ho + ho) * Wo + wo) * C;
        for (int64_t i = 0; i < kh; ++i) {
          const int64_t h = ho * s + i - ph;
          if (h < 0 || h >= H) continue;
          for (int64_t j = 0; j < kw; ++j) {
            const int64_t w = wo * s + j - pw;
            if (w < 0 || w >= W) continue;
            const float* xp = X + ((b * H + h) * W + w) * C;
            float* a = A + (i * kw + j) * C;
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) a[c] += gp[c] * xp[c];
          }
        }
      }
    }
  });
  auto out = torch::zeros({kh, kw, C}, x.options());
  float* O = out.data_ptr<float>();
  for (auto& p : partial)
    for (int64_t q = 0; q < taps * C; ++q) O[q] += p[q];
  return out.permute({2, 0, 1}).unsqueeze(1).contiguous();
}
"""


@dataclasses.dataclass(frozen=True)
class DepthwiseBackward:
    """One depthwise ``convolution_backward`` call of the step, with its tensors."""

    grad_output: torch.Tensor
    input: torch.Tensor
    weight: torch.Tensor
    stride: int
    padding: tuple[int, int]

    def onednn(self) -> torch.Tensor:
        channels = self.weight.shape[0]
        return torch.ops.aten.convolution_backward(
            self.grad_output, self.input, self.weight, None, [self.stride] * 2, list(self.padding), [1, 1], False,
            [0, 0], channels, [False, True, False])[1]


class RecordDepthwise(TorchDispatchMode):
    """Records the depthwise convolution backward calls made under it."""

    def __init__(self):
        super().__init__()
        self.calls: list[DepthwiseBackward] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten.convolution_backward.default:
            grad_output, input, weight, _, stride, padding, dilation, transposed, _, groups, _ = args
            if groups > 1 and groups == input.shape[1] == weight.shape[0] and not transposed and stride[0] == stride[1]:
                self.calls.append(DepthwiseBackward(grad_output.detach().clone(memory_format=torch.channels_last),
                                                    input.detach().clone(memory_format=torch.channels_last),
                                                    weight.detach().clone(), stride[0], tuple(padding)))
        return func(*args, **(kwargs or {}))


def measure(kernel, height: int, width: int, batch: int) -> None:
    _, step = b0_step(height, width, batch)
    recorder = RecordDepthwise()
    with recorder:  # also the warm-up of the timed steps
        step()
    step_ms = 1e3 * median_seconds(step, repeats=5)
    print(f"efficientnet-b0 1x{height}x{width}, batch {batch}: training step {step_ms:.1f} ms, "
          f"{len(recorder.calls)} depthwise convolutions", flush=True)
    total_onednn = total_loop = 0.0
    for call in recorder.calls:
        kh, kw = call.weight.shape[-2:]
        expected = call.onednn()
        ours = kernel.depthwise_weight_gradient(call.input, call.grad_output, kh, kw, call.stride, *call.padding)
        error = ((ours - expected).abs().max() / expected.abs().max().clamp_min(1e-12)).item()
        if error > 1e-4:
            raise SystemExit(f"the loop's weight gradient differs from oneDNN's by {error:.1e} (relative)")
        # Both were called once just above: warmed up.
        onednn = 1e3 * median_seconds(call.onednn, REPEATS)
        loop = 1e3 * median_seconds(lambda: kernel.depthwise_weight_gradient(
            call.input, call.grad_output, kh, kw, call.stride, *call.padding), REPEATS)
        total_onednn, total_loop = total_onednn + onednn, total_loop + loop
        shape = "x".join(map(str, call.input.shape))
        print(f"  input {shape:>16s} kernel {kh}x{kw} stride {call.stride}: oneDNN {onednn:6.2f} ms, "
              f"loop {loop:6.2f} ms ({onednn / loop:4.1f}x)")
    print(f"  all weight gradients: oneDNN {total_onednn:.1f} ms, loop {total_loop:.1f} ms: the loop would save "
          f"{total_onednn - total_loop:.1f} ms, {(total_onednn - total_loop) / step_ms:.1%} of the step", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="32x32:128,64x64:64,128x431:16", help="HxW:BATCH,... (default: %(default)s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as build:
        kernel = load_inline("depthwise_weight_gradient", cpp_sources=SOURCE, functions=["depthwise_weight_gradient"],
                             extra_cflags=["-O3", "-march=native", "-fopenmp"], extra_ldflags=["-fopenmp"],
                             build_directory=build)
        print(f"{torch.get_num_threads()} threads", flush=True)
        for item in args.sizes.split(","):
            size, batch = item.split(":")
            measure(kernel, *parse_resolution(size), int(batch))


if __name__ == "__main__":
    main()
