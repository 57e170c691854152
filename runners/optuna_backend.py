"""Optuna backend: a study in the run directory's SQLite file (or ``--storage``),
``--workers`` processes on one storage, Hyperband pruning on per-epoch reports.

Resume: trials a killed process left ``RUNNING`` are marked failed ("interrupted") and
their parameters are enqueued, so they are rerun first; completed trials stay. A trial
whose record reached ``trials.jsonl`` before the kill but whose outcome had not yet reached
the study is told that recorded outcome instead: the record is the source of truth.
"""

from __future__ import annotations

import multiprocessing

import optuna
from optuna.trial import TrialState

from runners.data import Splits
from runners.evaluation import Evaluator
from runners.results import INTERRUPTED, TrialRecord, append_record, read_records, write_tables
from runners.job import SearchJob, load_job_data

STUDY_NAME = "search"
GRID_LIMIT = 100_000


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
            raise ValueError(f"--sampler grid needs a space of at most {GRID_LIMIT:,} networks; "
                             f"this one has {space.size:.3g}: declare a smaller space with --space")
        from search_space.space import domain_values

        grid = {name: list(domain_values(domain)) for name, domain in space.parameters().items()}
        return optuna.samplers.GridSampler(grid, seed=seed)
    raise ValueError(f"unknown sampler {name!r}")


def open_study(job: SearchJob, worker: int = 0) -> optuna.Study:
    """Create or load the job's study; its sampler's random stream depends on how many
    trials the study already holds and on ``worker``, so it is reproducible for a given
    history and never replays earlier draws."""
    directions = ["maximize", "minimize"] if job.settings.objective == "pareto" else ["maximize"]
    pruner = (
        optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(1, job.settings.train.epochs))
        if job.pruning and job.settings.objective == "reward" and job.settings.proxy == "train"
        else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        study_name=STUDY_NAME, storage=job.storage_url, load_if_exists=True,
        sampler=make_sampler(job), pruner=pruner, directions=directions,
    )
    history = len(study.get_trials(deepcopy=False))
    if history or worker:
        study.sampler = make_sampler(job, stream=history + 7919 * worker)
    return study


def objective_values(job: SearchJob, record: TrialRecord) -> float | tuple[float, float]:
    """What the study is told for a completed trial: the reward, or (score, MACs) for
    ``--objective pareto`` (the score is the zero-cost reward when no training ran)."""
    if job.settings.objective == "pareto":
        return record.reward if job.settings.proxy == "zero-cost" else record.proxy_accuracy, record.macs
    return record.reward


def recover_interrupted(study: optuna.Study, job: SearchJob) -> int:
    """Settle trials a killed process left running; returns how many were rerun.

    A trial with a finished record was killed between writing its record and telling the
    study, so the study is told what the record says. Any other is failed, recorded as
    interrupted, and its parameters are enqueued so it runs again first.
    """
    recorded = {record.number: record for record in read_records(job.run_dir) if not record.interrupted}
    rerun = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        record = recorded.get(trial.number)
        if record is not None and record.state == "COMPLETE":
            study.tell(trial.number, objective_values(job, record))
        elif record is not None:
            study.tell(trial.number, state=TrialState.PRUNED if record.state == "PRUNED" else TrialState.FAIL)
        else:
            study.tell(trial.number, state=TrialState.FAIL)
            append_record(job.run_dir, TrialRecord(
                number=trial.number, state="FAIL", params_sampled=dict(trial.params),
                failure_reason=f"{INTERRUPTED}: the search stopped during this trial; its parameters were queued again"))
            study.enqueue_trial(trial.params)
            rerun += 1
    return rerun


def objective_for(job: SearchJob, evaluator: Evaluator):
    multi = job.settings.objective == "pareto"

    def objective(trial: optuna.Trial):
        sampled = job.space.suggest(trial)

        def report(progress: TrialRecord) -> bool:
            if multi:  # Optuna cannot prune multi-objective studies
                return False
            trial.report(progress.reward, progress.epochs)
            return trial.should_prune()

        record = evaluator.evaluate(trial.number, sampled, dict(trial.params), report)
        append_record(job.run_dir, record)
        write_tables(job.run_dir, read_records(job.run_dir), job.settings.objective)
        trial.set_user_attr("state", record.state)
        if record.state == "PRUNED":
            raise optuna.TrialPruned(f"pruned after epoch {record.epochs}")
        if record.state != "COMPLETE":
            raise CandidateNotTrained(record.failure_reason)
        return objective_values(job, record)

    return objective


def _worker(job: SearchJob, n_trials: int, timeout: float | None, worker: int = 0, data: Splits | None = None) -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures and rejections are in our own records
    evaluator = Evaluator(job.settings, data if data is not None else load_job_data(job))
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
        raise RuntimeError(f"{len(failed)} worker process(es) exited with codes {failed}")
