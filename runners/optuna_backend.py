"""Optuna backend: a study in the run directory's SQLite file (or ``--storage``),
``--workers`` processes on one storage, Hyperband pruning on per-epoch reports.

Resume: trials a killed process left ``RUNNING`` are recorded ``INTERRUPTED`` and their
parameters are enqueued, so they are rerun first; completed trials stay. A kill can land
while a trial's parameters are still being suggested: such a partial set is not a
candidate, so nothing is enqueued for it (the sampler proposes a whole new one). A trial
whose record reached ``trials.jsonl`` before the kill but whose outcome had not yet reached
the study is told that recorded outcome instead: the record is the source of truth.
"""

from __future__ import annotations

import multiprocessing

import optuna

from runners.data import Splits
from runners.evaluation import Evaluator
from runners.results import TrialRecord, TrialState, append_record, read_records, write_tables
from runners.job import SearchJob, load_job_data
from runners.storage import open_storage
from search_space.common.errors import UsageError

STUDY_NAME = "search"
GRID_LIMIT = 100_000


class WorkersFailed(Exception):
    """Some worker processes died (killed, out of memory); the others finished their share."""


class CandidateNotTrained(Exception):
    """Marks an Optuna trial failed (candidate failed or was rejected); the search goes on."""


def make_sampler(job: SearchJob, stream: int = 0) -> optuna.samplers.BaseSampler:
    """The job's sampler. ``stream`` separates random streams: a resumed run or a second
    worker must not replay the first one's random draws (same seed, same candidates)."""
    name, seed = job.sampler, (job.settings.seed + 1_000_003 * stream) % 2**32
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=job.startup_trials)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        space = job.space
        if space.size > GRID_LIMIT:
            raise UsageError(f"--sampler grid needs a space of at most {GRID_LIMIT:,} networks; "
                             f"this one has {space.size:.3g}: declare a smaller space with --space")
        from search_space.space import domain_values

        grid = {name: list(domain_values(domain)) for name, domain in space.parameters().items()}
        return optuna.samplers.GridSampler(grid, seed=seed)
    raise ValueError(f"unknown sampler {name!r}")


def open_study(job: SearchJob, worker: int = 0) -> optuna.Study:
    """Create or load the job's study; its sampler's random stream depends on how many
    trials the study already holds and on ``worker``, so it is reproducible for a given
    history and never replays earlier draws."""
    objective = job.settings.objective
    pruner = (
        optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(1, job.settings.train.epochs))
        if job.pruning and objective.prunable else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        study_name=STUDY_NAME, storage=open_storage(job.storage_url), load_if_exists=True,
        sampler=make_sampler(job), pruner=pruner, directions=list(objective.directions),
    )
    history = len(study.get_trials(deepcopy=False))
    if history or worker:
        study.sampler = make_sampler(job, stream=history + 7919 * worker)
    return study


def recover_interrupted(study: optuna.Study, job: SearchJob) -> int:
    """Settle trials a killed process left running; returns how many were queued again.

    A trial with a finished record was killed between writing its record and telling the
    study, so the study is told what the record says. Any other is failed in the study and
    recorded ``INTERRUPTED``; its parameters are enqueued to run again first when the kill
    left a whole set of them.
    """
    recorded = {r.number: r for r in read_records(job.run_dir) if r.state is not TrialState.INTERRUPTED}
    requeued = 0
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        record = recorded.get(trial.number)
        if record is not None and record.state is TrialState.COMPLETE:
            study.tell(trial.number, job.settings.objective.values(record))
        elif record is not None:
            study.tell(trial.number, state=study_state(record))
        else:
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            whole = set(trial.params) == set(job.space.parameters())
            reason = ("the search stopped during this trial; its parameters were queued again" if whole else
                      "the search stopped while this trial's parameters were being chosen; nothing to rerun")
            append_record(job.run_dir, TrialRecord(number=trial.number, state=TrialState.INTERRUPTED,
                                                   params_sampled=dict(trial.params), failure_reason=reason))
            if whole:
                study.enqueue_trial(trial.params)
                requeued += 1
    return requeued


def describe_trial(trial: optuna.Trial, record: TrialRecord) -> None:
    """What optuna-dashboard shows next to a trial: the network as block strings, its cost
    and our own state (the study's state cannot say REJECTED)."""
    for key, value in (("state", record.state.value), ("spec", record.spec), ("macs", record.macs),
                       ("params", record.params), ("proxy_accuracy", record.proxy_accuracy)):
        if value not in (None, ""):
            trial.set_user_attr(key, value)


def study_state(record: TrialRecord) -> optuna.trial.TrialState:
    """The state the study holds for a finished record: a sampler must model a pruned trial
    as pruned (not as one that finished with its last report) and an untrained one as failed."""
    if record.state is TrialState.COMPLETE:
        return optuna.trial.TrialState.COMPLETE
    return optuna.trial.TrialState.PRUNED if record.state is TrialState.PRUNED else optuna.trial.TrialState.FAIL


def objective_for(job: SearchJob, evaluator: Evaluator):
    goal = job.settings.objective

    def objective(trial: optuna.Trial):
        sampled = job.space.suggest(trial)

        def report(progress: TrialRecord) -> bool:
            if goal.multi:  # Optuna cannot prune multi-objective studies
                return False
            trial.report(progress.reward, progress.epochs)
            return trial.should_prune()

        record = evaluator.evaluate(trial.number, sampled, dict(trial.params), report)
        append_record(job.run_dir, record)
        write_tables(job.run_dir, read_records(job.run_dir), goal)
        describe_trial(trial, record)
        if record.state is TrialState.PRUNED:
            raise optuna.TrialPruned(f"pruned after epoch {record.epochs}")
        if record.state is not TrialState.COMPLETE:
            raise CandidateNotTrained(record.failure_reason)
        return goal.values(record)

    return objective


def _worker(job: SearchJob, n_trials: int, timeout: float | None, worker: int = 0, data: Splits | None = None) -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures and rejections are in our own records
    evaluator = Evaluator(job.settings, data if data is not None else load_job_data(job),
                          history=lambda: read_records(job.run_dir))
    study = open_study(job, worker)
    study.optimize(objective_for(job, evaluator), n_trials=n_trials, timeout=timeout,
                   catch=(CandidateNotTrained,), gc_after_trial=True)


def run(job: SearchJob, remaining: int, data: Splits) -> None:
    """Run ``remaining`` more trials over ``job.workers`` processes (``data`` serves the
    first; the others load their own, identically)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures and rejections are in our own records
    study = open_study(job)
    recover_interrupted(study, job)
    if remaining <= 0:
        return
    workers = min(job.workers, remaining)
    shares = [remaining // workers + (1 if i < remaining % workers else 0) for i in range(workers)]
    if workers == 1:
        _worker(job, shares[0], job.timeout, 0, data)
        return
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_worker, args=(job, share, job.timeout, index))
                 for index, share in enumerate(shares)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    failed = [p.exitcode for p in processes if p.exitcode]
    if failed:
        raise WorkersFailed(f"{len(failed)} of {workers} worker processes died (exit codes {failed}); the others "
                            "finished their trials")
