"""Compound-scaling coefficients on the constraint ``alpha * beta^2 * gamma^2 = 2``
(EfficientNet section 3.3, eq. 3), parametrised by FLOP shares.

Scaling depth by ``alpha`` multiplies conv MACs by ``alpha``, width by ``beta`` by about
``beta^2`` and resolution by ``gamma`` by ``gamma^2``. Writing each factor as a power of
two gives the FLOP shares ``s_d = log2 alpha``, ``s_w = 2 log2 beta``,
``s_r = 2 log2 gamma``; the constraint becomes ``s_d + s_w + s_r = 1`` with all shares
``>= 0`` (so every multiplier is ``>= 1``): a 2-simplex that a grid covers evenly.

Rounding (channels to multiples of 8, repeats up, resolution to integers) and
depthwise convs make real MACs deviate from ``2^phi``; :func:`compound_scale` measures the
rounded network and can correct a common exponent so the realised ratio hits a target.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from infra.errors import UsageError
from search_space import NetworkSpec, count_cost
from search_space.mac_target import MacWindow, Reached, SearchLine, reach_macs
from search_space.rules import Multipliers, resolution_multiplier

RATIO_TOLERANCE = 0.05  # a scaled network's MACs within 5% of (alpha beta^2 gamma^2)^phi times the base's


@dataclass(frozen=True)
class Coefficients:
    """Per-unit-phi multipliers of depth (alpha), width (beta) and resolution (gamma)."""

    alpha: float
    beta: float
    gamma: float

    @classmethod
    def from_shares(cls, depth: float, width: float, resolution: float) -> "Coefficients":
        """Coefficients whose FLOP shares are the given ones (they must sum to 1).

        >>> c = Coefficients.from_shares(0.25, 0.25, 0.5)
        >>> round(c.alpha * c.beta**2 * c.gamma**2, 12)
        2.0
        """
        if min(depth, width, resolution) < 0 or not math.isclose(depth + width + resolution, 1.0, abs_tol=1e-9):
            raise ValueError(f"shares must be >= 0 and sum to 1, got {depth}, {width}, {resolution}")
        return cls(2.0**depth, 2.0 ** (width / 2), 2.0 ** (resolution / 2))

    @property
    def shares(self) -> tuple[float, float, float]:
        """``(s_d, s_w, s_r)``: the share of each dimension in the MAC growth."""
        return math.log2(self.alpha), 2 * math.log2(self.beta), 2 * math.log2(self.gamma)

    @property
    def flop_factor(self) -> float:
        """``alpha * beta^2 * gamma^2``: ideal MAC growth per unit of phi."""
        return self.alpha * self.beta**2 * self.gamma**2

    def share_of(self, dimension: str) -> float:
        """The FLOP share of ``"depth"``, ``"width"`` or ``"resolution"``."""
        return self.shares[("depth", "width", "resolution").index(dimension)]

    def multipliers(self, exponent: float, depth_rule: str = "per-stage") -> Multipliers:
        """``alpha^e``, ``beta^e``, ``gamma^e``: member ``phi = e`` before rounding (by ``depth_rule``,
        see :func:`search_space.scale`)."""
        return Multipliers(self.alpha**exponent, self.beta**exponent, self.gamma**exponent, depth_rule)

    def exponent_of(self, multipliers: Multipliers) -> float:
        """The common exponent ``e`` of multipliers made by :meth:`multipliers`."""
        for factor, value in ((self.alpha, multipliers.depth), (self.beta, multipliers.width),
                              (self.gamma, multipliers.resolution)):
            if factor > 1:
                return math.log(value) / math.log(factor)
        return 0.0


PAPER_COEFFICIENTS = Coefficients(alpha=1.2, beta=1.1, gamma=1.15)  # EfficientNet section 3.3


MIN_STEP = 0.01


def simplex_grid(step: float = 0.1) -> list[Coefficients]:
    """Every point of the share simplex on a grid of ``step`` (which must divide 1).

    >>> len(simplex_grid(0.1)), len(simplex_grid(0.5))
    (66, 6)
    """
    if not MIN_STEP <= step <= 1:
        # Finer than 1/100 is over 5,000 points, each a trained network: no grid anyone runs.
        raise UsageError(f"--step must be between {MIN_STEP} and 1, got {step}")
    divisions = round(1 / step)
    if divisions < 1 or not math.isclose(divisions * step, 1.0, rel_tol=1e-9):
        raise UsageError(f"--step must divide 1 evenly (0.1, 0.125, 0.25, ...), got {step}")
    points = []
    for depth in range(divisions + 1):
        for width in range(divisions + 1 - depth):
            resolution = divisions - depth - width
            points.append(Coefficients.from_shares(depth / divisions, width / divisions, resolution / divisions))
    return points


def effective_multipliers(base: NetworkSpec, spec: NetworkSpec) -> tuple[float, float, float]:
    """How much deeper, wider and larger ``spec`` really is than ``base``, after rounding:
    the ratio of total blocks, the geometric mean ratio of the stem, stage and head widths,
    and the geometric mean ratio of the two resolution sides.

    Requested multipliers can hide what rounding did: with one block per stage, any depth
    multiplier above 1 doubles every stage (``ceil(1 * 1.01) = 2``).

    >>> from search_space import load_spec
    >>> b0, b4 = load_spec("efficientnet-b0"), load_spec("efficientnet-b4")
    >>> tuple(round(m, 3) for m in effective_multipliers(b0, b4))
    (2.0, 1.419, 1.696)
    """
    widths = lambda s: [s.stem_channels, *(stage.out_channels for stage in s.stages), s.head_channels]  # noqa: E731
    width = math.exp(sum(math.log(a / b) for a, b in zip(widths(spec), widths(base))) / len(widths(base)))
    return spec.total_blocks / base.total_blocks, width, resolution_multiplier(base, spec)


@dataclass(frozen=True)
class ScaledNetwork:
    """A scaled network: the requested (continuous) multipliers and what rounding made of them."""

    spec: NetworkSpec
    depth_mult: float
    width_mult: float
    resolution_mult: float
    macs: int
    realised_ratio: float  # MACs of the rounded network / MACs of the base
    effective: tuple[float, float, float] = (1.0, 1.0, 1.0)  # see effective_multipliers


def _network(base: NetworkSpec, reached: Reached) -> ScaledNetwork:
    multipliers = reached.multipliers
    return ScaledNetwork(reached.spec, multipliers.depth, multipliers.width, multipliers.resolution, reached.macs,
                         reached.macs / count_cost(base).macs, effective_multipliers(base, reached.spec))


def compound_scale(base: NetworkSpec, coefficients: Coefficients, phi: float, exponent: float | None = None,
                   depth_rule: str = "per-stage") -> ScaledNetwork:
    """``base`` scaled by ``alpha^e``, ``beta^e``, ``gamma^e`` with ``e = exponent`` or ``phi``,
    with the reference rounding; reports the realised MAC ratio to the base."""
    multipliers = coefficients.multipliers(phi if exponent is None else exponent, depth_rule)
    spec = multipliers.apply(base)
    return _network(base, Reached(multipliers, spec, (macs := count_cost(spec).macs), True, macs))


def corrected_scale(base: NetworkSpec, coefficients: Coefficients, phi: float = 1.0,
                    tolerance: float = RATIO_TOLERANCE, depth_rule: str = "per-stage") -> ScaledNetwork:
    """Like :func:`compound_scale`, but corrected for rounding so the realised MAC ratio
    lands within ``tolerance`` of ``flop_factor ** phi`` (2 at phi = 1) where possible.
    Negative ``phi`` shrinks the base (smaller members for fitting scaling laws).

    Both steps are :func:`search_space.reach_macs` search lines. First the common exponent of
    the three multipliers is bisected. Rounding can make the ratio jump over the target
    (repeats are integers, widths multiples of 8), so if that is not enough, the common
    exponent walks a ladder around the value found (0.1x to 2x in 2% steps, nearest first)
    and at each rung one knob is bisected alone, among the dimensions with a positive share
    only (a width-only baseline stays width-only), finest first: resolution, width, depth.
    The first network within tolerance wins; otherwise the closest found is returned.
    ``depth_rule`` rounds depth as :func:`search_space.scale` does.
    """
    if phi == 0:
        return compound_scale(base, coefficients, 0.0, depth_rule=depth_rule)
    window = MacWindow.around(coefficients.flop_factor**phi * count_cost(base).macs, tolerance)
    low, high = (2.0 * phi - 1.0, 0.0) if phi < 0 else (0.0, 2.0 * phi + 1.0)
    along = lambda exponent: coefficients.multipliers(exponent, depth_rule)  # noqa: E731
    common = reach_macs(base, window, [SearchLine(along, phi, phi), SearchLine(along, low, high)])
    if common.in_window:
        return _network(base, common)
    exponent = coefficients.exponent_of(common.multipliers)
    ladder = sorted((1 + 0.02 * k for k in range(-45, 51)), key=lambda f: abs(f - 1))
    knobs = [knob for knob in ("resolution", "width", "depth") if coefficients.share_of(knob) > 0]

    def knob_lines():
        for knob in knobs:
            for factor in ladder:
                anchor = along(exponent * factor)
                current = getattr(anchor, knob)
                yield SearchLine(lambda value, anchor=anchor, knob=knob: dataclasses.replace(anchor, **{knob: value}),
                                 current / 1.5, current * 1.5)

    corrected = reach_macs(base, window, knob_lines())
    closest = corrected if corrected.in_window or window.miss(corrected.macs) < window.miss(common.macs) else common
    return _network(base, closest)
