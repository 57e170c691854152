"""Shared Optuna storage: several worker processes on one study, in a journal file and on a
real PostgreSQL server (Debian's, started on loopback for these tests); a worker killed
with -9 mid-trial loses nothing finished."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from unittest import mock

import optuna
import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.trial_state import TrialState
from runners.search import storage
from runners.search.records import read_records
from runners.search.storage import open_storage
from tests.commands import spawn
from tests.datasets import write_npz
from tests.postgres import POSTGRES_HINT, postgres_available, postgres_server

QUICK = ["--epochs", "1", "--max-train-samples", "48", "--max-val-samples", "16", "--quiet", "--startup-trials", "2",
         "--finalists", "0"]


@pytest.fixture(scope="module")
def postgres_url():
    if not postgres_available():
        pytest.exit(POSTGRES_HINT, returncode=2)  # never a silent skip: say what to install and stop
    with postgres_server() as server:
        yield server.url


def _study_trials(url: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name="search", storage=open_storage(url)).get_trials(deepcopy=False)


def assert_records_match_the_study(run, url: str, trials: int) -> None:
    """Trial numbers unique, none lost, none duplicated, every record's state the study's
    (a trial a killed worker left behind is recorded INTERRUPTED and failed in the study)."""
    records = read_records(run)
    numbers = [record.number for record in records]
    assert len(numbers) == len(set(numbers)), "a trial was recorded twice"
    study = {trial.number: trial for trial in _study_trials(url)}
    finished = {n for n, t in study.items() if t.state.is_finished()}
    assert set(numbers) == finished, (sorted(numbers), sorted(finished))
    assert sum(r.state is not TrialState.INTERRUPTED for r in records) == trials  # each asked-for trial, once
    told = {TrialState.COMPLETE: "COMPLETE", TrialState.PRUNED: "PRUNED"}
    for record in records:
        assert study[record.number].state.name == told.get(record.state, "FAIL"), record


def test_two_workers_share_a_journal_file(tmp_path):
    data = write_npz(tmp_path / "d.npz", n=80, shape=(16, 16))
    url = f"journal:///{tmp_path / 'study.log'}"
    outcome = spawn("runners.search", "--storage", url, "--workers", "2", "--trials", "4", "--data", data, *QUICK,
                    "--out", tmp_path / "run")
    assert outcome.code == 0, outcome.err
    assert_records_match_the_study(tmp_path / "run", url, 4)


def test_four_workers_share_one_postgresql_study(postgres_url, tmp_path):
    data = write_npz(tmp_path / "d.npz", n=80, shape=(16, 16))
    outcome = spawn("runners.search", "--storage", postgres_url, "--workers", "4", "--trials", "8", "--data", data,
                    *QUICK, "--out", tmp_path / "run")
    assert outcome.code == 0, outcome.err
    assert_records_match_the_study(tmp_path / "run", postgres_url, 8)
    numbers = [record.number for record in read_records(tmp_path / "run")]
    print(f"4 workers on PostgreSQL: {len(numbers)} trials, {len(set(numbers))} distinct numbers, "
          f"{len(_study_trials(postgres_url))} in the study")


def test_independent_commands_share_one_study_and_its_trial_count(postgres_url, tmp_path):
    """Two commands (as on two machines: each its own run directory) join one study; --trials
    is their total, every trial is in exactly one run's records, and a command with other
    settings is refused before it trains."""
    data = write_npz(tmp_path / "d.npz", n=80, shape=(16, 16))
    together = ["--storage", postgres_url, "--study-name", "together", "--trials", "6", "--data", str(data), *QUICK]
    commands = [subprocess.Popen([sys.executable, "-m", "runners.search", *together, "--out", str(tmp_path / name)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    outcomes = [command.communicate(timeout=600) for command in commands]
    assert [command.returncode for command in commands] == [0, 0], outcomes
    runs = {name: read_records(tmp_path / name) for name in ("a", "b")}
    assert all(runs.values()), "each command ran trials"
    numbers = [record.number for records in runs.values() for record in records]
    assert len(numbers) == len(set(numbers)), "a trial was recorded by both commands"
    study = {t.number: t for t in optuna.load_study(study_name="together", storage=open_storage(postgres_url)).trials}
    assert set(numbers) == {n for n, t in study.items() if t.state.is_finished()}
    # Each stops starting trials once the study holds 6; two finishing at the same instant can
    # both start one more, so at most one extra per command (never each command's own 6).
    assert 6 <= len(numbers) <= 7, sorted(numbers)

    other = spawn("runners.search", *together, "--budget-flops", "200M", "--out", tmp_path / "c")
    assert other.code == 2 and "holds a search with --budget-flops" in other.err, other.err


def _ask_after(url: str, start, answers, asks: int) -> None:
    """A worker of the next test: wait for the start, then ask the study for ``asks`` trials."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(study_name="search", storage=open_storage(url))
    start.wait()
    answers.put([study.ask().number for _ in range(asks)])


@pytest.mark.parametrize("scheme", ["sqlite:///", storage.JOURNAL_SCHEME])
def test_workers_starting_together_each_take_a_different_queued_trial(tmp_path, scheme):
    """A resumed search queues its interrupted candidates; its workers start together and
    each asks the study for its next trial. No two may get the same queued trial (it would
    be trained twice, and the second telling of it fails the worker)."""
    import multiprocessing

    url = f"{scheme}{tmp_path / 'study.db'}"
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(study_name="search", storage=open_storage(url))
    for x in range(12):
        study.enqueue_trial({"x": float(x)})
    context = multiprocessing.get_context("spawn")
    start, answers = context.Event(), context.Queue()
    workers = [context.Process(target=_ask_after, args=(url, start, answers, 5)) for _ in range(4)]
    for worker in workers:
        worker.start()
    time.sleep(3.0)  # every worker loaded the study and waits, so that their asks collide
    start.set()
    numbers = [number for _ in workers for number in answers.get(timeout=120)]
    for worker in workers:
        worker.join()
    assert len(numbers) == 20 and len(set(numbers)) == 20, sorted(numbers)
    waiting = optuna.trial.TrialState.WAITING
    assert not study.get_trials(states=(waiting,)), "every queued trial was taken, once"


def _worker_processes(pid: int) -> list[int]:
    """The search's worker processes (spawned children; not multiprocessing's resource tracker)."""
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(child) for child in found if b"spawn_main" in open(f"/proc/{child}/cmdline", "rb").read()]


def test_a_worker_killed_mid_trial_loses_nothing_finished(tmp_path):
    # Its own server: the killed worker's half-open connection must not disturb the other tests.
    if not postgres_available():
        pytest.exit(POSTGRES_HINT, returncode=2)
    data = write_npz(tmp_path / "d.npz", n=80, shape=(16, 16))
    with postgres_server() as server:
        url = server.url
        command = [sys.executable, "-m", "runners.search", "--storage", url, "--workers", "2", "--trials", "6",
                   "--data", str(data), *QUICK, "--out", str(tmp_path / "run")]
        search = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 240
        running: set[int] = set()
        # Killed mid-trial: after two finished trials, at a moment when a trial is running.
        while not running and time.monotonic() < deadline and search.poll() is None:
            time.sleep(0.1)
            if len(read_records(tmp_path / "run")) >= 2:
                running = {t.number for t in _study_trials(url) if t.state is optuna.trial.TrialState.RUNNING}
        workers = _worker_processes(search.pid)
        assert search.poll() is None and workers, "the search ended before a worker could be killed"
        os.kill(workers[0], signal.SIGKILL)
        out, err = search.communicate(timeout=600)
        assert search.returncode == 1 and "1 of 2 worker processes died" in err, err
        before = {r.number: r for r in read_records(tmp_path / "run") if r.state is not TrialState.INTERRUPTED}
        assert len(before) >= 2 and running, (before, running)

        resumed = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert resumed.returncode == 0, resumed.stderr
        after = {r.number: r for r in read_records(tmp_path / "run") if r.state is not TrialState.INTERRUPTED}
        assert all(after[number] == record for number, record in before.items())  # nothing finished lost or redone
        assert_records_match_the_study(tmp_path / "run", url, 6)
        print(f"killed a worker with {len(before)} trials finished ({len(running)} running); after the resume "
              f"{len(after)} trials, {sum(n in after for n in before)} of {len(before)} finished kept unchanged")


def _get_json(url: str, server: subprocess.Popen, timeout: float = 60.0):
    """GET ``url`` as JSON, retrying while ``server`` starts."""
    import json
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.load(response)
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline or server.poll() is not None:
                raise
            time.sleep(0.3)


def test_optuna_dashboard_serves_the_run_study_with_each_trial_spec_and_macs(tmp_path):
    from tests.postgres import free_port

    data = write_npz(tmp_path / "d.npz", n=80, shape=(16, 16))
    run = tmp_path / "run"
    outcome = spawn("runners.search", "--trials", "3", "--data", data, *QUICK, "--out", run)
    assert outcome.code == 0, outcome.err
    port = free_port()
    command = shutil.which("optuna-dashboard", path=os.path.dirname(sys.executable)) or "optuna-dashboard"
    server = subprocess.Popen([command, f"sqlite:///{run / 'study.db'}", "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        studies = _get_json(f"http://127.0.0.1:{port}/api/studies", server)["study_summaries"]
        assert [study["study_name"] for study in studies] == ["search"]
        study = _get_json(f"http://127.0.0.1:{port}/api/studies/{studies[0]['study_id']}?after=0", server)
    finally:
        server.terminate()
        server.wait(timeout=30)
    shown = {trial["number"]: {a["key"]: a["value"] for a in trial["user_attrs"]} for trial in study["trials"]}
    records = {record.number: record for record in read_records(run)}
    assert set(shown) == set(records)
    for number, record in records.items():
        assert shown[number]["state"] == record.state.value
        if record.spec:
            assert shown[number]["spec"] == record.spec and int(shown[number]["macs"]) == record.macs


def _start_search(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_records(run, count: int, search: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while len(read_records(run)) < count and search.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert search.poll() is None, "the search ended before the fault"


def test_a_database_restart_mid_search_costs_no_trial_and_prints_nothing(tmp_path):
    """PostgreSQL stopped (``pg_ctl stop -m fast``, as a managed database restarts) while
    trials run, started again 3 s later: the search rides through, ends with exactly
    --trials evaluated candidates, none failed for the outage, and says nothing about it."""
    if not postgres_available():
        pytest.exit(POSTGRES_HINT, returncode=2)
    data = write_npz(tmp_path / "d.npz", n=80, shape=(16, 16))
    with postgres_server() as server:
        run = tmp_path / "run"
        search = _start_search([sys.executable, "-m", "runners.search", "--storage", server.url, "--workers", "2",
                                "--trials", "6", "--data", str(data), *QUICK, "--out", str(run)])
        _wait_for_records(run, 1, search)
        server.stop("fast")
        time.sleep(3)
        server.start()
        out, err = search.communicate(timeout=600)
        assert search.returncode == 0 and err.strip() == "", err
        records = read_records(run)
        assert not [r for r in records if r.state is TrialState.FAIL], [r.failure_reason for r in records]
        assert_records_match_the_study(run, server.url, 6)


def test_an_outage_past_the_patience_is_one_line_and_the_same_command_resumes(tmp_path):
    if not postgres_available():
        pytest.exit(POSTGRES_HINT, returncode=2)
    data = write_npz(tmp_path / "d.npz", n=80, shape=(16, 16))
    with postgres_server() as server:
        run = tmp_path / "run"
        command = [sys.executable, "-m", "runners.search", "--storage", server.url, "--workers", "2", "--trials", "6",
                   "--storage-patience", "2", "--data", str(data), *QUICK, "--out", str(run)]
        search = _start_search(command)
        _wait_for_records(run, 2, search)
        server.stop("fast")
        out, err = search.communicate(timeout=600)
        lines = err.strip().splitlines()
        assert search.returncode == 1 and len(lines) == 1 and "did not answer for 2 s" in lines[0], err
        assert "Traceback" not in out + err
        finished = {r.number: r for r in read_records(run)}
        server.start()
        resumed = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert resumed.returncode == 0, resumed.stderr
        after = {r.number: r for r in read_records(run) if r.state is not TrialState.INTERRUPTED}
        assert all(after[number] == record for number, record in finished.items())  # nothing finished redone
        assert not [r for r in after.values() if r.state is TrialState.FAIL]
        assert_records_match_the_study(run, server.url, 6)


@pytest.mark.ray
def test_a_database_restart_under_the_ray_backend_costs_no_trial(tmp_path):
    """The Ray backend's driver keeps the study on the same patient storage: a restart of
    its PostgreSQL server mid-search is waited out, every trial recorded once, none failed."""
    if not postgres_available():
        pytest.exit(POSTGRES_HINT, returncode=2)
    data = write_npz(tmp_path / "d.npz", n=80, shape=(16, 16))
    with postgres_server() as server:
        run = tmp_path / "run"
        search = _start_search([sys.executable, "-m", "runners.search", "--backend", "ray", "--workers", "2",
                                "--storage", server.url, "--trials", "6", "--data", str(data), *QUICK, "--epochs", "2",
                                "--no-pruning", "--out", str(run)])
        _wait_for_records(run, 1, search)
        server.stop("fast")
        time.sleep(3)
        server.start()
        out, err = search.communicate(timeout=600)
    assert search.returncode == 0 and "Traceback" not in err, err[-2000:]
    records = read_records(run)
    assert sorted(r.number for r in records) == list(range(6)), records
    assert not [r for r in records if r.state is TrialState.FAIL], [r.failure_reason for r in records]


@given(patience=st.floats(0, 300), outage=st.floats(0, 600))
def test_the_backoff_waits_out_an_outage_shorter_than_the_patience_and_no_longer(patience, outage):
    """Against a fake clock: the attempts keep coming while the outage lasts and the patience
    is not spent, the pauses double up to the longest and never pass the deadline, and
    the waiting ends at the patience whatever the outage."""
    clock = [0.0]
    pauses = []

    def sleep(seconds):
        pauses.append(seconds)
        clock[0] += seconds

    with mock.patch.object(storage.time, "monotonic", lambda: clock[0]), mock.patch.object(storage.time, "sleep", sleep):
        backoff = storage.Backoff(patience)
        while clock[0] < outage and backoff.wait():
            pass
    assert clock[0] <= patience + 1e-9
    assert clock[0] >= min(outage, patience) - 1e-9  # gave up only once the patience was spent
    assert all(b == min(2 * a, storage.LONGEST_RETRY_S) for a, b in zip(pauses, pauses[1:-1]))
    assert backoff.retried == bool(pauses)
