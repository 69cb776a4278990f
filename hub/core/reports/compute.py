"""Compute a report's content from the patient's readings (pure: arrays in, content out).

The period is whole local days of the patient's zone. CGM metrics and the AGP need 14 days
to be read as the consensus intends (docs/summaries.md), so they cover the 14 days ending
with the period when the period is shorter (a weekly report), the period itself otherwise;
every other summary, the trends and the alerts cover the period.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from hub.core.periods import CalendarPeriod, local_midnight_ms
from hub.core.reports.content import DailyTrend, DeviceUse, Program, ReportContent
from hub.core.summaries import (
    ambulatory_glucose_profile,
    blood_pressure_summary,
    cgm_summary,
    evaluate_alerts,
    heart_rate_summary,
    pair_blood_pressure,
    silent_device_alerts,
    spo2_summary,
    spot_glucose_summary,
    temperature_summary,
    weight_summary,
)
from hub.core.summaries.alerts import ALERTS_ALGORITHM_VERSION

CGM_WINDOW_DAYS = 14
# Metrics drawn day by day in the report, in this order.
TREND_METRICS = (
    "glucose_isf",
    "glucose",
    "systolic_bp",
    "diastolic_bp",
    "weight",
    "spo2",
    "heart_rate",
    "body_temperature",
)


@dataclass(frozen=True, slots=True)
class MetricSeries:
    times_ms: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]

    @classmethod
    def of(cls, times_ms: Sequence[int], values: Sequence[float]) -> MetricSeries:
        return cls(np.asarray(times_ms, dtype=np.int64), np.asarray(values, dtype=np.float64))

    def __len__(self) -> int:
        return int(self.times_ms.size)


_EMPTY = MetricSeries.of([], [])


@dataclass(frozen=True, slots=True)
class ReportInputs:
    """What the stores hold for one patient, program and period.

    ``series``: per metric, the trusted readings of ``[cgm_start, end)`` for ``glucose_isf``
    and of ``[start, end)`` for the others; ``meter_contexts`` the meal context of each
    reading of ``series["glucose"]``; ``readings`` every reading of ``[start, end)``.
    """

    patient_id: str
    program: Program
    period: CalendarPeriod
    zone: str
    language: str
    glucose_unit: str
    readings: int
    series: Mapping[str, MetricSeries] = field(default_factory=dict)
    meter_contexts: Sequence[str | None] = ()
    devices: Sequence[DeviceUse] = ()


def report_window(period: CalendarPeriod, zone: str) -> tuple[int, int, int]:
    """``(start_ms, end_ms, cgm_start_ms)`` of a period in the patient's zone."""
    tz = ZoneInfo(zone)
    start, end = period.bounds_ms(tz)
    cgm_start = local_midnight_ms(period.end_day - timedelta(days=CGM_WINDOW_DAYS), tz)
    return start, end, min(start, cgm_start)


def daily_trend(
    metric: str, series: MetricSeries, day_starts_ms: Sequence[int]
) -> DailyTrend | None:
    """Mean, lowest and highest value of each local day (``day_starts_ms``: the midnights of
    the days and of the end day); None without a reading in the period."""
    bounds = np.asarray(day_starts_ms, dtype=np.int64)
    days = bounds.size - 1
    inside = (series.times_ms >= bounds[0]) & (series.times_ms < bounds[-1])
    if not np.any(inside):
        return None
    times, values = series.times_ms[inside], series.values[inside]
    day = np.searchsorted(bounds, times, side="right") - 1
    counts = np.bincount(day, minlength=days)
    sums = np.bincount(day, weights=values, minlength=days)
    low = np.full(days, np.inf)
    high = np.full(days, -np.inf)
    np.minimum.at(low, day, values)
    np.maximum.at(high, day, values)

    def column(array: npt.NDArray[np.float64]) -> tuple[float | None, ...]:
        return tuple(float(v) if n else None for v, n in zip(array, counts, strict=True))

    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / counts
    return DailyTrend(metric, column(mean), column(low), column(high))


def compute_report(inputs: ReportInputs) -> ReportContent:
    tz = ZoneInfo(inputs.zone)
    start, end, cgm_start = report_window(inputs.period, inputs.zone)
    thresholds = inputs.program.thresholds

    def series(metric: str) -> MetricSeries:
        return inputs.series.get(metric, _EMPTY)

    isf = series("glucose_isf")
    cgm = cgm_summary(isf.times_ms, isf.values, cgm_start, end, tz)
    agp = ambulatory_glucose_profile(isf.times_ms, isf.values, cgm_start, end, tz)
    meter = series("glucose")
    spot = spot_glucose_summary(
        meter.times_ms, meter.values, list(inputs.meter_contexts), start, end, tz
    )
    sys, dia, pulse = series("systolic_bp"), series("diastolic_bp"), series("pulse_rate")
    bp_times, systolic, diastolic, pulses = pair_blood_pressure(
        sys.times_ms, sys.values, dia.times_ms, dia.values, pulse.times_ms, pulse.values
    )
    bp = blood_pressure_summary(
        bp_times,
        systolic,
        diastolic,
        pulses,
        start,
        end,
        tz,
        systolic_threshold=thresholds.bp_systolic_mm_hg,
        diastolic_threshold=thresholds.bp_diastolic_mm_hg,
    )
    mass = series("weight")
    weight = weight_summary(
        mass.times_ms,
        mass.values,
        start,
        end,
        tz,
        gain_kg=thresholds.weight_gain_kg,
        gain_days=int(thresholds.weight_gain_days),
    )
    sat = series("spo2")
    spo2 = spo2_summary(
        sat.times_ms, sat.values, start, end, threshold_percent=thresholds.spo2_threshold_percent
    )
    rate = series("heart_rate")
    heart = heart_rate_summary(rate.times_ms, rate.values, start, end)
    temp = series("body_temperature")
    temperature = temperature_summary(
        temp.times_ms, temp.values, start, end, fever_celsius=thresholds.fever_celsius
    )
    alerts = evaluate_alerts(
        thresholds, cgm=cgm, blood_pressure=bp, weight=weight, spo2=spo2, temperature=temperature
    )
    last = {d.device_id: d.last_ms for d in inputs.devices if d.last_ms is not None}
    alerts += silent_device_alerts(last, end, thresholds.silent_days)
    day_starts = inputs.period.day_starts_ms(tz)
    trends = tuple(
        trend
        for metric in TREND_METRICS
        if (trend := daily_trend(metric, series(metric), day_starts)) is not None
    )
    return ReportContent(
        patient_id=inputs.patient_id,
        program=inputs.program,
        period=inputs.period,
        zone=inputs.zone,
        language=inputs.language,
        glucose_unit=inputs.glucose_unit,
        start_ms=start,
        end_ms=end,
        cgm_start_ms=cgm_start,
        readings=inputs.readings,
        devices=tuple(sorted(inputs.devices, key=lambda d: d.device_id)),
        cgm=cgm,
        agp=agp,
        spot_glucose=spot,
        blood_pressure=bp,
        weight=weight,
        spo2=spo2,
        heart_rate=heart,
        temperature=temperature,
        alerts=alerts,
        trends=trends,
        alerts_version=ALERTS_ALGORITHM_VERSION,
    )
