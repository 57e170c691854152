"""``python -m runners.search``: search a declared space for a base network under a MAC budget.

    python -m runners.search --budget-flops 400M                  # Fashion-MNIST, Optuna TPE
    python -m runners.search --budget-flops 1.2G --backend ray --workers 2
    python -m runners.search --data spectrograms.npz --proxy-resolution 64x200

Every trained candidate has MACs in [0.9, 1.0] x budget at the spec's own resolution
(with the data's channels and classes); candidates outside are projected into that
window or rejected untrained. The run directory holds the study, ``trials.jsonl``,
``results.csv``/``.parquet``, ``best.yaml`` and ``report.html``; rerunning the same
command with the same ``--out`` continues the search.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from runners import optuna_backend
from runners.cli import (USAGE_ERROR, ArgumentParser, UsageError, checked, claim_run_dir, positive_float,
                         positive_int)
from runners.budget import format_macs, parse_macs, smallest_macs
from runners.data import DataError, parse_resolution, prepare
from runners.evaluation import SCORES, SearchSettings
from runners.job import DataOptions, SearchJob
from runners.results import read_records, write_tables
from runners.training import TrainConfig, resolve_device
from search_space import SpecError, load_space
from search_space.space import replace_fixed

# Flags that define what a run directory means; resuming with other values is refused.
RUN_IDENTITY = ("budget_flops", "objective", "reward_exponent", "space", "sampler", "startup_trials", "proxy",
                "zero_cost_score",
                "data", "proxy_resolution", "epochs", "batch_size", "learning_rate", "max_train_samples",
                "max_val_samples", "val_fraction", "seed", "backend")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m runners.search", description=__doc__.split("\n\n")[0],
                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    goal = parser.add_argument_group("goal")
    goal.add_argument("--budget-flops", default="400M", type=checked(parse_macs),
                      help="MAC budget at the spec's resolution (the papers' FLOPs): 400M, 1.2G, 4e8")
    goal.add_argument("--objective", choices=("reward", "pareto"), default="reward",
                      help="reward: MnasNet ACC x (MACs/T)^w; pareto: NSGA-style (accuracy, MACs)")
    goal.add_argument("--reward-exponent", type=float, default=-0.07, help="w in ACC x (MACs/T)^w")
    goal.add_argument("--space", default="default", help="search space: 'default' or a YAML file")
    goal.add_argument("--sampler", choices=("tpe", "nsga2", "random", "grid"), default="tpe")
    goal.add_argument("--startup-trials", type=positive_int, default=4,
                      help="random trials before TPE models the results (Optuna's default of 10 "
                           "would leave a short CPU search almost entirely random)")
    evaluation = parser.add_argument_group("evaluation")
    evaluation.add_argument("--proxy", choices=("train", "zero-cost"), default="train",
                            help="short real training, or training-free scores")
    evaluation.add_argument("--zero-cost-score", choices=SCORES, default="naswot",
                            help="which zero-cost score ranks candidates with --proxy zero-cost")
    evaluation.add_argument("--data", default=None,
                            help="IDX directory, .npz (x, y) or class-folder directory; default: Fashion-MNIST "
                                 "from $FASHION_MNIST or Debian's dataset-fashion-mnist")
    evaluation.add_argument("--proxy-resolution", type=checked(parse_resolution), default=None,
                            help="N or HxW for proxy training; default: the data's size, at least 32")
    evaluation.add_argument("--epochs", type=positive_int, default=2)
    evaluation.add_argument("--batch-size", type=positive_int, default=64)
    evaluation.add_argument("--learning-rate", type=positive_float, default=1e-2, help="AdamW peak learning rate")
    evaluation.add_argument("--max-train-samples", type=positive_int, default=2048)
    evaluation.add_argument("--max-val-samples", type=positive_int, default=1024)
    evaluation.add_argument("--val-fraction", type=positive_float, default=0.1,
                            help="share of the training data held out to score candidates")
    evaluation.add_argument("--no-pruning", action="store_true", help="disable Hyperband/ASHA early stopping")
    execution = parser.add_argument_group("execution")
    execution.add_argument("--backend", choices=("optuna", "ray"), default="optuna")
    execution.add_argument("--trials", type=positive_int, default=16, help="total trials of the run")
    execution.add_argument("--timeout", type=positive_float, default=None, help="stop starting trials after N seconds")
    execution.add_argument("--workers", type=positive_int, default=1, help="parallel trials (processes or Ray actors)")
    execution.add_argument("--storage", default=None, help="Optuna storage URL (default: SQLite in the run directory)")
    execution.add_argument("--ray-address", default=None, help="join an existing Ray cluster (default: a local Ray)")
    execution.add_argument("--seed", type=int, default=0)
    execution.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:1, ...")
    execution.add_argument("--out", type=Path, default=None, help="run directory (default: runs/<timestamp>)")
    execution.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _identity(args: argparse.Namespace) -> dict:
    values = vars(args)
    return {key: (list(values[key]) if isinstance(values[key], tuple) else values[key]) for key in RUN_IDENTITY}


def _progress(run_dir: Path, start_count: int, total: int, stop: threading.Event, quiet: bool) -> None:
    """Poll the trial log and move a progress bar with ETA (works for any backend and worker count)."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc="trials", unit="trial", disable=quiet, dynamic_ncols=True)
    seen = 0
    while True:
        finished = stop.wait(1.0)
        records = read_records(run_dir)
        done = min(total, len([r for r in records if not r.interrupted]) - start_count)
        if done > seen:
            bar.update(done - seen)
            seen = done
            best = max((r.reward for r in records if r.state == "COMPLETE" and r.reward is not None), default=None)
            if best is not None:
                bar.set_postfix(best=f"{best:.4f}")
        if finished:
            break
    bar.close()


def summarize(job: SearchJob, records, elapsed: float, started_at: float = 0.0) -> str:
    """The end-of-run summary; the rate counts trials finished since ``started_at``."""
    counts = {state: sum(r.state == state for r in records) for state in ("COMPLETE", "PRUNED", "FAIL", "REJECTED")}
    trained = [r for r in records if r.state in ("COMPLETE", "PRUNED") and r.macs is not None]
    budget = job.settings.budget
    in_window = sum(0.9 * budget <= r.macs <= budget for r in trained)
    projected = sum(r.projection not in ("", "in window") and r.state != "REJECTED" for r in records)
    this_run = sum(r.finished_at >= started_at for r in records)
    lines = [
        f"run directory: {job.run_dir}",
        f"trials: {len(records)} ({', '.join(f'{n} {s.lower()}' for s, n in counts.items())}); "
        f"{this_run} in this invocation, {elapsed / 60:.1f} min"
        + (f", {3600 * this_run / elapsed:.0f} trials/hour" if elapsed > 0 and this_run else ""),
        f"budget {format_macs(budget)} MACs: {in_window}/{len(trained)} trained candidates in the window "
        f"[{format_macs(0.9 * budget)}, {format_macs(budget)}]; {projected} projected into it, "
        f"{counts['REJECTED']} rejected untrained",
    ]
    best = max((r for r in records if r.state == "COMPLETE" and r.reward is not None),
               key=lambda r: (r.proxy_accuracy if job.settings.objective == "pareto" and r.proxy_accuracy is not None
                              else r.reward), default=None)
    if best is None:
        lines.append("no trial completed yet")
    else:
        accuracy = f"proxy accuracy {best.proxy_accuracy:.4f}, " if best.proxy_accuracy is not None else ""
        lines += [
            f"best: trial {best.number}, {accuracy}reward {best.reward:.4f}, "
            f"{format_macs(best.macs)} MACs, {best.params:,} params ({best.projection})",
            f"      {best.spec}",
            f"best spec: {job.run_dir / 'best.yaml'}   report: {job.run_dir / 'report.html'}",
        ]
    failures = [r for r in records if r.state == "FAIL" and r.failure_reason]
    if failures:
        lines.append("failures: " + "; ".join(f"trial {r.number}: {r.failure_reason[:120]}" for r in failures[-3:]))
    return "\n".join(lines)


def write_report(job: SearchJob, summary: str) -> None:
    """The run's ``report.html``: the dashboard's search figures for this one run."""
    from analysis import search_sections
    from analysis import write_report as write_html

    write_html(job.run_dir / "report.html", f"Search run {job.run_dir.name}", search_sections(job.run_dir), summary)


def prepare_job(args: argparse.Namespace):
    """Validate everything a user can get wrong before any training starts."""
    try:
        device = resolve_device(args.device)
    except RuntimeError as error:
        raise UsageError(f"--device: {error}") from None
    if device.startswith("cuda"):
        import torch
        if not torch.cuda.is_available():
            raise UsageError(f"--device {args.device}: CUDA is not available on this machine")
    if not 0 < args.val_fraction < 1:
        raise UsageError(f"--val-fraction must be between 0 and 1, got {args.val_fraction}")
    space = load_space(args.space)
    data = prepare(args.data, proxy_resolution=args.proxy_resolution, val_fraction=args.val_fraction,
                   max_train_samples=args.max_train_samples, max_val_samples=args.max_val_samples, seed=args.seed)
    # Candidates are the networks that will really be deployed on this data.
    space = replace_fixed(space, in_channels=data.in_channels, num_classes=data.num_classes)
    smallest, smallest_spec = smallest_macs(space)
    if args.budget_flops < smallest:
        raise UsageError(f"--budget-flops {format_macs(args.budget_flops)} is below the smallest network of the "
                         f"space ({smallest:,} MACs = {format_macs(smallest)} at "
                         f"{'x'.join(map(str, smallest_spec.resolution))})")
    run_dir = args.out or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    resuming = claim_run_dir(run_dir, _identity(args), "search")
    settings = SearchSettings(
        budget=args.budget_flops, objective=args.objective, reward_exponent=args.reward_exponent, proxy=args.proxy,
        zero_cost_score=args.zero_cost_score, seed=args.seed,
        train=TrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                          device=device))
    storage = args.storage or f"sqlite:///{(run_dir / 'study.db').resolve()}"
    job = SearchJob(
        run_dir=run_dir, space=space, settings=settings,
        data=DataOptions(args.data, args.proxy_resolution, args.val_fraction, args.max_train_samples,
                         args.max_val_samples),
        sampler=args.sampler, startup_trials=args.startup_trials, backend=args.backend, storage_url=storage,
        workers=args.workers,
        timeout=args.timeout, pruning=not args.no_pruning, ray_address=args.ray_address)
    if args.sampler == "grid":
        optuna_backend.make_sampler(job)  # refuses spaces too large to enumerate, before training
    return job, data, resuming


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        job, data, resuming = prepare_job(args)
    except (UsageError, SpecError, DataError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE_ERROR
    records = read_records(job.run_dir)
    done = len([r for r in records if not r.interrupted])
    remaining = max(0, args.trials - done)
    height, width = data.resolution
    print(f"{'resuming' if resuming else 'starting'} search in {job.run_dir}: {remaining} of {args.trials} trials "
          f"to run, budget {format_macs(job.settings.budget)} MACs, {job.backend}/{job.sampler}, "
          f"proxy {job.settings.proxy} at {height}x{width} on {data.source} "
          f"({len(data.train_x)} train / {len(data.val_x)} validation samples), device {job.settings.train.device}",
          flush=True)
    stop = threading.Event()
    started_at = time.time()
    progress = threading.Thread(target=_progress, args=(job.run_dir, done, remaining, stop, args.quiet), daemon=True)
    start = time.perf_counter()
    progress.start()
    try:
        if job.backend == "ray":
            from runners import ray_backend
            ray_backend.run(job, remaining, data)
        else:
            optuna_backend.run(job, remaining, data)
    except KeyboardInterrupt:
        print("\ninterrupted: finished trials are saved; rerun the same command to continue", file=sys.stderr)
    finally:
        stop.set()
        progress.join()
    records = read_records(job.run_dir)
    write_tables(job.run_dir, records, job.settings.objective)
    summary = summarize(job, records, time.perf_counter() - start, started_at)
    write_report(job, summary)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
