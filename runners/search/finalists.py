"""The finalists rung: the screening's top candidates trained again until their order is known.

The screening proxy ranks each candidate on one seed: on the fidelity panel its seed-vs-seed
Kendall tau is about 0.3 (BENCHMARKS.md), so its single top candidate is close to a random draw
from the best few, and its job is to remove clearly poor candidates. The top ``count``
distinct candidates by screening score are therefore trained again at the rung (a promotion
rung in the sense of successive halving, Jamieson & Talwalkar 2016), at fresh seed replicates
shared by every finalist (common random numbers), racing on seeds. What the rung trains is a
measured choice: on the panel a longer training compressed the spread between candidates as
much as it lowered the seed noise, so by default the rung is the screening's own recipe at
more seeds, whose mean ranks more reproducibly per second than fewer longer trainings
(``RungOptions`` takes any other recipe):

1. every finalist gets ``min_seeds`` seeds;
2. the leader is the finalist with the highest mean score; every finalist whose paired
   difference to the leader excludes zero (:func:`infra.statistics.paired_difference`) at the
   race's simultaneous level (:func:`comparison_level`) is out;
3. the leader and the finalists still in get one more seed, until none is left beside the
   leader or the planned looks are made: one per seed up to ``max_seeds``, as many as
   ``seconds`` (the rung's budget) allows at the pace of the first rounds
   (:func:`planned_looks`).

Each comparison is made at a level corrected for everything that would otherwise let noise
separate equal finalists: the leader is the largest of ``count`` noisy means (selection), it is
compared with every other (multiplicity) and again after each round (repeated looks). A union
bound over every ordered pair and every look (Bonferroni) keeps the chance that equal finalists
are ever separated below 5%, whatever the selection: the price is that two seeds rarely
separate anything, which is why the race adds seeds.

The **equivalence set** is the winner and every finalist not separated from it over the seeds
they share. The reported best is the equivalence set's cheapest member by ``tie_break``
(parameters, MACs or predicted latency): at the same accuracy within the interval, the cheaper
network is the better answer to deploy.

Each training is one line of ``finalists.jsonl`` (appended and fsynced): a rerun continues the
race where it stopped; ``finalists.json`` holds the decision.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from infra.files import append_json_line, write_json
from infra.reliability import RankingReliability, ranking_reliability
from infra.rows import read_rows
from infra.statistics import INTERVAL_LEVEL, PairedDifference, mean_interval, paired_difference
from infra.trial_state import TrialState
from runners.flags import SEARCH_PROXY
from runners.search.records import TrialRecord

# The default race, chosen on the fidelity panel (benchmarks/rung.py, BENCHMARKS.md "What do the
# finalists buy?"): RUNG_COUNT finalists, RUNG_MIN_SEEDS seeds each, then seeds up to
# RUNG_MAX_SEEDS for the leader and the finalists it has not separated itself from, within
# RUNG_SECONDS. The screening's rankings by the mean of 8 seeds agreed at Kendall 0.64
# [0.44, 0.83] (one seed: 0.30; 4 seeds: 0.35); replayed, 2 finalists at 8 seeds returned a
# best within 0.0002 of the screening's top at the reference with 30% fewer parameters (3 or
# 4 finalists: 0.001-0.002 lower at 45-52% fewer), its winner 0.0013 above. 2 x 8 trainings
# of about 5 s fit the 6-minute default search.
RUNG_COUNT = 2
RUNG_MIN_SEEDS = 4
RUNG_MAX_SEEDS = 8
RUNG_SECONDS = 150.0

FINALISTS_LOG = "finalists.jsonl"
FINALISTS_DECISION = "finalists.json"
TIE_BREAKS = ("params", "macs", "latency")


@dataclass(frozen=True)
class RungOptions:
    """The finalists rung. ``count`` 0 switches it off (the screening's top candidate is the answer).

    The rung's recipe: ``epochs`` over ``max_train_samples`` training images (None: all) at
    ``resolution_scale`` times the screening's proxy resolution (each side), scored on
    ``max_val_samples`` validation images (None: the whole validation split). ``runners.search``
    gives it the screening's own recipe unless its ``--rung-*`` flags say otherwise.
    """

    # Measured on the fidelity panel (benchmarks/fidelity.py, benchmarks/rung.py, BENCHMARKS.md):
    # a longer training compresses the spread between candidates as much as it lowers the seed
    # noise (6x the images at 32x32: 22% of one seed's variance between candidates, 2x the
    # resolution: 20%; the screening's own recipe: 30%), so the same seconds buy a more
    # reproducible ranking as more seeds of the screening's recipe at 4 s each than as fewer
    # seeds at 24 s.
    count: int = RUNG_COUNT
    epochs: int = SEARCH_PROXY.epochs
    max_train_samples: int | None = SEARCH_PROXY.max_train_samples
    resolution_scale: float = 1.0
    max_val_samples: int | None = SEARCH_PROXY.max_val_samples
    min_seeds: int = RUNG_MIN_SEEDS
    max_seeds: int = RUNG_MAX_SEEDS
    seconds: float = RUNG_SECONDS
    tie_break: str = "params"

    def __post_init__(self) -> None:
        if self.count < 0 or self.count == 1:
            raise ValueError(f"finalists: count must be 0 (off) or at least 2, got {self.count}")
        if not 2 <= self.min_seeds <= self.max_seeds:
            raise ValueError(f"finalists: need 2 <= min_seeds <= max_seeds, got {self.min_seeds}, {self.max_seeds}")
        if not self.resolution_scale > 0:
            raise ValueError(f"finalists: resolution_scale must be positive, got {self.resolution_scale}")
        if self.tie_break not in TIE_BREAKS:
            raise ValueError(f"finalists: tie_break must be one of {', '.join(TIE_BREAKS)}, got {self.tie_break!r}")

    @property
    def recipe(self) -> dict:
        """What decides one training at the rung: a logged training of another recipe is not reused."""
        return {"epochs": self.epochs, "max_train_samples": self.max_train_samples,
                "resolution_scale": self.resolution_scale, "max_val_samples": self.max_val_samples}

    def describe(self) -> str:
        images = "all" if self.max_train_samples is None else f"up to {self.max_train_samples:,}"
        return f"{self.epochs} epochs on {images} images at {self.resolution_scale:g}x the proxy resolution"


@dataclass(frozen=True)
class Finalist:
    trial: int
    spec: str
    screening_score: float
    cost: float  # by the tie-break: parameters, MACs or predicted latency (ms)
    scores: tuple[float, ...]  # the rung's score at seeds 0, 1, ...

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores)


@dataclass(frozen=True)
class FinalsDecision:
    finalists: tuple[Finalist, ...]
    winner: int  # trial number of the rung's highest mean
    equivalent: tuple[int, ...]  # trial numbers not separated from the winner (the winner included)
    chosen: int  # the equivalence set's cheapest member
    tie_break: str
    comparisons: dict[int, PairedDifference] = field(default_factory=dict)  # winner minus each other finalist
    level: float = INTERVAL_LEVEL  # of each comparison's interval (corrected: comparison_level)
    reliability: RankingReliability | None = None  # of the rung, over every finalist's first seeds
    rung: str = ""  # the rung's recipe, in words (RungOptions.describe)

    def finalist(self, trial: int) -> Finalist:
        return next(f for f in self.finalists if f.trial == trial)

    @property
    def saving(self) -> float:
        """The chosen member's cost saving against the rung's winner, as a fraction (0: none)."""
        winner, chosen = self.finalist(self.winner), self.finalist(self.chosen)
        return 1 - chosen.cost / winner.cost if winner.cost > 0 else 0.0

    def describe(self, screening_top: int, label: str) -> list[str]:
        winner, chosen = self.finalist(self.winner), self.finalist(self.chosen)
        estimate = mean_interval(winner.scores)
        lines = [f"finalists: {len(self.finalists)} (trials {', '.join(str(f.trial) for f in self.finalists)}) "
                 f"retrained at the rung{f' ({self.rung})' if self.rung else ''}; winner trial {winner.trial}, "
                 f"{label} {estimate}"]
        others = [f"trial {trial}: {_difference(self.comparisons[trial])}" for trial in self.comparisons]
        if others:
            lines.append(f"      winner minus (simultaneous {self.level:.2%} intervals) " + "; ".join(others))
        lines.append(f"      equivalence set (not separated from the winner): trials "
                     f"{', '.join(map(str, self.equivalent))}")
        lines.append(f"      {chosen.spec}")
        if self.chosen != self.winner:
            lines.append(f"      reported best: trial {chosen.trial}, the cheapest of the equivalence set by "
                         f"{self.tie_break}: same {label} within the interval, {self.saving:.0%} fewer "
                         f"{_COST_NAMES[self.tie_break]} than trial {winner.trial}")
        else:
            lines.append(f"      reported best: trial {chosen.trial}, also the cheapest of the equivalence set by "
                         f"{self.tie_break}")
        if screening_top != chosen.trial:
            lines.append(f"      (the screening's top candidate was trial {screening_top})")
        if self.reliability is not None:
            lines.append("      ranking at the rung: " + self.reliability.describe("the rung"))
        return lines

    def to_json(self) -> dict:
        return {"finalists": [{"trial": f.trial, "spec": f.spec, "screening_score": f.screening_score,
                               "cost": f.cost, "scores": list(f.scores), "mean": f.mean} for f in self.finalists],
                "winner": self.winner, "equivalent": list(self.equivalent), "chosen": self.chosen,
                "tie_break": self.tie_break, "saving": self.saving, "comparison_level": self.level, "rung": self.rung,
                "comparisons": {str(t): c.to_json() for t, c in self.comparisons.items()},
                "reliability": None if self.reliability is None else self.reliability.to_json()}


def _difference(comparison: PairedDifference) -> str:
    d = comparison.difference
    return f"{d.mean:+.4f} [{d.low:+.4f}, {d.high:+.4f}] over {d.n} seeds"


_COST_NAMES = {"params": "parameters", "macs": "MACs", "latency": "milliseconds of predicted latency"}


def comparison_level(count: int, looks: int) -> float:
    """The two-sided interval level of each paired comparison in a race of ``count`` finalists
    with ``looks`` elimination rounds: ``1 - 2 alpha / (count (count - 1) looks)`` for a total
    error rate ``alpha = 1 - INTERVAL_LEVEL`` over every ordered pair and look (the one-sided
    half of each interval is what separates a leader)."""
    alpha = 1 - INTERVAL_LEVEL
    return 1 - 2 * alpha / (count * (count - 1) * looks)


def planned_looks(options: RungOptions, count: int, first_seconds: float) -> int:
    """How many looks (comparisons of the leader with the others; the last is the decision) the
    race makes: one per seed from ``min_seeds`` to ``max_seeds``, as many as ``options.seconds``
    allows if every finalist ran every round at the pace of the first ``min_seeds`` rounds
    (``first_seconds``). Fixed from timing alone, before any comparison, so the simultaneous
    level (:func:`comparison_level`) may spend its error rate on these looks only."""
    most = options.max_seeds - options.min_seeds + 1
    # Rounds that still fit: the budget left over the pace of one round (first_seconds / min_seeds).
    rounds = options.min_seeds * (options.seconds - first_seconds) / first_seconds if first_seconds > 0 else math.inf
    if not math.isfinite(rounds):  # no measurable pace: the budget does not bind
        return most if rounds > 0 else 1
    return max(1, min(most, 1 + math.floor(rounds)))


def select_finalists(records: list[TrialRecord], score: Callable[[TrialRecord], float | None],
                     count: int) -> list[TrialRecord]:
    """The ``count`` complete trials with the highest screening score, one per distinct network
    (a network sampled twice is one finalist, its better trial), best first."""
    scored = [r for r in records if r.state is TrialState.COMPLETE and score(r) is not None and r.spec and r.spec_dict]
    scored.sort(key=lambda r: (-score(r), r.number))
    chosen, seen = [], set()
    for record in scored:
        if record.spec not in seen:
            seen.add(record.spec)
            chosen.append(record)
    return chosen[:count]


def decide(finalists: list[Finalist], tie_break: str, level: float) -> FinalsDecision:
    """Winner, equivalence set and tie-broken choice from the rung's scores (seed ``j`` of each
    finalist paired with seed ``j`` of the others), comparing at ``level`` (:func:`comparison_level`)."""
    winner = max(finalists, key=lambda f: (f.mean, -f.trial))
    comparisons, equivalent = {}, [winner]
    for finalist in finalists:
        if finalist is winner:
            continue
        shared = min(len(winner.scores), len(finalist.scores))
        comparison = (paired_difference(winner.scores[:shared], finalist.scores[:shared], level)
                      if shared >= 2 else None)
        if comparison is not None:
            comparisons[finalist.trial] = comparison
        if comparison is None or not comparison.first_is_higher:
            equivalent.append(finalist)
    chosen = min(equivalent, key=lambda f: (f.cost, -f.mean, f.trial))
    seeds = min(len(f.scores) for f in finalists)
    reliability = (ranking_reliability([f.scores[:seeds] for f in finalists]) if seeds >= 2 else None)
    return FinalsDecision(tuple(finalists), winner.trial, tuple(f.trial for f in equivalent), chosen.trial,
                          tie_break, comparisons, level, reliability)


def _leader_and_contenders(scores: dict[int, list[float]], level: float) -> tuple[int, list[int]]:
    """The leader (highest mean) and the finalists it has not separated itself from."""
    leader = max(scores, key=lambda t: (sum(scores[t]) / len(scores[t]), -t))
    contenders = []
    for trial, values in scores.items():
        if trial == leader:
            continue
        shared = min(len(values), len(scores[leader]))
        if shared < 2 or not paired_difference(scores[leader][:shared], values[:shared], level).first_is_higher:
            contenders.append(trial)
    return leader, contenders


def race(finalists: list[TrialRecord], train: Callable[[TrialRecord, int], float], options: RungOptions,
         run_dir: Path, score: Callable[[TrialRecord, float], float], cost: Callable[[TrialRecord], float],
         screening_score: Callable[[TrialRecord], float],
         on_training: Callable[[], None] = lambda: None) -> FinalsDecision:
    """Race ``finalists`` at the rung. ``train(record, seed)`` is one training's accuracy;
    ``score(record, accuracy)`` what the objective ranks by. Trainings already in the run's
    ``finalists.jsonl`` at the same recipe are read, not repeated."""
    log = run_dir / FINALISTS_LOG
    done = {(row["trial"], row["seed"]): (row["accuracy"], float(row.get("seconds", 0.0)))
            for row in read_rows(log, dict) if {"trial", "seed", "accuracy"} <= set(row)
            and row.get("recipe") == options.recipe}
    accuracies: dict[int, list[float]] = {r.number: [] for r in finalists}
    by_number = {r.number: r for r in finalists}
    spent = 0.0  # seconds of the trainings used so far, as logged: a resumed race takes the same path

    def run_seed(trial: int, seed: int) -> None:
        nonlocal spent
        if (trial, seed) not in done:
            began = time.perf_counter()
            accuracy = train(by_number[trial], seed)
            seconds = time.perf_counter() - began
            append_json_line(log, {"trial": trial, "seed": seed, "accuracy": accuracy, "seconds": seconds,
                                   "recipe": options.recipe, "finished_at": time.time()})
            done[(trial, seed)] = (accuracy, seconds)
        accuracies[trial].append(done[(trial, seed)][0])
        spent += done[(trial, seed)][1]
        on_training()

    for seed in range(options.min_seeds):
        for trial in accuracies:
            run_seed(trial, seed)
    looks = planned_looks(options, len(finalists), spent)
    level = comparison_level(len(finalists), looks)
    racing = list(accuracies)
    for look in range(1, looks):  # the last look is the decision itself
        scores = {t: [score(by_number[t], a) for a in accuracies[t]] for t in racing}
        leader, contenders = _leader_and_contenders(scores, level)
        racing = [leader, *contenders]
        if len(racing) == 1:
            break
        for trial in racing:
            run_seed(trial, options.min_seeds + look - 1)
    rows = [Finalist(r.number, r.spec, screening_score(r), cost(r),
                     tuple(score(r, a) for a in accuracies[r.number])) for r in finalists]
    decision = replace(decide(rows, options.tie_break, level), rung=options.describe())
    write_json(run_dir / FINALISTS_DECISION, decision.to_json())
    return decision


def read_decision(run_dir: Path) -> dict | None:
    """A run's ``finalists.json``, or None when its search had no rung."""
    path = run_dir / FINALISTS_DECISION
    if not path.exists():
        return None
    return json.loads(path.read_text())


__all__ = ["FINALISTS_DECISION", "FINALISTS_LOG", "FinalsDecision", "Finalist", "RungOptions", "TIE_BREAKS",
           "comparison_level", "decide", "planned_looks", "race", "read_decision", "select_finalists"]
