"""Running a search job to its end: the backend, a progress bar, the tables and the summary.

:mod:`runners.search` turns flags into a :class:`~runners.search.job.SearchJob`; this module runs
one, whatever made it (a test, a notebook, the command line).
"""

from __future__ import annotations

import dataclasses
import threading

from infra.files import write_atomically
from infra.progress import progress_bar
from infra.reliability import ranking_reliability
from infra.seeds import rung_seed
from infra.statistics import SeedNoise, mean_interval, paired_difference, pareto_front, separated_front
from infra.trial_state import TrialState
from infra.units import format_macs
from runners.data.sources import Splits, prepare
from runners.learning.loop import train_and_evaluate
from runners.search import optuna_backend
from runners.search.budget import reward
from runners.search.candidates import SearchSettings, seed_scores
from runners.search.finalists import FinalsDecision, RungOptions, race, select_finalists
from runners.search.job import SearchJob
from runners.search.records import BEST_SPEC, TrialRecord, read_records, write_tables
from runners.search.storage import infrastructure_fault
from search_space import spec_from_dict, write_spec_file


def finished(records: list[TrialRecord]) -> int:
    """Trials that count towards ``--trials`` (an interrupted one runs again)."""
    return sum(record.state is not TrialState.INTERRUPTED for record in records)


def _follow(job: SearchJob, start_count: int, total: int, stop: threading.Event, quiet: bool) -> None:
    """Move a progress bar as the trial log grows (any backend, any number of workers)."""
    bar = progress_bar(total, "trials", "trial", quiet)
    seen = 0
    objective = job.settings.objective
    while True:
        stopping = stop.wait(1.0)
        records = read_records(job.run_dir)
        done = min(total, finished(records) - start_count)
        if done > seen:
            bar.update(done - seen)
            seen = done
            best = objective.best(records)
            if best is not None:
                bar.set_postfix_str(f"best {objective.label} {objective.score(best):.4f}")
        if stopping:
            break
    bar.close()


def run_search(job: SearchJob, trials: int, data: Splits, quiet: bool = False) -> list[TrialRecord]:
    """Run trials until the run (or the study it shares with other commands) holds
    ``trials`` finished ones; returns every record of this run directory.

    A ``KeyboardInterrupt`` stops it after the tables are rewritten from what finished; a
    fault of the infrastructure, however Optuna or SQLAlchemy wrapped it, is raised as
    itself (:func:`~runners.search.storage.infrastructure_fault`).
    """
    try:
        return _run_trials(job, trials, data, quiet)
    except Exception as error:
        fault = infrastructure_fault(error, job.storage_url)
        if fault is None:
            raise
        raise fault from None


def _run_trials(job: SearchJob, trials: int, data: Splits, quiet: bool) -> list[TrialRecord]:
    done = finished(read_records(job.run_dir))
    # Other commands on a shared study count too (older studies lack what counted_trials reads).
    remaining = max(0, trials - max(done, optuna_backend.prepare_study(job)))
    stop = threading.Event()
    follower = threading.Thread(target=_follow, args=(job, done, remaining, stop, quiet), daemon=True)
    follower.start()
    try:
        if job.backend == "ray":
            from runners.search import ray_backend
            ray_backend.run(job, remaining, data, total=trials)
        else:
            _run_optuna(job, trials, remaining, data)
    finally:
        stop.set()
        follower.join()
        records = read_records(job.run_dir)
        write_tables(job.run_dir, records, job.settings.objective)
    return records


def _run_optuna(job: SearchJob, trials: int, remaining: int, data: Splits) -> None:
    """Run until the study holds ``trials`` counted trials. A trial a kill left unnamed on a
    shared study counts as running until it is old enough to settle; if the workers end with
    the study short of ``trials`` once it is settled, they run the rest; otherwise (the study
    is full, ``--timeout`` passed, the trials failed) the workers' end is the run's."""
    while remaining > 0:
        optuna_backend.run(job, remaining, data, total=trials)
        if job.timeout is not None:
            return  # the workers stopped starting trials at --timeout: the command's answer to it
        counted = optuna_backend.prepare_study(job)
        settled = optuna_backend.prepare_study(job, wait_for_unnamed=True)
        if settled >= counted:
            return  # nothing counted as running was settled: the workers ended for their own reasons
        remaining = trials - max(finished(read_records(job.run_dir)), settled)


def rung_unavailable(job: SearchJob, rung: RungOptions) -> str:
    """Why this search cannot race finalists (empty when it can)."""
    if rung.count == 0:
        return ""
    if job.settings.objective.multi:
        return "the finalists rung picks one winner; with --objective pareto the front is reported as screened"
    return ""


def decide_finalists(job: SearchJob, records: list[TrialRecord], rung: RungOptions,
                     quiet: bool = False) -> FinalsDecision | None:
    """Race the screening's top ``rung.count`` candidates at the rung (:mod:`runners.search.finalists`)
    and point ``best.yaml`` at the tie-broken choice; None when there are fewer than two."""
    settings = job.settings
    objective = settings.objective
    finalists = select_finalists(records, objective.score, rung.count)
    if len(finalists) < 2:
        return None
    data = prepare(dataclasses.replace(job.data, max_train_samples=rung.max_train_samples,
                                       max_val_samples=rung.max_val_samples, resolution_scale=rung.resolution_scale,
                                       show_progress=False))
    train = dataclasses.replace(settings.train, epochs=rung.epochs)

    def train_at(record: TrialRecord, seed: int) -> float:
        spec = spec_from_dict(record.spec_dict)
        return train_and_evaluate(spec, data, train, seed=rung_seed(job.data.seed, seed)).accuracy

    def score(record: TrialRecord, accuracy: float) -> float:
        if objective.column == "proxy_accuracy":
            return accuracy
        return reward(accuracy, getattr(record, settings.budget.column), settings.budget.value,
                      settings.reward_exponent)

    cost_column = {"params": "params", "macs": "macs", "latency": "latency_ms"}[rung.tie_break]
    bar = progress_bar(len(finalists) * rung.max_seeds, f"finalists at the rung ({rung.epochs} epochs on "
                       f"{len(data.train_x)} images at {'x'.join(map(str, data.resolution))})", "training", quiet)
    decision = race(finalists, train_at, rung, job.run_dir, score, lambda r: float(getattr(r, cost_column)),
                    objective.score, on_training=lambda: bar.update(1))
    bar.close()
    chosen = decision.finalist(decision.chosen)
    record = next(r for r in finalists if r.number == chosen.trial)
    write_atomically(job.run_dir / BEST_SPEC, lambda path: write_spec_file(spec_from_dict(record.spec_dict), path))
    return decision


def winner_verdict(settings: SearchSettings, records: list[TrialRecord], best: TrialRecord) -> str:
    """The winner's mean and interval over seeds, and whether it is separated from the
    runner-up (the paired interval of their difference, over the seeds both have)."""
    objective = settings.objective
    if objective.proxy != "train":
        return "      (zero-cost scores: one deterministic measurement, no interval)"
    scores = seed_scores(best, settings)
    if len(scores) < 2:
        return ("      one seed: no interval, and the runner-up may be as good (on the fidelity panel one seed "
                "moved the default proxy's accuracy by 0.03 on average, as much as most differences in a budget "
                "window); --seeds 3 or more measures it")
    line = f"      {objective.label} over seeds: {mean_interval(scores)}"
    others = [r for r in records if r is not best and r.state is TrialState.COMPLETE and r.seed_accuracies]
    runner_up = objective.best(others)
    if runner_up is None:
        return line
    theirs = seed_scores(runner_up, settings)
    shared = min(len(scores), len(theirs))
    if shared < 2:
        return line + f"; the runner-up (trial {runner_up.number}) has {len(theirs)} seed: not compared"
    comparison = paired_difference(scores[:shared], theirs[:shared])
    verdict = "separated from" if comparison.first_is_higher else "NOT separated from"
    return line + f"; {verdict} the runner-up, trial {runner_up.number} ({comparison.describe()})"


def screening_reliability(settings: SearchSettings, records: list[TrialRecord]) -> str:
    """What the screening's ranking is worth, from the candidates it trained at two or more
    seeds (their first two, paired), or why that is not measured in this run."""
    if settings.objective.proxy != "train":
        return ""
    repeated = [seed_scores(r, settings)[:2] for r in records
                if r.state is TrialState.COMPLETE and len(r.seed_accuracies) >= 2]
    if len(repeated) < 2:
        return ("screening ranking: one seed per candidate, so its worth is not measured in this run (on the "
                "fidelity panel two seeds of the default proxy rank alike at Kendall tau 0.30, and 30% of one "
                "seed's variance lies between candidates, "
                "BENCHMARKS.md); --seeds 2 measures it")
    return "screening ranking: " + ranking_reliability(repeated).describe("the screening proxy")


def front_lines(settings: SearchSettings, records: list[TrialRecord]) -> list[str]:
    """With ``--objective pareto``: the front of the complete trials (score up, budgeted cost
    down) and the front thinned to points separated by the run's seed noise
    (:func:`infra.statistics.separated_front`), or why it is not thinned."""
    objective = settings.objective
    complete = [r for r in records if r.state is TrialState.COMPLETE and objective.score(r) is not None
                and getattr(r, objective.cost) is not None]
    if not objective.multi or not complete:
        return []
    scores = [seed_scores(r, settings) or [objective.score(r)] for r in complete]
    costs = [float(getattr(r, objective.cost)) for r in complete]
    noise = SeedNoise.pooled(scores) if objective.proxy == "train" else None
    means = [sum(values) / len(values) for values in scores]
    front = pareto_front(costs, means)
    kept = separated_front(costs, scores, noise)
    unit = "MACs" if objective.cost == "macs" else "ms"

    def point(index: int) -> str:
        cost = format_macs(costs[index]) if objective.cost == "macs" else f"{costs[index]:.2f}"
        return f"trial {complete[index].number} ({cost} {unit}, {means[index]:.4f})"

    def count(indices: list[int]) -> str:
        return f"{len(indices)} point{'s' * (len(indices) != 1)}"

    lines = [f"Pareto front ({objective.label} vs {unit}): {count(front)}: "
             + ", ".join(point(index) for index in front)]
    if noise is None:
        why = ("zero-cost scores have no seed noise" if objective.proxy != "train" else
               "one seed per candidate, so the seed noise is not measured; --seeds 2 or more measures it")
        lines.append(f"      not thinned: {why}")
    else:
        dropped = [complete[index].number for index in front if index not in kept]
        lines.append(f"      separated by the seed noise (std {noise.std:.4f}, {noise.degrees_of_freedom} degrees of "
                     f"freedom): {count(kept)}: " + ", ".join(point(index) for index in kept)
                     + (f"; trials {', '.join(map(str, dropped))} are not separated from a cheaper point"
                        if dropped else ""))
    return lines


def summarize(job: SearchJob, records: list[TrialRecord], elapsed: float, started_at: float = 0.0,
              decision: FinalsDecision | None = None, rung_note: str = "") -> str:
    """The end-of-run summary; the rate counts trials finished since ``started_at``. With a
    finalists ``decision``, ``best.yaml`` is its choice and the summary says why."""
    counts = {state: sum(r.state is state for r in records) for state in TrialState}
    budget = job.settings.budget
    trained = [r for r in records if r.state.trained and getattr(r, budget.column) is not None]
    window = budget.window()
    in_window = sum(window.contains(getattr(r, budget.column)) for r in trained)
    projected = sum(r.projection not in ("", "in window") and r.state is not TrialState.REJECTED for r in records)
    this_run = sum(r.finished_at >= started_at for r in records)
    lines = [
        f"run directory: {job.run_dir}",
        f"trials: {len(records)} ({', '.join(f'{n} {s.value.lower()}' for s, n in counts.items() if n)}); "
        f"{this_run} in this invocation, {elapsed / 60:.1f} min"
        + (f", {3600 * this_run / elapsed:.0f} trials/hour" if elapsed > 0 and this_run else ""),
        f"{budget.describe()}: {in_window}/{len(trained)} trained candidates in the window "
        f"[{budget.format(window.low)}, {budget.format(window.high)}]; {projected} projected into it, "
        f"{counts[TrialState.REJECTED]} rejected untrained",
    ]
    objective = job.settings.objective
    best = objective.best(records)
    if best is None:
        lines.append("no trial completed yet")
    else:
        accuracy = f"proxy accuracy {best.proxy_accuracy:.4f}, " if best.proxy_accuracy is not None else ""
        lines += [
            f"{'screening top' if decision is not None else 'best'} by {objective.label}: trial {best.number}, {accuracy}"
            f"{'score' if objective.proxy == 'zero-cost' else 'reward'} {best.reward:.4f}, "
            f"{format_macs(best.macs)} MACs, " + ("" if best.latency_ms is None else f"{best.latency_ms:.2f} ms, ")
            + f"{best.params:,} params ({best.projection})",
            f"      {best.spec}",
            winner_verdict(job.settings, records, best),
        ]
        if screening := screening_reliability(job.settings, records):
            lines.append("      " + screening)
        lines += front_lines(job.settings, records)
        if decision is not None:
            lines += decision.describe(best.number, objective.label)
        elif rung_note:
            lines.append(f"      no finalists rung: {rung_note}")
        lines += [
            f"best spec: {job.run_dir / BEST_SPEC}",
            f"dashboard: python -m analysis.dashboard {job.run_dir}",
        ]
    failures = [r for r in records if r.state is TrialState.FAIL and r.failure_reason]
    if failures:
        lines.append("failures: " + "; ".join(f"trial {r.number}: {r.failure_reason[:120]}" for r in failures[-3:]))
    return "\n".join(lines)


__all__ = ["decide_finalists", "finished", "front_lines", "rung_unavailable", "run_search", "screening_reliability", "summarize", "winner_verdict"]
