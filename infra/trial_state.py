"""How a trial or a network's evaluation ended: one vocabulary for the search's and the
scaling grid's logs, and for every reader of them."""

from __future__ import annotations

import enum


class TrialState(str, enum.Enum):
    """How a trial ended. The values are what ``trials.jsonl`` and ``results.csv`` hold."""

    COMPLETE = "COMPLETE"  # trained (or scored) to the end
    PRUNED = "PRUNED"  # stopped early by Hyperband or ASHA; its last report is kept
    FAIL = "FAIL"  # the candidate failed (an exception, a diverged loss): a result, not a crash
    REJECTED = "REJECTED"  # no width/depth multiplier brings it into the budget window; never trained
    INTERRUPTED = "INTERRUPTED"  # a killed search left it unfinished; its parameters run again

    def __str__(self) -> str:
        return self.value

    @property
    def trained(self) -> bool:
        return self in (TrialState.COMPLETE, TrialState.PRUNED)


__all__ = ["TrialState"]
