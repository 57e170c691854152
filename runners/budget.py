"""The MAC budget: parsing, the acceptance window, projection into it, the MnasNet reward.

Every candidate that is trained has ``0.9 * budget <= MACs <= budget`` at the spec's own
resolution (MACs as in :func:`search_space.count_cost`, the papers' "FLOPs"). A
candidate outside is projected: its width multiplier, then (if rounding steps over the
window) its depth multiplier, is bisected with the reference rounding of
:func:`scaling.scale`; if neither lands in the window it is rejected untrained.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from dataclasses import dataclass

from scaling import scale
from search_space import NetworkSpec, SearchSpace, count_cost
from search_space.space import domain_values

WINDOW_LOW = 0.9
_UNITS = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}
_AMOUNT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)(?:e([+-]?\d+))?\s*([kmgt]?)\s*$", re.IGNORECASE)


def parse_macs(text: str) -> int:
    """``"400M"`` -> 400_000_000; also ``1.2G``, ``4e8``, ``250k``, ``400000000``.

    >>> parse_macs("400M"), parse_macs("1.2G"), parse_macs("4e8")
    (400000000, 1200000000, 400000000)
    """
    match = _AMOUNT.match(str(text))
    if not match:
        raise ValueError(f"expected a MAC count like 400M, 1.2G or 4e8, got {text!r}")
    mantissa, exponent, unit = match.groups()
    value = float(mantissa) * 10 ** int(exponent or 0) * _UNITS[unit.lower()]
    if value < 1:
        raise ValueError(f"a MAC budget must be at least 1, got {text!r}")
    return int(round(value))


def format_macs(macs: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if macs >= size:
            return f"{macs / size:.3g}{unit}"
    return f"{macs:.0f}"


def reward(accuracy: float, macs: int, target: int, exponent: float = -0.07) -> float:
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


def _bisect(make, low: float, high: float, budget: int, iterations: int = 24) -> tuple[float, int]:
    """Largest multiplier in ``[low, high]`` whose MACs stay <= budget (MACs rise with it)."""
    best, best_macs = None, None
    for _ in range(iterations):
        middle = (low + high) / 2
        macs = count_cost(make(middle)).macs
        if macs <= budget:
            best, best_macs, low = middle, macs, middle
        else:
            high = middle
    if best is None:
        best, best_macs = low, count_cost(make(low)).macs
    return best, best_macs


# Depth multipliers tried in turn, nearest to 1 first (by log distance).
_DEPTH_LADDER = tuple(sorted((round(0.5 + 0.05 * i, 2) for i in range(31)), key=lambda d: abs(math.log(d))))


def project(spec: NetworkSpec, budget: int, width_limits: tuple[float, float] = (0.25, 4.0)) -> Projection:
    """Bring ``spec`` into ``[0.9, 1.0] x budget``, or reject it.

    For every depth multiplier of a ladder (0.5..2.0 in steps of 0.05) the width
    multiplier is bisected for the widest network within budget; of the pairs that land
    in the window, the one closest to the original (smallest ``|log w| + |log d|``) wins.
    Width alone is not enough: the reference rounding moves every multiple-of-8 width up
    by 8 at the same multiplier (1/0.9), a MAC step that can exceed the 10% window.
    """
    low_macs = WINDOW_LOW * budget
    original = count_cost(spec).macs
    if low_macs <= original <= budget:
        return Projection(spec, original, original, "in window")
    best, closest = None, 0
    for depth in _DEPTH_LADDER:
        if best is not None and abs(math.log(depth)) >= best[0]:
            break  # the ladder is sorted by |log d|: no later pair can be closer
        width, macs = _bisect(lambda w: scale(spec, w, depth), *width_limits, budget)
        if low_macs <= macs <= budget:
            distance = abs(math.log(width)) + abs(math.log(depth))
            if best is None or distance < best[0]:
                best = (distance, width, depth, macs)
        elif macs <= budget:
            closest = max(closest, macs)
    if best is None:
        return Projection(None, closest, original, f"rejected: no width/depth multiplier lands in the window "
                                                   f"(closest below budget {format_macs(closest)})")
    _, width, depth, macs = best
    action = f"width x{width:.3f}" + ("" if depth == 1.0 else f", depth x{depth:.2f}")
    return Projection(scale(spec, width, depth), macs, original, action)


def smallest_macs(space: SearchSpace) -> tuple[int, NetworkSpec]:
    """The exact smallest network of ``space`` and its MACs.

    MACs never decrease with width, kernel, expansion or repeats, so those take their
    smallest choice; block type, attention and activation are then chosen per stage by
    costing each combination (a stage's cost depends only on its own choices and input).
    """
    def smallest(name: str, domain) -> object:
        values = domain_values(domain)
        return min(values) if name.split(".")[-1] in ("kernel", "expansion", "repeats", "out_channels",
                                                      "stem_channels", "head_channels") else values[0]

    base = space.decode(smallest)
    stages = list(base.stages)
    for index, choices in enumerate(space.stages):
        options = itertools.product(choices.block, choices.attention, choices.activation)
        candidates = []
        for block, attention, activation in options:
            trial = space.decode(lambda name, domain: (
                {f"stage{index + 1}.block": block, f"stage{index + 1}.attention": attention,
                 f"stage{index + 1}.activation": activation}.get(name, smallest(name, domain))))
            candidates.append((count_cost(trial).macs, trial.stages[index]))
        stages[index] = min(candidates, key=lambda pair: pair[0])[1]
    best = dataclasses.replace(base, stages=tuple(stages))
    return count_cost(best).macs, best


__all__ = ["Projection", "format_macs", "parse_macs", "project", "reward", "smallest_macs"]
