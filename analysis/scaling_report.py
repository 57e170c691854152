"""The sections of a scaling run's page, built from the files in its directory."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.report import Section, read_csv
from analysis.scaling_figures import (family_costs, mac_ratio_by_phi, power_law_fit,
                                      scaling_baselines, share_simplex)
from scaling.members import band_verdict, measured_members
from scaling.reports import NAMES, PROXY_VERDICTS, CoefficientsReport, LawReport, read_coefficients, read_laws
from scaling.run_files import FAMILY_FILE, GRID_FILE

# The columns the figures below read (family.csv's predicted_* may be blank: no law).
FAMILY_NUMBERS = ("phi", "params", "macs", "realised_mac_ratio", "ideal_mac_ratio", "ghost_params", "ghost_macs")
GRID_NUMBERS = ("share_depth", "share_width", "share_resolution", "metric")


ANSWER_COLUMNS = ("quantity", "value", "uncertainty", "status")


def scaling_answer(coefficients: CoefficientsReport | None, laws: list[LawReport],
                   family: pd.DataFrame | None) -> pd.DataFrame:
    """The run's answers, one per row: the coefficients with their uncertainty, the verdicts
    against the single-dimension corners, the law, and the family members checked."""
    rows = []
    if coefficients is not None:
        for name in NAMES:
            value = getattr(coefficients.chosen, name)
            if name in coefficients.on_boundary:
                others = coefficients.off_edge_intervals.get(name)
                uncertainty = (f"on the boundary in {coefficients.on_edge[name]:.0%} of refits"
                               + (f"; others [{others[0]:.3f}, {others[1]:.3f}]" if others else ""))
            elif name in coefficients.intervals:
                low, high = coefficients.intervals[name]
                uncertainty = f"[{low:.3f}, {high:.3f}]"
            elif coefficients.overruled is not None:
                uncertainty = "the corner that beat the fit: no interval"
            else:
                uncertainty = "set, not fitted"
            rows.append((name, f"{value:.4f}", uncertainty, coefficients.method))
        if coefficients.overruled is not None:
            comparison = coefficients.overruled
            rows.append(("overruled fit", "/".join(f"{share:.2f}" for share in coefficients.fitted.shares) + " (d/w/r)",
                         f"[{comparison.low:+.4f}, {comparison.high:+.4f}] over {len(comparison.seeds)} seeds",
                         f"lost to {comparison.against} ({comparison.difference:+.4f}): the answer is the corner"))
        if coefficients.instability:
            rows.append(("direction", "/".join(f"{share:.2f}" for share in coefficients.chosen.shares) + " (d/w/r)",
                         "", coefficients.instability))
        for comparison in coefficients.corner_comparisons:
            interval = ("one seed" if comparison.low is None else
                        f"[{comparison.low:+.4f}, {comparison.high:+.4f}] over {len(comparison.seeds)} seeds")
            rows.append((f"{comparison.winner} vs {comparison.against}", f"{comparison.difference:+.4f}", interval,
                         comparison.verdict))
        if coefficients.corner_comparisons:
            rows.append(("verdicts above", "at the grid proxy", "", PROXY_VERDICTS))
    for law in laws:
        low, high = law.intervals.get("a", (law.law.a, law.law.a))
        rows.append((f"law: {law.error_name} vs {law.x}", f"{law.law.E:.4g} + {law.law.A:.4g} * C^-{law.law.a:.4g}",
                     f"a in [{low:.3g}, {high:.3g}]; {law.model}", ("usable: " if law.usable else "NOT USABLE: ")
                     + law.verdict))
    if family is not None and not family.empty:
        for _, row in measured_members(family).iterrows():
            band = ("no predicted band" if row["inside"] is None else
                    f"band [{float(row['predicted_low']):.4f}, {float(row['predicted_high']):.4f}]")
            rows.append((f"{row['name']} measured", f"{row['measured']:.4f}", band,
                         "no prediction" if row["inside"] is None else "inside" if row["inside"] else "OUTSIDE"))
    return pd.DataFrame(rows, columns=ANSWER_COLUMNS)


def scaling_sections(run_dir: Path) -> list[Section]:
    """The answer block, then every scaling figure the directory's files support, or a note
    where one is missing."""
    sections: list[Section] = []
    coefficients = read_coefficients(run_dir)
    laws, note = read_laws(run_dir)
    family = read_csv(run_dir / FAMILY_FILE, numeric=FAMILY_NUMBERS, required=("name",))
    answer = scaling_answer(coefficients, laws, family)
    if not answer.empty:
        sections.append(("Answer", answer))
    if coefficients is not None and coefficients.points:
        sections.append(("Metric over the share simplex", share_simplex(coefficients)))
    if coefficients is not None and (coefficients.corner_comparisons or coefficients.runner_up):
        comparisons = ([coefficients.runner_up] if coefficients.runner_up else []) + list(coefficients.corner_comparisons)
        sections.append(("Compound vs single-dimension scaling: paired by seed at phi = 1",
                         "; ".join(comparison.describe() for comparison in comparisons)))
    grid = read_csv(run_dir / GRID_FILE, numeric=GRID_NUMBERS)
    if grid is not None and not grid.empty:
        fresh = coefficients.fresh_seeds if coefficients is not None else None
        sections.append(("Compound vs single-dimension scaling",
                         scaling_baselines(grid, list(fresh.metrics) if fresh else None)))
    if family is not None and family.empty:
        sections.append(("The family", f"{run_dir / FAMILY_FILE} holds no rows: no family to show"))
    if family is not None and not family.empty:
        sections.append(("Realised vs ideal MAC ratio", mac_ratio_by_phi(family)))
        unusable = [law for law in laws if not law.usable]
        if unusable:
            sections.append(("The family: no predicted metric",
                             f"the law along the chosen direction is not usable ({unusable[0].verdict}); "
                             "its predictions are not extrapolated to the family"))
        measured = measured_members(family)
        if not measured.empty:
            sections.append(("The family measured against its prediction", _measured_note(measured)))
        sections.append(("The family", family_costs(family)))
    for law in laws:
        if not law.usable:
            sections.append((f"Power law of {law.y} vs {law.x}: {law.health}",
                             f"{law.describe()}: it did not predict its held-out points or failed a check; "
                             "its predictions are not to be trusted."))
        # The family's predictions come from the law of proxy accuracy vs MACs (scaling.pipeline).
        members = family if law.x == "macs" and law.y == "proxy accuracy" else None
        sections.append((f"Power law of {law.y} vs {law.x}", power_law_fit(law, members)))
    if note and not laws:
        sections.append(("Power law", f"no law: {note}"))
    if not sections:
        sections.append(("Scaling run", "Nothing finished yet: no coefficients, family or laws in this directory."))
    return sections


def _measured_note(measured) -> str:
    """One line per measured member: its metric and where it fell against the band."""
    parts = []
    for _, row in measured.iterrows():
        if row["inside"] is None:
            where = "no predicted band"
        else:
            where = (f"{'inside' if row['inside'] else 'OUTSIDE'} the band "
                     f"[{float(row['predicted_low']):.4f}, {float(row['predicted_high']):.4f}]")
        parts.append(f"{row['name']}: measured {row['measured']:.4f}, {where}")
    return f"{band_verdict(measured)} ({'; '.join(parts)})"


__all__ = ["ANSWER_COLUMNS", "scaling_answer", "scaling_sections"]
