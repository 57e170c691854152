"""The search's budget: MACs or batch-1 latency; its window, projection into it, the MnasNet reward.

Every candidate that is trained has ``0.9 * budget <= cost <= budget``, where the cost is
MACs at the spec's own resolution (:func:`search_space.count_cost`, the papers' "FLOPs"),
or, for a latency budget, the batch-1 CPU latency in ms that this machine's
:class:`search_space.latency.LatencyTable` predicts for the spec at its own resolution
(table entries where it has them, its regression for parts it has not seen: no candidate is
built or run to be placed). A candidate outside is projected with
:func:`search_space.reach_macs` (the suite's one target solver): for each depth multiplier
of a ladder, nearest to 1 first, its width multiplier is bisected with the reference
rounding; if no pair lands in the window the candidate is rejected untrained.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path

from infra.errors import UsageError
from infra.units import format_macs
from search_space import NetworkSpec, SearchSpace, SpecError, count_cost
from search_space.latency import LatencyTable, default_table_path
from search_space.mac_target import MacWindow, SearchLine, reach_macs
from search_space.rules import Multipliers
from search_space.space import domain_values

WINDOW_LOW = 0.9  # the budget window is [WINDOW_LOW, 1] x budget (MnasNet's soft target, made hard)
DEFAULT_MACS = 400_000_000  # the budget when none is given: EfficientNet-B0's target (MnasNet's T)
LATENCY_TABLE_SPECS = 24  # sampled networks whose parts seed a new latency table (plus the extremes)
REWARD_EXPONENT = -0.07  # MnasNet's w in ACC x (MACs/T)^w (arXiv 1807.11626, section 3)


def budget_window(budget: float) -> MacWindow:
    """``[0.9, 1.0] x budget``, aiming at the budget itself (the widest network within it)."""
    return MacWindow(WINDOW_LOW * budget, budget, budget)


@dataclass(frozen=True)
class Budget:
    """What a search budgets: ``value`` MACs (``kind="macs"``) or ``value`` ms of predicted
    batch-1 CPU latency with ``threads`` intra-op threads (``kind="latency"``, MnasNet's
    target, arXiv 1807.11626 section 3)."""

    value: float
    kind: str = "macs"
    threads: int = 1
    # The table latencies are predicted from; it travels with the budget to worker processes
    # and Ray nodes, so every trial is placed by the driver machine's latencies, identically.
    table: LatencyTable | None = field(default=None, compare=False, repr=False)

    KINDS = ("macs", "latency")

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"budget kind: expected one of {self.KINDS}, got {self.kind!r}")

    @classmethod
    def coerce(cls, budget: "Budget | float") -> "Budget":
        """``budget`` itself, or a plain number as a MAC budget: the one place a number becomes a budget."""
        return budget if isinstance(budget, Budget) else cls(int(budget))

    @classmethod
    def from_flags(cls, macs: float | None, latency_ms: float | None, threads: int = 1) -> "Budget":
        """The budget ``--budget-flops`` / ``--budget-latency`` name: one of them, or
        :data:`DEFAULT_MACS` when neither is given."""
        if macs is not None and latency_ms is not None:
            raise UsageError("--budget-flops and --budget-latency: give one budget, not both")
        if latency_ms is not None:
            return cls(latency_ms, "latency", threads, latency_table(threads))
        return cls(int(macs or DEFAULT_MACS))

    @classmethod
    def from_config(cls, config: dict) -> "Budget":
        """The budget a run directory's ``config.json`` recorded (see :meth:`flags`)."""
        if config.get("budget_latency"):
            return cls(float(config["budget_latency"]), "latency", int(config.get("latency_threads", 1)))
        return cls(int(config.get("budget_flops") or DEFAULT_MACS))

    def flags(self) -> dict:
        """The flag values that name this budget, as a run directory records them."""
        if self.kind == "macs":
            return {"budget_flops": self.value, "budget_latency": None}
        return {"budget_flops": None, "budget_latency": self.value, "latency_threads": self.threads}

    @property
    def flag(self) -> str:
        return "--budget-flops" if self.kind == "macs" else "--budget-latency"

    @property
    def column(self) -> str:
        """The results-table column holding a candidate's cost: ``macs`` or ``latency_ms``."""
        return "macs" if self.kind == "macs" else "latency_ms"

    @property
    def symbol(self) -> str:
        return "MACs" if self.kind == "macs" else "LAT"

    def cost(self, spec: NetworkSpec) -> float:
        """``spec``'s cost as this budget counts it (MACs, or predicted ms without running it)."""
        if self.kind == "macs":
            return count_cost(spec).macs
        return (self.table or latency_table(self.threads)).predict(spec, measure_unseen=False)

    def window(self) -> MacWindow:
        return budget_window(self.value)

    def format(self, cost: float) -> str:
        """``379M MACs`` or ``14.20 ms``."""
        return f"{format_macs(cost)} MACs" if self.kind == "macs" else f"{cost:.2f} ms"

    def describe(self) -> str:
        return (f"budget {self.format(self.value)}" + ("" if self.kind == "macs" else
                f" (predicted batch-1 CPU latency, {self.threads} thread{'s' if self.threads > 1 else ''})"))

    def networks_to_measure(self, space: SearchSpace) -> list[NetworkSpec]:
        """What must be measured before this budget can place candidates of ``space``: for a
        latency budget whose table is new on this machine, the space's extremes and
        :data:`LATENCY_TABLE_SPECS` samples (fill ``self.table`` with them); otherwise none."""
        if self.kind != "latency" or self.table is None or self.table.model() is not None:
            return []
        return [smallest_macs(space)[1], largest_reachable(space),
                *(space.sample(seed) for seed in range(LATENCY_TABLE_SPECS))]

    def check_reachable(self, space: SearchSpace) -> None:
        """One line when no network of ``space`` can land in the window: the budget is
        below its smallest network, or the window above the largest it reaches."""
        smallest, largest = smallest_macs(space)[1], largest_reachable(space)
        low, high = self.cost(smallest), self.cost(largest)
        if self.value < low:
            raise UsageError(f"{self.flag} {self.format(self.value)} is below the smallest network of the space "
                             f"({self.format(low)} at {'x'.join(map(str, smallest.resolution))}, "
                             f"{smallest.num_classes} classes)")
        if WINDOW_LOW * self.value > high:
            raise UsageError(f"{self.flag} {self.format(self.value)} is above the largest network the space "
                             f"reaches ({self.format(high)}: its largest choices at the widest and deepest "
                             "projection)")


def latency_table(threads: int) -> LatencyTable:
    """This machine's latency table for ``threads`` threads, read once per process (and per
    cache folder: ``$XDG_CACHE_HOME`` may change between searches of one process)."""
    return _table_at(default_table_path(threads), threads)


@functools.lru_cache(maxsize=None)
def _table_at(path: Path, threads: int) -> LatencyTable:
    return LatencyTable(threads=threads, path=path)


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
    cost: float = 0.0  # what the budget counts: the MACs again, or the predicted latency in ms

    @property
    def accepted(self) -> bool:
        return self.spec is not None

    @property
    def projected(self) -> bool:
        return self.accepted and self.action != "in window"


WIDTH_LIMITS = (0.25, 4.0)  # the width multipliers a projection bisects between
# Depth multipliers tried in turn, nearest to 1 first (by log distance).
_DEPTH_LADDER = tuple(sorted((round(0.5 + 0.05 * i, 2) for i in range(31)), key=lambda d: abs(math.log(d))))


def project(spec: NetworkSpec, budget: "Budget | int", width_limits: tuple[float, float] = WIDTH_LIMITS) -> Projection:
    """Bring ``spec`` into ``[0.9, 1.0] x budget`` (a :class:`Budget`, or MACs), or reject it.

    Depth multipliers of a ladder (0.5..2.0 in steps of 0.05, nearest to 1 first) are tried
    in turn; at each the width multiplier is bisected for the widest network within budget,
    and the first pair that lands in the window wins. Width alone is not always enough: the
    reference rounding moves every multiple-of-8 width up by 8 at the same multiplier (1/0.9),
    a MAC step that can exceed the 10% window.
    """
    budget = Budget.coerce(budget)
    window = budget.window()
    original = count_cost(spec).macs
    original_cost = original if budget.kind == "macs" else budget.cost(spec)
    if window.contains(original_cost):
        return Projection(spec, original, original, "in window", original_cost)
    lines = (SearchLine(lambda width, depth=depth: Multipliers(depth=depth, width=width), *width_limits)
             for depth in _DEPTH_LADDER)
    reached = reach_macs(spec, window, lines, measure=None if budget.kind == "macs" else budget.cost)
    if not reached.in_window:
        return Projection(None, reached.macs, original, "rejected: no width/depth multiplier lands in the window "
                                                        f"(closest {budget.format(reached.value)})", reached.value)
    width, depth = reached.multipliers.width, reached.multipliers.depth
    action = f"width x{width:.3f}" + ("" if depth == 1.0 else f", depth x{depth:.2f}")
    return Projection(reached.spec, reached.macs, original, action, reached.value)


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


def largest_reachable(space: SearchSpace) -> NetworkSpec:
    """The largest network :func:`project` can make from ``space``: its largest network at
    the widest and deepest multipliers the projection tries."""
    _, largest = _extreme_network(space, max)
    try:
        return Multipliers(depth=max(_DEPTH_LADDER), width=WIDTH_LIMITS[1]).apply(largest)
    except SpecError:  # past the spec's bounds: the projection cannot go there either
        return largest


def largest_reachable_macs(space: SearchSpace) -> int:
    """MACs of :func:`largest_reachable`."""
    return count_cost(largest_reachable(space)).macs


__all__ = ["Budget", "DEFAULT_MACS", "LATENCY_TABLE_SPECS", "Projection", "REWARD_EXPONENT", "WINDOW_LOW", "budget_window",
           "largest_reachable",
           "largest_reachable_macs", "latency_table", "project", "reward", "smallest_macs"]
