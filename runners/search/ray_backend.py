"""Ray Tune backend: OptunaSearch over the same space, ASHA early stopping, a local Ray
by default or ``--ray-address`` to join a cluster.

Records are written by the driver, so it also works when trials run on other machines;
the same ``trials.jsonl`` and tables as the Optuna backend result. A finished trial's
record is written by the searcher just before it tells the study (the order of the
Optuna backend), so a kill between the two leaves a record that resume tells the study;
a Tune callback records trials that ended without a result.

OptunaSearch keeps its study in the same storage as the Optuna backend (the run
directory's SQLite file), so rerunning with the same ``--out`` continues it: each
invocation is a new Tune experiment (``tune-<first trial number>``) whose sampler sees
every earlier trial, trials a killed run left running are marked failed and their
parameters queued again, and trial numbers follow the existing ones.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # our own progress bar and summary instead

import optuna  # noqa: E402
from ray.tune import Callback  # noqa: E402  (after the output switch above)
from ray.tune.search import Searcher  # noqa: E402
from ray.tune.search.optuna import OptunaSearch  # noqa: E402

from infra.trial_state import TrialState
from runners.data.sources import Splits
from runners.ray_cluster import init_ray
from runners.search.candidates import Evaluator
from runners.search.job import SearchJob
from runners.search.optuna_backend import (OWNER, counted_trials, describe_trial, make_sampler, open_study, owner_tag,
                                           study_state)
from runners.search.records import TrialRecord, append_record, read_records, write_tables
from runners.search.storage import open_storage


# A trial's own failures are results (the trainable records them and returns); what makes a
# Tune trial fail is the infrastructure: its node or worker process died. Such a trial is run
# again from its start, on another node or when the node returns, and recorded once.
INFRASTRUCTURE_RETRIES = 3


def _trial_number(experiment_tag: str, offset: int) -> int:
    """Tune's 1-based trial counter (the tag starts with it: "3_head_channels=..."), made
    0-based like Optuna's and shifted past the trials of earlier invocations."""
    return offset + int(str(experiment_tag).split("_", 1)[0]) - 1


def _own_trial_number(offset: int) -> int:
    """Inside a trainable: the counter follows the trial id in the trial directory's name."""
    from ray import tune

    context = tune.get_context()
    name = Path(context.get_trial_dir()).name
    return _trial_number(name.split(f"_{context.get_trial_id()}_", 1)[1], offset)


def _flat(config: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flat(value, name + "."))
        else:
            flat[name] = value
    return flat


class _DefineByRun:
    """Asks an Optuna trial for a spec of ``space``; a class so Tune can pickle it."""

    def __init__(self, space):
        self.space = space

    def __call__(self, trial):
        self.space.suggest(trial)
        return None


def _trainable(config: dict, job: SearchJob, data: Splits, offset: int) -> None:
    from ray import tune

    import torch

    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
    number = _own_trial_number(offset)
    params = _flat(config)
    sampled = job.space.from_params(params)

    goal = job.settings.objective

    def report(progress: TrialRecord) -> bool:
        tune.report({"score": goal.score(progress), "macs": progress.macs, "record_json": json.dumps(progress.to_json())})
        return False  # ASHA stops the trial itself at a report

    record = Evaluator(job.settings, data, job.data.seed).evaluate(number, sampled, params, report)
    if record.epochs == 0:
        # No epoch was reported (zero-cost proxy, failure, rejection): report the outcome once.
        # After training, the last epoch's report already carried the final record, and ASHA
        # ends the trial at max_t, so no further report would arrive.
        score = goal.score(record)
        tune.report({"score": float("-inf") if score is None else score, "macs": record.macs,
                     "record_json": json.dumps(record.to_json())})


def _write(job: SearchJob, record: TrialRecord) -> None:
    append_record(job.run_dir, record)
    write_tables(job.run_dir, read_records(job.run_dir), job.settings.objective)


class RecordingOptunaSearch(OptunaSearch):
    """OptunaSearch that writes a finished trial's record before telling the study, and
    tells the study what the record says.

    Tune tells the searcher before its callbacks, so a callback alone would leave a
    window where a kill loses a trial the study already holds. OptunaSearch itself tells
    every trial that reported a score as COMPLETE with its last report, including one ASHA
    stopped early and an untrained candidate's placeholder score; the study then shows
    TPE those as finished networks. Here a pruned record is told PRUNED with its last
    report, and a failed or rejected one FAIL, as the Optuna backend does.

    It starts no trial once the study holds ``total`` counted trials: on a shared study other
    commands' trials count towards ``--trials`` too, as on the Optuna backend.
    """

    def __init__(self, *args, job: SearchJob, total: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.job, self.total = job, total

    def suggest(self, trial_id: str) -> dict | str | None:
        if counted_trials(self._ot_study) >= self.total:
            return Searcher.FINISHED  # Tune starts no further trial; those running finish
        config = super().suggest(trial_id)
        if trial_id in self._ot_trials:  # the driver runs the study's side of every trial
            self._ot_trials[trial_id].set_user_attr(OWNER, owner_tag())
        return config

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        with warnings.catch_warnings():
            # A trial run again after its node died reports its epochs again: the study
            # keeps the first report of each, which is what Optuna warns about.
            warnings.simplefilter("ignore", UserWarning)
            super().on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        record = TrialRecord.from_json(json.loads(result["record_json"])) if result and "record_json" in result else None
        if record is None or trial_id in self._completed_trials:
            super().on_trial_complete(trial_id, result=result, error=error)
            return
        _write(self.job, record)
        trial = self._ot_trials[trial_id]
        describe_trial(trial, record)
        state = study_state(record)
        goal = self.job.settings.objective
        if state is optuna.trial.TrialState.PRUNED and not goal.multi:
            # Tune hands the report that made ASHA stop the trial to this method only, never
            # to on_trial_result: the pruned trial's last value must reach the study here.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Optuna warns when that step is already in
                trial.report(goal.score(record), record.epochs)
        values = goal.values(record) if state is optuna.trial.TrialState.COMPLETE else None
        self._ot_study.tell(trial, values, state=state)
        self._completed_trials.add(trial_id)


class FailureRecorder(Callback):
    """Records trials that ended without a result (trials stopped before reporting, and
    errors that outlasted :data:`INFRASTRUCTURE_RETRIES`), and says in one line when a
    trial is run again (Tune's own log of it, a traceback, is silenced in :func:`run`)."""

    def __init__(self, job: SearchJob, offset: int):
        self.job, self.offset = job, offset

    def on_trial_recover(self, iteration, trials, trial, **info):
        print(f"trial {_trial_number(trial.experiment_tag, self.offset)}: its Ray worker or node was lost; running it "
              "again from its start", file=sys.stderr, flush=True)

    def on_trial_complete(self, iteration, trials, trial, **info):
        if "record_json" not in (trial.last_result or {}):
            _write(self.job, TrialRecord(number=_trial_number(trial.experiment_tag, self.offset), state=TrialState.FAIL,
                                         failure_reason="the trial ended without reporting a result"))

    def on_trial_error(self, iteration, trials, trial, **info):
        _write(self.job, TrialRecord(number=_trial_number(trial.experiment_tag, self.offset), state=TrialState.FAIL,
                                     failure_reason=f"Ray trial error: {str(trial.error_file or 'see Ray logs')}"))


def run(job: SearchJob, remaining: int, data: Splits, total: int) -> None:
    """Run ``remaining`` trials as Ray Tune trials, fewer if the study comes to hold ``total``
    (other commands on a shared study); the data reaches every node through Ray's object
    store (``tune.with_parameters``), so nodes need no shared file system: only the driver
    writes the run directory."""
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import ConcurrencyLimiter

    workers = max(1, job.workers)
    threads = init_ray(job.ray_address, workers)
    try:
        if remaining <= 0:
            return

        optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures and rejections are in our own records
        logging.getLogger("ray.tune").setLevel(logging.CRITICAL)  # a lost trial: FailureRecorder's one line
        # OptunaSearch asks the study for trials (the heartbeat of a database storage is
        # Study.optimize's), and a storage call that waits out a database restart makes
        # Tune call the space slow: both warnings would print on every trial.
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used", category=UserWarning)
        warnings.filterwarnings("ignore", message="Define-by-run function passed in the `space` argument took",
                                category=UserWarning)
        study = open_study(job)  # created and settled by run_search
        # Tune numbers its trials from 1; they follow the study's, so that record numbers
        # and study numbers agree even if a kill left a told trial without a record.
        waiting = optuna.trial.TrialState.WAITING
        offset = len(study.get_trials(deepcopy=False, states=tuple(s for s in optuna.trial.TrialState if s != waiting)))
        # A CUDA trial holds one GPU of whichever node runs it (Ray sets its CUDA_VISIBLE_DEVICES).
        gpus = {"gpu": 1} if job.settings.train.device.startswith("cuda") else {}
        trainable = tune.with_resources(
            tune.with_parameters(_trainable, job=job, data=data, offset=offset), {"cpu": threads, **gpus})
        goal = job.settings.objective
        search = RecordingOptunaSearch(
            job=job, total=total, space=_DefineByRun(job.space), sampler=make_sampler(job, stream=len(study.trials)),
            study_name=job.study_name, storage=open_storage(job.storage_url, job.storage_patience),
            metric=["score", "macs"] if goal.multi else "score", mode=["max", "min"] if goal.multi else "max")
        scheduler = ASHAScheduler(metric="score", mode="max", max_t=max(1, job.settings.train.epochs),
                                  grace_period=1) if job.pruning and goal.prunable else None
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=ConcurrencyLimiter(search, max_concurrent=workers), scheduler=scheduler,
                num_samples=remaining, time_budget_s=job.timeout),
            run_config=tune.RunConfig(name=f"tune-{offset}", storage_path=str(Path(job.run_dir).resolve() / "ray"),
                                      callbacks=[FailureRecorder(job, offset)], verbose=0,
                                      failure_config=tune.FailureConfig(max_failures=INFRASTRUCTURE_RETRIES)),
        )
        tuner.fit()
    finally:
        if not job.ray_address:
            ray.shutdown()
