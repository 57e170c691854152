"""Scoring one candidate, the same way for every backend.

Budget first (project into the window or reject, untrained), then either short proxy
training or zero-cost scores. A candidate's own failure (an exception, a NaN loss)
becomes a ``FAIL`` record with its reason; it never stops the search.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Callable

from infra.errors import InfrastructureFault
from infra.seeds import replicate_seed
from infra.statistics import SeedNoise, could_beat
from infra.trial_state import TrialState
from runners.data.sources import Splits
from runners.learning.loop import TrainConfig, train_and_evaluate
from runners.learning.zero_cost import SCORES, zero_cost_scores
from runners.search.budget import REWARD_EXPONENT, Budget, Projection, project, reward
from runners.search.records import Objective, TrialRecord
from search_space import NetworkSpec, count_cost, spec_to_dict, stages_summary


@dataclass(frozen=True)
class SearchSettings:
    """What every trial needs to know; identical in every worker and backend."""

    budget: Budget  # or MACs, made a Budget
    objective: Objective = field(default_factory=Objective)
    reward_exponent: float = REWARD_EXPONENT
    zero_cost_score: str = "naswot"
    zero_cost_batches: int = 2
    train: TrainConfig = field(default_factory=TrainConfig)
    seeds: int = 1  # seed replicates a contender may get (racing gives fewer to clear losers)

    def __post_init__(self) -> None:
        object.__setattr__(self, "budget", Budget.coerce(self.budget))

    @classmethod
    def from_config(cls, config: dict) -> "SearchSettings":
        """What a run directory's ``config.json`` says about scoring (for readers of the run)."""
        return cls(budget=Budget.from_config(config), objective=Objective.from_config(config),
                   reward_exponent=float(config.get("reward_exponent", REWARD_EXPONENT)),
                   seeds=int(config.get("seeds", 1)))


def seed_scores(record: TrialRecord, settings: SearchSettings) -> list[float]:
    """A record's score at each seed it was trained at: what the objective ranks by
    (the reward of each seed's accuracy, or the accuracy itself)."""
    if settings.objective.column == "proxy_accuracy":
        return list(record.seed_accuracies)
    return [reward(accuracy, getattr(record, settings.budget.column), settings.budget.value, settings.reward_exponent)
            for accuracy in record.seed_accuracies]


class Evaluator:
    """Scores candidates on ``data`` under ``settings``.

    ``history`` returns the run's records so far; with ``settings.seeds > 1`` it feeds the
    racing rule (:func:`infra.statistics.could_beat`): after each seed, a candidate that
    cannot reach the incumbent's score any more gets no further seeds. Without it (Ray
    workers that do not share the run directory) every candidate gets every seed.
    """

    def __init__(self, settings: SearchSettings, data: Splits, run_seed: int,
                 history: Callable[[], list[TrialRecord]] | None = None):
        self.settings = settings
        self.data = data
        self.run_seed = run_seed  # the data options' seed (infra.seeds): one owner for the whole run
        self.history = history

    def _in_the_race(self, record: TrialRecord) -> bool:
        if self.history is None or self.settings.objective.multi:
            return True
        records = self.history()
        incumbent = self.settings.objective.best(records)
        scores = lambda r: seed_scores(r, self.settings)  # noqa: E731
        noise = SeedNoise.pooled([scores(r) for r in records if r.state is TrialState.COMPLETE])
        return incumbent is None or could_beat(scores(record), scores(incumbent), noise)

    def evaluate(
        self,
        number: int,
        sampled: NetworkSpec,
        params: dict,
        report: Callable[[TrialRecord], bool | None] | None = None,
    ) -> TrialRecord:
        """The finished record of trial ``number`` (COMPLETE, PRUNED, FAIL or REJECTED).

        ``report(progress)`` is called after each training epoch with the record as it
        would read if the trial stopped there (``epochs``, ``proxy_accuracy`` and ``reward``
        so far; state ``PRUNED``, or ``COMPLETE`` after the last epoch); returning ``True``
        stops it there.
        """
        start = time.perf_counter()
        record = TrialRecord(number=number, state=TrialState.FAIL, params_sampled=dict(params),
                             proxy=self.settings.objective.proxy)
        try:
            projection = self._place(record, sampled)
            if projection is not None and record.proxy == "zero-cost":
                self._score_untrained(record, projection.spec)
            elif projection is not None:
                self._train_with_racing(record, projection, start, report)
        except (KeyboardInterrupt, InfrastructureFault):  # a stop or a fault is not the network's result
            raise
        except Exception as error:  # a candidate's failure is a result, not a crash of the search
            record.state = TrialState.FAIL
            record.failure_reason = f"{type(error).__name__}: {error}".splitlines()[0][:500]
        finally:
            record.duration_s = time.perf_counter() - start
            record.finished_at = time.time()
        return record

    def _place(self, record: TrialRecord, sampled: NetworkSpec) -> Projection | None:
        """Project ``sampled`` into the budget window and record what it became: its cost
        and spec, or REJECTED (``None``) when no multiplier lands it there."""
        projection = project(sampled, self.settings.budget)
        record.original_macs = projection.original_macs
        record.projection = projection.action
        if not projection.accepted:
            record.state, record.failure_reason = TrialState.REJECTED, projection.action
            return None
        cost = count_cost(projection.spec)
        record.spec, record.spec_dict = stages_summary(projection.spec), spec_to_dict(projection.spec)
        record.macs, record.params = cost.macs, cost.params
        if self.settings.budget.kind == "latency":
            record.latency_ms = projection.cost
        return projection

    def _score_untrained(self, record: TrialRecord, spec: NetworkSpec) -> None:
        """Zero-cost scores at replicate 0; the chosen one ranks (all candidates already sit in
        the budget window, so it is the reward itself)."""
        settings = self.settings
        scores = zero_cost_scores(spec, self.data, batches=settings.zero_cost_batches,
                                  seed=replicate_seed(self.run_seed, 0), device=settings.train.device)
        score = scores[settings.zero_cost_score]
        if not math.isfinite(score):
            raise ValueError(f"zero-cost score {settings.zero_cost_score} is {score}")
        record.zero_cost, record.proxy_accuracy, record.reward = scores, None, score
        record.state = TrialState.COMPLETE

    def _train_with_racing(self, record: TrialRecord, projection: Projection, start: float,
                           report: Callable[[TrialRecord], bool | None] | None) -> None:
        """Train at replicate 0 (reporting each epoch for pruning), then at further replicates
        while the candidate can still beat the incumbent; rank by the mean over replicates."""
        settings, spec, budgeted = self.settings, projection.spec, projection.cost  # MACs or predicted latency

        def epoch_report(epoch: int, accuracy: float) -> bool | None:
            progress = dataclasses.replace(
                record, state=TrialState.COMPLETE if epoch == settings.train.epochs else TrialState.PRUNED,
                epochs=epoch, proxy_accuracy=accuracy,
                reward=reward(accuracy, budgeted, settings.budget.value, settings.reward_exponent),
                duration_s=time.perf_counter() - start, finished_at=time.time())
            return report(progress)

        # Replicate 0 is the same seed for every candidate: common random numbers.
        result = train_and_evaluate(spec, self.data, settings.train, seed=replicate_seed(self.run_seed, 0),
                                    report=epoch_report if report else None)
        record.epochs = result.epochs
        record.seed_accuracies = [result.accuracy]
        for replicate in range(1, 1 if result.pruned else settings.seeds):
            if not self._in_the_race(record):
                break
            again = train_and_evaluate(spec, self.data, settings.train, seed=replicate_seed(self.run_seed, replicate))
            record.seed_accuracies.append(again.accuracy)
        record.proxy_accuracy = sum(record.seed_accuracies) / len(record.seed_accuracies)
        record.reward = reward(record.proxy_accuracy, budgeted, settings.budget.value, settings.reward_exponent)
        record.state = TrialState.PRUNED if result.pruned else TrialState.COMPLETE


__all__ = ["Evaluator", "SCORES", "SearchSettings", "seed_scores"]
