"""Reaching a MAC target despite rounding: the one solver behind budget projection
(:func:`runners.project`) and rounding-corrected compound scaling
(:func:`scaling.corrected_scale`). The target may be any cost that does not decrease with
the multipliers (``measure``): a latency budget projects with predicted latency.

Rounding makes MACs a step function of the multipliers: widths move in multiples of 8,
repeats in whole blocks, resolution in whole pixels. A target is therefore a window
(``[0.9, 1.0] x budget``; ``2^phi +- 5%``), and the solver walks *search lines*, each a
one-parameter family of multipliers along which MACs do not decrease, bisecting each for
the window. Lines are tried in the caller's order of preference; the first network inside
the window wins, otherwise the one closest to it is returned (``in_window`` False).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable

from search_space.cost_model import count_cost
from search_space.rules import Multipliers
from search_space.spec import NetworkSpec

BISECTION_STEPS = 24  # 2^-24 of a line's span: far finer than any rounding step


@dataclass(frozen=True)
class MacWindow:
    """Acceptable MACs ``[low, high]`` and the ``aim`` inside it that bisection heads for."""

    low: float
    high: float
    aim: float

    @classmethod
    def around(cls, target: float, tolerance: float) -> "MacWindow":
        """``target * (1 +- tolerance)``, aiming at ``target``."""
        return cls(target * (1 - tolerance), target * (1 + tolerance), target)

    def contains(self, macs: float) -> bool:
        return self.low <= macs <= self.high

    def miss(self, macs: float) -> float:
        """How far ``macs`` is from the window, as a log ratio (0 inside)."""
        if self.contains(macs):
            return 0.0
        return abs(math.log(macs / (self.low if macs < self.low else self.high)))


@dataclass(frozen=True)
class SearchLine:
    """Multipliers ``at(t)`` for ``t`` in ``[low, high]``; MACs must not decrease with ``t``."""

    at: Callable[[float], Multipliers]
    low: float
    high: float


@dataclass(frozen=True)
class Reached:
    """The network found: the multipliers asked for, what rounding made of them, its MACs,
    and its cost as the window measures it (``value``: the MACs again, unless a ``measure``
    was given)."""

    multipliers: Multipliers
    spec: NetworkSpec
    macs: int
    in_window: bool
    value: float = 0.0


def _better(candidate: Reached, best: Reached | None, window: MacWindow) -> bool:
    if best is None:
        return True
    if candidate.in_window != best.in_window:
        return candidate.in_window
    if candidate.in_window:  # both inside: the one nearer the aim
        return abs(math.log(candidate.value / window.aim)) < abs(math.log(best.value / window.aim))
    return window.miss(candidate.value) < window.miss(best.value)


def reach_macs(base: NetworkSpec, window: MacWindow, lines: Iterable[SearchLine],
               steps: int = BISECTION_STEPS, measure: Callable[[NetworkSpec], float] | None = None) -> Reached:
    """The first network inside ``window`` along ``lines`` (bisected towards ``window.aim``),
    or the closest one found. ``window`` bounds MACs, or ``measure(spec)`` when given (it
    must not decrease along a line).

    >>> from search_space import load_spec
    >>> b0 = load_spec("efficientnet-b0")
    >>> macs = count_cost(b0).macs
    >>> line = SearchLine(lambda w: Multipliers(width=w), 0.25, 1.0)
    >>> reached = reach_macs(b0, MacWindow(0.45 * macs, 0.5 * macs, 0.5 * macs), [line])
    >>> reached.in_window, reached.multipliers.width < 1
    (True, True)
    """
    best: Reached | None = None

    def visit(multipliers: Multipliers) -> Reached:
        nonlocal best
        spec = multipliers.apply(base)
        macs = count_cost(spec).macs
        value = macs if measure is None else measure(spec)
        candidate = Reached(multipliers, spec, macs, window.contains(value), value)
        if _better(candidate, best, window):
            best = candidate
        return candidate

    for line in lines:
        low, high = line.low, line.high
        for _ in range(steps if high > low else 1):
            middle = (low + high) / 2
            candidate = visit(line.at(middle))
            if candidate.value < window.aim:
                low = middle
            else:
                high = middle
        if best is not None and best.in_window:
            return best
    if best is None:
        raise ValueError("reach_macs needs at least one search line")
    return best


__all__ = ["BISECTION_STEPS", "MacWindow", "Reached", "SearchLine", "reach_macs"]
