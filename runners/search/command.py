"""``python -m runners.search``: search a declared space for a base network under a MAC or latency budget.

    python -m runners.search --budget-flops 400M                  # Fashion-MNIST, Optuna TPE
    python -m runners.search --budget-flops 1.2G --backend ray --workers 2
    python -m runners.search --data spectrograms.npz --proxy-resolution 64x200
    python -m runners.search --budget-latency 15ms --objective pareto    # (accuracy, latency) front

Every trained candidate has MACs (or predicted batch-1 CPU latency) in [0.9, 1.0] x budget
at the spec's own resolution (with the data's channels and classes); candidates outside are
projected into that window or rejected untrained. The run directory holds the study, trials.jsonl,
results.csv/.parquet and best.yaml; rerunning the same command with the same --out
continues the search. Look at it with: python -m analysis.dashboard RUN_DIR
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from infra.cli import (ArgumentParser, checked, float_between, integer, integer_between, positive_float, positive_int,
                       run_main)
from infra.errors import UsageError
from infra.files import check_creatable
from infra.progress import progress_bar
from infra.run_dirs import claim_run_dir, default_run_dir
from infra.units import parse_macs, parse_milliseconds
from runners.data.sources import prepare
from runners.flags import (MAX_EPOCHS, MAX_SEEDS, SEARCH_PROXY, add_backend_arguments, add_proxy_arguments, check_backend_arguments,
                           data_options, train_config)
from runners.ray_cluster import init_ray
from runners.search import optuna_backend
from runners.search.budget import REWARD_EXPONENT, Budget
from runners.search.candidates import SCORES, SearchSettings
from runners.search.driver import decide_finalists, run_search, rung_unavailable, summarize
from runners.search.finalists import TIE_BREAKS, RungOptions
from runners.search.job import SearchJob
from runners.search.records import Objective, read_records
from runners.search.storage import STORAGE_PATIENCE_S, check_storage_url, parse_study_name
from search_space import load_space
from search_space.space import replace_fixed

RUNG = RungOptions()
MAX_RUNG_SCALE = 8.0  # each rung image then costs 64 screening images: past that, train the finalists with runners.train
MAX_FINALISTS = 100

# Flags that define what a run directory means; resuming with other values is refused.
RUN_IDENTITY = ("budget_flops", "budget_latency", "latency_threads", "objective", "reward_exponent", "space", "sampler", "startup_trials", "proxy",
                "zero_cost_score", "data", "proxy_resolution", "epochs", "batch_size", "learning_rate",
                "max_train_samples", "max_val_samples", "val_fraction", "seed", "backend", "seeds", "study_name")
# What several commands on one shared study must agree on: the run's identity, less what is
# per command (a data path is per machine; Optuna and Ray commands may share a study).
STUDY_IDENTITY = tuple(key for key in RUN_IDENTITY if key not in ("data", "backend", "study_name"))


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m runners.search", description=__doc__.split("\n\n")[0])
    goal = parser.add_argument_group("goal")
    goal.add_argument("--budget-flops", default=None, type=checked(parse_macs),
                      help="MAC budget at the spec's resolution (the papers' FLOPs): 400M, 1.2G, 4e8; when neither "
                           "budget is given, 400M")
    goal.add_argument("--budget-latency", default=None, type=checked(parse_milliseconds),
                      help="a batch-1 CPU latency budget instead: 15ms, 0.015s; each candidate's latency is predicted "
                           "from this machine's per-block table (built on first use, cached), not measured")
    goal.add_argument("--latency-threads", type=integer_between(1, 1024), default=1,
                      help="intra-op threads the latency budget is measured with")
    goal.add_argument("--objective", choices=Objective.KINDS, default="reward",
                      help="reward: MnasNet ACC x (C/T)^w, C = MACs or latency; pareto: (accuracy, C), multi-objective")
    goal.add_argument("--reward-exponent", type=float_between(-math.inf, 0.0), default=REWARD_EXPONENT, help="w in ACC x (C/T)^w")
    goal.add_argument("--space", default="default", help="search space: the packaged B0-like space ('default') or a YAML file")
    goal.add_argument("--sampler", choices=("tpe", "nsga2", "random", "grid"), default="tpe", help="Optuna sampler")
    goal.add_argument("--startup-trials", type=positive_int, default=4,
                      help="random trials before TPE models the results (Optuna's own 10 would leave a short "
                           "CPU search almost entirely random)")
    scoring = parser.add_argument_group("scoring")
    scoring.add_argument("--proxy", choices=("train", "zero-cost"), default="train",
                         help="short real training, or training-free scores")
    scoring.add_argument("--zero-cost-score", choices=SCORES, default="naswot",
                         help="which zero-cost score ranks candidates with --proxy zero-cost")
    scoring.add_argument("--no-pruning", action="store_true", help="disable Hyperband/ASHA early stopping")
    scoring.add_argument("--seeds", type=integer_between(1, MAX_SEEDS), default=1,
                         help="seed replicates per candidate; racing stops a candidate's seeds once it cannot "
                              "reach the incumbent (the Optuna backend; Ray gives every candidate all seeds)")
    add_proxy_arguments(parser, title="proxy training", defaults=SEARCH_PROXY)
    rung = parser.add_argument_group("finalists (the promotion rung that decides the winner)")
    rung.add_argument("--finalists", type=integer_between(0, MAX_FINALISTS), default=RUNG.count,
                      help="the screening's top K distinct candidates retrained at the rung, racing on paired seeds; "
                           "the best is the cheapest not separated from the rung's winner (0: off, the screening's "
                           "top candidate is the answer)")
    rung.add_argument("--rung-epochs", type=integer_between(1, MAX_EPOCHS), default=None,
                      help="the rung's epochs; when not given, the proxy's --epochs")
    rung.add_argument("--rung-samples", type=positive_int, default=None,
                      help="the rung's training images; when not given, the proxy's --max-train-samples (scored on "
                           "the proxy's validation images)")
    rung.add_argument("--rung-resolution-scale", type=float_between(0.0, MAX_RUNG_SCALE), default=RUNG.resolution_scale,
                      help="the rung trains at this many times the proxy resolution, each side; each image costs "
                           "its square")
    rung.add_argument("--rung-seeds", type=integer_between(2, MAX_SEEDS), default=RUNG.min_seeds,
                      help=f"seeds every finalist gets; the race then adds seeds up to {RUNG.max_seeds} (or this, "
                           "if more) for the finalists not yet separated from the leader")
    rung.add_argument("--rung-seconds", type=positive_float, default=RUNG.seconds,
                      help="no further racing round starts past this many seconds of the rung (every finalist's "
                           "first --rung-seeds seeds always run)")
    rung.add_argument("--tie-break", choices=TIE_BREAKS, default=RUNG.tie_break,
                      help="the secondary cost that picks the reported best among finalists not separated from the "
                           "winner: params (exact, the same on every machine, and spread 2-3x inside a MAC window), "
                           "macs, or latency (with --budget-latency)")
    execution = parser.add_argument_group("execution")
    execution.add_argument("--trials", type=positive_int, default=16, help="total trials of the run")
    execution.add_argument("--timeout", type=positive_float, default=None,
                           help="stop starting trials after this many seconds; when not given, run all trials")
    add_backend_arguments(execution, workers_help="parallel trials (processes or Ray actors)")
    execution.add_argument("--storage", default=None,
                           help="Optuna storage: a database URL (sqlite:///PATH, postgresql://USER@HOST/DB) or journal:///PATH "
                                "(an append-only file for NFS-like file systems); when not given, SQLite in the run "
                                "directory")
    execution.add_argument("--storage-patience", type=positive_float, default=STORAGE_PATIENCE_S,
                           help="seconds to wait for a database server that stopped answering (a restart, a "
                                "failover) before stopping with one line; trials in flight are rerun on resume")
    execution.add_argument("--study-name", type=checked(parse_study_name), default="search",
                           help="the study's name in --storage: commands with the same storage and study name work "
                                "on one search together (--trials is then their total)")
    execution.add_argument("--seed", type=integer, default=0, help="seed of the sampler, the data split and training")
    execution.add_argument("--out", type=Path, default=None, help="run directory; when not given, runs/<timestamp>")
    execution.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _identity(args: argparse.Namespace, budget: Budget) -> dict:
    """What defines the run directory: the flags of :data:`RUN_IDENTITY`, the budget as the
    budget itself records it (the default included)."""
    values = {**vars(args), **budget.flags()}
    return {key: (list(values[key]) if isinstance(values[key], tuple) else values[key]) for key in RUN_IDENTITY}


def job_from_args(args: argparse.Namespace):
    """The job, its data and whether it resumes; every user mistake is found before training."""
    check_backend_arguments(args)
    if args.out is not None:
        check_creatable(args.out, "--out")
    if args.storage:
        check_storage_url(args.storage)
    options = data_options(args)
    train = train_config(args)
    space = load_space(args.space)
    data = prepare(options)
    # Candidates are the networks that will really be deployed on this data.
    space = replace_fixed(space, in_channels=data.in_channels, num_classes=data.num_classes)
    budget = _budget(args, space)
    run_dir = args.out or default_run_dir()
    identity = _identity(args, budget)
    settings = SearchSettings(budget=budget, objective=Objective(args.objective, args.proxy, budget.column),
                              reward_exponent=args.reward_exponent, zero_cost_score=args.zero_cost_score,
                              seeds=args.seeds, train=train)
    job = SearchJob(run_dir=run_dir, space=space, settings=settings, data=options, sampler=args.sampler,
                    startup_trials=args.startup_trials, backend=args.backend,
                    storage_url=args.storage or f"sqlite:///{(run_dir / 'study.db').resolve()}",
                    storage_patience=args.storage_patience,
                    workers=args.workers, timeout=args.timeout, pruning=not args.no_pruning,
                    ray_address=args.ray_address, study_name=args.study_name,
                    identity={key: value for key, value in identity.items() if key in STUDY_IDENTITY},
                    shared_storage=bool(args.storage))
    if args.sampler == "grid":
        optuna_backend.make_sampler(job)  # refuses spaces too large to enumerate, before training
    if args.ray_address:
        # A cluster that cannot be joined is one line, before the run directory exists.
        init_ray(job.ray_address, job.workers)
    resuming = claim_run_dir(run_dir, identity, "search",
                             predating={"study_name": "search", "budget_latency": None, "latency_threads": 1})
    return job, data, resuming


def _budget(args: argparse.Namespace, space) -> Budget:
    """The budget the flags name, ready for ``space`` (a latency budget fills this machine's
    latency table from it where the table is new) and checked against what it can reach."""
    budget = Budget.from_flags(args.budget_flops, args.budget_latency, args.latency_threads)
    if specs := budget.networks_to_measure(space):
        bar = progress_bar(len(specs), f"latency table ({budget.threads} thread(s), once per machine)", "network",
                           args.quiet)
        budget.table.fill(specs, progress=lambda: bar.update(1))
        bar.close()
    budget.check_reachable(space)
    return budget


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_main(lambda: _search(args))


def _search(args: argparse.Namespace) -> int:
    if args.finalists == 1:
        raise UsageError("--finalists: expected 0 (off) or 2 or more finalists, got 1")
    # The rung retrains at the screening's recipe (fresh seeds) unless a --rung-* flag says otherwise.
    rung = RungOptions(count=args.finalists, epochs=args.rung_epochs or args.epochs,
                       max_train_samples=args.rung_samples or args.max_train_samples,
                       resolution_scale=args.rung_resolution_scale, max_val_samples=args.max_val_samples,
                       min_seeds=args.rung_seeds, max_seeds=max(args.rung_seeds, RUNG.max_seeds),
                       seconds=args.rung_seconds, tie_break=args.tie_break)
    if rung.tie_break == "latency" and args.budget_latency is None:
        raise UsageError("--tie-break latency needs --budget-latency (latency is predicted only under a latency "
                         "budget); use --tie-break params or macs")
    job, data, resuming = job_from_args(args)
    height, width = data.resolution
    print(f"{'resuming' if resuming else 'starting'} search in {job.run_dir}: {args.trials} trials in all, "
          f"{job.settings.budget.describe()}, {job.backend}/{job.sampler}, "
          f"proxy {job.settings.objective.proxy} at {height}x{width} on {data.source} "
          f"({len(data.train_x)} train / {len(data.val_x)} validation samples), device {job.settings.train.device}",
          flush=True)
    started_at, start = time.time(), time.perf_counter()
    stop: KeyboardInterrupt | None = None  # a first SIGINT or SIGTERM: summarise what finished, then exit with it
    try:
        records = run_search(job, args.trials, data, args.quiet)
    except KeyboardInterrupt as interrupt:
        records, stop = read_records(job.run_dir), interrupt
    except optuna_backend.WorkersFailed as failure:
        print(summarize(job, read_records(job.run_dir), time.perf_counter() - start, started_at))
        print(f"error: {failure}; every finished trial is saved: rerun the same command to run the rest",
              file=sys.stderr)
        return 1
    screening = time.perf_counter() - start  # the trials' own time: the rate below counts them, not the rung
    note = "the search was stopped before its finalists were raced" if stop else rung_unavailable(job, rung)
    decision = None
    if rung.count and not note:
        try:
            decision = decide_finalists(job, records, rung, args.quiet)
            if decision is None:
                note = "fewer than 2 complete distinct candidates"
        except KeyboardInterrupt as interrupt:
            note, stop = "the search was stopped during the finalists' race; its finished trainings are saved", interrupt
    print(summarize(job, records, screening, started_at, decision, note))
    if decision is not None:
        print(f"the finalists rung took {(time.perf_counter() - start - screening) / 60:.1f} min")
    if stop is not None:
        raise stop  # run_main's one line and exit code 130 or 143
    return 0

