"""A deliberately different, plain-Python CGM computation, used to check hub.core.summaries.

The hub's code is reading-centric and vectorised (each reading's weight, runs of readings).
This one is minute-centric and naive: it walks the window minute by minute, asks which
reading covers that minute (the last reading at or before it, if the next one comes within
15 minutes, else for 5 minutes), counts minutes per range, and runs the event state machine
one minute at a time. Exact when readings, window and intervals fall on whole minutes.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

MINUTE = 60_000


@dataclass(frozen=True)
class Reference:
    covered_min: int
    tir: float
    titr: float
    tbr70: float
    tbr54: float
    tar180: float
    tar250: float
    mean: float
    sd: float | None
    level1: int
    level2: int
    level1_only: int


def covering_values(
    times_ms: Sequence[int],
    values: Sequence[float],
    start_ms: int,
    end_ms: int,
    max_gap_min: int = 15,
    nominal_min: int = 5,
) -> list[float | None]:
    """For each minute of the window, the value of the reading covering it (None: no data)."""
    pairs = sorted((t, v) for t, v in zip(times_ms, values, strict=True) if start_ms <= t < end_ms)
    times = [t for t, _ in pairs]
    out: list[float | None] = []
    for minute in range(start_ms, end_ms, MINUTE):
        k = bisect.bisect_right(times, minute) - 1
        if k < 0:
            out.append(None)
            continue
        t, v = pairs[k]
        following = times[k + 1] if k + 1 < len(times) else None
        if following is not None and following - t <= max_gap_min * MINUTE:
            covered = minute < following
        else:
            covered = minute < t + nominal_min * MINUTE
        out.append(v if covered else None)
    return out


def count_events(grid: Sequence[float | None], below: float, minutes: int = 15) -> list[bool]:
    """One entry per event: whether it ever went below 54 mg/dL for 15 minutes (level 2)."""
    events: list[bool] = []
    low_streak = high_streak = very_low_streak = 0
    in_event = False
    for value in grid:
        if value is None:  # no data: every streak and any event in progress end here
            low_streak = high_streak = very_low_streak = 0
            in_event = False
            continue
        if value < below:
            low_streak, high_streak = low_streak + 1, 0
        else:
            low_streak, high_streak = 0, high_streak + 1
        very_low_streak = very_low_streak + 1 if value < 54 else 0
        if not in_event and low_streak >= minutes:
            in_event = True
            events.append(False)
        if in_event and very_low_streak >= minutes:
            events[-1] = True
        if in_event and high_streak >= minutes:
            in_event = False
    return events


def reference(
    times_ms: Sequence[int], values: Sequence[float], start_ms: int, end_ms: int
) -> Reference:
    grid = covering_values(times_ms, values, start_ms, end_ms)
    covered = [v for v in grid if v is not None]
    n = len(covered)

    def pct(test: object) -> float:
        assert callable(test)
        return 100.0 * sum(1 for v in covered if test(v)) / n

    inside = [v for t, v in zip(times_ms, values, strict=True) if start_ms <= t < end_ms]
    level1 = count_events(grid, 70)
    level2 = count_events(grid, 54)
    return Reference(
        covered_min=n,
        tir=pct(lambda v: 70 <= v <= 180),
        titr=pct(lambda v: 70 <= v <= 140),
        tbr70=pct(lambda v: v < 70),
        tbr54=pct(lambda v: v < 54),
        tar180=pct(lambda v: v > 180),
        tar250=pct(lambda v: v > 250),
        mean=statistics.fmean(inside),
        sd=statistics.stdev(inside) if len(inside) > 1 else None,
        level1=len(level1),
        level2=len(level2),
        level1_only=sum(1 for reached_level2 in level1 if not reached_level2),
    )
