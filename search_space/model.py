"""The network assembled from a :class:`~search_space.spec.NetworkSpec`.

``stem -> stages of blocks -> 1x1 head conv -> global average pool -> dropout -> classifier``
(EfficientNet Table 1). The stem, head and classifier are described by
:class:`~search_space.layers.LayerPlan` rows shared with the cost model.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

import torch
from torch import nn

from search_space.blocks import ResidualBlock, block_class
from search_space.layers import ConvNormAct, CosineClassifier, LayerPlan, LinearClassifier
from search_space.spec import NetworkSpec, StageSpec

STEM_KERNEL = 3


def stem_plan(spec: NetworkSpec) -> LayerPlan:
    return LayerPlan(ConvNormAct, dict(
        in_channels=spec.in_channels, out_channels=spec.stem_channels, kernel=STEM_KERNEL,
        stride=spec.stem_stride, activation=spec.stages[0].activation))


def head_plan(spec: NetworkSpec) -> LayerPlan:
    return LayerPlan(ConvNormAct, dict(
        in_channels=spec.stages[-1].out_channels, out_channels=spec.head_channels,
        activation=spec.stages[-1].activation))


def classifier_plan(spec: NetworkSpec) -> LayerPlan:
    if spec.classifier == "cosine":
        return LayerPlan(CosineClassifier, dict(
            in_features=spec.head_channels, num_classes=spec.num_classes,
            scale=spec.cosine_scale, margin=spec.cosine_margin))
    return LayerPlan(LinearClassifier, dict(in_features=spec.head_channels, num_classes=spec.num_classes))


def stage_blocks(spec: NetworkSpec) -> Iterator[tuple[int, StageSpec, int, int]]:
    """``(stage_index, stage, in_channels, stride)`` for every block, in network order."""
    for index, (stage, in_channels) in enumerate(zip(spec.stages, spec.stage_inputs)):
        for repeat in range(stage.repeats):
            first = repeat == 0
            yield index, stage, in_channels if first else stage.out_channels, stage.stride if first else 1


class EfficientNet(nn.Module):
    """An EfficientNet-family classifier built from a spec (kept as ``self.spec``).

    ``forward(x, target=None)``: ``target`` only matters for a cosine head with a margin.
    ``forward_features`` returns the pooled head features.
    """

    def __init__(self, spec: NetworkSpec):
        super().__init__()
        self.spec = spec
        self.stem = stem_plan(spec).build()
        stages: list[list[ResidualBlock]] = [[] for _ in spec.stages]
        total = spec.total_blocks
        for block_index, (stage_index, stage, in_channels, stride) in enumerate(stage_blocks(spec)):
            # Stochastic depth rises linearly over the global block index (EfficientNet, torchvision).
            drop_path = spec.drop_path_rate * block_index / total
            stages[stage_index].append(block_class(stage)(stage, in_channels, stride, drop_path))
        self.stages = nn.Sequential(*(nn.Sequential(*blocks) for blocks in stages))
        self.head = head_plan(spec).build()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(spec.dropout)
        self.classifier = classifier_plan(spec).build()
        self._init_weights()

    def _init_weights(self) -> None:
        # torchvision's EfficientNet initialisation.
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Conv1d)):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, LinearClassifier):
                bound = 1.0 / module.out_features**0.5
                nn.init.uniform_(module.weight, -bound, bound)
                nn.init.zeros_(module.bias)
        # Zero-initialised residual branches (Goyal et al. 2017, arXiv 1706.02677, section 5.1;
        # He et al. 2019, "Bag of Tricks", section 3.1): the last batch norm of each residual
        # body starts at gamma = 0, so every block starts as the identity and the network
        # trains first as a shallow one. Short proxy trainings need it: on the fidelity panel
        # it raised 2-epoch accuracy from 0.35 to 0.67 and cut the seed-to-seed spread of one
        # candidate from 0.10 to 0.025 (BENCHMARKS.md). LayerScale already starts its branch
        # near zero, so those blocks keep gamma = 1. "Last" is the last layer of the body with
        # batch norm: all of a Ghost module's (its two halves are concatenated), and the conv
        # before the attention when attention ends the body (SE and ECA map zero to zero).
        for block in self.blocks:
            if block.residual and block.layer_scale is None:
                normed = [layer for layer in block.body if any(isinstance(m, nn.BatchNorm2d) for m in layer.modules())]
                for norm in normed[-1].modules():
                    if isinstance(norm, nn.BatchNorm2d):
                        nn.init.zeros_(norm.weight)

    @property
    def blocks(self) -> list[ResidualBlock]:
        """All blocks in network order (the global index used by stochastic depth)."""
        return [block for stage in self.stages for block in stage]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.stages(self.stem(x)))
        return torch.flatten(self.pool(x), 1)

    def forward(self, x: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        return self.classifier(self.dropout(self.forward_features(x)), target)

    def train(self, mode: bool = True) -> "EfficientNet":
        super().train(mode)
        # Frozen layers (see set_trainable_layers) keep their batch-norm statistics.
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d) and not any(p.requires_grad for p in module.parameters()):
                module.eval()
        return self


def build_model(spec: NetworkSpec, num_classes: int | None = None, in_channels: int | None = None) -> EfficientNet:
    """Build the torch module described by ``spec``.

    ``num_classes`` and ``in_channels`` override the spec's own values (they are
    recorded in ``model.spec``, so ``count_cost(model.spec)`` matches the model).

    >>> from search_space import load_spec
    >>> model = build_model(load_spec("efficientnet-b0"), num_classes=10, in_channels=1)
    >>> model(torch.zeros(2, 1, 64, 96)).shape
    torch.Size([2, 10])
    """
    changes = {}
    if num_classes is not None:
        changes["num_classes"] = num_classes
    if in_channels is not None:
        changes["in_channels"] = in_channels
    return EfficientNet(dataclasses.replace(spec, **changes) if changes else spec)
