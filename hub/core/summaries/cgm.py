"""Continuous glucose monitoring: the consensus metrics of a window of CGM readings.

Definitions, thresholds and citations: docs/summaries.md. In short (Battelino et al., Diabetes
Care 2019;42:1593-1603; Danne et al., Diabetes Care 2017;40:1631-1640; Bergenstal et al.,
Diabetes Care 2018;41:2275-2280):

* mean, SD (sample, n - 1) and CV = SD / mean x 100 are statistics of the readings;
* GMI (%) = 3.31 + 0.02392 x mean (mg/dL);
* the times in ranges are **time-weighted**: a reading stands for the time until the next
  one when that is at most ``max_gap_ms`` (15 min); before a longer gap (missing data) and at
  the end it stands for ``nominal_interval_ms`` (5 min); percentages are of the covered time;
* CGM active time = covered time / window length; data are sufficient with a window of at
  least 14 days (on the patient's calendar) and at least 70 % active time;
* hypoglycaemia events per level: start after >= 15 consecutive minutes below the threshold,
  end after >= 15 consecutive minutes at or above it; a level-2 event also counts as a level-1
  event (``hypo_events_level1``), ``hypo_events_level1_only`` counts the others.

The caller removes readings flagged ``time-unknown`` (or passes ``mask``); readings outside
``[start_ms, end_ms)`` are ignored. Pure: no clock, no IO.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

import numpy as np
import numpy.typing as npt

from hub.core.summaries._series import BoolArray, FloatArray, coverage, prepare
from hub.core.summaries._time import (
    MS_PER_MINUTE,
    PARIS,
    Int64Array,
    rfc3339_utc,
    wall_clock_days,
)

CGM_ALGORITHM_VERSION = "cgm-1.0"

MAX_GAP_MS = 15 * MS_PER_MINUTE
NOMINAL_INTERVAL_MS = 5 * MS_PER_MINUTE
EVENT_MIN_MS = 15 * MS_PER_MINUTE
MIN_WINDOW_DAYS = 14.0
MIN_ACTIVE_PERCENT = 70.0

LOW = 70.0  # mg/dL: below is level-1 hypoglycaemia and below (TBR < 70)
VERY_LOW = 54.0  # level 2 (TBR < 54)
HIGH = 180.0  # above is TAR > 180
VERY_HIGH = 250.0  # TAR > 250
TIGHT_HIGH = 140.0  # time in tight range 70-140


@dataclass(frozen=True, slots=True)
class HypoEvent:
    """One CGM hypoglycaemia event.

    ``start_ms`` is the first reading below the threshold; ``end_ms`` the end of the time
    covered by the event's last reading below it. ``ended`` is True when 15 minutes at or
    above the threshold closed the event, False when the data stopped first (a gap longer
    than the maximum, or the window's end).
    """

    level: int
    start_ms: int
    end_ms: int
    nadir_mg_dl: float
    ended: bool

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    def to_json(self) -> dict[str, object]:
        return {
            "level": self.level,
            "start": rfc3339_utc(self.start_ms),
            "end": rfc3339_utc(self.end_ms),
            "duration_min": self.duration_ms / MS_PER_MINUTE,
            "nadir_mg_dl": self.nadir_mg_dl,
            "ended": self.ended,
        }


@dataclass(frozen=True, slots=True)
class CgmSummary:
    """The consensus CGM metrics of one window. Metrics are None when there is no reading
    (SD and CV also with a single reading); never NaN."""

    algorithm_version: str
    start_ms: int
    end_ms: int
    readings: int
    window_days: float  # on the patient's calendar
    covered_ms: int
    active_percent: float
    window_sufficient: bool  # window_days >= 14
    active_sufficient: bool  # active_percent >= 70
    sufficient: bool
    mean_mg_dl: float | None
    sd_mg_dl: float | None
    cv_percent: float | None
    gmi_percent: float | None
    tir_70_180_percent: float | None
    titr_70_140_percent: float | None
    tbr_below_70_percent: float | None  # includes < 54
    tbr_below_54_percent: float | None
    tar_above_180_percent: float | None  # includes > 250
    tar_above_250_percent: float | None
    hypo_events_level1: int | None  # every event < 70, level-2 events included
    hypo_events_level2: int | None
    hypo_events_level1_only: int | None  # level-1 events that reached no level-2 event
    hypo_events: tuple[HypoEvent, ...]
    max_gap_ms: int
    nominal_interval_ms: int

    @property
    def cv_stable(self) -> bool | None:
        """CV <= 36 % (Monnier et al. 2017; Battelino et al. 2019), None without a CV."""
        return None if self.cv_percent is None else self.cv_percent <= 36.0

    def to_json(self) -> dict[str, object]:
        return {
            "algorithm_version": self.algorithm_version,
            "from": rfc3339_utc(self.start_ms),
            "to": rfc3339_utc(self.end_ms),
            "readings": self.readings,
            "window_days": self.window_days,
            "sufficient": self.sufficient,
            "window_sufficient": self.window_sufficient,
            "active_sufficient": self.active_sufficient,
            "active_percent": self.active_percent,
            "mean_mg_dl": self.mean_mg_dl,
            "sd_mg_dl": self.sd_mg_dl,
            "cv_percent": self.cv_percent,
            "gmi_percent": self.gmi_percent,
            "tir_70_180_percent": self.tir_70_180_percent,
            "titr_70_140_percent": self.titr_70_140_percent,
            "tbr_below_70_percent": self.tbr_below_70_percent,
            "tbr_below_54_percent": self.tbr_below_54_percent,
            "tar_above_180_percent": self.tar_above_180_percent,
            "tar_above_250_percent": self.tar_above_250_percent,
            "hypo_events_level1": self.hypo_events_level1,
            "hypo_events_level2": self.hypo_events_level2,
            "hypo_events_level1_only": self.hypo_events_level1_only,
            "hypo_events": [event.to_json() for event in self.hypo_events],
        }


def gmi_percent(mean_mg_dl: float) -> float:
    """Glucose management indicator (Bergenstal et al. 2018): 3.31 + 0.02392 x mean mg/dL."""
    return 3.31 + 0.02392 * mean_mg_dl


def hypo_events(
    times_ms: Int64Array,
    values: FloatArray,
    weights_ms: Int64Array,
    segment_starts: BoolArray,
    *,
    below: float,
    level: int,
    min_ms: int = EVENT_MIN_MS,
) -> tuple[HypoEvent, ...]:
    """Events below ``below`` in sorted readings with their coverage (see :func:`coverage`).

    Readings form runs (consecutive readings on the same side of the threshold within one
    segment); a run's duration is the time its readings cover. An event starts with a run
    below lasting >= ``min_ms`` when no event is in progress; it ends with a run at or above
    lasting >= ``min_ms``, or where the segment ends (a gap longer than the maximum breaks
    every "consecutive": runs never span it). Vectorised over runs, not readings.
    """
    n = times_ms.size
    if n == 0:
        return ()
    low = values < below
    new_run = np.empty(n, dtype=np.bool_)
    new_run[0] = True
    new_run[1:] = (low[1:] != low[:-1]) | segment_starts[1:]
    starts = np.flatnonzero(new_run)
    ends = np.append(starts[1:], n)  # exclusive reading index of each run
    run_low = low[starts]
    run_ms = np.add.reduceat(weights_ms, starts)
    run_segment = np.cumsum(segment_starts)[starts]
    qualifies = run_low & (run_ms >= min_ms)
    closes = ~run_low & (run_ms >= min_ms)
    closes_so_far = np.cumsum(closes)
    candidates = np.flatnonzero(qualifies)
    if candidates.size == 0:
        return ()
    fresh = np.ones(candidates.size, dtype=np.bool_)
    fresh[1:] = (run_segment[candidates[1:]] != run_segment[candidates[:-1]]) | (
        closes_so_far[candidates[1:]] > closes_so_far[candidates[:-1]]
    )
    first_runs = candidates[fresh]
    # Where each event stops: the next closing run in its segment, else the segment's end.
    closing = np.append(np.flatnonzero(closes), starts.size)  # sentinel: past the last run
    segment_end_run = np.searchsorted(run_segment, run_segment[first_runs], side="right")
    close_run = closing[np.searchsorted(closing, first_runs, side="left")]
    ended = close_run < segment_end_run
    stop_run = np.where(ended, close_run, segment_end_run)  # exclusive run index
    # Runs alternate low / not low inside a segment: the event's last low run is just before
    # the stop, or two before when the segment ends with a short run at or above.
    last_low_run = np.where(run_low[stop_run - 1], stop_run - 1, stop_run - 2)
    result = []
    for first, last, closed in zip(first_runs, last_low_run, ended, strict=True):
        first_reading, stop_reading = int(starts[first]), int(ends[last])
        start_ms = int(times_ms[first_reading])
        end_ms = int(times_ms[int(starts[last])] + run_ms[last])
        nadir = float(values[first_reading:stop_reading].min())
        result.append(HypoEvent(level, start_ms, end_ms, nadir, bool(closed)))
    return tuple(result)


def cgm_summary(
    times_ms: npt.ArrayLike,
    values_mg_dl: npt.ArrayLike,
    start_ms: int,
    end_ms: int,
    tz: tzinfo = PARIS,
    *,
    mask: npt.ArrayLike | None = None,
    max_gap_ms: int = MAX_GAP_MS,
    nominal_interval_ms: int = NOMINAL_INTERVAL_MS,
) -> CgmSummary:
    """The consensus CGM metrics of the readings in ``[start_ms, end_ms)``.

    ``times_ms``: UTC epoch milliseconds (int64); ``values_mg_dl``: glucose in mg/dL. The
    caller has removed readings flagged ``time-unknown`` (or marks the usable ones in
    ``mask``). ``tz`` is the patient's zone: it decides how many calendar days the window
    spans (the 14-day sufficiency rule). Readings need not be sorted.
    """
    series = prepare(times_ms, [values_mg_dl], start_ms, end_ms, mask)
    times = series.times_ms
    values = series.columns[0]
    n = series.size
    window_days = wall_clock_days(int(start_ms), int(end_ms), tz)
    weights, segment_starts = coverage(times, int(end_ms), max_gap_ms, nominal_interval_ms)
    covered = int(weights.sum())
    active = 100.0 * covered / (int(end_ms) - int(start_ms))
    window_ok = window_days >= MIN_WINDOW_DAYS
    active_ok = active >= MIN_ACTIVE_PERCENT

    def share(inside: BoolArray) -> float | None:
        return 100.0 * int(weights[inside].sum()) / covered if n else None

    mean = float(values.mean()) if n else None
    sd = float(values.std(ddof=1)) if n > 1 else None
    level1 = hypo_events(times, values, weights, segment_starts, below=LOW, level=1)
    level2 = hypo_events(times, values, weights, segment_starts, below=VERY_LOW, level=2)
    level2_starts = np.array([e.start_ms for e in level2], dtype=np.int64)
    level1_only = sum(
        1 for e in level1 if not np.any((level2_starts >= e.start_ms) & (level2_starts < e.end_ms))
    )
    return CgmSummary(
        algorithm_version=CGM_ALGORITHM_VERSION,
        start_ms=int(start_ms),
        end_ms=int(end_ms),
        readings=n,
        window_days=window_days,
        covered_ms=covered,
        active_percent=active,
        window_sufficient=window_ok,
        active_sufficient=active_ok,
        sufficient=window_ok and active_ok,
        mean_mg_dl=mean,
        sd_mg_dl=sd,
        cv_percent=None if sd is None or mean is None else 100.0 * sd / mean,
        gmi_percent=None if mean is None else gmi_percent(mean),
        tir_70_180_percent=share((values >= LOW) & (values <= HIGH)),
        titr_70_140_percent=share((values >= LOW) & (values <= TIGHT_HIGH)),
        tbr_below_70_percent=share(values < LOW),
        tbr_below_54_percent=share(values < VERY_LOW),
        tar_above_180_percent=share(values > HIGH),
        tar_above_250_percent=share(values > VERY_HIGH),
        hypo_events_level1=len(level1) if n else None,
        hypo_events_level2=len(level2) if n else None,
        hypo_events_level1_only=level1_only if n else None,
        hypo_events=tuple(sorted(level1 + level2, key=lambda e: (e.start_ms, e.level))),
        max_gap_ms=int(max_gap_ms),
        nominal_interval_ms=int(nominal_interval_ms),
    )


__all__ = [
    "CGM_ALGORITHM_VERSION",
    "CgmSummary",
    "HypoEvent",
    "cgm_summary",
    "gmi_percent",
    "hypo_events",
]
