"""The one wall-clock timer of the benchmarks: the median of repeated calls (the median, not
the mean: a busy moment of the machine lengthens one sample and moves the mean, not the median)."""

from __future__ import annotations

import statistics
import time


def median_seconds(function, repeats: int, inner: int = 1) -> float:
    """Median over ``repeats`` samples of the seconds one call of ``function`` takes, each
    sample the mean of ``inner`` calls in a row (for calls too short to time one by one)."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            function()
        samples.append((time.perf_counter() - start) / inner)
    return statistics.median(samples)
