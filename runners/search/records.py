"""The vocabulary of trials: their states, their records, the objective that ranks them,
and the run directory's tables.

``trials.jsonl`` is the append-only log: one JSON line per finished trial (any
:class:`TrialState`), written and fsynced as soon as the trial ends, so a kill loses at
most the trial in flight. ``results.csv``, ``results.parquet`` and ``best.yaml`` are
regenerated from it; when a trial number appears twice (a rerun after an interruption),
the last line wins.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import pandas as pd

from infra.files import append_json_line, write_atomically
from infra.rows import read_rows, row_to
from infra.trial_state import TrialState
from search_space import spec_from_dict, write_spec_file

TRIALS_LOG = "trials.jsonl"
RESULTS_TABLE = "results.csv"  # and results.parquet beside it
BEST_SPEC = "best.yaml"


# Logs written before INTERRUPTED was a state marked such trials FAIL with this reason prefix.
_LEGACY_INTERRUPTED_PREFIX = "interrupted"


@dataclass
class TrialRecord:
    """One row of ``results.csv``. MACs at the spec's own resolution; accuracy on the
    validation split at the proxy resolution; ``reward`` is MnasNet's ``ACC x (C/T)^w`` with
    ``C`` the budgeted cost, MACs or ``latency_ms`` (the zero-cost score under ``--proxy
    zero-cost``). ``latency_ms``: predicted batch-1 CPU latency, with a latency budget only."""

    number: int
    state: TrialState
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
    seed_accuracies: list[float] = field(default_factory=list)  # one per seed replicate; proxy_accuracy is their mean
    latency_ms: float | None = None

    def __post_init__(self) -> None:
        self.state = TrialState(self.state)

    @classmethod
    def from_json(cls, row: dict) -> "TrialRecord":
        """A record from one log line (unknown keys ignored, old interrupted markers read);
        :class:`~infra.rows.RowError` for a line of the wrong shape."""
        record = row_to(cls, row)
        if record.state is TrialState.FAIL and record.failure_reason.startswith(_LEGACY_INTERRUPTED_PREFIX):
            record.state = TrialState.INTERRUPTED
        return record

    def to_json(self) -> dict:
        row = asdict(self)
        row["state"] = self.state.value
        return row


@dataclass(frozen=True)
class Objective:
    """What a search maximises: how a record is scored, what the study is told, which trial is best.

    ``kind="reward"`` ranks by MnasNet's reward; ``kind="pareto"`` is multi-objective
    (score up, cost down: MACs, or ``latency_ms`` under a latency budget) and ranks single
    winners by the score alone. The score is proxy accuracy after training, or the
    zero-cost score (kept in ``reward``) without training.
    """

    kind: str = "reward"  # "reward" or "pareto"
    proxy: str = "train"  # "train" or "zero-cost"
    cost: str = "macs"  # the record field the budget counts: "macs" or "latency_ms"

    KINDS = ("reward", "pareto")

    @classmethod
    def from_config(cls, config: dict) -> "Objective":
        """The objective a run directory's ``config.json`` recorded."""
        return cls(config.get("objective", "reward"), config.get("proxy", "train"),
                   "latency_ms" if config.get("budget_latency") else "macs")

    @property
    def multi(self) -> bool:
        return self.kind == "pareto"

    @property
    def directions(self) -> tuple[str, ...]:
        return ("maximize", "minimize") if self.multi else ("maximize",)

    @property
    def column(self) -> str:
        """The results-table column a single winner is chosen by."""
        return "proxy_accuracy" if self.multi and self.proxy == "train" else "reward"

    @property
    def label(self) -> str:
        if self.proxy == "zero-cost":
            return "zero-cost score"
        cost = "MACs" if self.cost == "macs" else "LAT"
        return "proxy accuracy" if self.column == "proxy_accuracy" else f"reward ACC x ({cost}/T)^w"

    @property
    def prunable(self) -> bool:
        """Only single-objective training reports per-epoch values a pruner can use."""
        return not self.multi and self.proxy == "train"

    def score(self, record: TrialRecord) -> float | None:
        return getattr(record, self.column)

    def values(self, record: TrialRecord) -> float | tuple[float, float]:
        """What the Optuna study is told for a complete trial."""
        return (self.score(record), getattr(record, self.cost)) if self.multi else self.score(record)

    def best(self, records: list[TrialRecord]) -> TrialRecord | None:
        """The complete trial with the highest score; the earlier trial wins a tie."""
        scored = [r for r in records if r.state is TrialState.COMPLETE and self.score(r) is not None]
        return max(scored, key=lambda r: (self.score(r), -r.number), default=None)

    def scored(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The complete trials of a results table that have a score."""
        if frame.empty or "state" not in frame or self.column not in frame:
            return frame.iloc[0:0]
        return frame[(frame["state"] == TrialState.COMPLETE.value) & frame[self.column].notna()]


def append_record(run_dir: Path, record: TrialRecord) -> None:
    """Append one finished trial to the run's log."""
    append_json_line(run_dir / TRIALS_LOG, record.to_json())


def read_records(run_dir: Path) -> list[TrialRecord]:
    """All finished trials, last line per trial number, ordered by number.

    A torn last line (the process died mid-write) is skipped.
    """
    by_number: dict[int, TrialRecord] = {}
    for record in read_rows(run_dir / TRIALS_LOG, TrialRecord.from_json):
        by_number[record.number] = record
    return [by_number[number] for number in sorted(by_number)]


_NESTED = ("zero_cost", "params_sampled", "spec_dict", "seed_accuracies")


def records_frame(records: list[TrialRecord]) -> pd.DataFrame:
    """The results table: one row per trial, zero-cost scores as their own columns."""
    rows = []
    for record in records:
        row = {key: value for key, value in record.to_json().items() if key not in _NESTED}
        row.update({f"zero_cost_{name}": value for name, value in record.zero_cost.items()})
        row["spec_json"] = json.dumps(record.spec_dict) if record.spec_dict else ""
        row["seeds"] = len(record.seed_accuracies)
        row["seed_accuracies"] = json.dumps(record.seed_accuracies)
        rows.append(row)
    columns = [f.name for f in fields(TrialRecord) if f.name not in _NESTED]
    return pd.DataFrame(rows, columns=None if rows else columns + ["spec_json", "seeds", "seed_accuracies"])


def write_tables(run_dir: Path, records: list[TrialRecord], objective: Objective) -> TrialRecord | None:
    """Rewrite ``results.csv``, ``results.parquet`` and ``best.yaml``; returns the best trial."""
    frame = records_frame(records)
    write_atomically(run_dir / RESULTS_TABLE, lambda path: frame.to_csv(path, index=False))
    write_atomically(run_dir / "results.parquet", lambda path: frame.to_parquet(path, index=False))
    best = objective.best(records)
    if best is not None and best.spec_dict:
        write_atomically(run_dir / BEST_SPEC, lambda path: write_spec_file(spec_from_dict(best.spec_dict), path))
    return best


__all__ = ["BEST_SPEC", "Objective", "RESULTS_TABLE", "TRIALS_LOG", "TrialRecord", "append_record", "read_records",
           "records_frame", "write_tables"]
