"""A search job: everything a worker process needs, picklable for ``spawn`` and Ray."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from runners.data.sources import DataOptions, Splits, prepare
from runners.search.candidates import SearchSettings
from runners.search.storage import STORAGE_PATIENCE_S
from search_space import SearchSpace


@dataclass(frozen=True)
class SearchJob:
    run_dir: Path
    space: SearchSpace
    settings: SearchSettings
    data: DataOptions
    sampler: str = "tpe"
    startup_trials: int = 4
    backend: str = "optuna"
    storage_url: str = ""
    storage_patience: float = STORAGE_PATIENCE_S  # seconds a database outage is ridden through
    workers: int = 1
    timeout: float | None = None
    pruning: bool = True
    ray_address: str | None = None
    study_name: str = "search"
    # The settings every command on one study must share (see runners.search.optuna_backend).
    identity: dict = field(default_factory=dict)
    # True when --storage names a study other commands may share: sampler streams then
    # include the process, so two commands starting together do not draw the same trials.
    shared_storage: bool = False


def load_job_data(job: SearchJob) -> Splits:
    """The job's data, prepared identically in every process (same seed, same split)."""
    return prepare(job.data)
