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

from runners.budget import REWARD_EXPONENT, Budget, project, reward
from runners.data import Splits
from runners.results import Objective, TrialRecord, TrialState
from runners.statistics import SeedNoise, could_beat
from runners.training import TrainConfig, replicate_seed, train_and_evaluate
from runners.zero_cost import SCORES, zero_cost_scores
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
    seed: int = 0
    seeds: int = 1  # seed replicates a contender may get (racing gives fewer to clear losers)

    def __post_init__(self) -> None:
        if not isinstance(self.budget, Budget):  # a plain number is a MAC budget
            object.__setattr__(self, "budget", Budget(int(self.budget)))

    @classmethod
    def from_config(cls, config: dict) -> "SearchSettings":
        """What a run directory's ``config.json`` says about scoring (for readers of the run)."""
        budget = (Budget(float(config["budget_latency"]), "latency", int(config.get("latency_threads", 1)))
                  if config.get("budget_latency") else Budget(int(config.get("budget_flops") or 1)))
        return cls(budget=budget, objective=Objective.from_config(config),
                   reward_exponent=float(config.get("reward_exponent", REWARD_EXPONENT)),
                   seed=int(config.get("seed", 0)), seeds=int(config.get("seeds", 1)))


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
    racing rule (:func:`runners.statistics.could_beat`): after each seed, a candidate that
    cannot reach the incumbent's score any more gets no further seeds. Without it (Ray
    workers that do not share the run directory) every candidate gets every seed.
    """

    def __init__(self, settings: SearchSettings, data: Splits,
                 history: Callable[[], list[TrialRecord]] | None = None):
        self.settings = settings
        self.data = data
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
        settings = self.settings
        start = time.perf_counter()
        proxy = settings.objective.proxy
        record = TrialRecord(number=number, state=TrialState.FAIL, params_sampled=dict(params), proxy=proxy)
        try:
            projection = project(sampled, settings.budget)
            record.original_macs = projection.original_macs
            record.projection = projection.action
            if not projection.accepted:
                record.state, record.failure_reason = TrialState.REJECTED, projection.action
                return record
            spec = projection.spec
            cost = count_cost(spec)
            record.spec, record.spec_dict = stages_summary(spec), spec_to_dict(spec)
            record.macs, record.params = cost.macs, cost.params
            if settings.budget.kind == "latency":
                record.latency_ms = projection.cost
            budgeted = projection.cost  # what the reward counts: MACs or predicted latency
            trial_seed = replicate_seed(settings.seed, 0)  # common random numbers across candidates
            if proxy == "zero-cost":
                scores = zero_cost_scores(spec, self.data, batches=settings.zero_cost_batches,
                                          seed=trial_seed, device=settings.train.device)
                record.zero_cost = scores
                score = scores[settings.zero_cost_score]
                if not math.isfinite(score):
                    raise ValueError(f"zero-cost score {settings.zero_cost_score} is {score}")
                # All candidates already sit in the budget window; the score ranks them.
                record.proxy_accuracy, record.reward = None, score
                record.state = TrialState.COMPLETE
            else:
                def epoch_report(epoch: int, accuracy: float) -> bool | None:
                    last = epoch == settings.train.epochs
                    progress = dataclasses.replace(
                        record, state=TrialState.COMPLETE if last else TrialState.PRUNED, epochs=epoch, proxy_accuracy=accuracy,
                        reward=reward(accuracy, budgeted, settings.budget.value, settings.reward_exponent),
                        duration_s=time.perf_counter() - start, finished_at=time.time())
                    return report(progress)

                result = train_and_evaluate(spec, self.data, settings.train, seed=trial_seed,
                                            report=epoch_report if report else None)
                record.epochs = result.epochs
                record.seed_accuracies = [result.accuracy]
                for replicate in range(1, 1 if result.pruned else settings.seeds):
                    if not self._in_the_race(record):
                        break
                    again = train_and_evaluate(spec, self.data, settings.train,
                                               seed=replicate_seed(settings.seed, replicate))
                    record.seed_accuracies.append(again.accuracy)
                record.proxy_accuracy = sum(record.seed_accuracies) / len(record.seed_accuracies)
                record.reward = reward(record.proxy_accuracy, budgeted, settings.budget.value, settings.reward_exponent)
                record.state = TrialState.PRUNED if result.pruned else TrialState.COMPLETE
        except KeyboardInterrupt:
            raise
        except Exception as error:  # a candidate's failure is a result, not a crash of the search
            record.state = TrialState.FAIL
            record.failure_reason = f"{type(error).__name__}: {error}".splitlines()[0][:500]
        finally:
            record.duration_s = time.perf_counter() - start
            record.finished_at = time.time()
        return record


__all__ = ["Evaluator", "SCORES", "SearchSettings", "seed_scores"]
