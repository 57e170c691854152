"""Whole-spec transforms that derive one architecture family from another."""

from __future__ import annotations

import dataclasses

from search_space.spec import EfficientChannelAttention, NetworkSpec, SqueezeExcitation

GHOST_BLOCKS = {"MBConv": "GhostMBConv", "FusedMBConv": "GhostFusedMBConv"}
DEFAULT_LAYER_SCALE = 1e-5


def to_ghost(spec: NetworkSpec, layer_scale: float | None = DEFAULT_LAYER_SCALE, name: str | None = None) -> NetworkSpec:
    """The Ghost variant of ``spec`` (the Ghost EfficientNetV2 design).

    Ghost modules replace the 1x1 expand/project convs and the fused kxk conv,
    ECA (adaptive kernel) replaces squeeze-excitation, and every residual branch
    gets LayerScale with initial value ``layer_scale`` (``None`` for none).
    Stages already Ghost are kept; stochastic depth is the spec's own.
    """
    stages = tuple(
        dataclasses.replace(
            stage,
            block=GHOST_BLOCKS.get(stage.block, stage.block),
            attention=EfficientChannelAttention() if isinstance(stage.attention, SqueezeExcitation) else stage.attention,
            layer_scale=layer_scale,
        )
        for stage in spec.stages
    )
    return dataclasses.replace(spec, stages=stages, name=name or f"ghost-{spec.name}")
