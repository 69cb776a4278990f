"""Trends, summaries and alerts of one patient: the store and registry reads around the pure
summaries (``hub.core.summaries``; definitions in docs/summaries.md).

The service picks what to read — metrics, window, the patient's zone and programme — and
hands numpy arrays to the pure layer; it decides nothing clinical itself. Readings whose time
cannot be trusted (``time-unknown``) never reach a summary: the store's ``series``,
``downsample`` and ``readings`` leave them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from hub.adapters.registry import Registry
from hub.adapters.registry.patients import PatientPreferences
from hub.adapters.registry.programs import ProgramRecord
from hub.adapters.store import ReadingStore, cursor_of
from hub.adapters.store.base import Downsampled, ReadingCursor
from hub.core.model import Reading, epoch_ms, from_epoch_ms
from hub.core.periods import Period
from hub.core.summaries import (
    AgpProfile,
    Alert,
    AlertThresholds,
    BloodPressureSummary,
    CgmSummary,
    HeartRateSummary,
    Spo2Summary,
    SpotGlucoseSummary,
    TemperatureSummary,
    WeightSummary,
    ambulatory_glucose_profile,
    blood_pressure_summary,
    cgm_summary,
    evaluate_alerts,
    heart_rate_summary,
    meal_context,
    pair_blood_pressure,
    silent_device_alerts,
    spo2_summary,
    spot_glucose_summary,
    temperature_summary,
    weight_summary,
)
from hub.core.thresholds import alert_thresholds

# What the trends page charts, in the order it shows them.
CHARTED = (
    "glucose_isf",
    "glucose",
    "systolic_bp",
    "diastolic_bp",
    "pulse_rate",
    "heart_rate",
    "spo2",
    "weight",
    "body_temperature",
)
READINGS_PAGE = 5_000

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class PatientSettings:
    """What shapes a patient's views: their preferences, zone and programme thresholds."""

    preferences: PatientPreferences
    zone_name: str
    zone: tzinfo
    program: ProgramRecord | None
    thresholds: AlertThresholds


def patient_settings(registry: Registry, patient_id: str, default_zone: str) -> PatientSettings:
    """The patient's preferences (defaults for an unregistered id), the zone they live in
    (theirs, else the hub's default) and their programme's alert thresholds (the consensus
    defaults without a programme, or when the programme no longer exists)."""
    preferences = registry.patients.preferences(patient_id)
    zone_name = preferences.zone or default_zone
    program = registry.programs.get(preferences.program) if preferences.program else None
    thresholds = alert_thresholds(program.thresholds) if program else AlertThresholds()
    return PatientSettings(preferences, zone_name, ZoneInfo(zone_name), program, thresholds)


def charted_metrics(store: ReadingStore, patient_id: str) -> list[str]:
    """The charted metrics the patient has readings of, in page order."""
    have = store.latest(patient_id, CHARTED)
    return [m for m in CHARTED if m in have]


def trends(
    store: ReadingStore, patient_id: str, metrics: Sequence[str], start: datetime, end: datetime
) -> list[tuple[str, Downsampled]]:
    """Each metric downsampled over ``[start, end)``, the bucket chosen from the range
    (``hub.adapters.store.buckets.choose_bucket``: at most 500 epoch-aligned buckets)."""
    return [(m, store.downsample(patient_id, m, start, end)) for m in metrics]


def _readings(
    store: ReadingStore, patient_id: str, metrics: Sequence[str], start: datetime, end: datetime
) -> list[Reading]:
    """Every trusted reading of ``metrics`` in ``[start, end)``, page by page."""
    result: list[Reading] = []
    after: ReadingCursor | None = None
    while True:
        page = store.readings(patient_id, metrics, start, end, after=after, limit=READINGS_PAGE)
        result += page
        if len(page) < READINGS_PAGE:
            return result
        after = cursor_of(page[-1])


@dataclass(frozen=True, slots=True)
class Summaries:
    """The summaries of one period; None where the patient has no reading of the metric."""

    period: Period
    cgm: CgmSummary | None = None
    agp: AgpProfile | None = None
    spot_glucose: SpotGlucoseSummary | None = None
    blood_pressure: BloodPressureSummary | None = None
    weight: WeightSummary | None = None
    spo2: Spo2Summary | None = None
    heart_rate: HeartRateSummary | None = None
    heart_rate_metric: str | None = None  # heart_rate, else pulse_rate
    temperature: TemperatureSummary | None = None

    def alerts(self, thresholds: AlertThresholds) -> tuple[Alert, ...]:
        return evaluate_alerts(
            thresholds,
            cgm=self.cgm,
            blood_pressure=self.blood_pressure,
            weight=self.weight,
            spo2=self.spo2,
            temperature=self.temperature,
        )


def _arrays(
    store: ReadingStore, patient_id: str, metric: str, period: Period
) -> tuple[Int64Array, FloatArray]:
    got = store.series(
        patient_id, metric, from_epoch_ms(period.start_ms), from_epoch_ms(period.end_ms)
    )
    return got.times_ms, got.values


def cgm_window(store: ReadingStore, patient_id: str, period: Period, tz: tzinfo) -> CgmSummary:
    """The consensus CGM metrics of the patient's CGM readings in the period (any window)."""
    times, values = _arrays(store, patient_id, "glucose_isf", period)
    return cgm_summary(times, values, period.start_ms, period.end_ms, tz)


def _blood_pressure(
    store: ReadingStore, patient_id: str, period: Period, tz: tzinfo
) -> BloodPressureSummary | None:
    sys_t, sys_v = _arrays(store, patient_id, "systolic_bp", period)
    if not sys_t.size:
        return None
    dia_t, dia_v = _arrays(store, patient_id, "diastolic_bp", period)
    pulse_t, pulse_v = _arrays(store, patient_id, "pulse_rate", period)
    times, systolic, diastolic, pulse = pair_blood_pressure(
        sys_t, sys_v, dia_t, dia_v, pulse_t, pulse_v
    )
    if not times.size:
        return None
    return blood_pressure_summary(
        times, systolic, diastolic, pulse, period.start_ms, period.end_ms, tz
    )


def _spot_glucose(
    store: ReadingStore, patient_id: str, period: Period, tz: tzinfo
) -> SpotGlucoseSummary | None:
    start, end = from_epoch_ms(period.start_ms), from_epoch_ms(period.end_ms)
    meter = _readings(store, patient_id, ["glucose"], start, end)
    if not meter:
        return None
    return spot_glucose_summary(
        np.array([epoch_ms(r.effective_time) for r in meter], dtype=np.int64),
        np.array([r.value for r in meter], dtype=np.float64),
        [meal_context(r.flags) for r in meter],
        period.start_ms,
        period.end_ms,
        tz,
    )


def _heart_rate(
    store: ReadingStore, patient_id: str, period: Period
) -> tuple[HeartRateSummary | None, str | None]:
    """From ``heart_rate`` readings (straps), else the ``pulse_rate`` of oximeters and cuffs."""
    for metric in ("heart_rate", "pulse_rate"):
        times, values = _arrays(store, patient_id, metric, period)
        if times.size:
            return heart_rate_summary(times, values, period.start_ms, period.end_ms), metric
    return None, None


def summaries(
    store: ReadingStore,
    patient_id: str,
    period: Period,
    patient: PatientSettings,
    *,
    profiles: bool = True,
) -> Summaries:
    """Every summary of ``period`` in the patient's zone, computed with their programme's
    thresholds. ``profiles=False`` leaves out what no alert uses (AGP, meter glucose, heart
    rate)."""
    start_ms, end_ms = period.start_ms, period.end_ms
    tz, thresholds = patient.zone, patient.thresholds
    cgm_t, cgm_v = _arrays(store, patient_id, "glucose_isf", period)
    kg_t, kg_v = _arrays(store, patient_id, "weight", period)
    spo2_t, spo2_v = _arrays(store, patient_id, "spo2", period)
    temp_t, temp_v = _arrays(store, patient_id, "body_temperature", period)
    heart, heart_metric = _heart_rate(store, patient_id, period) if profiles else (None, None)
    return Summaries(
        period=period,
        cgm=cgm_summary(cgm_t, cgm_v, start_ms, end_ms, tz) if cgm_t.size else None,
        agp=ambulatory_glucose_profile(cgm_t, cgm_v, start_ms, end_ms, tz)
        if profiles and cgm_t.size
        else None,
        spot_glucose=_spot_glucose(store, patient_id, period, tz) if profiles else None,
        blood_pressure=_blood_pressure(store, patient_id, period, tz),
        weight=weight_summary(
            kg_t,
            kg_v,
            start_ms,
            end_ms,
            tz,
            gain_kg=thresholds.weight_gain_kg,
            gain_days=thresholds.weight_gain_days,
        )
        if kg_t.size
        else None,
        spo2=spo2_summary(
            spo2_t, spo2_v, start_ms, end_ms, threshold_percent=thresholds.spo2_threshold_percent
        )
        if spo2_t.size
        else None,
        heart_rate=heart,
        heart_rate_metric=heart_metric,
        temperature=temperature_summary(
            temp_t, temp_v, start_ms, end_ms, fever_celsius=thresholds.fever_celsius
        )
        if temp_t.size
        else None,
    )


def last_reading_ms(
    store: ReadingStore, patient_id: str, device_id: str, since: datetime, now: datetime
) -> int | None:
    """When the device last measured for the patient (a trusted time in ``[since, now]``),
    looking back over windows that double (1, 2, 4... days): a few small queries for a
    device that sends, one per doubling for one that stopped."""
    end = now + timedelta(milliseconds=1)
    span = timedelta(days=1)
    while end > since:
        start = max(since, end - span)
        times = [
            epoch_ms(r.effective_time)
            for r in store.device_readings(device_id, start, end)
            if r.patient_id == patient_id and not r.time_unknown
        ]
        if times:
            return max(times)
        end, span = start, span * 2
    return None


def silent_devices(
    store: ReadingStore,
    registry: Registry,
    patient_id: str,
    now: datetime,
    thresholds: AlertThresholds,
) -> tuple[Alert, ...]:
    """``device.silent`` for each device enrolled to the patient now that has not measured
    for ``thresholds.silent_days``. A device enrolled more recently than that and silent so
    far is given that long before it is called silent."""
    grace = timedelta(days=thresholds.silent_days)
    enrollments = registry.enrollments.of_patient(patient_id)
    last: dict[str, int | None] = {}
    for enrollment in enrollments:
        if enrollment.start > now or (enrollment.end is not None and enrollment.end <= now):
            continue
        first = min(e.start for e in enrollments if e.device_id == enrollment.device_id)
        seen = last_reading_ms(store, patient_id, enrollment.device_id, first, now)
        if seen is None and now - enrollment.start < grace:
            continue
        last[enrollment.device_id] = seen
    return silent_device_alerts(last, epoch_ms(now), thresholds.silent_days)
