"""The MAC budget: its window, projection into it, the MnasNet reward.

Every candidate that is trained has ``0.9 * budget <= MACs <= budget`` at the spec's own
resolution (MACs as in :func:`search_space.count_cost`, the papers' "FLOPs"). A
candidate outside is projected with :func:`search_space.reach_macs` (the suite's one
MAC-target solver): for each depth multiplier of a ladder, nearest to 1 first, its width
multiplier is bisected with the reference rounding; if no pair lands in the window the
candidate is rejected untrained.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass

from search_space import NetworkSpec, SearchSpace, SpecError, count_cost
from search_space.common.units import format_macs
from search_space.mac_target import MacWindow, SearchLine, reach_macs
from search_space.rules import Multipliers
from search_space.space import domain_values

WINDOW_LOW = 0.9  # the budget window is [WINDOW_LOW, 1] x budget (MnasNet's soft target, made hard)
REWARD_EXPONENT = -0.07  # MnasNet's w in ACC x (MACs/T)^w (arXiv 1807.11626, section 3)


def budget_window(budget: float) -> MacWindow:
    """``[0.9, 1.0] x budget``, aiming at the budget itself (the widest network within it)."""
    return MacWindow(WINDOW_LOW * budget, budget, budget)


def reward(accuracy: float, macs: int, target: int, exponent: float = REWARD_EXPONENT) -> float:
    """MnasNet's soft-constrained objective ``ACC * (MACs / T) ** w`` (arXiv 1807.11626, eq. 2)."""
    return accuracy * (macs / target) ** exponent


@dataclass(frozen=True)
class Projection:
    """Where a candidate ended up: ``spec`` (None if rejected) and what was done."""

    spec: NetworkSpec | None
    macs: int
    original_macs: int
    action: str  # "in window", "width x0.912", "width x1.05, depth x0.8", "rejected: ..."

    @property
    def accepted(self) -> bool:
        return self.spec is not None

    @property
    def projected(self) -> bool:
        return self.accepted and self.action != "in window"


WIDTH_LIMITS = (0.25, 4.0)  # the width multipliers a projection bisects between
# Depth multipliers tried in turn, nearest to 1 first (by log distance).
_DEPTH_LADDER = tuple(sorted((round(0.5 + 0.05 * i, 2) for i in range(31)), key=lambda d: abs(math.log(d))))


def project(spec: NetworkSpec, budget: int, width_limits: tuple[float, float] = WIDTH_LIMITS) -> Projection:
    """Bring ``spec`` into ``[0.9, 1.0] x budget``, or reject it.

    Depth multipliers of a ladder (0.5..2.0 in steps of 0.05, nearest to 1 first) are tried
    in turn; at each the width multiplier is bisected for the widest network within budget,
    and the first pair that lands in the window wins. Width alone is not always enough: the
    reference rounding moves every multiple-of-8 width up by 8 at the same multiplier (1/0.9),
    a MAC step that can exceed the 10% window.
    """
    window = budget_window(budget)
    original = count_cost(spec).macs
    if window.contains(original):
        return Projection(spec, original, original, "in window")
    lines = (SearchLine(lambda width, depth=depth: Multipliers(depth=depth, width=width), *width_limits)
             for depth in _DEPTH_LADDER)
    reached = reach_macs(spec, window, lines)
    if not reached.in_window:
        return Projection(None, reached.macs, original, "rejected: no width/depth multiplier lands in the window "
                                                        f"(closest {format_macs(reached.macs)})")
    width, depth = reached.multipliers.width, reached.multipliers.depth
    action = f"width x{width:.3f}" + ("" if depth == 1.0 else f", depth x{depth:.2f}")
    return Projection(reached.spec, reached.macs, original, action)


def _extreme_network(space: SearchSpace, pick) -> tuple[int, NetworkSpec]:
    """The network of ``space`` with the fewest (``pick=min``) or most (``max``) MACs.

    MACs never decrease with width, kernel, expansion or repeats, so those take their
    extreme choice; block type, attention and activation are then chosen per stage by
    costing each combination (a stage's cost depends only on its own choices and input).
    """
    def extreme(name: str, domain) -> object:
        values = domain_values(domain)
        return pick(values) if name.split(".")[-1] in ("kernel", "expansion", "repeats", "out_channels",
                                                       "stem_channels", "head_channels") else values[0]

    base = space.decode(extreme)
    stages = list(base.stages)
    for index, choices in enumerate(space.stages):
        options = itertools.product(choices.block, choices.attention, choices.activation)
        candidates = []
        for block, attention, activation in options:
            trial = space.decode(lambda name, domain: (
                {f"stage{index + 1}.block": block, f"stage{index + 1}.attention": attention,
                 f"stage{index + 1}.activation": activation}.get(name, extreme(name, domain))))
            candidates.append((count_cost(trial).macs, trial.stages[index]))
        stages[index] = pick(candidates, key=lambda pair: pair[0])[1]
    network = dataclasses.replace(base, stages=tuple(stages))
    return count_cost(network).macs, network


def smallest_macs(space: SearchSpace) -> tuple[int, NetworkSpec]:
    """The exact smallest network of ``space`` and its MACs."""
    return _extreme_network(space, min)


def largest_reachable_macs(space: SearchSpace) -> int:
    """MACs of the largest network :func:`project` can make from ``space``: its largest
    network at the widest and deepest multipliers the projection tries."""
    _, largest = _extreme_network(space, max)
    try:
        return count_cost(Multipliers(depth=max(_DEPTH_LADDER), width=WIDTH_LIMITS[1]).apply(largest)).macs
    except SpecError:  # past the spec's bounds: the projection cannot go there either
        return count_cost(largest).macs


__all__ = ["Projection", "REWARD_EXPONENT", "WINDOW_LOW", "budget_window", "largest_reachable_macs", "project", "reward",
           "smallest_macs"]
