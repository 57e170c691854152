"""Self-contained HTML reports: plotly.js embedded once, no network requests."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Iterable, Union

import pandas as pd
import plotly.graph_objects as go

from infra.errors import UserError
from infra.files import write_atomically

# A heading and its content: a figure, a note, or a table (an answer block: read first, one
# quantity per row, rendered as an HTML table with class "answer").
Section = tuple[str, Union[go.Figure, str, pd.DataFrame]]


def read_csv(path: Path, numeric: Iterable[str] = (), required: Iterable[str] = ()) -> pd.DataFrame | None:
    """A run's table, or None when it has none; one line for a damaged one: unreadable, a
    ``required`` or ``numeric`` column missing, or a ``numeric`` column holding text."""
    if not path.exists():
        return None
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise UserError(f"{path}: not a readable CSV table ({type(error).__name__})") from None
    if frame.empty:
        return frame
    missing = [column for column in (*required, *numeric) if column not in frame.columns]
    if missing:
        raise UserError(f"{path}: missing column {missing[0]} (has: {', '.join(map(str, frame.columns))})")
    for column in numeric:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna()
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise UserError(f"{path}: column {column} holds {frame[column].iloc[row]!r} in data row {row + 1}, "
                            "not a number")
        frame[column] = values
    return frame


def write_report(path: Path, title: str, sections: Iterable[Section], summary: str = "") -> Path:
    """Write ``sections`` (heading, figure or a note) into one offline HTML page."""
    parts, embedded = [], False
    for heading, content in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if isinstance(content, go.Figure):
            parts.append(content.to_html(full_html=False, include_plotlyjs=not embedded,
                                         config={"displaylogo": False}))
            embedded = True
        elif isinstance(content, pd.DataFrame):
            parts.append(content.to_html(index=False, classes="answer", border=0, escape=True))
        else:
            parts.append(f"<p class='note'>{html.escape(content)}</p>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}
pre{{background:#f5f5f5;padding:1em;overflow-x:auto}}.note{{color:#555;font-style:italic}}
table.answer{{border-collapse:collapse;margin:0.5em 0 1.5em}}table.answer td,table.answer th{{border:1px solid #ccc;
padding:0.3em 0.8em;text-align:left}}</style>
</head><body><h1>{html.escape(title)}</h1>
<pre>{html.escape(summary)}</pre>
{''.join(parts)}
</body></html>
"""
    write_atomically(path, lambda temporary: temporary.write_text(page, encoding="utf-8"))
    return path
