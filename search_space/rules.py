"""Scaling rules of a spec with the reference rounding (EfficientNet section 3.3).

Depth ``d``, width ``w`` and resolution ``r`` multipliers are applied to a base spec
with the rounding of the official implementations (tensorflow/tpu
``round_filters``/``round_repeats``, torchvision ``_make_divisible``), so that
``scale(efficientnet-b0, w, d, r)`` is exactly the published B1..B7.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from dataclasses import dataclass

from search_space.spec import NetworkSpec, SpecError

CHANNEL_DIVISOR = 8


def round_filters(channels: int, width_mult: float, divisor: int = CHANNEL_DIVISOR) -> int:
    """``channels * width_mult`` rounded to the nearest multiple of ``divisor`` (at least
    ``divisor``), plus one ``divisor`` if rounding lost more than 10%.

    A multiplier of exactly 1.0 leaves ``channels`` untouched, so scaling by 1 is the
    identity even for widths that are not multiples of ``divisor``.

    >>> round_filters(32, 1.2), round_filters(320, 2.0), round_filters(12, 1.0)
    (40, 640, 12)
    """
    if width_mult == 1.0:
        return channels
    target = channels * width_mult
    rounded = max(divisor, int(target + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * target:
        rounded += divisor
    return int(rounded)


REPEATS_TOLERANCE = Fraction(1, 10**9)  # products this close above an integer are float noise


def round_repeats(repeats: int, depth_mult: float) -> int:
    """``ceil(repeats * depth_mult)``, the reference rule (so 3 * 1.1 -> 4), except that a
    product at most 1e-9 above an integer counts as that integer: ``2 ** 0.5`` squared is
    ``2.0000000000000004``, and its ceil would add a block nobody asked for.

    The product is exact (rational arithmetic on the float's value), so the rule is the
    smallest integer ``n >= repeats * depth_mult - 1e-9``.

    >>> round_repeats(3, 1.1), round_repeats(4, 1.0), round_repeats(1, (2 ** 0.5) ** 2)
    (4, 4, 2)
    """
    return int(math.ceil(Fraction(repeats) * Fraction(depth_mult) - REPEATS_TOLERANCE))


DEPTH_RULES = ("per-stage", "total")


def distribute_repeats(repeats: tuple[int, ...], depth_mult: float) -> tuple[int, ...]:
    """The "total" depth rule: scale the network's block count, not each stage's.

    ``round(sum(repeats) * depth_mult)`` blocks (at least one per stage) are handed out one
    at a time, each to the stage with the largest ``repeats[i] / (given[i] + 1/2)`` (the
    Sainte-Lague priority; a tie goes to the later stage), starting from one block each.
    So depth grows by single blocks: with one block in each of 7 stages, ``1.2`` gives 8
    blocks where the per-stage ``ceil`` gives 14. The allocation at a larger multiplier
    extends the one at a smaller (no stage ever loses a block as depth grows), and
    ``depth_mult = 1`` gives ``repeats`` back.

    >>> distribute_repeats((1, 1, 1, 1, 1, 1, 1), 1.2), distribute_repeats((1, 2, 2, 3, 3, 4, 1), 1.0)
    ((1, 1, 1, 1, 1, 1, 2), (1, 2, 2, 3, 3, 4, 1))
    """
    exact = Fraction(sum(repeats)) * Fraction(depth_mult)
    total = max(len(repeats), int(math.floor(exact + Fraction(1, 2) + REPEATS_TOLERANCE)))
    given = [1] * len(repeats)
    for _ in range(total - len(repeats)):
        stage = max(range(len(repeats)), key=lambda i: (Fraction(repeats[i]) / (given[i] + Fraction(1, 2)), i))
        given[stage] += 1
    return tuple(given)


def _check_multiplier(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise SpecError(name, f"must be a number > 0, got {value!r}")


def scale(
    spec: NetworkSpec,
    width_mult: float = 1.0,
    depth_mult: float = 1.0,
    resolution: int | tuple[int, int] | None = None,
    *,
    dropout: float | None = None,
    name: str | None = None,
    depth_rule: str = "per-stage",
) -> NetworkSpec:
    """Scale ``spec``: stem, every stage's width, the head width by ``width_mult``
    (:func:`round_filters`), the repeats by ``depth_mult``, and set ``resolution`` (an int
    or ``(height, width)``; ``None`` keeps the base's).

    ``depth_rule="per-stage"`` rounds each stage's repeats up (:func:`round_repeats`, the
    reference rule: the published B1..B7); ``"total"`` scales the block count of the whole
    network and spreads it over the stages (:func:`distribute_repeats`), which lets a base
    with one block per stage grow by less than 2x in depth.

    >>> from search_space import load_spec
    >>> b0 = load_spec("efficientnet-b0")
    >>> scale(b0, 1.1, 1.2, 260, dropout=0.3, name="efficientnet-b2") == load_spec("efficientnet-b2")
    True
    """
    _check_multiplier("width_mult", width_mult)
    _check_multiplier("depth_mult", depth_mult)
    if depth_rule not in DEPTH_RULES:
        raise SpecError("depth_rule", f"must be one of {', '.join(DEPTH_RULES)}, got {depth_rule!r}")
    if depth_rule == "total":
        repeats = distribute_repeats(tuple(stage.repeats for stage in spec.stages), depth_mult)
    else:
        repeats = tuple(round_repeats(stage.repeats, depth_mult) for stage in spec.stages)
    stages = tuple(
        dataclasses.replace(stage, out_channels=round_filters(stage.out_channels, width_mult), repeats=count)
        for stage, count in zip(spec.stages, repeats)
    )
    changes = dict(
        stem_channels=round_filters(spec.stem_channels, width_mult),
        head_channels=round_filters(spec.head_channels, width_mult),
        stages=stages,
    )
    if resolution is not None:
        changes["resolution"] = resolution
    if dropout is not None:
        changes["dropout"] = dropout
    if name is not None:
        changes["name"] = name
    return dataclasses.replace(spec, **changes)


def scale_resolution(resolution: tuple[int, int], multiplier: float) -> tuple[int, int]:
    """Each side times ``multiplier``, rounded to the nearest integer (at least 1).

    >>> scale_resolution((224, 224), 1.15), scale_resolution((128, 431), 0.5)
    ((258, 258), (64, 216))
    """
    return tuple(max(1, int(round(side * multiplier))) for side in resolution)  # type: ignore[return-value]


def resolution_multiplier(base: NetworkSpec, spec: NetworkSpec) -> float:
    """How much larger ``spec``'s input is than ``base``'s: the geometric mean ratio of the two
    sides (what rounding made of a requested resolution multiplier).

    >>> from search_space import load_spec
    >>> round(resolution_multiplier(load_spec("efficientnet-b0"), load_spec("efficientnet-b4")), 3)
    1.696
    """
    return math.sqrt(spec.resolution[0] * spec.resolution[1] / (base.resolution[0] * base.resolution[1]))


@dataclass(frozen=True)
class Multipliers:
    """Continuous depth, width and resolution multipliers asked of the rounding rules."""

    depth: float = 1.0
    width: float = 1.0
    resolution: float = 1.0
    depth_rule: str = "per-stage"  # see scale()

    def apply(self, spec: NetworkSpec) -> NetworkSpec:
        """``spec`` scaled by these multipliers with the reference rounding (:func:`scale`)."""
        resolution = None if self.resolution == 1.0 else scale_resolution(spec.resolution, self.resolution)
        return scale(spec, self.width, self.depth, resolution, depth_rule=self.depth_rule)
