"""The learning curves of a full training (``python -m runners.train``'s ``curves.csv``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.report import Section, read_csv
from infra.documents import DocumentError, read_json
from runners.train.run_files import CURVES, RESULT

CURVE_NUMBERS = ("epoch", "train_loss", "val_accuracy", "val_loss", "seconds")


def learning_curves(curves: pd.DataFrame, title: str = "Learning curves") -> go.Figure:
    """Training and validation loss, and validation accuracy, per epoch; each point's hover
    names the stage's image size, dropout and augmentation (progressive learning changes them)."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("loss", "validation accuracy"))
    stage = [f"{r}, dropout {d:.2f}, augmentation {a:.2f}"
             for r, d, a in zip(curves.get("resolution", [""] * len(curves)), curves.get("dropout", [0] * len(curves)),
                                curves.get("augmentation", [0] * len(curves)))]
    for column, name in (("train_loss", "training loss (label-smoothed)"), ("val_loss", "validation loss")):
        figure.add_trace(go.Scatter(x=curves["epoch"], y=curves[column], mode="lines+markers", name=name,
                                    text=stage, hovertemplate="epoch %{x}: %{y:.4f}<br>%{text}"), row=1, col=1)
    figure.add_trace(go.Scatter(x=curves["epoch"], y=curves["val_accuracy"], mode="lines+markers",
                                name="validation accuracy", text=stage,
                                hovertemplate="epoch %{x}: %{y:.4f}<br>%{text}"), row=1, col=2)
    figure.update_xaxes(title_text="epoch")
    figure.update_layout(title=title)
    return figure


def training_sections(run_dir: Path) -> list[Section]:
    """A training run's result and its curves, or a note while nothing finished."""
    curves = read_csv(run_dir / CURVES, numeric=CURVE_NUMBERS)
    if curves is None or curves.empty:
        return [("Training", "no epoch finished yet")]
    note = f"{len(curves)} epochs so far, validation accuracy {curves['val_accuracy'].iloc[-1]:.4f}"
    if (run_dir / RESULT).exists():
        try:
            result = read_json(run_dir / RESULT)
        except DocumentError:
            result = None
        if isinstance(result, dict) and isinstance(result.get("val_accuracy"), float):
            test = result.get("test_accuracy")
            note = (f"finished: {result.get('epochs')} epochs in {float(result.get('seconds', 0)):.0f} s, "
                    f"validation accuracy {result['val_accuracy']:.4f}, "
                    + ("no test split" if not isinstance(test, float) else f"test accuracy {test:.4f}"))
    return [("Result", note), ("Learning curves", learning_curves(curves))]


__all__ = ["learning_curves", "training_sections"]
