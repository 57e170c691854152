"""A search job: everything a worker process needs, picklable for ``spawn``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runners.data import Splits, prepare
from runners.evaluation import SearchSettings
from search_space import SearchSpace


@dataclass(frozen=True)
class DataOptions:
    source: str | None  # None: Fashion-MNIST found on this machine
    proxy_resolution: tuple[int, int] | None
    val_fraction: float
    max_train_samples: int | None
    max_val_samples: int | None


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
    workers: int = 1
    timeout: float | None = None
    pruning: bool = True
    ray_address: str | None = None


def load_job_data(job: SearchJob) -> Splits:
    """The job's data, prepared identically in every process (same seed, same split)."""
    options = job.data
    return prepare(
        options.source,
        proxy_resolution=options.proxy_resolution,
        val_fraction=options.val_fraction,
        max_train_samples=options.max_train_samples,
        max_val_samples=options.max_val_samples,
        seed=job.settings.seed,
    )
