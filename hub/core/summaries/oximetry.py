"""Pulse oximetry (SpO2): mean, minimum, and the share of time below 90 %.

The share below the threshold is **time-weighted** like the CGM times in ranges: a reading
stands for the time until the next one when that is at most ``max_gap_ms`` (5 min by
default), else (and for the last reading) for ``nominal_interval_ms`` (1 min: an overnight
recording gives a value a minute; a spot check stands for one minute). It is the
oximetry "T90" / "CT90" (time with SpO2 < 90 %) as a percentage of the covered time. For
patients with COPD, nocturnal desaturation is commonly defined as >= 30 % of the recording
time below 90 % (Lacasse et al., INOX trial, N Engl J Med 2020;383:1129-1138), the default
alert threshold (docs/summaries.md). Mean and minimum are statistics of the readings.
Sufficient: at least ``min_covered_ms`` (4 hours) of covered time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hub.core.summaries._series import coverage, prepare
from hub.core.summaries._time import MS_PER_HOUR, MS_PER_MINUTE, rfc3339_utc

SPO2_ALGORITHM_VERSION = "spo2-1.0"
THRESHOLD_PERCENT = 90.0
MAX_GAP_MS = 5 * MS_PER_MINUTE
NOMINAL_INTERVAL_MS = MS_PER_MINUTE
MIN_COVERED_MS = 4 * MS_PER_HOUR


@dataclass(frozen=True, slots=True)
class Spo2Summary:
    algorithm_version: str
    start_ms: int
    end_ms: int
    readings: int
    covered_ms: int
    sufficient: bool  # covered_ms >= 4 h
    mean_percent: float | None
    min_percent: float | None
    min_ms: int | None
    below_threshold_ms: int
    below_threshold_percent: float | None  # of the covered time
    threshold_percent: float

    def to_json(self) -> dict[str, object]:
        return {
            "algorithm_version": self.algorithm_version,
            "from": rfc3339_utc(self.start_ms),
            "to": rfc3339_utc(self.end_ms),
            "readings": self.readings,
            "covered_min": self.covered_ms / MS_PER_MINUTE,
            "sufficient": self.sufficient,
            "mean_percent": self.mean_percent,
            "min_percent": self.min_percent,
            "min_time": None if self.min_ms is None else rfc3339_utc(self.min_ms),
            "below_threshold_min": self.below_threshold_ms / MS_PER_MINUTE,
            "below_threshold_percent": self.below_threshold_percent,
            "threshold_percent": self.threshold_percent,
        }


def spo2_summary(
    times_ms: npt.ArrayLike,
    values_percent: npt.ArrayLike,
    start_ms: int,
    end_ms: int,
    *,
    mask: npt.ArrayLike | None = None,
    threshold_percent: float = THRESHOLD_PERCENT,
    max_gap_ms: int = MAX_GAP_MS,
    nominal_interval_ms: int = NOMINAL_INTERVAL_MS,
    min_covered_ms: int = MIN_COVERED_MS,
) -> Spo2Summary:
    """SpO2 readings in ``[start_ms, end_ms)``. The caller has removed readings flagged
    ``time-unknown`` (an overnight value without a device time) or passes ``mask``."""
    series = prepare(times_ms, [values_percent], start_ms, end_ms, mask)
    times, spo2 = series.times_ms, series.columns[0]
    n = series.size
    weights, _ = coverage(times, int(end_ms), max_gap_ms, nominal_interval_ms)
    covered = int(weights.sum())
    below = int(weights[spo2 < threshold_percent].sum())
    lowest = int(np.argmin(spo2)) if n else None
    return Spo2Summary(
        algorithm_version=SPO2_ALGORITHM_VERSION,
        start_ms=int(start_ms),
        end_ms=int(end_ms),
        readings=n,
        covered_ms=covered,
        sufficient=covered >= min_covered_ms,
        mean_percent=float(spo2.mean()) if n else None,
        min_percent=None if lowest is None else float(spo2[lowest]),
        min_ms=None if lowest is None else int(times[lowest]),
        below_threshold_ms=below,
        below_threshold_percent=100.0 * below / covered if covered else None,
        threshold_percent=float(threshold_percent),
    )
