"""Trial records and the run directory's tables.

``trials.jsonl`` is the append-only log: one JSON line per finished trial (complete,
pruned, failed or rejected), written and flushed as soon as the trial ends, so a kill
loses at most the trial in flight. ``results.csv``, ``results.parquet`` and
``best.yaml`` are regenerated from it; when a trial number appears twice (a rerun after
an interruption), the last line wins.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import pandas as pd

from search_space import spec_from_dict, write_spec_file

TRIALS_LOG = "trials.jsonl"
STATES = ("COMPLETE", "PRUNED", "FAIL", "REJECTED")
INTERRUPTED = "interrupted"  # failure_reason prefix of a trial a killed process left unfinished


@dataclass
class TrialRecord:
    """One row of ``results.csv``. MACs at the spec's own resolution; accuracy on the
    validation split at the proxy resolution; ``reward`` is the search objective."""

    number: int
    state: str
    spec: str = ""  # block strings of the trained (projected) network
    macs: int | None = None
    params: int | None = None
    proxy_accuracy: float | None = None
    reward: float | None = None
    duration_s: float = 0.0
    failure_reason: str = ""
    projection: str = ""
    original_macs: int | None = None
    epochs: int = 0
    proxy: str = "train"
    zero_cost: dict[str, float] = field(default_factory=dict)
    params_sampled: dict = field(default_factory=dict)
    spec_dict: dict = field(default_factory=dict)
    finished_at: float = 0.0

    @property
    def interrupted(self) -> bool:
        """True for the placeholder of a trial a killed search left unfinished (it is rerun)."""
        return self.failure_reason.startswith(INTERRUPTED)


def append_json_line(path: Path, row: dict) -> None:
    """Append ``row`` as one JSON line and fsync, so it survives ``kill -9`` right after.

    One ``write`` on an ``O_APPEND`` descriptor, so lines from parallel workers never
    interleave (a buffered writer may split a long line into several writes).
    """
    line = (json.dumps(row, allow_nan=True) + "\n").encode("utf-8")
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(descriptor, line)
        if written != len(line):  # a full disk: fail loudly rather than leave a torn line
            raise OSError(f"{path}: wrote {written} of {len(line)} bytes")
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_json_lines(path: Path) -> list[dict]:
    """Every complete line of a log written by :func:`append_json_line`; a torn last line
    (the process died mid-write) is skipped."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def append_record(run_dir: Path, record: TrialRecord) -> None:
    """Append one finished trial to the run's log."""
    append_json_line(run_dir / TRIALS_LOG, asdict(record))


def read_records(run_dir: Path) -> list[TrialRecord]:
    """All finished trials, last line per trial number, ordered by number.

    A torn last line (the process died mid-write) is skipped.
    """
    known = {f.name for f in fields(TrialRecord)}
    by_number: dict[int, TrialRecord] = {}
    for data in read_json_lines(run_dir / TRIALS_LOG):
        record = TrialRecord(**{key: value for key, value in data.items() if key in known})
        by_number[record.number] = record
    return [by_number[number] for number in sorted(by_number)]


def records_frame(records: list[TrialRecord]) -> pd.DataFrame:
    """The results table: one row per trial, zero-cost scores as their own columns."""
    rows = []
    for record in records:
        row = {key: value for key, value in asdict(record).items()
               if key not in ("zero_cost", "params_sampled", "spec_dict")}
        row.update({f"zero_cost_{name}": value for name, value in record.zero_cost.items()})
        row["spec_json"] = json.dumps(record.spec_dict) if record.spec_dict else ""
        rows.append(row)
    columns = [f.name for f in fields(TrialRecord) if f.name not in ("zero_cost", "params_sampled", "spec_dict")]
    frame = pd.DataFrame(rows, columns=None if rows else columns + ["spec_json"])
    return frame


def best_record(records: list[TrialRecord], objective: str = "reward") -> TrialRecord | None:
    """The complete trial with the highest reward (``pareto``: the highest accuracy)."""
    key = "proxy_accuracy" if objective == "pareto" else "reward"
    complete = [r for r in records if r.state == "COMPLETE" and getattr(r, key) is not None]
    return max(complete, key=lambda r: (getattr(r, key), -r.number), default=None)


def write_tables(run_dir: Path, records: list[TrialRecord], objective: str = "reward") -> TrialRecord | None:
    """Rewrite ``results.csv``, ``results.parquet`` and ``best.yaml``; returns the best trial."""
    frame = records_frame(records)
    write_atomically(run_dir / "results.csv", lambda path: frame.to_csv(path, index=False))
    write_atomically(run_dir / "results.parquet", lambda path: frame.to_parquet(path, index=False))
    best = best_record(records, objective)
    if best is not None and best.spec_dict:
        write_atomically(run_dir / "best.yaml", lambda path: write_spec_file(spec_from_dict(best.spec_dict), path))
    return best


def write_atomically(target: Path, write) -> None:
    """Write to a temporary sibling, then rename: readers never see a half-written table.

    The sibling's name is unique, so parallel workers rewriting the same table do not take
    each other's temporary file.
    """
    # The suffix stays last: some writers choose the format by it (YAML or JSON specs).
    temporary = target.with_name(f".{target.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{target.suffix}")
    try:
        write(temporary)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
