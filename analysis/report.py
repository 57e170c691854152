"""Self-contained HTML reports: plotly.js embedded once, no network requests."""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Iterable, Union

import plotly.graph_objects as go

Section = tuple[str, Union[go.Figure, str]]


def write_report(path: Path, title: str, sections: Iterable[Section], summary: str = "") -> Path:
    """Write ``sections`` (heading, figure or a note) into one offline HTML page."""
    parts, embedded = [], False
    for heading, content in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if isinstance(content, go.Figure):
            parts.append(content.to_html(full_html=False, include_plotlyjs=not embedded,
                                         config={"displaylogo": False}))
            embedded = True
        else:
            parts.append(f"<p class='note'>{html.escape(content)}</p>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}
pre{{background:#f5f5f5;padding:1em;overflow-x:auto}}.note{{color:#555;font-style:italic}}</style>
</head><body><h1>{html.escape(title)}</h1>
<pre>{html.escape(summary)}</pre>
{''.join(parts)}
</body></html>
"""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(page, encoding="utf-8")
    os.replace(temporary, path)
    return path
