"""Percentile bootstrap intervals, at one level for the whole suite."""

from __future__ import annotations

import numpy as np

INTERVAL_LEVEL = 0.95  # every interval the suite reports (coefficients, laws, bands)


def percentile_interval(samples, estimate: float, level: float = INTERVAL_LEVEL) -> tuple[float, float]:
    """The central ``level`` of ``samples``, widened to include ``estimate`` (a skewed
    bootstrap distribution can otherwise leave the estimate just outside).

    >>> [round(bound, 6) for bound in percentile_interval(np.arange(101.0), 50.0)]
    [2.5, 97.5]
    """
    low, high = np.quantile(np.asarray(samples, dtype=float), [(1 - level) / 2, (1 + level) / 2])
    return float(min(low, estimate)), float(max(high, estimate))


__all__ = ["INTERVAL_LEVEL", "percentile_interval"]
