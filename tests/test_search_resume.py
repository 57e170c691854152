"""Resume bookkeeping: what the study is told about trials a killed search left running.

A kill can land between writing a trial's record and telling the study its outcome; the
record is the source of truth then, and the trial must not be rerun or overwritten.
"""

from __future__ import annotations

import json

import optuna
import pytest
from optuna.trial import TrialState

from runners.data import DataOptions
from runners.evaluation import SearchSettings
from runners.job import SearchJob
from runners.optuna_backend import open_study, recover_interrupted
from runners.results import Objective, TrialRecord, append_record, read_records
from runners.results import TrialState as Outcome
from search_space import load_space


def make_job(run_dir, objective="reward"):
    return SearchJob(
        run_dir=run_dir, space=load_space("default"),
        settings=SearchSettings(budget=400_000_000, objective=Objective(objective)), data=DataOptions(),
        storage_url=f"sqlite:///{run_dir / 'study.db'}")


def leave_running(study: optuna.Study, job: SearchJob) -> optuna.Trial:
    """A trial as a killed process leaves it: parameters asked, an epoch reported, no outcome."""
    trial = study.ask()
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
    trial = leave_running(study, job) if objective == "reward" else study.ask()
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


def test_ray_searcher_writes_the_record_before_telling_the_study(tmp_path, monkeypatch):
    from ray.tune.search.optuna import OptunaSearch

    from runners.ray_backend import RecordingOptunaSearch

    class Killed(BaseException):
        pass

    def killed_before_telling(self, trial_id, result=None, error=False):
        raise Killed

    monkeypatch.setattr(OptunaSearch, "on_trial_complete", killed_before_telling)
    job = make_job(tmp_path)
    search = RecordingOptunaSearch(job=job, metric="score", mode="max")
    record = TrialRecord(number=3, state="COMPLETE", macs=123_456, proxy_accuracy=0.7, reward=0.71, epochs=1)
    with pytest.raises(Killed):
        search.on_trial_complete("trial-id", result={"score": 0.71, "record_json": json.dumps(record.to_json())})
    assert read_records(tmp_path) == [record]
