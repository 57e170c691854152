"""Analytic parameter, MAC and activation counts of a spec: no tracing, no model build.

Exact by construction: every figure is summed from the same
:class:`~search_space.layers.LayerPlan` rows the builder instantiates, and the
tests check equality with ``sum(p.numel())`` and fvcore's ``by_operator()`` conv and
linear counts. MACs follow the papers' "FLOPs" convention (see
:mod:`search_space.counting`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from search_space.blocks import block_class
from search_space.counting import Cost
from search_space.model import classifier_plan, head_plan, stem_plan
from search_space.spec import NetworkSpec, StageSpec


class PartCost(NamedTuple):
    """Cost of one part of the network (stem, a stage, head, classifier)."""

    name: str
    params: int
    macs: int
    activations: int
    output_resolution: tuple[int, int]
    conv_macs: int
    linear_macs: int


@dataclass(frozen=True)
class CostReport:
    """Totals and per-part figures of a spec at its own resolution, batch size 1.

    ``macs`` = conv + linear multiply-accumulates (the papers' FLOPs);
    ``macs_by_op`` has keys ``conv`` and ``linear`` like fvcore's ``by_operator()``.
    ``stages`` has one entry per stage; ``parts`` adds stem, head and classifier.
    """

    params: int
    macs: int
    macs_by_op: dict[str, int]
    activations: int
    resolution: tuple[int, int]
    stages: tuple[PartCost, ...]
    parts: tuple[PartCost, ...]

    def to_dict(self) -> dict:
        return {
            "params": self.params,
            "macs": self.macs,
            "macs_by_op": dict(self.macs_by_op),
            "activations": self.activations,
            "resolution": list(self.resolution),
            "parts": [
                {
                    "name": part.name,
                    "params": part.params,
                    "macs": part.macs,
                    "activations": part.activations,
                    "output_resolution": list(part.output_resolution),
                }
                for part in self.parts
            ],
        }


def _part(name: str, cost: Cost, height: int, width: int) -> PartCost:
    return PartCost(name, cost.params, cost.macs, cost.activations, (height, width), cost.conv_macs, cost.linear_macs)


@lru_cache(maxsize=65536)
def stage_cost(stage: StageSpec, in_channels: int, height: int, width: int) -> tuple[Cost, int, int]:
    """Cost of a whole stage at input ``(height, width)`` and its output size.

    Memoised: specs are immutable and a search or a scaling grid re-costs the same
    stages at the same resolutions many times.
    """
    block = block_class(stage)
    cost, height, width = block.cost(stage, in_channels, stage.stride, height, width)
    if stage.repeats > 1:
        # Blocks after the first see identical shapes, so one costing serves them all.
        repeat_cost, height, width = block.cost(stage, stage.out_channels, 1, height, width)
        cost = cost + repeat_cost * (stage.repeats - 1)
    return cost, height, width


def count_cost(spec: NetworkSpec) -> CostReport:
    """Params, MACs (conv + linear) and activations of ``spec`` at ``spec.resolution``.

    >>> from search_space import load_spec
    >>> report = count_cost(load_spec("efficientnet-b0"))
    >>> report.params, report.macs_by_op["conv"], report.macs_by_op["linear"]
    (5288548, 384534752, 1280000)
    """
    height, width = spec.resolution
    stem, height, width = stem_plan(spec).cost(height, width)
    total = stem
    parts = [_part("stem", stem, height, width)]
    stages = []
    for index, (stage, in_channels) in enumerate(zip(spec.stages, spec.stage_inputs)):
        cost, height, width = stage_cost(stage, in_channels, height, width)
        total = total + cost
        stages.append(_part(f"stage{index + 1}", cost, height, width))
    head, height, width = head_plan(spec).cost(height, width)
    classifier, _, _ = classifier_plan(spec).cost(height, width)
    total = total + head + classifier
    parts += stages + [_part("head", head, height, width), _part("classifier", classifier, 1, 1)]
    return CostReport(
        params=total.params,
        macs=total.macs,
        macs_by_op={"conv": total.conv_macs, "linear": total.linear_macs},
        activations=total.activations,
        resolution=spec.resolution,
        stages=tuple(stages),
        parts=tuple(parts),
    )
