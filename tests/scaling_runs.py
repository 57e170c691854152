"""Small ``scaling.fit`` runs for the tests: a tiny base, quick flags, data on which networks
differ, and the run's log of evaluations read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from search_space import NetworkSpec, StageSpec, write_spec_file
from tests.datasets import write_npz


def tiny_base(path):
    first = StageSpec("MBConv", repeats=1, kernel=3, stride=2, expansion=2, out_channels=32)
    second = StageSpec("MBConv", repeats=2, kernel=3, stride=2, expansion=2, out_channels=48)
    spec = NetworkSpec(stem_channels=32, stages=(first, second), head_channels=64, resolution=32, name="tiny")
    write_spec_file(spec, path)
    return path


def training_args(tmp_path, *extra):
    data = write_npz(tmp_path / "data.npz", n=96, classes=3, shape=(16, 16))
    return ["--base", str(tiny_base(tmp_path / "tiny.yaml")), "--data", str(data), "--step", "0.5", "--seeds", "2",
            "--law-phis=-1", "--law-seeds", "2", "--epochs", "1", "--batch-size", "16", "--bootstrap", "50", "--quiet",
            "--comparison-seeds", "2", "--out", str(tmp_path / "run"), "--check-members", "0", *extra]


def logged_networks(run) -> list[tuple[tuple, float]]:
    """Every line of the run's ``evaluations.jsonl`` as (network key, metric), in order
    (none before the log exists)."""
    log = run / "evaluations.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return [((r["role"], r["phi"], r["share_depth"], r["share_width"], r["seed"]), r["metric"]) for r in rows]


def evaluations(run) -> tuple[dict, int]:
    """Each logged network's metric by its key, and the number of lines (a network trained
    twice is two lines for one key)."""
    logged = logged_networks(run)
    return dict(logged), len(logged)


def coefficients_json(run) -> dict:
    """The run's ``coefficients.json`` as written (runs compared for equality, field by field)."""
    return json.loads((run / "coefficients.json").read_text())


def hard_npz(path):
    """Classes a faint band apart: one epoch leaves networks at different accuracies, so
    equal results across backends mean something."""
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, 160)
    images = rng.normal(size=(160, 16, 16)).astype(np.float32)
    for label in range(4):
        images[labels == label, 4 * label : 4 * label + 4] += 0.6
    np.savez(path, x=images, y=labels)
    return path


def fit_command(tmp_path, name, *extra) -> list[str]:
    """The ``scaling.fit`` command of a quick run into ``tmp_path / name`` on :func:`hard_npz`."""
    args = training_args(tmp_path, "--no-time-limit", *extra)
    args[args.index("--out") + 1] = str(tmp_path / name)
    args[args.index("--data") + 1] = str(hard_npz(tmp_path / "hard.npz"))
    return [sys.executable, "-m", "scaling.fit", *args]


ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}  # one thread per network: workers and a sequential run compute alike


def fit_process(tmp_path, name, *extra, env=None) -> subprocess.Popen:
    """:func:`fit_command` started in a fresh interpreter (its own process group) with one
    thread per network, so that the sequential run and each worker compute alike, bit for bit."""
    return subprocess.Popen(fit_command(tmp_path, name, *extra), env={**ONE_THREAD, **(env or {})}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
