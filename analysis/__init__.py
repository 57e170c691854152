"""Plotly figures and self-contained HTML reports over search and scaling runs."""

from analysis.figures import macs_vs_accuracy, pareto_front, search_history, stage_choice_frequencies
from analysis.report import write_report
from analysis.scaling_figures import family_costs, mac_ratio_by_phi, power_law_fit, scaling_baselines, share_simplex
from analysis.scaling_report import scaling_sections, write_scaling_report

__all__ = [
    "family_costs", "mac_ratio_by_phi", "macs_vs_accuracy", "pareto_front", "power_law_fit", "scaling_baselines",
    "scaling_sections", "search_history", "share_simplex", "stage_choice_frequencies", "write_report",
    "write_scaling_report",
]
