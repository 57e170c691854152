"""MBConv and Fused-MBConv blocks; their Ghost variants are the same blocks with a flag.

Block anatomy (EfficientNet section 4, EfficientNetV2 section 3.2, figure 2)::

    MBConv:       [1x1 expand] -> kxk depthwise (stride) -> [attention] -> 1x1 project
    FusedMBConv:  kxk expand (stride) -> [attention] -> 1x1 project      (expansion > 1)
                  kxk conv (stride) -> [attention]                        (expansion == 1)

Expand/depthwise convs are followed by batch norm and the activation, the project
conv by batch norm only. With ``ghost`` (GhostMBConv, GhostFusedMBConv) a
:class:`~search_space.layers.GhostModule` replaces the 1x1 expand/project convs and
the fused kxk conv; the depthwise conv stays. A residual add (with stochastic depth
and optional LayerScale) is used when stride is 1, widths match and ``skip`` is on.
"""

from __future__ import annotations

import torch
from torch import nn

from search_space.counting import Cost
from search_space.layers import ConvNormAct, DropPath, GhostModule, LayerPlan, LayerScale, attention_plan, plan_cost
from search_space.spec import StageSpec


def has_residual(stage: StageSpec, in_channels: int, stride: int) -> bool:
    return stage.skip and stride == 1 and in_channels == stage.out_channels


class ResidualBlock(nn.Module):
    """A body of layers plus the identity shortcut when shapes allow it.

    Subclasses only say which layers form the body (:meth:`plan`); building and
    costing both read that plan.
    """

    def __init__(self, stage: StageSpec, in_channels: int, stride: int, drop_path: float = 0.0):
        super().__init__()
        self.body = nn.Sequential(*(row.build() for row in self.plan(stage, in_channels, stride)))
        self.residual = has_residual(stage, in_channels, stride)
        self.layer_scale = (
            LayerScale(stage.out_channels, stage.layer_scale)
            if self.residual and stage.layer_scale is not None
            else None
        )
        self.drop_path = DropPath(drop_path) if self.residual and drop_path > 0 else None

    @staticmethod
    def plan(stage: StageSpec, in_channels: int, stride: int) -> list[LayerPlan]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        if not self.residual:
            return out
        if self.layer_scale is not None:
            out = self.layer_scale(out)
        if self.drop_path is not None:
            out = self.drop_path(out)
        return x + out

    @classmethod
    def cost(cls, stage: StageSpec, in_channels: int, stride: int, height: int, width: int) -> tuple[Cost, int, int]:
        """Cost of one block at input ``(height, width)`` and its output size."""
        cost, height, width = plan_cost(cls.plan(stage, in_channels, stride), height, width)
        if has_residual(stage, in_channels, stride) and stage.layer_scale is not None:
            cost = cost + Cost(params=stage.out_channels)
        return cost, height, width


def _conv_layer(stage: StageSpec) -> type:
    return GhostModule if stage.ghost else ConvNormAct


class MBConv(ResidualBlock):
    """Mobile inverted bottleneck (MobileNetV2/MnasNet) with optional SE or ECA."""

    @staticmethod
    def plan(stage: StageSpec, in_channels: int, stride: int) -> list[LayerPlan]:
        conv = _conv_layer(stage)
        expanded = in_channels * stage.expansion
        rows = []
        if stage.expansion != 1:
            rows.append(LayerPlan(conv, dict(
                in_channels=in_channels, out_channels=expanded, activation=stage.activation)))
        rows.append(LayerPlan(ConvNormAct, dict(
            in_channels=expanded, out_channels=expanded, kernel=stage.kernel, stride=stride,
            groups=expanded, activation=stage.activation)))
        rows += attention_plan(stage.attention, expanded, in_channels, stage.activation)
        rows.append(LayerPlan(conv, dict(in_channels=expanded, out_channels=stage.out_channels, activation=None)))
        return rows


class FusedMBConv(ResidualBlock):
    """Fused-MBConv (EfficientNetV2): the expand and depthwise convs fused into one kxk conv."""

    @staticmethod
    def plan(stage: StageSpec, in_channels: int, stride: int) -> list[LayerPlan]:
        conv = _conv_layer(stage)
        expanded = in_channels * stage.expansion
        first_out = stage.out_channels if stage.expansion == 1 else expanded
        rows = [LayerPlan(conv, dict(
            in_channels=in_channels, out_channels=first_out, kernel=stage.kernel, stride=stride,
            activation=stage.activation))]
        rows += attention_plan(stage.attention, first_out, in_channels, stage.activation)
        if stage.expansion != 1:
            rows.append(LayerPlan(conv, dict(in_channels=expanded, out_channels=stage.out_channels, activation=None)))
        return rows


def block_class(stage: StageSpec) -> type[ResidualBlock]:
    return FusedMBConv if stage.fused else MBConv
