"""Plotly figures over search results; every figure of the suite is defined here.

Each function takes the results table of a search run (``results.csv``: one row per
trial, see :class:`runners.TrialRecord`) and the run's :class:`runners.Objective` (which
column ranks trials), and returns a ``plotly`` figure. MACs
are multiply-accumulates at the spec's own resolution (the papers' "FLOPs");
accuracy is proxy accuracy on the validation split, in [0, 1].
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from infra.statistics import pareto_front
from runners.search.budget import WINDOW_LOW
from runners.search.records import Objective

CHOICE_FIELDS = ("block", "kernel", "expansion", "attention", "repeats", "out_channels")


def _elapsed_minutes(done: pd.DataFrame) -> pd.Series:
    """Minutes from the run's first finished trial (trials have only their end time)."""
    finished = done["finished_at"].astype(float)
    return (finished - finished.min()) / 60


def search_history(frame: pd.DataFrame, objective: Objective = Objective()) -> go.Figure:
    """Objective of every complete trial over wall-clock time, with the best so far."""
    figure = go.Figure()
    done = objective.scored(frame).sort_values("finished_at")
    column, label = objective.column, objective.label
    minutes = _elapsed_minutes(done) if len(done) else done["finished_at"]
    figure.add_trace(go.Scatter(x=minutes, y=done[column], mode="markers", name="trial",
                                customdata=np.stack([done["number"], done["spec"]], axis=-1) if len(done) else None,
                                hovertemplate="trial %{customdata[0]}<br>%{x:.1f} min<br>%{y:.4f}<br>%{customdata[1]}"))
    figure.add_trace(go.Scatter(x=minutes, y=done[column].cummax(), mode="lines",
                                line={"shape": "hv"}, name="best so far"))
    figure.update_layout(title="Search history", xaxis_title="minutes since the first finished trial",
                         yaxis_title=label)
    return figure


def compare_runs(frames: dict[str, pd.DataFrame], objective: Objective = Objective()) -> go.Figure:
    """Best-so-far objective of several runs (samplers, seeds) by trial number, overlaid."""
    figure = go.Figure()
    column, label = objective.column, objective.label
    for name, frame in frames.items():
        done = objective.scored(frame).sort_values("number")
        figure.add_trace(go.Scatter(x=done["number"], y=done[column].cummax(), mode="lines+markers",
                                    line={"shape": "hv"}, name=name))
    figure.update_layout(title="Runs compared: best so far", xaxis_title="trial number",
                         yaxis_title=f"best {label} so far")
    return figure


def macs_vs_accuracy(frame: pd.DataFrame, budget: float | None = None, cost: str = "macs") -> go.Figure:
    """Proxy accuracy against the budgeted cost (``cost``: ``macs``, or ``latency_ms`` for a
    latency budget), the Pareto front, and the budget window."""
    figure = go.Figure()
    done = Objective("pareto", "train").scored(frame).reset_index(drop=True)
    scale, unit, axis = ((1e6, "MMACs", "MACs (millions, at the spec's resolution)") if cost == "macs" else
                         (1.0, "ms", "predicted batch-1 CPU latency (ms, at the spec's resolution)"))
    done = done[done[cost].notna()].reset_index(drop=True) if cost in done else done.iloc[0:0].assign(**{cost: []})
    megamacs = done[cost] / scale
    figure.add_trace(go.Scatter(x=megamacs, y=done["proxy_accuracy"], mode="markers", name="trial",
                                customdata=done["number"],
                                hovertemplate=f"trial %{{customdata}}<br>%{{x:.1f}} {unit}<br>%{{y:.4f}}"))
    front = pareto_front(list(megamacs), list(done["proxy_accuracy"]))
    figure.add_trace(go.Scatter(x=megamacs[front], y=done["proxy_accuracy"][front], mode="lines+markers",
                                line={"shape": "hv"}, name="Pareto front"))
    if budget:
        low, high = WINDOW_LOW * budget / scale, budget / scale
        figure.add_vrect(x0=low, x1=high, fillcolor="green", opacity=0.1, line_width=0,
                         annotation_text="budget window", annotation_position="top left")
        figure.add_vline(x=high, line_dash="dash", line_color="green")
        # Every trained candidate sits inside the window: without a margin the shading would
        # fill the whole axis and say nothing.
        span = high - low
        figure.update_xaxes(range=[min([low - span, *megamacs]), max([high + 0.5 * span, *megamacs])])
    figure.update_layout(title=f"{'MACs' if cost == 'macs' else 'Latency'} vs proxy accuracy", xaxis_title=axis,
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


def stage_choice_frequencies(frame: pd.DataFrame, top_fraction: float = 0.25,
                             objective: Objective = Objective()) -> go.Figure:
    """Per stage and field, how often each choice appears among the top trials vs all trials."""
    done = objective.scored(frame)
    column = objective.column
    top = done.nlargest(max(1, int(round(len(done) * top_fraction))), column) if len(done) else done
    # Room between rows for the rotated "stage N: value" ticks, so they never run into the
    # next row's title.
    figure = make_subplots(rows=len(CHOICE_FIELDS), cols=1, subplot_titles=CHOICE_FIELDS, vertical_spacing=0.09)
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
    figure.update_xaxes(tickangle=-45, tickfont={"size": 10})
    figure.update_layout(title="Per-stage choices: top trials vs all", barmode="group", height=360 * len(CHOICE_FIELDS))
    return figure


def parameter_importances(importances: dict[str, float]) -> go.Figure:
    """Optuna's parameter importances (fANOVA by default; they sum to 1), largest on top."""
    ordered = sorted(importances.items(), key=lambda item: item[1])
    figure = go.Figure(go.Bar(x=[value for _, value in ordered], y=[name for name, _ in ordered], orientation="h"))
    figure.update_layout(title="Parameter importances (Optuna)", xaxis_title="importance (share of variance)",
                         yaxis_title="parameter", height=max(300, 22 * len(ordered) + 120))
    return figure


PARALLEL_AXES = 8  # more axes than this is a thicket no one can read (a 7-stage space samples 43 parameters)


def most_important(params: pd.DataFrame, objective: pd.Series, importances: dict[str, float] | None = None,
                   count: int = PARALLEL_AXES) -> list[str]:
    """The ``count`` parameters that matter most: by Optuna's importances when given, else
    by the absolute Spearman correlation of each parameter (categories by their codes) with
    the objective."""
    if importances:
        ranked = sorted((name for name in params.columns if name in importances), key=lambda n: -importances[n])
    else:
        def strength(name: str) -> float:
            values = params[name]
            numeric = pd.to_numeric(values, errors="coerce")
            codes = numeric if numeric.notna().all() else values.astype(str).astype("category").cat.codes
            correlation = pd.Series(codes.to_numpy(), dtype=float).corr(
                pd.Series(objective.to_numpy(), dtype=float), method="spearman")
            return 0.0 if pd.isna(correlation) else abs(float(correlation))

        ranked = sorted(params.columns, key=lambda name: -strength(name))
    return ranked[:count]


def parallel_coordinates(params: pd.DataFrame, objective: pd.Series, label: str = "reward",
                         importances: dict[str, float] | None = None, max_axes: int = PARALLEL_AXES) -> go.Figure:
    """One line per complete trial through its most important parameters (at most
    ``max_axes``, see :func:`most_important`), coloured by the objective.

    Categorical parameters become evenly spaced ticks named by their values.
    """
    shown = most_important(params, objective, importances, max_axes)
    dimensions = []
    for name in shown:
        values = params[name]
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().all():
            dimensions.append({"label": name, "values": numeric.tolist()})
        else:
            categories = sorted(values.astype(str).unique())
            codes = values.astype(str).map({c: i for i, c in enumerate(categories)})
            dimensions.append({"label": name, "values": codes.tolist(), "tickvals": list(range(len(categories))),
                               "ticktext": categories})
    dimensions.append({"label": label, "values": objective.tolist()})
    figure = go.Figure(go.Parcoords(line={"color": objective.tolist(), "colorscale": "Viridis", "showscale": True,
                                          "colorbar": {"title": label}}, dimensions=dimensions))
    title = (f"Parallel coordinates: the {len(shown)} most important of {params.shape[1]} parameters"
             if len(shown) < params.shape[1] else "Parallel coordinates of the sampled parameters")
    figure.update_layout(title=title)
    return figure


def network_stages(stages: pd.DataFrame, title: str = "Best network") -> go.Figure:
    """A network drawn stage by stage: MACs and parameters per part (stem, stages, head),
    each bar labelled with the stage's block string.

    ``stages`` has columns ``part``, ``description``, ``macs``, ``params``, ``output``.
    """
    figure = make_subplots(rows=1, cols=2, subplot_titles=("MACs (millions)", "parameters (thousands)"),
                           shared_yaxes=True, horizontal_spacing=0.03)
    hover = [f"{d}<br>output {o}" for d, o in zip(stages["description"], stages["output"])]
    figure.add_trace(go.Bar(y=stages["part"], x=stages["macs"] / 1e6, orientation="h", name="MACs",
                            text=stages["description"], textposition="auto", hovertext=hover, hoverinfo="text+x"),
                     row=1, col=1)
    figure.add_trace(go.Bar(y=stages["part"], x=stages["params"] / 1e3, orientation="h", name="parameters",
                            hovertext=hover, hoverinfo="text+x"), row=1, col=2)
    figure.update_yaxes(autorange="reversed", title_text="part (input to output)", row=1, col=1)
    figure.update_xaxes(title_text="MACs (millions)", row=1, col=1)
    figure.update_xaxes(title_text="parameters (thousands)", row=1, col=2)
    figure.update_layout(title=title, showlegend=False, height=max(320, 45 * len(stages) + 120))
    return figure
