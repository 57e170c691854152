"""Chaos, short: a search on PostgreSQL (4 workers) and a scaling grid (2 workers), each hit by
random faults at random times and resumed after each (``tests/chaos.py``;
``benchmarks/chaos.py`` runs the long version). Nothing finished before a fault changes,
nothing is recorded twice, no traceback is printed, the search ends with exactly --trials
evaluated candidates, none failed, and the scaling run with the coefficients of an
uninterrupted run."""

from __future__ import annotations

import random

import pytest

from infra.trial_state import TrialState
from tests.chaos import scaling_scenario, search_scenario
from tests.postgres import POSTGRES_HINT, postgres_available

FAULTS = 3


def _seed() -> int:
    seed = random.randrange(10**6)
    print(f"fault seed {seed} (tests/chaos.py replays it)")
    return seed


def test_a_search_on_postgresql_hit_by_random_faults_ends_with_exactly_its_trials(tmp_path):
    if not postgres_available():
        pytest.exit(POSTGRES_HINT, returncode=2)
    report, evaluated = search_scenario(tmp_path, FAULTS, _seed(), trials=12)
    print(report.describe())
    # Each fault waits for a new result; on a loaded machine the work may end before the last.
    assert len(report.faults) >= FAULTS - 1 and report.finished_before_faults >= 2, report.describe()
    assert report.changed == [] and report.duplicated == [] and report.tracebacks == 0, report.describe()
    assert len(evaluated) == 12 and not [r for r in evaluated if r.state is TrialState.FAIL], evaluated


def test_a_scaling_grid_hit_by_random_faults_ends_with_the_uninterrupted_coefficients(tmp_path):
    report, chaotic, calm = scaling_scenario(tmp_path, FAULTS, _seed())
    print(report.describe())
    assert len(report.faults) >= FAULTS - 1 and report.finished_before_faults >= 2, report.describe()
    assert report.changed == [] and report.duplicated == [] and report.tracebacks == 0, report.describe()
    assert chaotic == calm
