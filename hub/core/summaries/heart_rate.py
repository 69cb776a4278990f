"""Heart rate: resting, minimum, maximum, mean.

**Resting heart rate** is the lowest mean heart rate over ``window_ms`` (5 minutes) of
uninterrupted recording: the clinical resting rate is taken after 5 minutes of rest (ESH
2023; Stergiou et al., J Hypertens 2021;39:1293-1302), and the quietest 5 minutes of a
recording are the closest a home recording gets to that. A window starts at a reading, holds
the readings of ``[t, t + 5 min)``, and counts only when the recording runs on to the end of
it without a gap longer than ``max_gap_ms`` (60 s). Without such a window (spot values
only) the resting rate is None and ``sufficient`` is False. Min, max and mean are
statistics of the readings. Vectorised (cumulative sums), no loop over readings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hub.core.summaries._series import prepare
from hub.core.summaries._time import MS_PER_MINUTE, MS_PER_SECOND, rfc3339_utc

HEART_RATE_ALGORITHM_VERSION = "heart-rate-1.0"
WINDOW_MS = 5 * MS_PER_MINUTE
MAX_GAP_MS = 60 * MS_PER_SECOND


@dataclass(frozen=True, slots=True)
class HeartRateSummary:
    algorithm_version: str
    start_ms: int
    end_ms: int
    readings: int
    sufficient: bool  # a resting window was found
    resting_per_min: float | None
    resting_window_start_ms: int | None
    min_per_min: float | None
    max_per_min: float | None
    mean_per_min: float | None
    window_ms: int

    def to_json(self) -> dict[str, object]:
        start = self.resting_window_start_ms
        return {
            "algorithm_version": self.algorithm_version,
            "from": rfc3339_utc(self.start_ms),
            "to": rfc3339_utc(self.end_ms),
            "readings": self.readings,
            "sufficient": self.sufficient,
            "resting_per_min": self.resting_per_min,
            "resting_window_start": None if start is None else rfc3339_utc(start),
            "min_per_min": self.min_per_min,
            "max_per_min": self.max_per_min,
            "mean_per_min": self.mean_per_min,
        }


def heart_rate_summary(
    times_ms: npt.ArrayLike,
    values_per_min: npt.ArrayLike,
    start_ms: int,
    end_ms: int,
    *,
    mask: npt.ArrayLike | None = None,
    window_ms: int = WINDOW_MS,
    max_gap_ms: int = MAX_GAP_MS,
) -> HeartRateSummary:
    """Heart-rate readings in ``[start_ms, end_ms)``. The caller has removed readings flagged
    ``time-unknown`` (or passes ``mask``)."""
    series = prepare(times_ms, [values_per_min], start_ms, end_ms, mask)
    times, bpm = series.times_ms, series.columns[0]
    n = series.size
    resting: float | None = None
    resting_start: int | None = None
    if n > 1:
        # window i holds readings i .. stop[i]-1; it is complete when a reading at or after
        # its end exists and no gap along the way exceeds max_gap_ms
        stop = np.searchsorted(times, times + window_ms, side="left")
        big_gaps = np.concatenate(([0], np.cumsum(np.diff(times) > max_gap_ms)))
        inside = np.minimum(stop, n - 1)
        complete = (stop < n) & (big_gaps[inside] == big_gaps)
        if complete.any():
            sums = np.concatenate(([0.0], np.cumsum(bpm)))
            means = (sums[stop[complete]] - sums[np.flatnonzero(complete)]) / (
                stop[complete] - np.flatnonzero(complete)
            )
            best = int(np.argmin(means))
            resting = float(means[best])
            resting_start = int(times[np.flatnonzero(complete)[best]])
    return HeartRateSummary(
        algorithm_version=HEART_RATE_ALGORITHM_VERSION,
        start_ms=int(start_ms),
        end_ms=int(end_ms),
        readings=n,
        sufficient=resting is not None,
        resting_per_min=resting,
        resting_window_start_ms=resting_start,
        min_per_min=float(bpm.min()) if n else None,
        max_per_min=float(bpm.max()) if n else None,
        mean_per_min=float(bpm.mean()) if n else None,
        window_ms=int(window_ms),
    )
