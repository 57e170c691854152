"""Plotly figures and self-contained HTML reports over search and scaling runs."""

from analysis.figures import (compare_runs, macs_vs_accuracy, network_stages, parallel_coordinates,
                              parameter_importances, pareto_front, search_history, stage_choice_frequencies)
from analysis.report import write_report
from analysis.scaling_figures import compare_scaling_runs, family_costs, mac_ratio_by_phi, power_law_fit, scaling_baselines, share_simplex
from analysis.scaling_report import scaling_sections, write_scaling_report
from analysis.search_report import load_search_run, search_sections

__all__ = [
    "compare_runs", "compare_scaling_runs", "load_search_run", "network_stages", "parallel_coordinates", "parameter_importances",
    "search_sections",
    "family_costs", "mac_ratio_by_phi", "macs_vs_accuracy", "pareto_front", "power_law_fit", "scaling_baselines",
    "scaling_sections", "search_history", "share_simplex", "stage_choice_frequencies", "write_report",
    "write_scaling_report",
]
