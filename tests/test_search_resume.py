"""Resume bookkeeping: what the study is told about trials a killed search left running.

A kill can land between writing a trial's record and telling the study its outcome; the
record is the source of truth then, and the trial must not be rerun or overwritten. A
SIGINT or SIGTERM stops the search the same way, settling its trials in flight itself.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from infra.errors import UsageError
from infra.trial_state import TrialState as Outcome
from runners.data.sources import DataOptions
from runners.search import optuna_backend
from runners.search.candidates import SearchSettings
from runners.search.job import SearchJob
from runners.search.optuna_backend import OWNER, counted_trials, open_study, recover_interrupted
from runners.search.records import Objective, TrialRecord, append_record, read_records
from search_space import load_space
from infra.files import unreadable_lines
from infra.processes import process_tag
from tests.datasets import write_npz
from tests.filesystems import fill, small_filesystem


def make_job(run_dir, objective="reward"):
    return SearchJob(
        run_dir=run_dir, space=load_space("default"),
        settings=SearchSettings(budget=400_000_000, objective=Objective(objective)), data=DataOptions(),
        storage_url=f"sqlite:///{run_dir / 'study.db'}", identity={"budget_flops": 400_000_000, "space": "default"})


def dead_process() -> str:
    """An owner tag naming a process of this machine that has exited."""
    child = subprocess.Popen(["true"])
    child.wait()
    return f"{socket.gethostname()}:{child.pid}"


def leave_running(study: optuna.Study, job: SearchJob, owner: str | None = None) -> optuna.Trial:
    """A trial as a killed process leaves it: its owner named, parameters asked, an epoch
    reported, no outcome."""
    trial = study.ask()
    trial.set_user_attr(OWNER, owner or dead_process())
    job.space.suggest(trial)
    trial.report(0.5, 1)
    return trial


@pytest.fixture(autouse=True)
def quiet_optuna():
    optuna.logging.set_verbosity(optuna.logging.ERROR)


@pytest.mark.parametrize("state, expected", [("PRUNED", TrialState.PRUNED), ("FAIL", TrialState.FAIL),
                                             ("REJECTED", TrialState.FAIL)])
def test_recorded_unfinished_outcome_is_told_not_rerun(tmp_path, state, expected):
    job = make_job(tmp_path)
    study = open_study(job)
    trial = leave_running(study, job)
    record = TrialRecord(number=trial.number, state=state, spec="r1_k3_s11_e1_i32_o16", epochs=1,
                         failure_reason="" if state == "PRUNED" else "candidate broke")
    append_record(tmp_path, record)

    assert recover_interrupted(study, job) == 0
    assert read_records(tmp_path) == [record]
    assert study.trials[trial.number].state == expected
    assert not study.get_trials(states=(TrialState.WAITING,))


@pytest.mark.parametrize("objective, expected", [("reward", [0.71]), ("pareto", [0.7, 123_456])])
def test_recorded_complete_outcome_is_told_with_its_values(tmp_path, objective, expected):
    job = make_job(tmp_path, objective)
    study = open_study(job)
    trial = study.ask()
    trial.set_user_attr(OWNER, dead_process())
    append_record(tmp_path, TrialRecord(number=trial.number, state="COMPLETE", macs=123_456, proxy_accuracy=0.7,
                                        reward=0.71, epochs=1))

    assert recover_interrupted(study, job) == 0
    finished = study.trials[trial.number]
    assert finished.state == TrialState.COMPLETE
    assert finished.values == expected


def test_trial_without_record_is_failed_recorded_and_queued_again(tmp_path):
    job = make_job(tmp_path)
    study = open_study(job)
    finished = leave_running(study, job)
    append_record(tmp_path, TrialRecord(number=finished.number, state="PRUNED", epochs=1))
    study.tell(finished.number, state=TrialState.PRUNED)
    in_flight = leave_running(study, job)

    assert recover_interrupted(study, job) == 1
    assert study.trials[in_flight.number].state == TrialState.FAIL
    [placeholder] = [r for r in read_records(tmp_path) if r.number == in_flight.number]
    assert placeholder.state is Outcome.INTERRUPTED and placeholder.params_sampled == in_flight.params
    [queued] = study.get_trials(states=(TrialState.WAITING,))
    assert queued.system_attrs["fixed_params"] == in_flight.params


def test_a_partial_parameter_set_is_not_queued_again(tmp_path):
    """A kill while a trial's parameters are being suggested leaves only some of them: that is
    no candidate, and queueing it would make the sampler fill in the rest at random."""
    job = make_job(tmp_path)
    study = open_study(job)
    partial = study.ask()
    partial.set_user_attr(OWNER, dead_process())
    names = list(job.space.parameters())
    for name in names[:5]:
        domain = job.space.parameters()[name]
        partial.suggest_categorical(name, list(domain)) if isinstance(domain, tuple) else partial.suggest_int(
            name, domain.low, domain.high)

    assert recover_interrupted(study, job) == 0
    [placeholder] = read_records(tmp_path)
    assert placeholder.state is Outcome.INTERRUPTED and "nothing to rerun" in placeholder.failure_reason
    assert not study.get_trials(states=(TrialState.WAITING,))
    assert study.trials[partial.number].state == TrialState.FAIL


def test_only_trials_whose_process_is_gone_are_settled(tmp_path, monkeypatch):
    """Several commands may share a study: a resuming one must not fail another's live trials."""
    job = dataclasses.replace(make_job(tmp_path), shared_storage=True)
    study = open_study(job)
    alive = subprocess.Popen(["sleep", "60"])
    try:
        live = leave_running(study, job, owner=f"{socket.gethostname()}:{alive.pid}")
        remote = leave_running(study, job, owner="another-machine.example:4242")
        dead = leave_running(study, job)
        unowned = study.ask()  # a trial another process has just created and not yet named

        assert recover_interrupted(study, job) == 1
        states = {trial.number: trial.state for trial in study.trials}
        assert states[live.number] == states[remote.number] == states[unowned.number] == TrialState.RUNNING
        assert states[dead.number] == TrialState.FAIL
        # An unnamed trial older than the grace period was killed while being created.
        monkeypatch.setattr(optuna_backend, "UNOWNED_GRACE_S", 0.0)
        time.sleep(0.01)
        recover_interrupted(study, job)
        assert study.trials[unowned.number].state == TrialState.FAIL
        # Once its process has exited, the live one is settled too.
        alive.kill()
        alive.wait()
        assert recover_interrupted(study, job) == 1
        assert study.trials[live.number].state == TrialState.FAIL
        assert study.trials[remote.number].state == TrialState.RUNNING
    finally:
        alive.kill()
        alive.wait()


def test_a_trial_of_a_killed_worker_nobody_reaped_is_settled_and_stops_counting(tmp_path):
    """A command killed with its workers leaves them to the init process, which in some
    containers never reaps them: the zombie of a worker must not keep its trial running
    (counted towards --trials), or the resumed search ends short of its trials."""
    job = dataclasses.replace(make_job(tmp_path), shared_storage=True)
    study = open_study(job)
    worker = subprocess.Popen(["sleep", "60"])
    try:
        trial = leave_running(study, job, owner=f"{socket.gethostname()}:{process_tag(worker.pid)}")
        worker.kill()  # not waited for until the end: a zombie meanwhile
        while Path(f"/proc/{worker.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            time.sleep(0.01)
        assert counted_trials(study) == 1
        assert recover_interrupted(study, job) == 1
        assert study.trials[trial.number].state == TrialState.FAIL
        assert counted_trials(study) == 0
    finally:
        worker.wait()


def test_a_trial_left_unnamed_is_waited_for_then_settled_unless_its_process_names_it(tmp_path, monkeypatch):
    """On a shared study only its age tells a trial a kill left unnamed from one another command
    is naming right now: a resumed count waits for it, so it is neither counted as running
    forever (the search would end short of --trials) nor failed while its process lives."""
    monkeypatch.setattr(optuna_backend, "UNOWNED_GRACE_S", 1.0)
    job = dataclasses.replace(make_job(tmp_path), shared_storage=True)
    study = open_study(job)
    orphan = study.ask()
    assert optuna_backend.prepare_study(job) == 1  # too young to settle: counted as running
    started = time.monotonic()
    assert optuna_backend.prepare_study(job, wait_for_unnamed=True) == 0
    assert time.monotonic() - started >= 0.5 and study.trials[orphan.number].state == TrialState.FAIL

    other_command = subprocess.Popen(["sleep", "60"])
    try:
        named = study.ask()
        owner = f"{socket.gethostname()}:{process_tag(other_command.pid)}"
        threading.Timer(0.3, lambda: named.set_user_attr(OWNER, owner)).start()
        monkeypatch.setattr(optuna_backend, "UNOWNED_GRACE_S", 30.0)
        started = time.monotonic()
        assert optuna_backend.prepare_study(job, wait_for_unnamed=True) == 1
        assert time.monotonic() - started < 10 and study.trials[named.number].state == TrialState.RUNNING
    finally:
        other_command.kill()
        other_command.wait()


def test_the_driver_runs_the_rest_once_a_trial_counted_as_running_is_settled(tmp_path, monkeypatch):
    """The workers stop when the study holds --trials counted trials; when one of them was a
    killed command's unnamed trial, the driver runs the trials it stood for."""
    from runners.search import driver

    job = make_job(tmp_path)
    rounds = []

    def run(job, remaining, data, total):
        rounds.append(remaining)
        for _ in range(remaining):
            number = len(read_records(tmp_path))
            append_record(tmp_path, TrialRecord(number=number, state="COMPLETE", epochs=1, reward=0.5))

    # After the first round: 4 recorded + 1 unnamed counted, settled only once waited for;
    # after the second, nothing left to settle.
    counts = iter([5, 4, 5, 5])
    monkeypatch.setattr(optuna_backend, "run", run)
    monkeypatch.setattr(optuna_backend, "prepare_study", lambda job, wait_for_unnamed=False: next(counts))
    driver._run_optuna(job, trials=5, remaining=4, data=None)
    assert rounds == [4, 1] and len(read_records(tmp_path)) == 5
    # With --timeout the workers' stop is the run's end, whatever the count.
    rounds.clear()
    driver._run_optuna(dataclasses.replace(job, timeout=1.0), trials=9, remaining=2, data=None)
    assert rounds == [2]


def test_a_run_directorys_own_study_settles_even_a_trial_created_an_instant_ago(tmp_path):
    """No other command works on a run directory's own study: a trial left unnamed by a stop
    that came while it was being created is settled at once, not after the shared grace."""
    job = make_job(tmp_path)
    study = open_study(job)
    unowned = study.ask()
    recover_interrupted(study, job)
    assert study.trials[unowned.number].state == TrialState.FAIL


def test_counted_trials_are_running_and_finished_ones_of_ours(tmp_path):
    job = make_job(tmp_path)
    study = open_study(job)
    assert counted_trials(study) == 0
    leave_running(study, job, owner=f"{socket.gethostname()}:1")
    done = study.ask()
    done.set_user_attr("state", "COMPLETE")
    study.tell(done, 0.5)
    interrupted = study.ask()  # failed by a resume, without an outcome of ours: queued again instead
    study.tell(interrupted, state=TrialState.FAIL)
    study.enqueue_trial({})
    assert counted_trials(study) == 2


def test_a_study_refuses_a_search_with_other_settings(tmp_path):
    job = make_job(tmp_path)
    open_study(job)
    same = make_job(tmp_path)
    assert open_study(same).user_attrs[optuna_backend.IDENTITY] == job.identity
    other = dataclasses.replace(job, identity={**job.identity, "budget_flops": 800_000_000})
    with pytest.raises(UsageError, match="--budget-flops 400000000, not 800000000.*--study-name"):
        open_study(other)
    with pytest.raises(UsageError, match="cannot hold this search"):
        open_study(make_job(tmp_path, "pareto"))


def ray_searcher(job: SearchJob, total: int = 100):
    """The Ray backend's searcher on ``job``'s study, with one suggested trial "trial-a"."""
    from runners.search.ray_backend import RecordingOptunaSearch, _DefineByRun

    searcher = RecordingOptunaSearch(job=job, total=total, space=_DefineByRun(job.space), study_name="search",
                                     storage=optuna.storages.RDBStorage(job.storage_url), metric="score", mode="max")
    assert searcher.suggest("trial-a") is not None
    return searcher


def test_ray_searcher_writes_the_record_before_telling_the_study(tmp_path, monkeypatch):
    class Killed(BaseException):
        pass

    def killed_before_telling(self, *args, **kwargs):
        raise Killed

    job = make_job(tmp_path)
    searcher = ray_searcher(job)
    monkeypatch.setattr(optuna.Study, "tell", killed_before_telling)
    record = TrialRecord(number=0, state="COMPLETE", macs=123_456, proxy_accuracy=0.7, reward=0.71, epochs=1)
    with pytest.raises(Killed):
        searcher.on_trial_complete("trial-a", result={"score": 0.71, "record_json": json.dumps(record.to_json())})
    assert read_records(tmp_path) == [record]


def test_ray_searcher_starts_no_trial_once_the_shared_study_holds_its_total(tmp_path):
    """--trials is a shared study's total on the Ray backend too: trials another command
    started meanwhile count, and the searcher then ends the experiment."""
    from ray.tune.search import Searcher

    job = make_job(tmp_path)
    searcher = ray_searcher(job, total=3)
    study = open_study(job)
    leave_running(study, job, owner=f"{socket.gethostname()}:{process_tag()}")  # another live command's
    assert searcher.suggest("trial-b") not in (None, Searcher.FINISHED)
    assert counted_trials(study) == 3
    assert searcher.suggest("trial-c") == Searcher.FINISHED
    assert counted_trials(study) == 3


@pytest.mark.parametrize("state, expected", [("COMPLETE", TrialState.COMPLETE), ("PRUNED", TrialState.PRUNED),
                                             ("FAIL", TrialState.FAIL), ("REJECTED", TrialState.FAIL)])
def test_ray_searcher_tells_the_study_what_the_record_says(tmp_path, state, expected):
    """OptunaSearch alone tells an ASHA-stopped trial COMPLETE with its last report; TPE must
    see it as pruned, and an untrained candidate as failed, as on the Optuna backend."""
    job = make_job(tmp_path)
    searcher = ray_searcher(job)
    searcher.on_trial_result("trial-a", {"score": 0.42, "training_iteration": 1})
    # Tune hands the epoch-2 report that stops a trial to on_trial_complete only.
    accuracy = {"COMPLETE": 0.6, "PRUNED": 0.38}.get(state)
    record = TrialRecord(number=0, state=state, spec="r1_k3_s11_e1_i32_o16", epochs=2, macs=1000, params=10,
                         proxy_accuracy=accuracy, reward=accuracy,
                         failure_reason="" if accuracy else "candidate broke")
    searcher.on_trial_complete("trial-a", {"score": accuracy or float("-inf"), "macs": 1000,
                                           "record_json": json.dumps(record.to_json())})

    trial = optuna.load_study(study_name="search", storage=job.storage_url).trials[0]
    assert trial.state == expected
    # A pruned trial keeps its last report as its value, as Optuna's own pruning does.
    assert trial.value == (pytest.approx(accuracy) if accuracy else None)
    assert trial.intermediate_values == ({1: 0.42, 2: 0.38} if state == "PRUNED" else {1: 0.42})
    assert trial.user_attrs["state"] == state and trial.user_attrs["spec"] == record.spec
    assert read_records(tmp_path) == [record]


@pytest.mark.parametrize("workers, stop", [(2, signal.SIGTERM), (1, signal.SIGINT)])
def test_a_stop_signal_settles_the_trials_in_flight_and_the_same_command_finishes_the_study(tmp_path, workers, stop):
    """A first SIGTERM (a scheduler's stop) or SIGINT (Ctrl-C) mid-search: exit 143 or 130
    with one line, what finished kept, what ran recorded INTERRUPTED and queued; the same
    command then ends with exactly --trials evaluated candidates."""
    data = write_npz(tmp_path / "d.npz", n=80, shape=(16, 16))
    run = tmp_path / "run"
    command = [sys.executable, "-m", "runners.search", "--workers", str(workers), "--trials", "5", "--data", str(data),
               "--epochs", "2", "--max-train-samples", "48", "--max-val-samples", "16", "--quiet",
               "--startup-trials", "2", "--finalists", "0", "--no-pruning", "--out", str(run)]
    search = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    whole = set(load_space("default").parameters())

    seen: set[int] = set()

    def training() -> bool:
        """A trial finished and another one is training (its whole parameter set chosen, no record yet)."""
        if not read_records(run):
            return False
        trials = optuna.load_study(study_name="search", storage=f"sqlite:///{run / 'study.db'}").trials
        # Records are read after the study: a trial writes its record before it tells the
        # study, so one read first could look running though its training had ended.
        recorded = {r.number for r in read_records(run)}
        seen.update(t.number for t in trials
                    if t.state is TrialState.RUNNING and set(t.params) == whole and t.number not in recorded)
        return bool(seen)

    deadline = time.monotonic() + 240
    while not training() and search.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert search.poll() is None, ("the search ended before it could be stopped", search.communicate()[1])
    search.send_signal(stop)
    out, err = search.communicate(timeout=120)
    assert search.returncode == 128 + stop, err
    assert err.strip().splitlines() == [f"stopped by {stop.name}: finished work is saved; rerun the same command "
                                        "to continue"], err
    before = read_records(run)
    interrupted = [r for r in before if r.state is Outcome.INTERRUPTED]
    # The trial seen training is settled by the stop: recorded INTERRUPTED with its whole
    # parameter set. With 2 workers the other one may have been choosing its parameters:
    # recorded INTERRUPTED with a partial set, nothing to rerun.
    states = {r.number: r for r in before}
    assert all(n in states and states[n].state is Outcome.INTERRUPTED and set(states[n].params_sampled) == whole
               for n in seen), (seen, before)
    interrupted = [r for r in interrupted if set(r.params_sampled) == whole]
    finished = {r.number: r for r in before if r.state is not Outcome.INTERRUPTED}
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    after = [r for r in read_records(run) if r.state is not Outcome.INTERRUPTED]
    assert len(after) == 5 and len({r.number for r in after}) == 5
    assert all({r.number: r for r in after}[number] == record for number, record in finished.items())
    rerun = [r.params_sampled for r in after if r.number not in finished]
    assert all(r.params_sampled in rerun for r in interrupted)  # each stopped candidate evaluated after all


def test_a_disk_that_fills_mid_search_is_one_line_and_the_same_command_resumes_once_space_is_freed(tmp_path):
    """The run directory's file system fills while two workers train: exit 1 with one line
    naming it, every file whole (no torn log line, the tables readable), and once space is
    freed the same command ends with exactly --trials evaluated candidates."""
    data = write_npz(tmp_path / "d.npz", n=80, shape=(16, 16))
    with small_filesystem("4m") as disk:
        run = disk / "run"
        command = [sys.executable, "-m", "runners.search", "--workers", "2", "--trials", "5", "--data", str(data),
                   "--epochs", "2", "--max-train-samples", "48", "--max-val-samples", "16", "--quiet",
                   "--startup-trials", "2", "--finalists", "0", "--no-pruning", "--out", str(run)]
        search = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 240
        while len(read_records(run)) < 1 and search.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        filler = fill(disk)
        out, err = search.communicate(timeout=240)
        lines = err.strip().splitlines()
        assert search.returncode == 1 and len(lines) == 1, err
        assert lines[0].startswith(f"error: no space left on the device of {run}") and "rerun" in lines[0], err
        assert unreadable_lines(run / "trials.jsonl") == []
        for table in (run / "results.csv", run / "config.json"):  # whole, where written before the disk filled
            assert not table.exists() or table.read_text().strip()
        assert not list(run.glob(".*.tmp*")), "a temporary file was left behind"
        before = {r.number: r for r in read_records(run) if r.state is not Outcome.INTERRUPTED}
        filler.unlink()
        resumed = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert resumed.returncode == 0, resumed.stderr
        after = {r.number: r for r in read_records(run) if r.state is not Outcome.INTERRUPTED}
        assert len(after) == 5 and all(after[number] == record for number, record in before.items())
        assert not [r for r in after.values() if r.state is Outcome.FAIL], "a full disk is not a candidate's failure"
