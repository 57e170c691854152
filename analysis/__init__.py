"""Plotly figures and self-contained HTML reports over search runs."""

from analysis.figures import macs_vs_accuracy, pareto_front, search_history, stage_choice_frequencies
from analysis.report import write_report

__all__ = ["macs_vs_accuracy", "pareto_front", "search_history", "stage_choice_frequencies", "write_report"]
