"""Chaos, long: the search and the scaling grid hit by many random faults, resumed after each.

    python benchmarks/chaos.py [--faults 12] [--seed 0] > benchmarks/outputs/chaos.txt

The scenarios are the test suite's (``tests/chaos.py``; ``tests/test_chaos.py`` runs 3 faults
each): a search on a PostgreSQL server of its own with 4 workers and 40 trials (faults: kill -9
of a worker, kill -9 of the command and its workers, a database restart of 1-5 s, Ctrl-C), and
a scaling grid on 2 workers, 6 seeds per point, shares in steps of 0.25 (kill -9 of a worker or of the command, Ctrl-C, SIGTERM), each
fault 0-4 s after a new result has finished since the last one. Each scenario also runs without faults, for the time the faults
cost. Prints per scenario: the faults injected, the results finished before a fault and how
many changed or were lost, duplicates, tracebacks, and the wall time against the calm run.
First, issue 23's database-restart case as it was reported: the default search with
``--trials 12 --workers 2`` on a PostgreSQL server, stopped 40 s in (``pg_ctl stop -m fast``)
and started again 5 s later.

Needs root (the PostgreSQL server runs as its ``postgres`` user) and Debian's postgresql.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: tests/ holds the scenarios

from tests.chaos import restart_scenario, scaling_scenario, search_scenario  # noqa: E402

FINER_GRID = ("--step", "0.25")  # 15 points instead of the test's 6: work for every fault to land in


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faults", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenarios", default="restart,search,scaling",
                        help="which to run, comma-separated: restart, search, scaling")
    args = parser.parse_args()
    scenarios = set(args.scenarios.split(","))
    if "restart" in scenarios:
        restart_case()
    print(f"chaos: {args.faults} faults per scenario, fault seed {args.seed}", flush=True)
    if "search" in scenarios:
        search_case(args)
    if "scaling" in scenarios:
        scaling_case(args)


def restart_case() -> None:
    with tempfile.TemporaryDirectory() as folder:
        restart = restart_scenario(Path(folder))
    print("database restart 40 s into a 12-trial, 2-worker default search, 5 s down: "
          + "; ".join(f"{key} {value}" for key, value in restart.items()), flush=True)


def search_case(args) -> None:
    with tempfile.TemporaryDirectory() as calm_folder, tempfile.TemporaryDirectory() as folder:
        calm, _ = search_scenario(Path(calm_folder), 0, args.seed, trials=40)
        report, evaluated = search_scenario(Path(folder), args.faults, args.seed, trials=40)
    failed = sum(r.state.value == "FAIL" for r in evaluated)
    print(f"search (PostgreSQL, 4 workers, 40 trials): {report.describe()}")
    print(f"  evaluated candidates at the end: {len(evaluated)} of 40, {failed} failed; time lost to faults "
          f"{report.seconds - calm.seconds:+.0f} s against {calm.seconds:.0f} s without faults", flush=True)


def scaling_case(args) -> None:
    with tempfile.TemporaryDirectory() as calm_folder, tempfile.TemporaryDirectory() as folder:
        calm, _, _ = scaling_scenario(Path(calm_folder), 0, args.seed, FINER_GRID)
        report, chaotic, uninterrupted = scaling_scenario(Path(folder), args.faults, args.seed, FINER_GRID)
    print(f"scaling grid (2 workers, 6 seeds per point, step 0.25): {report.describe()}")
    print(f"  coefficients.json equal to the uninterrupted run's: {chaotic == uninterrupted}; time lost to faults "
          f"{report.seconds - calm.seconds:+.0f} s against {calm.seconds:.0f} s without faults")


if __name__ == "__main__":
    main()
