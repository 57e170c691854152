"""Closed-form cost of the primitive layers, the vocabulary of every block's ``cost``.

Conventions (those of the EfficientNet papers and of fvcore's ``by_operator()``):

* **MACs** are multiply-accumulates of convolutions and linear layers only; the
  papers call them FLOPs (B0: 0.39B). Biases, batch norm, activations, pooling and
  element-wise products are not counted.
* **params** are trainable parameters (batch-norm running statistics are buffers).
* **activations** are output elements of every convolution and linear layer, the
  convention of pycls and fvcore's ``ActivationCountAnalysis`` (batch size 1).
* Padding is PyTorch-style symmetric ``kernel // 2``, so a stride-``s`` conv maps
  ``n`` to ``(n + 2 * (kernel // 2) - kernel) // s + 1`` (``ceil(n / s)`` for odd kernels).
"""

from __future__ import annotations

from typing import NamedTuple


class Cost(NamedTuple):
    """Additive cost of a piece of network at batch size 1.

    A named tuple rather than a dataclass: the cost model builds thousands of these
    per search and tuple construction is several times cheaper.
    """

    params: int = 0
    conv_macs: int = 0
    linear_macs: int = 0
    activations: int = 0

    @property
    def macs(self) -> int:
        return self.conv_macs + self.linear_macs

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(
            self[0] + other[0],
            self[1] + other[1],
            self[2] + other[2],
            self[3] + other[3],
        )

    def __mul__(self, times: int) -> "Cost":
        return Cost(self[0] * times, self[1] * times, self[2] * times, self[3] * times)

    __rmul__ = __mul__


def conv_output_size(size: int, kernel: int, stride: int) -> int:
    """Output length of a conv with symmetric ``kernel // 2`` padding."""
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


def conv2d_cost(
    in_channels: int,
    out_channels: int,
    kernel: int,
    stride: int,
    height: int,
    width: int,
    groups: int = 1,
    bias: bool = False,
) -> tuple[Cost, int, int]:
    """Cost of a square-kernel ``Conv2d`` and its output ``(height, width)``."""
    out_height = conv_output_size(height, kernel, stride)
    out_width = conv_output_size(width, kernel, stride)
    weights = out_channels * (in_channels // groups) * kernel * kernel
    positions = out_height * out_width
    cost = Cost(weights + (out_channels if bias else 0), weights * positions, 0, out_channels * positions)
    return cost, out_height, out_width


def conv1d_cost(in_channels: int, out_channels: int, kernel: int, length: int, bias: bool = False) -> Cost:
    """Cost of a stride-1 ``Conv1d`` with ``kernel // 2`` padding over ``length`` positions."""
    weights = out_channels * in_channels * kernel
    return Cost(
        params=weights + (out_channels if bias else 0),
        conv_macs=weights * length,
        activations=out_channels * length,
    )


def batch_norm_cost(channels: int) -> Cost:
    """Affine scale and shift; the running statistics are buffers, not parameters."""
    return Cost(params=2 * channels)


def linear_cost(in_features: int, out_features: int, bias: bool = True) -> Cost:
    return Cost(
        params=in_features * out_features + (out_features if bias else 0),
        linear_macs=in_features * out_features,
        activations=out_features,
    )
