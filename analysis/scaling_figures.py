"""Plotly figures over scaling runs (the files ``python -m scaling.fit`` writes).

Inputs are what those files hold, read through their owner's typed readers:
:class:`scaling.reports.CoefficientsReport` (``coefficients.json``),
:class:`scaling.reports.LawReport` (one law of ``laws.json``), and ``family.csv`` and
``grid.csv`` as DataFrames. MACs are
multiply-accumulates at each spec's own resolution; the metric is proxy accuracy
(higher is better) unless a law says it fitted an error or loss.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from infra.statistics import mean_interval
from scaling.compound import PAPER_COEFFICIENTS
from scaling.members import band_verdict, measured_members
from scaling.reports import CoefficientsReport, LawReport

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _ternary(shares) -> dict:
    shares = np.atleast_2d(np.asarray(shares, dtype=float))
    total = shares.sum(axis=1)
    return {"a": shares[:, 0] / total, "b": shares[:, 1] / total, "c": shares[:, 2] / total}


def share_simplex(coefficients: CoefficientsReport) -> go.Figure:
    """Mean metric of each grid point over the (depth, width, resolution) FLOP-share simplex,
    with the grid best, the surrogate optimum and the paper's coefficients marked."""
    points = coefficients.points
    figure = go.Figure()
    if points:
        shares = [p.shares for p in points]
        metric = [p.mean_metric for p in points]
        hover = [f"shares d/w/r {s[0]:.2f}/{s[1]:.2f}/{s[2]:.2f}<br>mean metric {m:.4f} over {p.seeds} seed(s)"
                 f"<br>P(best) {p.probability_best:.2f}" for s, m, p in zip(shares, metric, points)]
        figure.add_trace(go.Scatterternary(**_ternary(shares), mode="markers", name="grid point", text=hover,
                                           hoverinfo="text",
                                           marker={"color": metric, "size": 13, "colorscale": "Viridis",
                                                   "colorbar": {"title": "mean metric"}, "showscale": True}))
        best = coefficients.grid_best.shares
        figure.add_trace(go.Scatterternary(**_ternary([best]), mode="markers", name="grid best",
                                           marker={"symbol": "star", "size": 20, "color": "red"}))
    surrogate = coefficients.surrogate
    if surrogate:
        figure.add_trace(go.Scatterternary(
            **_ternary([surrogate["optimum_shares"]]), mode="markers",
            name=f"surrogate optimum ({'adequate' if surrogate['adequate'] else 'not adequate'})",
            marker={"symbol": "diamond", "size": 16, "color": "orange"}))
    paper = f"paper ({PAPER_COEFFICIENTS.alpha:g}, {PAPER_COEFFICIENTS.beta:g}, {PAPER_COEFFICIENTS.gamma:g})"
    figure.add_trace(go.Scatterternary(**_ternary([PAPER_COEFFICIENTS.shares]), mode="markers", name=paper,
                                       marker={"symbol": "x", "size": 14, "color": "black"}))
    figure.update_layout(title="Metric over the FLOP-share simplex at phi = 1 (alpha beta^2 gamma^2 = 2)",
                         legend={"orientation": "h", "y": -0.12},
                         ternary={"aaxis": {"title": "depth share"}, "baxis": {"title": "width share"},
                                  "caxis": {"title": "resolution share"}})
    return figure


def mac_ratio_by_phi(family: pd.DataFrame) -> go.Figure:
    """Realised MAC ratio of each rounded member to the base, against the ideal 2^phi."""
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=family["phi"], y=family["ideal_mac_ratio"], mode="lines+markers",
                                name="ideal (alpha beta^2 gamma^2)^phi"))
    figure.add_trace(go.Scatter(x=family["phi"], y=family["realised_mac_ratio"], mode="lines+markers",
                                name="realised (rounded network)", customdata=family["name"],
                                hovertemplate="%{customdata}<br>phi %{x}<br>ratio %{y:.3f}"))
    figure.update_layout(title="Realised vs ideal MAC ratio per phi", xaxis_title="phi",
                         yaxis_title="MACs / base MACs", yaxis_type="log")
    return figure


def family_costs(family: pd.DataFrame) -> go.Figure:
    """Params, MACs (plain and Ghost) and the predicted metric of each family member, with
    the measured metric of the members trained (``scaling.check --members``)."""
    figure = make_subplots(rows=1, cols=3, subplot_titles=("parameters (millions)", "MACs (billions)",
                                                          "predicted metric"))
    names = family["name"]
    for column, ghost, col, scale in (("params", "ghost_params", 1, 1e6), ("macs", "ghost_macs", 2, 1e9)):
        figure.add_trace(go.Scatter(x=family["phi"], y=family[column] / scale, mode="lines+markers", name=column,
                                    customdata=names, hovertemplate="%{customdata}<br>%{y:.3f}"), row=1, col=col)
        figure.add_trace(go.Scatter(x=family["phi"], y=family[ghost] / scale, mode="lines+markers",
                                    name=f"Ghost {column}", line={"dash": "dot"}), row=1, col=col)
    predicted = pd.to_numeric(family.get("predicted_metric"), errors="coerce") if "predicted_metric" in family else None
    if predicted is not None and predicted.notna().any():
        low = pd.to_numeric(family["predicted_low"], errors="coerce")
        high = pd.to_numeric(family["predicted_high"], errors="coerce")
        figure.add_trace(go.Scatter(x=family["phi"], y=predicted, mode="lines+markers", name="predicted metric",
                                    error_y={"type": "data", "symmetric": False, "array": high - predicted,
                                             "arrayminus": predicted - low}), row=1, col=3)
    else:
        figure.add_annotation(text="no law fitted: no prediction", row=1, col=3, showarrow=False,
                              x=float(family["phi"].mean()), y=0.5)
    measured = measured_members(family)
    if not measured.empty:
        figure.add_trace(go.Scatter(x=measured["phi"], y=measured["measured"], mode="markers",
                                    marker={"symbol": "diamond", "size": 11, "color": "black"},
                                    name=f"measured ({band_verdict(measured)})", customdata=measured["name"],
                                    hovertemplate="%{customdata}<br>measured %{y:.4f}"), row=1, col=3)
    figure.update_xaxes(title_text="phi")
    figure.update_layout(title="The scaled family B0..B7")
    return figure


def power_law_fit(law: LawReport, family: pd.DataFrame | None = None) -> go.Figure:
    """Data, the fitted law ``E + A C^-a`` with its bootstrap band, and held-out points (log-log);
    the title says whether the fit passed its checks. ``family``: a ``family.csv`` whose measured
    members are drawn at their MACs (their error ``1 - metric``), and counted in the title."""
    compute, error = np.asarray(law.compute, float), np.asarray(law.error, float)
    held = law.held_out
    held_compute = {point.compute for point in held.points} if held else set()
    used = np.array([c not in held_compute for c in compute], dtype=bool)
    figure = go.Figure()
    band = law.band
    if band.low:
        figure.add_trace(go.Scatter(x=list(band.compute) + list(band.compute[::-1]),
                                    y=list(band.high) + list(band.low[::-1]), fill="toself",
                                    fillcolor="rgba(31,119,180,0.2)", line={"width": 0},
                                    name="95% bootstrap band", hoverinfo="skip"))
    grid = np.geomspace(compute.min(), max(compute.max(), max(band.compute or (compute.max(),))), 100)
    figure.add_trace(go.Scatter(x=grid, y=law.law.error(grid), mode="lines",
                                name=f"E + A C^-a: a = {law.law.a:.3g}, E = {law.law.E:.3g}"))
    figure.add_trace(go.Scatter(x=compute[used], y=error[used], mode="markers", name="fitted points"))
    if held:
        figure.add_trace(go.Scatter(
            x=[p.compute for p in held.points], y=[p.observed for p in held.points], mode="markers",
            marker={"symbol": "x", "size": 12, "color": "red"}, name="held out",
            text=[f"log error {p.log_error:+.3f}, {'inside' if p.inside_band else 'outside'} band"
                  for p in held.points], hoverinfo="text+x+y"))
        figure.add_trace(go.Scatter(x=grid, y=held.refit.error(grid), mode="lines",
                                    line={"dash": "dash"}, name="refit without held-out points"))
    title = f"Power law: {law.error_name} vs {law.x} ({law.health})"
    measured = measured_members(family) if family is not None else None
    if measured is not None and not measured.empty:
        figure.add_trace(go.Scatter(
            x=measured["macs"], y=1 - measured["measured"], mode="markers", customdata=measured["name"],
            marker={"symbol": "diamond", "size": 12, "color": "black"}, name="measured family members",
            text=["no band" if inside is None else "inside band" if inside else "OUTSIDE band"
                  for inside in measured["inside"]], hovertemplate="%{customdata}: %{text}<br>error %{y:.4f}"))
        title += f"; {band_verdict(measured)}"
    figure.update_layout(title=title, xaxis_title=f"{law.x} (log)",
                         yaxis_title=f"error = {law.error_name} (log)", xaxis_type="log", yaxis_type="log")
    return figure


def scaling_baselines(grid: pd.DataFrame, fresh_metrics: list[float] | None = None) -> go.Figure:
    """Compound scaling against the three single-dimension corners at the same MACs
    (phi = 1), each with its seeds, as in the EfficientNet paper's Figure 8.

    The grid's best point is shown on the seeds that selected it, which flatters it (the
    largest of many noisy means); ``fresh_metrics``, the chosen point on seeds the grid
    never used, is the fair comparison with the corners and is drawn beside it.
    """
    figure = go.Figure()
    if grid.empty:
        return figure.update_layout(title="Compound vs single-dimension scaling: no grid points yet")
    shares = grid[["share_depth", "share_width", "share_resolution"]].round(9)
    keyed = grid.assign(point=[tuple(row) for row in shares.to_numpy()])
    means = keyed.groupby("point")["metric"].mean()
    corners = {"depth only": (1.0, 0.0, 0.0), "width only": (0.0, 1.0, 0.0), "resolution only": (0.0, 0.0, 1.0)}
    groups = {name: point for name, point in corners.items() if point in means.index}
    groups["compound: grid best, on the seeds that chose it"] = means.idxmax()
    seeds = {name: keyed.loc[keyed["point"] == point, "metric"] for name, point in groups.items()}
    if fresh_metrics:
        seeds["compound: chosen point, fresh seeds"] = pd.Series(fresh_metrics, dtype=float)
    # Each seed as a point and the mean with its 95% t interval: boxes drawn from 2 seeds
    # suggest quartiles that do not exist.
    for name, values in seeds.items():
        figure.add_trace(go.Scatter(x=[name] * len(values), y=list(values), mode="markers", name=name,
                                    marker={"size": 8, "opacity": 0.6}, hovertemplate="%{y:.4f}"))
    estimates = {name: mean_interval(values) for name, values in seeds.items() if len(values)}
    figure.add_trace(go.Scatter(
        x=list(estimates), y=[e.mean for e in estimates.values()], mode="markers", name="mean, 95% interval",
        marker={"symbol": "line-ew-open", "size": 28, "line": {"width": 3}, "color": "black"},
        error_y={"type": "data", "symmetric": False,
                 "array": [e.high - e.mean if e.n > 1 else 0 for e in estimates.values()],
                 "arrayminus": [e.mean - e.low if e.n > 1 else 0 for e in estimates.values()]},
        text=[str(e) for e in estimates.values()], hovertemplate="%{text}"))
    figure.update_layout(title="Compound vs single-dimension scaling at phi = 1 (same MACs): seeds, mean and 95% "
                               "interval", yaxis_title="proxy accuracy", showlegend=False)
    return figure


def compare_scaling_runs(runs: dict[str, tuple[pd.DataFrame, LawReport | None]]) -> go.Figure:
    """Several scaling runs' evaluated members (and fitted laws, where there is one) on one
    MACs axis: compound scaling against ``--mode depth|width|resolution`` runs, as in the
    EfficientNet paper's Figure 8 (accuracy against FLOPs per scaling method).

    ``runs`` maps a run's name to its members (columns ``macs`` and ``metric``, higher is
    better) and the law of its ``laws.json`` or ``None``.
    """
    figure = go.Figure()
    for index, (name, (members, law)) in enumerate(runs.items()):
        color = COLORS[index % len(COLORS)]
        figure.add_trace(go.Scatter(x=members["macs"], y=members["metric"], mode="markers", name=f"{name}: members",
                                    marker={"color": color}, legendgroup=name))
        if law is not None:
            grid = np.geomspace(members["macs"].min(), members["macs"].max(), 60)
            figure.add_trace(go.Scatter(x=grid, y=1 - law.law.error(grid), mode="lines",
                                        name=f"{name}: law", line={"color": color}, legendgroup=name))
    figure.update_layout(title="Scaling runs compared: metric against MACs", xaxis_title="MACs (log)",
                         xaxis_type="log", yaxis_title="metric (higher is better)")
    return figure


__all__ = ["compare_scaling_runs", "family_costs", "mac_ratio_by_phi", "power_law_fit", "scaling_baselines", "share_simplex"]
