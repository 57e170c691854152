"""Plotly figures over search results; every figure of the suite is defined here.

Each function takes the results table of a search run (``results.csv``: one row per
trial, see :class:`runners.results.TrialRecord`) and returns a ``plotly`` figure. MACs
are multiply-accumulates at the spec's own resolution (the papers' "FLOPs");
accuracy is proxy accuracy on the validation split, in [0, 1].
"""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

CHOICE_FIELDS = ("block", "kernel", "expansion", "attention", "repeats", "out_channels")


def complete_trials(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty or "state" not in frame:
        return frame.iloc[0:0]
    return frame[(frame["state"] == "COMPLETE") & frame["proxy_accuracy"].notna()]


def pareto_front(macs: list[float], accuracy: list[float]) -> list[int]:
    """Indices of the non-dominated points (lower MACs, higher accuracy), by MACs.

    >>> pareto_front([1, 2, 3, 4], [0.5, 0.4, 0.7, 0.6])
    [0, 2]
    """
    order = sorted(range(len(macs)), key=lambda i: (macs[i], -accuracy[i]))
    front, best = [], float("-inf")
    for index in order:
        if accuracy[index] > best:
            front.append(index)
            best = accuracy[index]
    return front


def search_history(frame: pd.DataFrame, objective: str = "reward") -> go.Figure:
    """Objective of every complete trial by trial number, with the best so far."""
    figure = go.Figure()
    done = complete_trials(frame).sort_values("number")
    column = "proxy_accuracy" if objective == "pareto" else "reward"
    label = "proxy accuracy" if column == "proxy_accuracy" else "reward ACC x (MACs/T)^w"
    figure.add_trace(go.Scatter(x=done["number"], y=done[column], mode="markers", name="trial",
                                customdata=done["spec"], hovertemplate="trial %{x}<br>%{y:.4f}<br>%{customdata}"))
    figure.add_trace(go.Scatter(x=done["number"], y=done[column].cummax(), mode="lines",
                                line={"shape": "hv"}, name="best so far"))
    figure.update_layout(title="Search history", xaxis_title="trial number", yaxis_title=label)
    return figure


def macs_vs_accuracy(frame: pd.DataFrame, budget: float | None = None) -> go.Figure:
    """Proxy accuracy against MACs, the Pareto front, and the budget window."""
    figure = go.Figure()
    done = complete_trials(frame).reset_index(drop=True)
    megamacs = done["macs"] / 1e6
    figure.add_trace(go.Scatter(x=megamacs, y=done["proxy_accuracy"], mode="markers", name="trial",
                                customdata=done["number"], hovertemplate="trial %{customdata}<br>%{x:.1f} MMACs<br>%{y:.4f}"))
    front = pareto_front(list(megamacs), list(done["proxy_accuracy"]))
    figure.add_trace(go.Scatter(x=megamacs[front], y=done["proxy_accuracy"][front], mode="lines+markers",
                                line={"shape": "hv"}, name="Pareto front"))
    if budget:
        figure.add_vrect(x0=0.9 * budget / 1e6, x1=budget / 1e6, fillcolor="green", opacity=0.1, line_width=0,
                         annotation_text="budget window", annotation_position="top left")
        figure.add_vline(x=budget / 1e6, line_dash="dash", line_color="green")
    figure.update_layout(title="MACs vs proxy accuracy", xaxis_title="MACs (millions, at the spec's resolution)",
                         yaxis_title="proxy accuracy")
    return figure


def _stage_choices(frame: pd.DataFrame) -> list[dict]:
    rows = []
    for text in frame.get("spec_json", pd.Series(dtype=str)).dropna():
        if not text:
            continue
        for index, stage in enumerate(json.loads(text)["stages"], start=1):
            rows.append({"stage": index, **{name: stage[name] for name in CHOICE_FIELDS}})
    return rows


def stage_choice_frequencies(frame: pd.DataFrame, top_fraction: float = 0.25, objective: str = "reward") -> go.Figure:
    """Per stage and field, how often each choice appears among the top trials vs all trials."""
    done = complete_trials(frame)
    column = "proxy_accuracy" if objective == "pareto" else "reward"
    top = done.nlargest(max(1, int(round(len(done) * top_fraction))), column) if len(done) else done
    figure = make_subplots(rows=len(CHOICE_FIELDS), cols=1, subplot_titles=CHOICE_FIELDS, vertical_spacing=0.04)
    for group, subset, color in (("all trials", done, "#9aa5b1"), (f"top {top_fraction:.0%}", top, "#1f77b4")):
        rows = _stage_choices(subset)
        for position, name in enumerate(CHOICE_FIELDS, start=1):
            counts = Counter((row["stage"], str(row[name])) for row in rows)
            stages = Counter(row["stage"] for row in rows)
            keys = sorted(counts, key=lambda k: (k[0], k[1]))
            figure.add_trace(go.Bar(
                x=[f"stage {s}: {v}" for s, v in keys], y=[counts[k] / stages[k[0]] for k in keys],
                name=group, marker_color=color, showlegend=position == 1, legendgroup=group), row=position, col=1)
    figure.update_yaxes(title_text="frequency", range=[0, 1])
    figure.update_layout(title="Per-stage choices: top trials vs all", barmode="group", height=260 * len(CHOICE_FIELDS))
    return figure
