"""The ``report.html`` of a scaling run, built from the files in its directory."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analysis.report import Section, write_report
from analysis.scaling_figures import family_costs, mac_ratio_by_phi, power_law_fit, scaling_baselines, share_simplex


def scaling_summary(coefficients: dict) -> str:
    """Plain-text lines on the chosen coefficients, for the top of a page."""
    if not coefficients:
        return ""
    intervals = coefficients.get("intervals", {})
    parts = [f"{name} {coefficients[name]:.4f}" + (
        f" [{intervals[name][0]:.3f}, {intervals[name][1]:.3f}]" if name in intervals else "")
        for name in ("alpha", "beta", "gamma")]
    lines = [f"{', '.join(parts)} ({coefficients.get('method', '')}; paper 1.2, 1.1, 1.15)"]
    grid = coefficients.get("grid_best")
    if grid:
        lines.append(f"grid best: alpha {grid['alpha']:.4f}, beta {grid['beta']:.4f}, gamma {grid['gamma']:.4f}; "
                     f"mean metric {grid['mean_metric']:.4f} over {grid['seeds']} seed(s), "
                     f"P(best) {grid['probability_best']:.2f}")
    surrogate = coefficients.get("surrogate")
    if surrogate:
        lines.append(f"surrogate {'adequate' if surrogate['adequate'] else 'not adequate'}: {surrogate['judgement']}")
    fresh = coefficients.get("fresh_seeds")
    if fresh:
        against = ("" if fresh["grid_mean"] is None else
                   f" (its grid mean {fresh['grid_mean']:.4f} was picked as the best of many, so it reads high)")
        lines.append(f"chosen point on {len(fresh['metrics'])} fresh seed(s): mean metric {fresh['mean']:.4f}{against}")
    if coefficients.get("realised_mac_ratio"):
        lines.append(f"realised MAC ratio at phi = 1: {coefficients['realised_mac_ratio']:.3f} (ideal 2)")
    if coefficients.get("note"):
        lines.append(coefficients["note"])
    return "\n".join(lines)


def scaling_sections(run_dir: Path) -> list[Section]:
    """Every scaling figure the directory's files support, or a note where one is missing."""
    sections: list[Section] = []
    coefficients_path, family_path = run_dir / "coefficients.json", run_dir / "family.csv"
    grid_path, laws_path = run_dir / "grid.csv", run_dir / "laws.json"
    coefficients = json.loads(coefficients_path.read_text()) if coefficients_path.exists() else {}
    if coefficients.get("points"):
        sections.append(("Metric over the share simplex", share_simplex(coefficients)))
    if grid_path.exists():
        grid = pd.read_csv(grid_path)
        if not grid.empty:
            fresh = coefficients.get("fresh_seeds") or {}
            sections.append(("Compound vs single-dimension scaling",
                             scaling_baselines(grid, fresh.get("metrics"))))
    if family_path.exists():
        family = pd.read_csv(family_path)
        sections.append(("Realised vs ideal MAC ratio", mac_ratio_by_phi(family)))
        sections.append(("The family", family_costs(family)))
    laws = json.loads(laws_path.read_text()).get("laws", []) if laws_path.exists() else []
    for law in laws:
        sections.append((f"Power law of {law['y']} vs {law['x']}", power_law_fit(law)))
    if not sections:
        sections.append(("Scaling run", "Nothing finished yet: no coefficients, family or laws in this directory."))
    return sections


def write_scaling_report(run_dir: Path, title: str) -> Path:
    coefficients_path = run_dir / "coefficients.json"
    coefficients = json.loads(coefficients_path.read_text()) if coefficients_path.exists() else {}
    return write_report(run_dir / "report.html", title, scaling_sections(run_dir), scaling_summary(coefficients))
