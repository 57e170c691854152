"""The progress bar's ETA: the average rate since the start, so uneven trials (a long first
one, short pruned ones) do not swing it."""

import io
import re

from hypothesis import given
from hypothesis import strategies as st

from infra.progress import progress_bar


def seconds(clock_text: str) -> int:
    """'1:02:03' or '02:03' in seconds."""
    value = 0
    for part in clock_text.split(":"):
        value = 60 * value + int(part)
    return value


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@given(st.lists(st.floats(0.5, 500.0), min_size=1, max_size=15), st.integers(0, 20))
def test_eta_is_the_remaining_count_times_the_average_duration(durations, more):
    total = len(durations) + more
    bar = progress_bar(total, "trials", "trial")
    bar.fp = io.StringIO()
    clock = Clock()
    bar._time = clock
    bar.start_t = bar.last_print_t = clock.now
    for duration in durations:
        clock.now += duration
        bar.update(1)
    average = sum(durations) / len(durations)
    shown = re.search(r"<([0-9:]+)", str(bar)).group(1)  # the ETA as the user reads it
    assert abs(seconds(shown) - (total - len(durations)) * average) <= 1.0
    bar.close()
