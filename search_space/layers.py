"""Layers of the EfficientNet family, each with its closed-form ``cost`` beside it.

Every layer class takes its configuration as keyword arguments and has a
classmethod ``cost(height, width, **same_config) -> (Cost, out_height, out_width)``.
Blocks describe themselves as a list of :class:`LayerPlan` rows and both build and
cost from that one list (the pycls idea of keeping the cost next to the
definition), so the analytic cost model cannot drift from the modules.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from search_space.counting import Cost, batch_norm_cost, conv1d_cost, conv2d_cost, linear_cost
from search_space.spec import Attention, EfficientChannelAttention, SqueezeExcitation

# EfficientNet's TF batch norm: epsilon 1e-3, decay 0.99 (= PyTorch momentum 0.01).
BATCH_NORM_EPS = 1e-3
BATCH_NORM_MOMENTUM = 0.01

_ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU, "gelu": nn.GELU, "hswish": nn.Hardswish}


def make_activation(name: str | None) -> nn.Module:
    return nn.Identity() if name is None else _ACTIVATIONS[name]()


class LayerPlan(NamedTuple):
    """One layer of a block: a layer class and the keyword configuration it is built from."""

    layer: type
    config: dict[str, Any]

    def build(self) -> nn.Module:
        return self.layer(**self.config)

    def cost(self, height: int, width: int) -> tuple[Cost, int, int]:
        return self.layer.cost(height, width, **self.config)


def plan_cost(plan: list[LayerPlan], height: int, width: int) -> tuple[Cost, int, int]:
    """Total cost of layers applied in sequence, and the final spatial size."""
    total = Cost()
    for row in plan:
        cost, height, width = row.cost(height, width)
        total = total + cost
    return total, height, width


class FastTrainingConv2d(nn.Conv2d):
    """``nn.Conv2d`` with two exact shortcuts in training, for the shapes proxies meet.

    * A pointwise (1x1, stride 1, ungrouped) conv on a one-pixel map is one matrix product.
    * A "same"-padded stride-1 conv skips the kernel taps that only ever meet zero padding.
      On a feature map smaller than the kernel (a 5x5 depthwise kernel on the 1x1 or 2x2
      maps the last stages see at a 32x32 proxy resolution) the outer taps multiply
      padding alone: their outputs and gradients are exactly zero. Cropping the kernel to
      the ``2H - 1`` by ``2W - 1`` taps that can meet a pixel gives the same result sooner.

    Evaluation and export take the plain path, so traced graphs, fvcore counts and
    exported models stay shape-generic; the cost model counts the full kernel (the
    paper's convention). ``benchmarks/foundation.py`` measures the gain.
    """

    def _conv_forward(self, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if self.training and self.stride == (1, 1) and self.dilation == (1, 1):
            if self.kernel_size == (1, 1) and self.groups == 1 and input.shape[-2:] == (1, 1):
                # On a one-pixel map the conv is a linear layer: BLAS's GEMM ran 1.3-1.8x faster
                # than the convolution primitive there (forward and backward), and slower from
                # 2x2 maps up (benchmarks/foundation.py; BENCHMARKS.md).
                return F.linear(input.flatten(1), weight.flatten(1), bias)[:, :, None, None]
            cropped = self._live_taps(input, weight)
            if cropped is not None:
                return F.conv2d(input, cropped, bias, 1, (cropped.shape[-2] // 2, cropped.shape[-1] // 2), 1,
                                self.groups)
        return super()._conv_forward(input, weight, bias)

    def _live_taps(self, input: torch.Tensor, weight: torch.Tensor) -> torch.Tensor | None:
        """The centre of a "same"-padded odd kernel that can meet a pixel; ``None`` when
        every tap can (or the padding is not "same")."""
        kernel_height, kernel_width = self.kernel_size
        if self.padding != (kernel_height // 2, kernel_width // 2) or kernel_height % 2 == 0 or kernel_width % 2 == 0:
            return None
        live_height = min(kernel_height, 2 * input.shape[-2] - 1)
        live_width = min(kernel_width, 2 * input.shape[-1] - 1)
        if (live_height, live_width) == (kernel_height, kernel_width):
            return None
        top, left = (kernel_height - live_height) // 2, (kernel_width - live_width) // 2
        return weight[:, :, top : top + live_height, left : left + live_width]


class ConvNormAct(nn.Module):
    """Bias-free ``kernel x kernel`` conv, batch norm, optional activation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int = 1,
        stride: int = 1,
        groups: int = 1,
        activation: str | None = "silu",
    ):
        super().__init__()
        self.conv = FastTrainingConv2d(in_channels, out_channels, kernel, stride, kernel // 2, groups=groups,
                                       bias=False)
        self.norm = nn.BatchNorm2d(out_channels, eps=BATCH_NORM_EPS, momentum=BATCH_NORM_MOMENTUM)
        self.act = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))

    @classmethod
    def cost(cls, height, width, *, in_channels, out_channels, kernel=1, stride=1, groups=1, activation="silu"):
        conv, height, width = conv2d_cost(in_channels, out_channels, kernel, stride, height, width, groups)
        return conv + batch_norm_cost(out_channels), height, width


class GhostModule(nn.Module):
    """Ghost module (GhostNet, arXiv 1911.11907, section 3.1) with ratio 2 and 3x3 cheap ops.

    A primary ``kernel x kernel`` conv makes ``ceil(out / 2)`` intrinsic maps; a 3x3
    depthwise conv derives as many "ghost" maps from them; the first ``out`` channels
    of the concatenation are kept. Same signature as :class:`ConvNormAct`, so a block
    swaps one for the other by a flag.
    """

    RATIO = 2
    CHEAP_KERNEL = 3

    def __init__(self, in_channels, out_channels, kernel=1, stride=1, activation="silu"):
        super().__init__()
        self.out_channels = out_channels
        primary, cheap = self._parts(in_channels, out_channels, kernel, stride, activation)
        self.primary = primary.build()
        self.cheap = cheap.build()

    @classmethod
    def _parts(cls, in_channels, out_channels, kernel, stride, activation) -> tuple[LayerPlan, LayerPlan]:
        intrinsic = math.ceil(out_channels / cls.RATIO)
        primary = LayerPlan(ConvNormAct, dict(
            in_channels=in_channels, out_channels=intrinsic, kernel=kernel, stride=stride, activation=activation))
        cheap = LayerPlan(ConvNormAct, dict(
            in_channels=intrinsic, out_channels=intrinsic * (cls.RATIO - 1), kernel=cls.CHEAP_KERNEL,
            groups=intrinsic, activation=activation))
        return primary, cheap

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        intrinsic = self.primary(x)
        return torch.cat([intrinsic, self.cheap(intrinsic)], dim=1)[:, : self.out_channels]

    @classmethod
    def cost(cls, height, width, *, in_channels, out_channels, kernel=1, stride=1, activation="silu"):
        return plan_cost(list(cls._parts(in_channels, out_channels, kernel, stride, activation)), height, width)


class SqueezeExcitationLayer(nn.Module):
    """Squeeze-and-excitation gate: pool, 1x1 conv down, activation, 1x1 conv up, sigmoid."""

    def __init__(self, channels: int, squeeze_channels: int, activation: str = "silu"):
        super().__init__()
        self.reduce = FastTrainingConv2d(channels, squeeze_channels, 1)
        self.act = make_activation(activation)
        self.expand = FastTrainingConv2d(squeeze_channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = F.adaptive_avg_pool2d(x, 1)
        scale = self.expand(self.act(self.reduce(scale)))
        return x * torch.sigmoid(scale)

    @classmethod
    def cost(cls, height, width, *, channels, squeeze_channels, activation="silu"):
        reduce, _, _ = conv2d_cost(channels, squeeze_channels, 1, 1, 1, 1, bias=True)
        expand, _, _ = conv2d_cost(squeeze_channels, channels, 1, 1, 1, 1, bias=True)
        return reduce + expand, height, width


def eca_kernel_size(channels: int, gamma: int = 2, b: int = 1) -> int:
    """ECA's adaptive kernel (arXiv 1910.03151, eq. 12): nearest odd ``|(log2 C + b) / gamma|``."""
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 else t + 1


class EfficientChannelAttentionLayer(nn.Module):
    """ECA gate: pool, 1-D conv of ``kernel_size`` across channels (no bias), sigmoid."""

    def __init__(self, channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.adaptive_avg_pool2d(x, 1)  # (N, C, 1, 1)
        scale = self.conv(pooled.squeeze(-1).transpose(-1, -2))  # (N, 1, C)
        return x * torch.sigmoid(scale.transpose(-1, -2).unsqueeze(-1))

    @classmethod
    def cost(cls, height, width, *, channels, kernel_size):
        return conv1d_cost(1, 1, kernel_size, channels), height, width


def attention_plan(attention: Attention, channels: int, block_in_channels: int, activation: str) -> list[LayerPlan]:
    """The gate for ``channels`` features; an SE squeeze width counts from the block's input."""
    if isinstance(attention, SqueezeExcitation):
        squeeze = max(1, int(block_in_channels * attention.ratio))
        return [LayerPlan(SqueezeExcitationLayer, dict(
            channels=channels, squeeze_channels=squeeze, activation=activation))]
    if isinstance(attention, EfficientChannelAttention):
        kernel = attention.kernel_size or eca_kernel_size(channels)
        return [LayerPlan(EfficientChannelAttentionLayer, dict(channels=channels, kernel_size=kernel))]
    return []


class LayerScale(nn.Module):
    """Per-channel learnable gain on a residual branch (CaiT, arXiv 2103.17239)."""

    def __init__(self, channels: int, init_value: float):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((channels,), float(init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma.view(1, -1, 1, 1)

    @classmethod
    def cost(cls, height, width, *, channels, init_value):
        return Cost(params=channels), height, width


class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016): drop a sample's residual branch with ``probability``.

    Kept samples are scaled by ``1 / (1 - probability)`` so eval needs no rescaling.
    """

    def __init__(self, probability: float):
        super().__init__()
        self.probability = probability

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.probability == 0.0:
            return x
        keep = 1.0 - self.probability
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask.div_(keep)  # scaled on the per-sample mask: one pass over x, not two

    def extra_repr(self) -> str:
        return f"probability={self.probability:.4f}"


class LinearClassifier(nn.Linear):
    """Plain linear classifier; ``target`` is accepted for a uniform head interface."""

    def __init__(self, in_features: int, num_classes: int):
        super().__init__(in_features, num_classes)

    def forward(self, features: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        return super().forward(features)

    @classmethod
    def cost(cls, height, width, *, in_features, num_classes):
        return linear_cost(in_features, num_classes), 1, 1


class CosineClassifier(nn.Module):
    """ArcFace-style cosine classifier (Deng et al., arXiv 1801.07698).

    Logits are ``scale * cos(theta_j)`` between L2-normalised features and class
    weights (no bias). In training, when ``target`` is given and ``margin > 0``, the
    target class's angle is increased by ``margin`` radians (additive angular margin).
    """

    def __init__(self, in_features: int, num_classes: int, scale: float = 30.0, margin: float = 0.0):
        super().__init__()
        self.scale = scale
        self.margin = margin
        self.weight = nn.Parameter(torch.empty(num_classes, in_features))
        nn.init.normal_(self.weight, std=0.01)

    def forward(self, features: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        cosine = F.linear(F.normalize(features, dim=1), F.normalize(self.weight, dim=1))
        if self.training and target is not None and self.margin > 0:
            theta = torch.acos(cosine.clamp(-1 + 1e-7, 1 - 1e-7))
            target_mask = F.one_hot(target, cosine.shape[1]).bool()
            cosine = torch.where(target_mask, torch.cos(theta + self.margin), cosine)
        return self.scale * cosine

    @classmethod
    def cost(cls, height, width, *, in_features, num_classes, scale=30.0, margin=0.0):
        return linear_cost(in_features, num_classes, bias=False), 1, 1
