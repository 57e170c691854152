"""Plotly figures and self-contained HTML dashboards over search, scaling and training runs.

The top layer of the suite: it reads run directories through the typed readers of the
packages that write them (:func:`runners.read_records`, :func:`scaling.reports.read_coefficients`,
...) and never the other way round. Command line: ``python -m analysis.dashboard RUN_DIR ...``.
"""

from analysis.figures import (compare_runs, macs_vs_accuracy, network_stages, parallel_coordinates,
                              parameter_importances, pareto_front, search_history, stage_choice_frequencies)
from analysis.report import write_report
from analysis.scaling_figures import (compare_scaling_runs, family_costs, mac_ratio_by_phi, power_law_fit,
                                      scaling_baselines, share_simplex)
from analysis.scaling_report import scaling_sections
from analysis.search_report import load_search_run, search_sections
from analysis.training_figures import learning_curves, training_sections

__all__ = [
    "compare_runs", "compare_scaling_runs", "family_costs", "learning_curves", "load_search_run", "mac_ratio_by_phi",
    "macs_vs_accuracy", "network_stages", "parallel_coordinates", "parameter_importances", "pareto_front",
    "power_law_fit", "scaling_baselines", "scaling_sections", "search_history", "search_sections", "share_simplex",
    "stage_choice_frequencies", "training_sections", "write_report",
]
