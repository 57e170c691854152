"""The scaled family B0..B7 of a base network, and its Ghost variants (EfficientNet section 3.3).

Member ``phi`` is the base scaled by ``alpha^phi``, ``beta^phi``, ``gamma^phi`` with the
reference rounding, corrected so that its realised MACs are ``(alpha beta^2 gamma^2)^phi``
times the base's where rounding allows (:func:`scaling.corrected_scale`). Members are
made monotone: no stage of member ``phi`` is shallower or narrower, and no resolution
smaller, than member ``phi - 1`` (a rounding correction could otherwise step back).
"""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from scaling.compound import Coefficients, corrected_scale, effective_multipliers
from scaling.run_files import FAMILY_FILE, SPECS_DIR, member_spec_path
from search_space import NetworkSpec, count_cost, to_ghost, write_spec_file

# B0 is the base itself (phi = 0): measured members are checked against the law there too.
FAMILY_PHIS = tuple(range(0, 8))


@dataclass(frozen=True)
class FamilyMember:
    phi: int
    spec: NetworkSpec
    ghost: NetworkSpec
    depth_mult: float  # effective multipliers of the rounded spec (scaling.compound.effective_multipliers)
    width_mult: float
    resolution_mult: float
    params: int
    macs: int
    realised_ratio: float  # MACs / base MACs
    ideal_ratio: float  # (alpha beta^2 gamma^2)^phi
    ghost_params: int
    ghost_macs: int


def _at_least(spec: NetworkSpec, floor: NetworkSpec) -> NetworkSpec:
    """``spec`` with every width, repeat count and resolution raised to ``floor``'s."""
    stages = tuple(dataclasses.replace(stage, out_channels=max(stage.out_channels, low.out_channels),
                                       repeats=max(stage.repeats, low.repeats))
                   for stage, low in zip(spec.stages, floor.stages))
    resolution = tuple(max(a, b) for a, b in zip(spec.resolution, floor.resolution))
    return dataclasses.replace(spec, stages=stages, resolution=resolution,
                               stem_channels=max(spec.stem_channels, floor.stem_channels),
                               head_channels=max(spec.head_channels, floor.head_channels))


def scaled_family(base: NetworkSpec, coefficients: Coefficients, phis=FAMILY_PHIS,
                  prefix: str | None = None, depth_rule: str = "per-stage") -> list[FamilyMember]:
    """Members ``phi`` in ``phis`` (increasing), named ``<prefix>-b<phi>`` (default: the base's name).

    >>> from search_space import load_spec
    >>> family = scaled_family(load_spec("efficientnet-b0"), Coefficients(1.2, 1.1, 1.15), phis=(1, 2))
    >>> [(m.spec.name, m.spec.resolution[0]) for m in family]
    [('efficientnet-b0-b1', 240), ('efficientnet-b0-b2', 279)]
    """
    prefix = prefix or base.name
    base_macs = count_cost(base).macs
    previous, members = base, []
    for phi in sorted(phis):
        scaled = corrected_scale(base, coefficients, phi, depth_rule=depth_rule)
        spec = dataclasses.replace(_at_least(scaled.spec, previous), name=f"{prefix}-b{phi}")
        multipliers = effective_multipliers(base, spec)
        cost = count_cost(spec)
        ghost = to_ghost(spec, name=f"ghost-{prefix}-b{phi}")
        ghost_cost = count_cost(ghost)
        members.append(FamilyMember(phi, spec, ghost, *multipliers, cost.params, cost.macs, cost.macs / base_macs,
                                    coefficients.flop_factor**phi, ghost_cost.params, ghost_cost.macs))
        previous = spec
    return members


FAMILY_COLUMNS = ("phi", "name", "depth_mult", "width_mult", "resolution_mult", "resolution", "params", "macs",
                  "realised_mac_ratio", "ideal_mac_ratio", "ghost_params", "ghost_macs", "extrapolation",
                  "predicted_metric", "predicted_low", "predicted_high")


def write_family(members: list[FamilyMember], out: Path, predictions: dict[int, tuple[float, float, float]] | None = None,
                 largest_fitted: float | None = None) -> Path:
    """``specs/b<phi>.yaml``, ``specs/ghost-b<phi>.yaml`` and ``family.csv`` under ``out``.

    ``predictions`` maps ``phi`` to (metric, low, high); missing ones are left blank.
    ``extrapolation`` is each member's MACs over ``largest_fitted`` (the largest compute the
    law was fitted on; blank without a law): above 1, a prediction is an extrapolation.
    """
    (out / SPECS_DIR).mkdir(parents=True, exist_ok=True)
    predictions = predictions or {}
    rows = []
    for member in members:
        write_spec_file(member.spec, member_spec_path(out, f"b{member.phi}"))
        write_spec_file(member.ghost, member_spec_path(out, f"ghost-b{member.phi}"))
        predicted = predictions.get(member.phi, ("", "", ""))
        rows.append((member.phi, member.spec.name, f"{member.depth_mult:.6g}", f"{member.width_mult:.6g}",
                     f"{member.resolution_mult:.6g}", "x".join(map(str, member.spec.resolution)), member.params,
                     member.macs, f"{member.realised_ratio:.6g}", f"{member.ideal_ratio:.6g}", member.ghost_params,
                     member.ghost_macs,
                     "" if largest_fitted is None else f"{member.macs / largest_fitted:.4g}",
                     *(f"{v:.6g}" if v != "" else "" for v in predicted)))
    path = out / FAMILY_FILE
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FAMILY_COLUMNS)
        writer.writerows(rows)
    return path


__all__ = ["FAMILY_COLUMNS", "FAMILY_PHIS", "FamilyMember", "scaled_family", "write_family"]
