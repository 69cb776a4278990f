"""Ambulatory glucose profile: glucose percentiles over a modal day, on the patient's clock.

Every reading of the window is placed on one 24-hour day by its **local wall-clock** time of
day in the patient's zone (so 07:30 is 07:30 in winter and in summer; on the night the clocks
go back, both 02:30s fall in the 02:30 bin; on the night they go forward, the 02:00-03:00
bins get nothing that day). Each bin of ``bin_minutes`` (15 by default: 96 bins) gets the
5th, 25th, 50th, 75th and 95th percentiles of its readings (linear interpolation between
order statistics, numpy's default, "type 7"). The AGP report draws these curves smoothed
(Bergenstal et al., Diabetes Technol Ther 2013;15:198-211); smoothing is left to the
drawing. Pure numpy, no loop over readings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

import numpy as np
import numpy.typing as npt

from hub.core.summaries._series import optional_float, prepare
from hub.core.summaries._time import PARIS, local_days, local_minute_of_day, rfc3339_utc

AGP_ALGORITHM_VERSION = "agp-1.0"
PERCENTILES = (5, 25, 50, 75, 95)
MINUTES_PER_DAY = 1440


@dataclass(frozen=True, slots=True)
class AgpBin:
    """One time-of-day bin: ``[start_minute, start_minute + bin_minutes)`` local time."""

    start_minute: int
    readings: int
    p5: float | None
    p25: float | None
    p50: float | None
    p75: float | None
    p95: float | None

    @property
    def label(self) -> str:
        return f"{self.start_minute // 60:02d}:{self.start_minute % 60:02d}"

    def to_json(self) -> dict[str, object]:
        return {
            "time": self.label,
            "readings": self.readings,
            "p5": self.p5,
            "p25": self.p25,
            "p50": self.p50,
            "p75": self.p75,
            "p95": self.p95,
        }


@dataclass(frozen=True, slots=True)
class AgpProfile:
    algorithm_version: str
    start_ms: int
    end_ms: int
    readings: int
    days_with_readings: int  # local calendar days holding at least one reading
    bin_minutes: int
    bins: tuple[AgpBin, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "algorithm_version": self.algorithm_version,
            "from": rfc3339_utc(self.start_ms),
            "to": rfc3339_utc(self.end_ms),
            "readings": self.readings,
            "days_with_readings": self.days_with_readings,
            "bin_minutes": self.bin_minutes,
            "bins": [b.to_json() for b in self.bins],
        }


def binned_percentiles(
    bin_index: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    bins: int,
    percentiles: tuple[float, ...] = PERCENTILES,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Counts per bin and a (bins x percentiles) array of linear-interpolation percentiles
    (NaN for an empty bin), with one sort for all bins."""
    counts = np.bincount(bin_index, minlength=bins).astype(np.int64)
    result = np.full((bins, len(percentiles)), np.nan)
    if values.size == 0:
        return counts, result
    order = np.lexsort((values, bin_index))
    ordered = values[order]
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))
    filled = counts > 0
    for column, percentile in enumerate(percentiles):
        position = (counts[filled] - 1) * (percentile / 100.0)
        below = np.floor(position).astype(np.int64)
        above = np.minimum(below + 1, counts[filled] - 1)
        fraction = position - below
        lo = ordered[first[filled] + below]
        hi = ordered[first[filled] + above]
        result[filled, column] = lo + (hi - lo) * fraction
    return counts, result


def ambulatory_glucose_profile(
    times_ms: npt.ArrayLike,
    values_mg_dl: npt.ArrayLike,
    start_ms: int,
    end_ms: int,
    tz: tzinfo = PARIS,
    *,
    mask: npt.ArrayLike | None = None,
    bin_minutes: int = 15,
) -> AgpProfile:
    """The AGP percentile curves of the CGM readings in ``[start_ms, end_ms)``.

    The caller has removed readings flagged ``time-unknown`` (or passes ``mask``).
    ``bin_minutes`` must divide 1440 (15: the default, 96 bins; 60: hourly).
    """
    if bin_minutes <= 0 or MINUTES_PER_DAY % bin_minutes:
        raise ValueError(f"bin_minutes must divide 1440, not {bin_minutes}")
    series = prepare(times_ms, [values_mg_dl], start_ms, end_ms, mask)
    bins = MINUTES_PER_DAY // bin_minutes
    index = np.floor_divide(local_minute_of_day(series.times_ms, tz), bin_minutes)
    counts, table = binned_percentiles(index, series.columns[0], bins)
    days = int(np.unique(local_days(series.times_ms, tz)).size)
    return AgpProfile(
        algorithm_version=AGP_ALGORITHM_VERSION,
        start_ms=int(start_ms),
        end_ms=int(end_ms),
        readings=series.size,
        days_with_readings=days,
        bin_minutes=bin_minutes,
        bins=tuple(
            AgpBin(
                k * bin_minutes,
                int(counts[k]),
                *(optional_float(v) for v in table[k]),
            )
            for k in range(bins)
        ),
    )
