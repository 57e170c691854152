"""``python -m analysis.dashboard``: one offline HTML page over search and scaling runs.

    python -m analysis.dashboard runs/20261123-0900                 # writes runs/20261123-0900/dashboard.html
    python -m analysis.dashboard runs/tpe runs/random runs/scaling  # writes runs/dashboard.html
    python -m analysis.dashboard runs/* --png runs/figures          # also each figure as PNG

Each directory is recognised by its files: a search run has ``trials.jsonl`` or a
search ``config.json``; a scaling run has ``evaluations.jsonl``, ``coefficients.json``,
``family.csv`` or ``laws.json``; a training (``python -m runners.train``) has ``curves.csv``
or a train ``config.json``. Runs still being written, or with nothing finished
yet, are shown with a note. The page goes into the run directory (or, for several runs,
their common parent directory) unless --out says otherwise. plotly.js is embedded once:
the page makes no network requests.
"""

from __future__ import annotations

if __name__ == "__main__":  # before the imports (torch): a Ctrl-C while starting exits 130, no traceback
    from infra.stopping import exit_quietly_on_interrupt

    exit_quietly_on_interrupt()

import os
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.figures import compare_runs
from analysis.report import Section, write_report
from analysis.scaling_figures import compare_scaling_runs
from analysis.scaling_report import scaling_sections
from analysis.search_report import load_search_run, search_sections
from analysis.training_figures import training_sections
from infra.cli import ArgumentParser, run_main
from infra.errors import UsageError
from infra.files import unreadable_lines
from infra.run_dirs import RUNS, read_config
from infra.trial_state import TrialState
from runners.search.candidates import SearchSettings
from runners.search.records import TRIALS_LOG
from runners.train.run_files import CURVES
from scaling.grid_run import read_evaluations
from scaling.reports import LawReport, read_coefficients, read_laws
from scaling.run_files import COEFFICIENTS_FILE, EVALUATIONS_LOG, FAMILY_FILE, LAWS_FILE

SCALING_FILES = (EVALUATIONS_LOG, COEFFICIENTS_FILE, FAMILY_FILE, LAWS_FILE)
LOGS = (TRIALS_LOG, EVALUATIONS_LOG)  # JSON-lines logs, read for what they can still tell


def damaged_log_notes(paths: list[Path]) -> list[str]:
    """One note per log with unreadable lines, which the readers skip: a torn last line is the
    record in flight when a run was killed; any other is damage the user should hear of."""
    notes = []
    for path in paths:
        for log in LOGS:
            lines = unreadable_lines(path / log)
            if lines:
                shown = ", ".join(map(str, lines[:5])) + (" ..." if len(lines) > 5 else "")
                notes.append(f"{path / log}: {len(lines)} unreadable line(s) skipped (line {shown})")
    return notes


def run_kind(path: Path) -> str:
    """``"search"``, ``"scaling"`` or ``"train"``; :class:`UsageError` for anything else."""
    if not path.is_dir():
        raise UsageError(f"{path}: not a directory")
    if any((path / name).exists() for name in SCALING_FILES):
        return "scaling"
    config = read_config(path)
    if (path / TRIALS_LOG).exists() or config.get("kind") == "search" or "budget_flops" in config:
        return "search"
    if (path / CURVES).exists() or config.get("kind") == "train":
        return "train"
    raise UsageError(f"{path}: not a search, scaling or training run directory (no trials.jsonl, config.json, "
                     f"{', '.join(SCALING_FILES)} or {CURVES})")


def dashboard_sections(paths: list[Path]) -> list[Section]:
    """All sections of the page: per run, then the runs compared (when there are several searches)."""
    kinds = {path: run_kind(path) for path in paths}
    sections: list[Section] = []
    searches = {}
    for path, kind in kinds.items():
        if kind == "search":
            run = load_search_run(path)
            searches[path.name] = run
            budget = SearchSettings.from_config(run.config).budget.describe() if run.budget else "budget unknown"
            sections.append((f"Search run {path.name}", f"{len(run.frame)} trials finished; objective "
                             f"{run.objective.kind} ({run.objective.label}), {budget}. {run.winner()}"))
            sections += [(f"{path.name}: {heading}", content) for heading, content in search_sections(path)]
        elif kind == "train":
            sections += [(f"Training {path.name}: {heading}", content) for heading, content in training_sections(path)]
        else:
            coefficients = read_coefficients(path)
            if coefficients is not None:
                note = coefficients.summary()
            elif (path / EVALUATIONS_LOG).exists():
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


def _scaling_members(path: Path) -> tuple[pd.DataFrame, LawReport | None] | None:
    """The members along a scaling run's direction (MACs, metric) and its metric-vs-MACs law:
    the law's own points where there is one, else the trained base and law members."""
    laws, _ = read_laws(path)
    law = next((law for law in laws if law.x.lower() == "macs"), None)
    if law is not None:
        return pd.DataFrame({"macs": law.compute, "metric": 1 - np.asarray(law.error, float)}), law
    rows = [(e.macs, e.metric) for e in read_evaluations(path)
            if e.state is TrialState.COMPLETE and e.role in ("base", "law")]
    return (pd.DataFrame(rows, columns=["macs", "metric"]), None) if rows else None


def _scaling_mode(path: Path) -> str:
    return read_config(path).get("mode", "table fit")


def default_output(runs: list[Path]) -> Path:
    """``RUN/dashboard.html`` for one run; for several, their common parent's ``dashboard.html``
    (``runs/dashboard.html`` when they share none but the working directory)."""
    if len(runs) == 1:
        return runs[0] / "dashboard.html"
    parent = Path(os.path.commonpath([path.resolve() for path in runs]))
    return (RUNS if parent == Path.cwd().resolve() else parent) / "dashboard.html"


# A browser that starts too slowly on a loaded machine fails one figure once: it is retried,
# a browser that is missing fails every attempt and is reported.
PNG_ATTEMPTS = 2


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
        for attempt in range(PNG_ATTEMPTS):
            try:
                figure.write_image(directory / f"{index:02d}-{name}.png", width=1100,
                                   height=figure.layout.height or 600)
                break
            except Exception as error:  # kaleido reports a missing browser and the like in many ways
                if attempt + 1 == PNG_ATTEMPTS:
                    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                    return f"PNG export stopped after {written} of {len(figures)} figures: {reason}"
        written += 1
    return f"wrote {written} PNG files to {directory}"


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m analysis.dashboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="search and/or scaling run directories")
    parser.add_argument("--out", type=Path, default=None,
                        help="the HTML file to write; when not given, dashboard.html in the run directory (several "
                             "runs: in their common parent)")
    parser.add_argument("--title", default="EfficientNet search and scaling dashboard", help="the page's title")
    parser.add_argument("--png", type=Path, default=None, help="also write every figure as a PNG into this directory")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_main(lambda: _dashboard(args))


def _dashboard(args) -> int:
    kinds = [run_kind(path) for path in args.runs]  # what the user named is checked before where the page goes
    out = args.out or default_output(args.runs)
    if out.exists() and out.is_dir():
        raise UsageError(f"--out {out}: is a directory; name the HTML file to write")
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: directory {out.parent} does not exist")
    if args.png is not None and args.png.exists() and not args.png.is_dir():
        raise UsageError(f"--png {args.png}: exists and is not a directory")
    sections = dashboard_sections(args.runs)
    damaged = damaged_log_notes(args.runs)
    sections = [("Damaged logs", note) for note in damaged] + sections
    summary = "\n".join(f"{path}: {kind} run" for path, kind in zip(args.runs, kinds))
    write_report(out, args.title, sections, summary)
    figures = sum(isinstance(content, go.Figure) for _, content in sections)
    print(f"wrote {out} ({figures} figures, {len(sections) - figures} notes)")
    for note in damaged:
        print(f"warning: {note}", file=sys.stderr)
    if args.png is not None:
        outcome = export_png(sections, args.png)
        print(outcome, file=sys.stderr if outcome.startswith("PNG export") else sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
