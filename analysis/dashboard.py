"""``python -m analysis.dashboard``: one offline HTML page over search and scaling runs.

    python -m analysis.dashboard runs/20261123-0900                      # one search run
    python -m analysis.dashboard runs/tpe runs/random runs/scaling-fit --out dashboard.html
    python -m analysis.dashboard runs/* --png figures/                  # also each figure as PNG

Each directory is recognised by its files: a search run has ``trials.jsonl`` or a
search ``config.json``; a scaling run has ``evaluations.jsonl``, ``coefficients.json``,
``family.csv`` or ``laws.json``. Runs still being written, or with nothing finished
yet, are shown with a note. plotly.js is embedded once: the page makes no network
requests.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.figures import compare_runs
from analysis.report import Section, write_report
from analysis.scaling_figures import compare_scaling_runs
from analysis.scaling_report import scaling_sections, scaling_summary
from analysis.search_report import load_search_run, search_sections
from runners.budget import format_macs
from runners.cli import USAGE_ERROR, ArgumentParser, UsageError

SCALING_FILES = ("evaluations.jsonl", "coefficients.json", "family.csv", "laws.json")


def run_kind(path: Path) -> str:
    """``"search"`` or ``"scaling"``; :class:`UsageError` for anything else."""
    if not path.is_dir():
        raise UsageError(f"{path}: not a directory")
    if any((path / name).exists() for name in SCALING_FILES):
        return "scaling"
    config = path / "config.json"
    if (path / "trials.jsonl").exists() or (config.exists() and "budget_flops" in config.read_text()):
        return "search"
    raise UsageError(f"{path}: not a search or scaling run directory (no trials.jsonl, config.json, "
                     f"evaluations.jsonl, coefficients.json, family.csv or laws.json)")


def dashboard_sections(paths: list[Path]) -> list[Section]:
    """All sections of the page: per run, then the runs compared (when there are several searches)."""
    kinds = {path: run_kind(path) for path in paths}
    sections: list[Section] = []
    searches = {}
    for path, kind in kinds.items():
        if kind == "search":
            run = load_search_run(path)
            searches[path.name] = run
            budget = format_macs(run.budget) if run.budget else "unknown"
            sections.append((f"Search run {path.name}", f"{len(run.frame)} trials finished; objective "
                             f"{run.objective}, budget {budget} MACs"))
            sections += [(f"{path.name}: {heading}", content) for heading, content in search_sections(path)]
        else:
            coefficients_path = path / "coefficients.json"
            if coefficients_path.exists():
                note = scaling_summary(json.loads(coefficients_path.read_text()))
            elif (path / "evaluations.jsonl").exists():
                note = "no coefficients yet: the grid is still being evaluated"
            else:
                note = "power-law fit"
            sections.append((f"Scaling run {path.name}", note or "scaling run"))
            sections += [(f"{path.name}: {heading}", content) for heading, content in scaling_sections(path)]
    scaling_runs = {f"{path.name} ({_scaling_mode(path)})": members for path, kind in kinds.items()
                    if kind == "scaling" and (members := _scaling_members(path)) is not None}
    if len(scaling_runs) > 1:
        sections.append(("Scaling runs compared", compare_scaling_runs(scaling_runs)))
    if len(searches) > 1:
        objectives = {run.objective for run in searches.values()}
        if len(objectives) == 1:
            sections.append(("Runs compared", compare_runs({name: run.frame for name, run in searches.items()},
                                                           objectives.pop())))
        else:
            sections.append(("Runs compared", "the runs optimise different objectives; not overlaid"))
    return sections


def _scaling_members(path: Path) -> tuple[pd.DataFrame, dict | None] | None:
    """The members along a scaling run's direction (MACs, metric) and its metric-vs-MACs law:
    the law's own points where there is one, else the trained base and law members."""
    from scaling.grid_run import read_evaluations

    laws_path = path / "laws.json"
    laws = json.loads(laws_path.read_text()).get("laws", []) if laws_path.exists() else []
    law = next((law for law in laws if law["x"].lower() == "macs"), None)
    if law is not None:
        data = law["data"]
        return pd.DataFrame({"macs": data["compute"], "metric": 1 - np.asarray(data["error"], float)}), law
    rows = [(e.macs, e.metric) for e in read_evaluations(path) if e.state == "COMPLETE" and e.role in ("base", "law")]
    return (pd.DataFrame(rows, columns=["macs", "metric"]), None) if rows else None


def _scaling_mode(path: Path) -> str:
    config = path / "config.json"
    return json.loads(config.read_text()).get("mode", "compound") if config.exists() else "table fit"


def export_png(sections: list[Section], directory: Path) -> str:
    """Write each figure as ``NN-<heading>.png``; returns a one-line outcome."""
    figures = [(heading, content) for heading, content in sections if isinstance(content, go.Figure)]
    try:
        import kaleido  # noqa: F401  (plotly's static-image engine)
    except ImportError:
        return "PNG export skipped: it needs kaleido (pip install kaleido) and a Chrome or Chromium browser"
    directory.mkdir(parents=True, exist_ok=True)
    written = 0
    for index, (heading, figure) in enumerate(figures, start=1):
        name = re.sub(r"[^A-Za-z0-9]+", "-", heading).strip("-").lower()
        try:
            figure.write_image(directory / f"{index:02d}-{name}.png", width=1100, height=figure.layout.height or 600)
        except Exception as error:  # kaleido reports a missing browser and the like in many ways
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return f"PNG export stopped after {written} of {len(figures)} figures: {reason}"
        written += 1
    return f"wrote {written} PNG files to {directory}"


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m analysis.dashboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="search and/or scaling run directories")
    parser.add_argument("--out", type=Path, default=Path("dashboard.html"), help="the HTML file to write")
    parser.add_argument("--title", default="EfficientNet search and scaling dashboard")
    parser.add_argument("--png", type=Path, default=None, help="also write every figure as a PNG into this directory")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        sections = dashboard_sections(args.runs)
        if args.out.parent and not args.out.parent.exists():
            raise UsageError(f"--out {args.out}: directory {args.out.parent} does not exist")
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE_ERROR
    summary = "\n".join(f"{path}: {run_kind(path)} run" for path in args.runs)
    write_report(args.out, args.title, sections, summary)
    figures = sum(isinstance(content, go.Figure) for _, content in sections)
    print(f"wrote {args.out} ({figures} figures, {len(sections) - figures} notes)")
    if args.png is not None:
        outcome = export_png(sections, args.png)
        print(outcome, file=sys.stderr if outcome.startswith("PNG export") else sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
