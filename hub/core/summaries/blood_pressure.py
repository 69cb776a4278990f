"""Home blood pressure monitoring: means overall, in the morning and in the evening.

Home protocol (ESH 2023 guidelines, Mancia et al., J Hypertens 2023;41:1874-2071; ESH
practice guidelines, Stergiou et al., J Hypertens 2021;39:1293-1302; HAS 2016, "Prise en
charge de l'hypertension artérielle de l'adulte"): duplicate readings in the morning (before
breakfast and drugs) and in the evening (before bed) on 3-7 consecutive days; the home
threshold for hypertension is a mean >= 135 systolic or >= 85 diastolic mm[Hg].

The guidelines name the sessions by the day's activities, not by the clock; here a reading is
a **morning** reading when its local wall-clock time is in ``[04:00, 12:00)`` and an
**evening** reading in ``[18:00, 24:00)`` (parameters). Means are means of readings. Data are
sufficient with readings on at least 3 local days and at least 12 readings (the minimum of
the ESH home protocol: 3 days x 2 sessions x 2 readings).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

import numpy as np
import numpy.typing as npt

from hub.core.summaries._series import BoolArray, FloatArray, optional_float, prepare
from hub.core.summaries._time import (
    PARIS,
    Int64Array,
    local_days,
    local_minute_of_day,
    rfc3339_utc,
)

HOME_BP_ALGORITHM_VERSION = "home-bp-1.0"
SYSTOLIC_THRESHOLD = 135.0
DIASTOLIC_THRESHOLD = 85.0
MORNING = (4 * 60, 12 * 60)  # local minutes of the day, [start, end)
EVENING = (18 * 60, 24 * 60)
MIN_DAYS = 3
MIN_READINGS = 12


@dataclass(frozen=True, slots=True)
class BloodPressureMeans:
    readings: int
    systolic_mm_hg: float | None
    diastolic_mm_hg: float | None

    def to_json(self) -> dict[str, object]:
        return {
            "readings": self.readings,
            "systolic_mm_hg": self.systolic_mm_hg,
            "diastolic_mm_hg": self.diastolic_mm_hg,
        }


@dataclass(frozen=True, slots=True)
class BloodPressureSummary:
    algorithm_version: str
    start_ms: int
    end_ms: int
    readings: int
    days_with_readings: int
    sufficient: bool  # >= 3 days with readings and >= 12 readings
    overall: BloodPressureMeans
    morning: BloodPressureMeans
    evening: BloodPressureMeans
    above_threshold_percent: float | None  # readings with sys >= 135 or dia >= 85
    hypertensive: bool | None  # mean sys >= 135 or mean dia >= 85 (None without readings)
    pulse_readings: int
    mean_pulse_per_min: float | None
    systolic_threshold: float
    diastolic_threshold: float

    def to_json(self) -> dict[str, object]:
        return {
            "algorithm_version": self.algorithm_version,
            "from": rfc3339_utc(self.start_ms),
            "to": rfc3339_utc(self.end_ms),
            "readings": self.readings,
            "days_with_readings": self.days_with_readings,
            "sufficient": self.sufficient,
            "mean_systolic_mm_hg": self.overall.systolic_mm_hg,
            "mean_diastolic_mm_hg": self.overall.diastolic_mm_hg,
            "morning": self.morning.to_json(),
            "evening": self.evening.to_json(),
            "above_threshold_percent": self.above_threshold_percent,
            "hypertensive": self.hypertensive,
            "pulse_readings": self.pulse_readings,
            "mean_pulse_per_min": self.mean_pulse_per_min,
            "systolic_threshold_mm_hg": self.systolic_threshold,
            "diastolic_threshold_mm_hg": self.diastolic_threshold,
        }


def pair_blood_pressure(
    systolic_times_ms: npt.ArrayLike,
    systolic: npt.ArrayLike,
    diastolic_times_ms: npt.ArrayLike,
    diastolic: npt.ArrayLike,
    pulse_times_ms: npt.ArrayLike | None = None,
    pulse: npt.ArrayLike | None = None,
) -> tuple[Int64Array, FloatArray, FloatArray, FloatArray]:
    """Join the systolic, diastolic and pulse series of one cuff on their exact time (ms).

    A systolic reading without a diastolic one at the same millisecond (or the reverse) is
    left out; a missing pulse is NaN. Returns (times, systolic, diastolic, pulse), sorted.
    """
    st = np.asarray(systolic_times_ms, dtype=np.int64)
    dt = np.asarray(diastolic_times_ms, dtype=np.int64)
    times, si, di = np.intersect1d(st, dt, return_indices=True)
    sys_values = np.asarray(systolic, dtype=np.float64)[si]
    dia_values = np.asarray(diastolic, dtype=np.float64)[di]
    pulse_values = np.full(times.size, np.nan)
    if pulse_times_ms is not None and pulse is not None:
        pt = np.asarray(pulse_times_ms, dtype=np.int64)
        _, ti, pi = np.intersect1d(times, pt, return_indices=True)
        pulse_values[ti] = np.asarray(pulse, dtype=np.float64)[pi]
    return times.astype(np.int64), sys_values, dia_values, pulse_values


def _means(systolic: FloatArray, diastolic: FloatArray, inside: BoolArray) -> BloodPressureMeans:
    n = int(np.count_nonzero(inside))
    if n == 0:
        return BloodPressureMeans(0, None, None)
    return BloodPressureMeans(n, float(systolic[inside].mean()), float(diastolic[inside].mean()))


def _in_window(minutes: Int64Array, window: tuple[int, int]) -> BoolArray:
    start, end = window
    if start <= end:
        return (minutes >= start) & (minutes < end)
    return (minutes >= start) | (minutes < end)  # a window across midnight


def blood_pressure_summary(
    times_ms: npt.ArrayLike,
    systolic_mm_hg: npt.ArrayLike,
    diastolic_mm_hg: npt.ArrayLike,
    pulse_per_min: npt.ArrayLike | None,
    start_ms: int,
    end_ms: int,
    tz: tzinfo = PARIS,
    *,
    mask: npt.ArrayLike | None = None,
    morning: tuple[int, int] = MORNING,
    evening: tuple[int, int] = EVENING,
    systolic_threshold: float = SYSTOLIC_THRESHOLD,
    diastolic_threshold: float = DIASTOLIC_THRESHOLD,
) -> BloodPressureSummary:
    """Home BP readings in ``[start_ms, end_ms)`` (one row per reading: systolic, diastolic
    and pulse taken together; see :func:`pair_blood_pressure`; pulse may be None or hold NaN).

    The caller has removed readings flagged ``time-unknown`` (or passes ``mask``). Morning,
    evening and days are read on the patient's wall clock in ``tz``; ``morning`` and
    ``evening`` are [start, end) in local minutes of the day.
    """
    size = np.asarray(times_ms).size
    pulse = np.full(size, np.nan) if pulse_per_min is None else pulse_per_min
    series = prepare(
        times_ms,
        [systolic_mm_hg, diastolic_mm_hg, pulse],
        start_ms,
        end_ms,
        mask,
        finite=(True, True, False),
    )
    systolic, diastolic, pulses = series.columns
    n = series.size
    everything = np.ones(n, dtype=np.bool_)
    minutes = local_minute_of_day(series.times_ms, tz)
    days = int(np.unique(local_days(series.times_ms, tz)).size)
    overall = _means(systolic, diastolic, everything)
    above = (systolic >= systolic_threshold) | (diastolic >= diastolic_threshold)
    has_pulse = ~np.isnan(pulses)
    hypertensive = None
    if overall.systolic_mm_hg is not None and overall.diastolic_mm_hg is not None:
        hypertensive = (
            overall.systolic_mm_hg >= systolic_threshold
            or overall.diastolic_mm_hg >= diastolic_threshold
        )
    return BloodPressureSummary(
        algorithm_version=HOME_BP_ALGORITHM_VERSION,
        start_ms=int(start_ms),
        end_ms=int(end_ms),
        readings=n,
        days_with_readings=days,
        sufficient=days >= MIN_DAYS and n >= MIN_READINGS,
        overall=overall,
        morning=_means(systolic, diastolic, _in_window(minutes, morning)),
        evening=_means(systolic, diastolic, _in_window(minutes, evening)),
        above_threshold_percent=100.0 * int(np.count_nonzero(above)) / n if n else None,
        hypertensive=hypertensive,
        pulse_readings=int(np.count_nonzero(has_pulse)),
        mean_pulse_per_min=optional_float(pulses[has_pulse].mean()) if has_pulse.any() else None,
        systolic_threshold=float(systolic_threshold),
        diastolic_threshold=float(diastolic_threshold),
    )
