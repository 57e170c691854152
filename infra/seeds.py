"""Every random stream of a run, derived from its one run seed (``--seed``).

The run seed has one owner, the run's data options (:class:`runners.data.DataOptions`
``seed``: every command has them, every worker process rebuilds them); everything random in
a run is derived from it here, and nowhere else:

* the validation split drawn from the training data (:func:`split_seed`);
* the training of measurement ``replicate`` of a candidate (:func:`replicate_seed`): its
  initial weights, data order and augmentation stream; the candidate never enters, so all
  candidates measured at one replicate share them (common random numbers: their
  differences are paired, not confounded with seed luck);
* the training of a search finalist at the promotion rung, replicate ``j``
  (:func:`rung_seed`): replicates the screening never used, so the rung's scores are not
  the ones the finalists were selected on;
* the sampler's stream of one search process (:func:`sampler_seed`): a resumed run or a
  second worker must not replay the first one's draws;
* the bootstrap of a fit (:func:`bootstrap_seed`).

>>> replicate_seed(0, 0) != replicate_seed(0, 1) != replicate_seed(1, 0)
True
"""

from __future__ import annotations

_RUN = 1_000_003  # primes: distinct (run, replicate) and (run, stream) pairs never collide in practice
_REPLICATE = 7919
_OFFSET = 7
_SAMPLER_SPACE = 2**32  # numpy's and Optuna's seeds are 32-bit


def split_seed(run_seed: int) -> int:
    """The seed of the validation split: the run seed itself, so one ``--seed`` gives one split
    in every command and backend (a search and the evaluation of its winner score the same
    validation images)."""
    return run_seed


def replicate_seed(run_seed: int, replicate: int) -> int:
    """The training seed of measurement ``replicate`` (0, 1, ...) in a run seeded ``run_seed``."""
    return _RUN * run_seed + _REPLICATE * replicate + _OFFSET


RUNG_FIRST_REPLICATE = 1000  # above any --seeds the screening may use (runners.flags.MAX_SEEDS)


def rung_seed(run_seed: int, replicate: int) -> int:
    """The training seed of a finalist's replicate ``replicate`` at the search's promotion rung."""
    return replicate_seed(run_seed, RUNG_FIRST_REPLICATE + replicate)


def sampler_seed(run_seed: int, stream: int) -> int:
    """The seed of a search sampler's random stream ``stream`` (0 for the first process)."""
    return (run_seed + _RUN * stream) % _SAMPLER_SPACE


def bootstrap_seed(run_seed: int) -> int:
    """The seed of a fit's bootstrap resampling (the run seed: a rerun gives the same intervals)."""
    return run_seed


__all__ = ["RUNG_FIRST_REPLICATE", "bootstrap_seed", "replicate_seed", "rung_seed", "sampler_seed", "split_seed"]
