"""Body weight: latest value, trend, and the heart-failure rapid-gain alert.

* **trend** (kg/week): the slope of the ordinary least-squares line through the readings of
  the window (weight against time), times 7 days; reported with at least two readings at
  different times, called sufficient with readings on >= 4 local days spanning >= 7 days;
* **rapid gain**: a gain of >= 2 kg within 3 days, the warning sign heart-failure patients
  are taught to act on (McDonagh et al., 2021 ESC Guidelines for heart failure, Eur Heart J
  2021;42:3599-3726, self-care: "sudden unexpected weight gain > 2 kg in 3 days"; HAS,
  "Guide du parcours de soins - Insuffisance cardiaque", 2014). A reading triggers when it
  is >= ``gain_kg`` above the lowest earlier reading of its own local day or of the
  ``gain_days`` local days before (calendar days, so a morning weighing three mornings later
  counts whatever the minutes); each trigger is reported with the reading it is measured
  from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

import numpy as np
import numpy.typing as npt

from hub.core.summaries._series import prepare
from hub.core.summaries._time import MS_PER_DAY, PARIS, local_days, rfc3339_utc

WEIGHT_ALGORITHM_VERSION = "weight-1.0"
GAIN_KG = 2.0
GAIN_DAYS = 3
_TOLERANCE_KG = 1e-9  # 74.3 - 72.3 is 1.9999999999999 in binary floating point


@dataclass(frozen=True, slots=True)
class WeightGain:
    baseline_ms: int
    baseline_kg: float
    reading_ms: int
    reading_kg: float

    @property
    def gain_kg(self) -> float:
        return self.reading_kg - self.baseline_kg

    def to_json(self) -> dict[str, object]:
        return {
            "baseline_time": rfc3339_utc(self.baseline_ms),
            "baseline_kg": self.baseline_kg,
            "time": rfc3339_utc(self.reading_ms),
            "kg": self.reading_kg,
            "gain_kg": self.gain_kg,
        }


@dataclass(frozen=True, slots=True)
class WeightSummary:
    algorithm_version: str
    start_ms: int
    end_ms: int
    readings: int
    days_with_readings: int
    latest_kg: float | None
    latest_ms: int | None
    trend_kg_per_week: float | None
    trend_sufficient: bool
    gain_threshold_kg: float
    gain_window_days: int
    rapid_gains: tuple[WeightGain, ...]

    @property
    def rapid_gain(self) -> bool:
        return bool(self.rapid_gains)

    def to_json(self) -> dict[str, object]:
        return {
            "algorithm_version": self.algorithm_version,
            "from": rfc3339_utc(self.start_ms),
            "to": rfc3339_utc(self.end_ms),
            "readings": self.readings,
            "days_with_readings": self.days_with_readings,
            "latest_kg": self.latest_kg,
            "latest_time": None if self.latest_ms is None else rfc3339_utc(self.latest_ms),
            "trend_kg_per_week": self.trend_kg_per_week,
            "trend_sufficient": self.trend_sufficient,
            "rapid_gain": self.rapid_gain,
            "gain_threshold_kg": self.gain_threshold_kg,
            "gain_window_days": self.gain_window_days,
            "rapid_gains": [g.to_json() for g in self.rapid_gains],
        }


def least_squares_slope(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> float | None:
    """Slope of the least-squares line y = a + b x, or None when x does not vary."""
    if x.size < 2:
        return None
    dx = x - x.mean()
    denominator = float(np.dot(dx, dx))
    if denominator == 0.0:
        return None
    return float(np.dot(dx, y - y.mean())) / denominator


def weight_summary(
    times_ms: npt.ArrayLike,
    values_kg: npt.ArrayLike,
    start_ms: int,
    end_ms: int,
    tz: tzinfo = PARIS,
    *,
    mask: npt.ArrayLike | None = None,
    gain_kg: float = GAIN_KG,
    gain_days: int = GAIN_DAYS,
) -> WeightSummary:
    """Weighings in ``[start_ms, end_ms)``: latest, trend, rapid gains.

    The caller has removed readings flagged ``time-unknown`` (or passes ``mask``). Days are
    the patient's local calendar days in ``tz``.
    """
    series = prepare(times_ms, [values_kg], start_ms, end_ms, mask)
    times, kg = series.times_ms, series.columns[0]
    n = series.size
    days = local_days(times, tz)
    distinct_days = int(np.unique(days).size)
    slope = least_squares_slope((times - times[0]) / MS_PER_DAY, kg) if n else None
    span_days = (int(times[-1]) - int(times[0])) / MS_PER_DAY if n else 0.0
    gains = []
    first_candidate = np.searchsorted(days, days - gain_days, side="left")
    for j in range(n):  # a handful of weighings a week: no need to vectorise
        earlier = np.flatnonzero(times[first_candidate[j] : j] < times[j]) + first_candidate[j]
        if earlier.size == 0:
            continue
        base = int(earlier[np.argmin(kg[earlier])])
        if kg[j] - kg[base] >= gain_kg - _TOLERANCE_KG:
            gains.append(WeightGain(int(times[base]), float(kg[base]), int(times[j]), float(kg[j])))
    return WeightSummary(
        algorithm_version=WEIGHT_ALGORITHM_VERSION,
        start_ms=int(start_ms),
        end_ms=int(end_ms),
        readings=n,
        days_with_readings=distinct_days,
        latest_kg=float(kg[-1]) if n else None,
        latest_ms=int(times[-1]) if n else None,
        trend_kg_per_week=None if slope is None else 7.0 * slope,
        trend_sufficient=slope is not None and distinct_days >= 4 and span_days >= 7.0,
        gain_threshold_kg=float(gain_kg),
        gain_window_days=int(gain_days),
        rapid_gains=tuple(gains),
    )
