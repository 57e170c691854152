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

import math
from dataclasses import dataclass

from scaling.rules import scale
from search_space import NetworkSpec, count_cost


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


def simplex_grid(step: float = 0.1) -> list[Coefficients]:
    """Every point of the share simplex on a grid of ``step`` (which must divide 1).

    >>> len(simplex_grid(0.1)), len(simplex_grid(0.5))
    (66, 6)
    """
    divisions = round(1 / step)
    if divisions < 1 or not math.isclose(divisions * step, 1.0, rel_tol=1e-9):
        raise ValueError(f"--step must divide 1 evenly (0.1, 0.125, 0.25, ...), got {step}")
    points = []
    for depth in range(divisions + 1):
        for width in range(divisions + 1 - depth):
            resolution = divisions - depth - width
            points.append(Coefficients.from_shares(depth / divisions, width / divisions, resolution / divisions))
    return points


def scale_resolution(resolution: tuple[int, int], multiplier: float) -> tuple[int, int]:
    """Each side times ``multiplier``, rounded to the nearest integer (at least 1)."""
    return tuple(max(1, int(round(side * multiplier))) for side in resolution)  # type: ignore[return-value]


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
    resolution = math.sqrt(spec.resolution[0] * spec.resolution[1] / (base.resolution[0] * base.resolution[1]))
    return spec.total_blocks / base.total_blocks, width, resolution


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


def _scaled(base: NetworkSpec, depth: float, width: float, resolution: float) -> ScaledNetwork:
    spec = scale(base, width, depth, scale_resolution(base.resolution, resolution) if resolution != 1.0 else None)
    macs = count_cost(spec).macs
    return ScaledNetwork(spec, depth, width, resolution, macs, macs / count_cost(base).macs,
                         effective_multipliers(base, spec))


def compound_scale(base: NetworkSpec, coefficients: Coefficients, phi: float, exponent: float | None = None) -> ScaledNetwork:
    """``base`` scaled by ``alpha^e``, ``beta^e``, ``gamma^e`` with ``e = exponent`` or ``phi``,
    with the reference rounding; reports the realised MAC ratio to the base."""
    power = phi if exponent is None else exponent
    return _scaled(base, coefficients.alpha**power, coefficients.beta**power, coefficients.gamma**power)


def _bisect_ratio(make, low: float, high: float, target: float, best: ScaledNetwork, iterations: int) -> ScaledNetwork:
    """Bisect a parameter of ``make`` (MACs rise with it) towards ``target``; keep the closest."""
    for _ in range(iterations):
        middle = (low + high) / 2
        candidate = make(middle)
        if abs(candidate.realised_ratio / target - 1) < abs(best.realised_ratio / target - 1):
            best = candidate
        if candidate.realised_ratio < target:
            low = middle
        else:
            high = middle
    return best


def corrected_scale(
    base: NetworkSpec, coefficients: Coefficients, phi: float = 1.0, tolerance: float = 0.05, iterations: int = 24
) -> ScaledNetwork:
    """Like :func:`compound_scale`, but corrected for rounding so the realised MAC ratio
    lands within ``tolerance`` of ``flop_factor ** phi`` (2 at phi = 1) where possible.
    Negative ``phi`` shrinks the base (smaller members for fitting scaling laws).

    First the common exponent of the three multipliers is bisected. Rounding can make the
    ratio jump over the target (repeats are integers, widths multiples of 8), so if that is
    not enough, the common exponent walks a ladder around that value (0.1x to 2x in 2% steps, nearest
    first) and at each rung one knob is bisected alone, among the dimensions with a
    positive share only, finest first: resolution, width, depth (the returned multipliers
    say what was used). The first network within tolerance wins; otherwise the closest
    found is returned.
    """
    target = coefficients.flop_factor**phi
    close = lambda result: abs(result.realised_ratio / target - 1) <= tolerance  # noqa: E731
    best = compound_scale(base, coefficients, phi)
    if close(best) or phi == 0:
        return best
    # MACs rise with the exponent; the target lies between the base (exponent 0) and phi's side.
    low, high = (2.0 * phi - 1.0, 0.0) if phi < 0 else (0.0, 2.0 * phi + 1.0)
    best = _bisect_ratio(lambda e: compound_scale(base, coefficients, phi, exponent=e), low, high,
                         target, best, iterations)
    # Only dimensions the coefficients scale may move (a width-only baseline stays width-only),
    # finest steps first: resolution (integer pixels), width (multiples of 8), depth (whole blocks).
    knobs = [knob for knob in (2, 1, 0) if coefficients.shares[knob] > 0]
    exponent = math.log(best.depth_mult) / math.log(coefficients.alpha) if coefficients.alpha > 1 else (
        math.log(best.width_mult) / math.log(coefficients.beta) if coefficients.beta > 1 else
        math.log(best.resolution_mult) / math.log(coefficients.gamma))
    ladder = sorted((1 + 0.02 * k for k in range(-45, 51)), key=lambda f: abs(f - 1))
    for knob, factor in ((knob, factor) for knob in knobs for factor in ladder):
        if close(best):
            break
        anchor = compound_scale(base, coefficients, phi, exponent=exponent * factor)

        def vary(multiplier: float, anchor=anchor, knob=knob) -> ScaledNetwork:
            values = [anchor.depth_mult, anchor.width_mult, anchor.resolution_mult]
            values[knob] = multiplier
            return _scaled(base, *values)

        current = (anchor.depth_mult, anchor.width_mult, anchor.resolution_mult)[knob]
        best = _bisect_ratio(vary, current / 1.5, current * 1.5, target, best, iterations)
    return best
