"""Optuna backend: a study in the run directory's SQLite file (or ``--storage``),
``--workers`` processes on one storage, Hyperband pruning on per-epoch reports.

Resume: trials a killed process left ``RUNNING`` are recorded ``INTERRUPTED`` and their
parameters are enqueued, so they are rerun first; completed trials stay. A kill can land
while a trial's parameters are still being suggested: such a partial set is not a
candidate, so nothing is enqueued for it (the sampler proposes a whole new one). A trial
whose record reached ``trials.jsonl`` before the kill but whose outcome had not yet reached
the study is told that recorded outcome instead: the record is the source of truth.

One study, several commands: with ``--storage`` on a database server (or a journal file)
several commands, on one machine or many, can work on one study, each with its own run
directory. ``--trials`` is then the study's total: every process stops starting trials
once the study holds that many (finished or running), so the commands together run the
asked-for number. Each running trial names its process (:data:`OWNER`), so a resuming
command settles only trials whose process is gone, never another live command's; trials
of a machine that died are failed by the database's heartbeat and retried elsewhere.
The study remembers the settings of the search that created it (:data:`IDENTITY`) and
refuses a command with other settings.

Stops and faults: a first SIGINT or SIGTERM (:mod:`infra.stopping`) kills the worker
processes (they ignore SIGINT themselves) and settles the trials they left running as
``INTERRUPTED`` with their parameters queued again, as a resume would; a trial that had
finished is kept. A database outage longer than ``--storage-patience`` ends a worker with
:data:`FAULT_EXITS` and no output, and the command with one line
(:class:`~runners.search.storage.StorageOutage`); its trials in flight are settled on resume.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import time

import optuna
from optuna.trial import FrozenTrial

from infra.errors import DiskFull, InfrastructureFault, UsageError
from infra.files import disk_full
from infra.processes import process_runs, process_tag
from infra.seeds import sampler_seed
from infra.stopping import allow_stop, deferred_stop, ignore_interrupts
from infra.trial_state import TrialState
from runners.data.sources import Splits
from runners.search.candidates import Evaluator
from runners.search.job import SearchJob, load_job_data
from runners.search.records import TrialRecord, append_record, read_records, write_tables
from runners.search.storage import StorageOutage, infrastructure_fault, open_storage, storage_outage

GRID_LIMIT = 100_000
OWNER = "owner"  # a trial's user attribute: "host:PID@START" of the process that runs it (infra.processes)
IDENTITY = "identity"  # the study's user attribute: the settings of the search that created it
UNOWNED_GRACE_S = 60.0  # a trial gets its owner right after it is created; younger ones may be about to
# A worker's exit code for a fault (sysexits' EX_TEMPFAIL, EX_IOERR): the command says it once.
FAULT_EXITS = {StorageOutage: 75, DiskFull: 74, InfrastructureFault: 70}


class WorkersFailed(Exception):
    """Some worker processes died (killed, out of memory); the others finished their share."""


class _Abandoned(BaseException):
    """A fault of the infrastructure during a trial: not an ``Exception``, so that Optuna
    does not record the trial failed (the sampler would learn that its parameters fail);
    the trial stays running in the study and is settled as interrupted and queued again,
    as after a kill."""

    def __init__(self, fault: InfrastructureFault):
        super().__init__(str(fault))
        self.fault = fault


class CandidateNotTrained(Exception):
    """Marks an Optuna trial failed (candidate failed or was rejected); the search goes on."""


def make_sampler(job: SearchJob, stream: int = 0) -> optuna.samplers.BaseSampler:
    """The job's sampler. ``stream`` separates random streams: a resumed run or a second
    worker must not replay the first one's random draws (same seed, same candidates)."""
    name, seed = job.sampler, sampler_seed(job.data.seed, stream)
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
    trials the study already holds and on ``worker`` (and on the process, for a shared
    storage), so it is reproducible for a given history and never replays earlier draws. A study made by a search with other settings
    is refused (see :func:`check_identity`)."""
    objective = job.settings.objective
    pruner = (
        optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(1, job.settings.train.epochs))
        if job.pruning and objective.prunable else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        study_name=job.study_name, storage=open_storage(job.storage_url, job.storage_patience), load_if_exists=True,
        sampler=make_sampler(job), pruner=pruner, directions=list(objective.directions),
    )
    held = [direction.name.lower() for direction in study.directions]
    if held != list(objective.directions):  # an existing study is loaded whatever its directions
        raise UsageError(f"study {job.study_name!r} in {job.storage_url} cannot hold this search: its directions "
                         f"are {'/'.join(held)}, this search's {'/'.join(objective.directions)}; choose another "
                         "--study-name")
    check_identity(study, job)
    history = len(study.get_trials(deepcopy=False))
    stream = history + 7919 * worker + (104_729 * os.getpid() if job.shared_storage else 0)
    if stream:
        study.sampler = make_sampler(job, stream=stream)
    return study


def check_identity(study: optuna.Study, job: SearchJob) -> None:
    """Mark a new study with the job's identity, or refuse a job whose identity differs
    from the one the study holds: trials of different budgets, spaces or proxies must not
    mix in one sampler's history (two searches on one database need two study names)."""
    identity = json.loads(json.dumps(job.identity))  # compared as stored: tuples are lists there
    held = study.user_attrs.get(IDENTITY)
    if held is None:
        study.set_user_attr(IDENTITY, identity)
        return
    differing = [key for key in identity if key in held and held[key] != identity[key]]
    if differing:
        key = differing[0]
        raise UsageError(f"study {job.study_name!r} in {job.storage_url} holds a search with "
                         f"--{key.replace('_', '-')} {held[key]!r}, not {identity[key]!r}: use the same flags to "
                         "join it, or another --study-name")


def owner_tag() -> str:
    """This process, as a running trial's :data:`OWNER` names it."""
    return f"{socket.gethostname()}:{process_tag()}"


def abandoned(trial: FrozenTrial, shared: bool = True) -> bool:
    """Whether a ``RUNNING`` trial's process is gone, so that a resuming command may settle it.

    Decided only where it can be: a trial owned by a process of this machine is abandoned
    when that process no longer runs (:func:`~infra.processes.process_runs`: a killed
    worker's zombie or a later process given its PID does not count), or is this one, which
    has started no trial yet;
    one owned by another machine is left to the database's heartbeat (a JournalStorage has
    none: such a trial stays running until a command on its own machine resumes). A trial
    without an owner was killed while being created, unless the study is ``shared`` with
    other commands and the trial young enough that its process may be about to name itself.
    """
    owner = trial.user_attrs.get(OWNER)
    if owner is None and not shared:
        return True  # only this command works on a run directory's own study
    if owner is None:
        started = trial.datetime_start.timestamp() if trial.datetime_start else 0.0
        return time.time() - started > UNOWNED_GRACE_S
    host, _, tag = str(owner).rpartition(":")
    if host != socket.gethostname():
        return False
    try:
        return tag.partition("@")[0] == str(os.getpid()) or not process_runs(tag)
    except ValueError:  # not a tag of ours: no process of ours runs it
        return True


def counted_trials(study: optuna.Study) -> int:
    """Trials that count towards ``--trials`` across every command on the study: running
    ones and those that finished with an outcome of ours (the :data:`OWNER`-less failures
    are interrupted trials, queued again, and heartbeat failures, retried)."""
    running = optuna.trial.TrialState.RUNNING
    return sum(trial.state is running or (trial.state.is_finished() and "state" in trial.user_attrs)
               for trial in study.get_trials(deepcopy=False))


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
        if not abandoned(trial, job.shared_storage):
            continue  # another command's, still working
        record = recorded.get(trial.number)
        if record is not None:
            # Optuna has no public handle from a stored trial to a writable one but its id.
            describe_trial(optuna.Trial(study, trial._trial_id), record)
            state = study_state(record)
            values = job.settings.objective.values(record) if state is optuna.trial.TrialState.COMPLETE else None
            study.tell(trial.number, values, state=state)
        else:
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            requeued += queue_again(study, job, trial)
    return requeued


def queue_again(study: optuna.Study, job: SearchJob, trial: FrozenTrial | optuna.Trial) -> bool:
    """Record ``trial`` (failed in the study, or about to be) ``INTERRUPTED`` and enqueue its
    parameters to run first, when it had a whole set of them; returns whether it did."""
    whole = set(trial.params) == set(job.space.parameters())
    reason = ("the search stopped during this trial; its parameters were queued again" if whole else
              "the search stopped while this trial's parameters were being chosen; nothing to rerun")
    append_record(job.run_dir, TrialRecord(number=trial.number, state=TrialState.INTERRUPTED,
                                           params_sampled=dict(trial.params), failure_reason=reason))
    if whole:
        study.enqueue_trial(dict(trial.params))
    return whole


def describe_trial(trial: optuna.Trial, record: TrialRecord) -> None:
    """What optuna-dashboard shows next to a trial: the network as block strings, its cost
    and our own state (the study's state cannot say REJECTED)."""
    for key, value in (("state", record.state.value), ("spec", record.spec), ("macs", record.macs),
                       ("latency_ms", record.latency_ms), ("params", record.params),
                       ("proxy_accuracy", record.proxy_accuracy)):
        if value not in (None, ""):
            trial.set_user_attr(key, value)


def study_state(record: TrialRecord) -> optuna.trial.TrialState:
    """The state the study holds for a finished record: a sampler must model a pruned trial
    as pruned (not as one that finished with its last report) and an untrained one as failed."""
    if record.state is TrialState.COMPLETE:
        return optuna.trial.TrialState.COMPLETE
    return optuna.trial.TrialState.PRUNED if record.state is TrialState.PRUNED else optuna.trial.TrialState.FAIL


def objective_for(job: SearchJob, evaluator: Evaluator):
    """The Optuna objective of ``job``. Under a command (:mod:`infra.stopping`) a stop lands
    only in a trial's training, or, held since it arrived elsewhere, as the next training
    begins: the trial's parameters are queued again (Optuna then fails the trial, which
    counts for nothing)."""
    goal = job.settings.objective

    def objective(trial: optuna.Trial):
        recorded: TrialRecord | None = None

        def report(progress: TrialRecord) -> bool:
            if goal.multi:  # Optuna cannot prune multi-objective studies
                return False
            try:
                trial.report(progress.reward, progress.epochs)
                return trial.should_prune()
            except Exception as error:  # the study's fault, not the candidate's (which the evaluator records)
                raise infrastructure_fault(error, job.storage_url) or error

        try:
            trial.set_user_attr(OWNER, owner_tag())
            sampled = job.space.suggest(trial)
            with allow_stop():  # the one place a stop lands (see _worker)
                record = evaluator.evaluate(trial.number, sampled, dict(trial.params), report)
            append_record(job.run_dir, record)
            recorded = record
            write_tables(job.run_dir, read_records(job.run_dir), goal)
            describe_trial(trial, record)
        except Exception as error:
            fault = infrastructure_fault(error, job.storage_url)
            if fault is None:
                raise
            raise _Abandoned(fault) from None
        except KeyboardInterrupt:
            if recorded is None:  # (a library caller's plain Ctrl-C may land anywhere)
                queue_again(trial.study, job, trial)
            raise
        if recorded.state is TrialState.PRUNED:
            raise optuna.TrialPruned(f"pruned after epoch {recorded.epochs}")
        if recorded.state is not TrialState.COMPLETE:
            raise CandidateNotTrained(recorded.failure_reason)
        return goal.values(recorded)

    return objective


def _stop_at(total: int):
    """An Optuna callback that stops a worker once the study holds ``total`` counted trials:
    other commands on the same study add to the count (see the module docstring)."""
    def stop_when_full(study: optuna.Study, trial: FrozenTrial) -> None:
        if counted_trials(study) >= total:
            study.stop()

    return stop_when_full


def _worker(job: SearchJob, n_trials: int, total: int, worker: int = 0, data: Splits | None = None) -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures and rejections are in our own records
    evaluator = Evaluator(job.settings, data if data is not None else load_job_data(job), job.data.seed,
                          history=lambda: read_records(job.run_dir))
    study = open_study(job, worker)
    if counted_trials(study) >= total:
        return
    try:
        # A stop is held outside a trial's training: Optuna's telling of a trial does not
        # survive an exception inside it (its clean-up then fails in turn).
        with deferred_stop():
            study.optimize(objective_for(job, evaluator), n_trials=n_trials, timeout=job.timeout,
                           catch=(CandidateNotTrained,), callbacks=[_stop_at(total)], gc_after_trial=True)
    except _Abandoned as abandoned:
        raise abandoned.fault from None


def _worker_process(job: SearchJob, n_trials: int, total: int, worker: int) -> None:
    """A spawned worker: SIGINT is the command's (:mod:`infra.stopping`), and a fault is
    said once, by the command (:data:`FAULT_EXITS`)."""
    ignore_interrupts()
    try:
        _worker(job, n_trials, total, worker)
    except Exception as error:
        fault = infrastructure_fault(error, job.storage_url)  # however Optuna or SQLAlchemy wrapped it
        if fault is None:
            raise
        raise SystemExit(next(code for kind, code in FAULT_EXITS.items() if isinstance(fault, kind))) from None


def unnamed_trials_wait(study: optuna.Study, job: SearchJob) -> float:
    """Seconds until every ``RUNNING`` trial without an owner is old enough to be settled
    (:func:`abandoned`); 0 when there is none. Such a trial was killed while being created,
    or another command is naming it right now: only its age tells them apart."""
    if not job.shared_storage:
        return 0.0
    starts = [trial.datetime_start.timestamp() for trial in study.get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        if OWNER not in trial.user_attrs and trial.datetime_start is not None]
    return max((start + UNOWNED_GRACE_S - time.time() for start in starts), default=0.0)


def prepare_study(job: SearchJob, wait_for_unnamed: bool = False) -> int:
    """Open the job's study and settle what killed processes left running; returns how many
    trials already count towards ``--trials`` (those of other commands on it included).
    ``wait_for_unnamed``: first wait until the trials left unnamed can be settled
    (:func:`unnamed_trials_wait`), so that none of them is counted as running."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures and rejections are in our own records
    study = open_study(job)
    while wait_for_unnamed and (pause := unnamed_trials_wait(study, job)) > 0:
        time.sleep(min(pause + 0.1, 5.0))
    recover_interrupted(study, job)
    return counted_trials(study)


def settle_stopped(job: SearchJob) -> None:
    """After a stop: the trials this command's processes left running are settled as a
    resume would settle them (:func:`recover_interrupted`), so the tables say so now."""
    with deferred_stop():  # a second signal still ends the process at once (infra.stopping)
        recover_interrupted(open_study(job), job)


def run(job: SearchJob, remaining: int, data: Splits, total: int | None = None) -> None:
    """Run ``remaining`` more trials over ``job.workers`` processes (``data`` serves the
    first; the others load their own, identically), stopping early once the study holds
    ``total`` (other commands on the same study may add theirs)."""
    if remaining <= 0:
        return
    total = remaining if total is None else total
    workers = min(job.workers, remaining)
    shares = [remaining // workers + (1 if i < remaining % workers else 0) for i in range(workers)]
    if workers == 1:
        try:
            _worker(job, shares[0], total, 0, data)
        except KeyboardInterrupt:
            settle_stopped(job)
            raise
        return
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_worker_process, args=(job, share, total, index))
                 for index, share in enumerate(shares)]
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.join()
    except KeyboardInterrupt:
        for process in processes:
            process.kill()
            process.join()
        settle_stopped(job)
        raise
    codes = {p.exitcode for p in processes}
    if FAULT_EXITS[StorageOutage] in codes:
        raise storage_outage(job.storage_url, f"did not answer for {job.storage_patience:g} s", job.storage_patience)
    if FAULT_EXITS[DiskFull] in codes:
        raise disk_full(job.run_dir, None)
    if FAULT_EXITS[InfrastructureFault] in codes:
        raise InfrastructureFault("a worker process stopped on a fault of the infrastructure; finished trials are "
                                  "saved: rerun the same command to continue")
    failed = [p.exitcode for p in processes if p.exitcode]
    if failed:
        raise WorkersFailed(f"{len(failed)} of {workers} worker processes died (exit codes {failed}); the others "
                            "finished their trials")
