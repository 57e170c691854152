"""Run directories: where each command's outputs land, and what makes a rerun a resume.

A run directory's ``config.json`` records which command made it (``kind``) and every
setting that defines its results; rerunning with the same ``--out`` resumes only when
both match, so results of different settings never mix.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from infra.documents import DocumentError, read_json
from infra.errors import UsageError
from infra.files import check_creatable, make_directory, write_json

RUNS = Path("runs")
CONFIG = "config.json"


def default_run_dir(prefix: str = "") -> Path:
    """``runs/<prefix><timestamp>`` under the working directory."""
    return RUNS / f"{prefix}{datetime.now():%Y%m%d-%H%M%S}"


def read_config(run_dir: Path) -> dict:
    """The run's ``config.json`` (``{}`` when there is none); one line for a damaged one."""
    path = Path(run_dir) / CONFIG
    if not path.exists():
        return {}
    try:
        config = read_json(path)
    except DocumentError as error:
        raise UsageError(f"not a readable run configuration: {error}") from None
    if not isinstance(config, dict):
        raise UsageError(f"{path}: expected a JSON object, found {type(config).__name__}")
    return config


def claim_run_dir(run_dir: Path, identity: dict, kind: str, predating: dict | None = None) -> bool:
    """Create ``run_dir`` with ``config.json`` = ``identity`` and ``kind``, or check that an
    existing one holds the same kind of run with the same identity. True when resuming.

    A key an older run directory lacks predates its flag: it is compared with the value the
    code had before the flag existed (``predating``), or not at all when none is given.
    """
    run_dir = Path(run_dir)
    check_creatable(run_dir, "--out")
    saved = read_config(run_dir)
    if (run_dir / CONFIG).exists():
        if saved.get("kind", kind) != kind:
            raise UsageError(f"{run_dir} holds a {saved['kind']} run, not a {kind} run: choose another --out")
        saved = {**(predating or {}), **saved}
        differing = [key for key in identity if key in saved and saved[key] != identity[key]]
        if differing:
            key = differing[0]
            flag = f"--{key.replace('_', '-')}"
            shown = (f"a different {key.replace('_', ' ')}" if isinstance(saved[key], dict)
                     else f"{flag} {saved[key]!r}, not {identity[key]!r}")
            raise UsageError(f"{run_dir} holds a {kind} run with {shown}: use the same flags to resume, or a new --out")
        return True
    if run_dir.exists() and any(run_dir.iterdir()):
        raise UsageError(f"{run_dir} exists and is not a {kind} run directory; choose another --out")
    make_directory(run_dir, "--out")
    write_json(run_dir / CONFIG, {"kind": kind, **identity})
    return False


__all__ = ["CONFIG", "RUNS", "claim_run_dir", "default_run_dir", "read_config"]
