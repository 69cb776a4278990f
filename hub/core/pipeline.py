"""The ingest pipeline's decisions, as pure code (no IO, no clock, no logging).

For each decoded :class:`~device_profiles.Measurement` the pipeline decides, in this order:

1. **vocabulary** — the metric must be one the hub knows (``device_profiles.vocabulary``);
2. **value** — an IEEE 11073 special value (NaN, NRes, ±INF) is not a reading;
3. **patient reading** — control-solution samples never count as patient readings;
4. **unit** — converted to the metric's canonical UCUM unit, or refused;
5. **plausibility** — a value outside the physically possible range is refused (a decoding or
   device fault); a value beyond the profile's critical limits is kept and flagged;
6. **time provenance** — effective time from the device's clock when it can be right; a time
   in the future or implausibly old is replaced by the receive time, with flags
   ``clock-skew`` and ``time-corrected``, the raw device time kept;
7. **identity** — deterministic, from the device's facts (``hub.core.identity``);
8. **attribution** — the patient the device was enrolled to at the effective time, or
   quarantine when no enrollment covers it.

Each refusal is a :class:`Rejected` with a stable ``kind`` and a reason a person can act on.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal

from device_profiles.catalog import MetricLimits
from device_profiles.errors import DecodeError
from device_profiles.measurement import Measurement
from device_profiles.vocabulary import (
    METRICS,
    MetricDef,
    critical_flag,
    normalize_unit,
    to_canonical,
)
from hub.core.identity import reading_identity
from hub.core.model import Reading, Source, TimeSource


class RejectKind(enum.StrEnum):
    """Stable kinds of refusal; they are the dead-letter ``kind`` column and API values."""

    MALFORMED = "malformed"  # not decodable at all (JSON, bytes, wire contract)
    UNKNOWN_METRIC = "unknown-metric"
    NO_VALUE = "no-value"  # IEEE 11073 special value instead of a number
    NOT_PATIENT_READING = "not-patient-reading"  # control solution, calibration
    BAD_UNIT = "bad-unit"
    IMPLAUSIBLE = "implausible"  # physically impossible value
    STORE_REFUSED = "store-refused"  # a reading the time-series store's rules refuse
    SUBJECT_MISMATCH = "subject-mismatch"  # names a patient the device is not enrolled to


@dataclass(frozen=True, slots=True)
class Enrollment:
    """A device bound to a patient over ``[start, end)``; ``end`` None = still active."""

    device_id: str
    patient_id: str
    start: datetime
    end: datetime | None = None

    def covers(self, moment: datetime) -> bool:
        return self.start <= moment and (self.end is None or moment < self.end)


@dataclass(frozen=True, slots=True)
class Policy:
    max_clock_skew: timedelta = timedelta(minutes=5)
    max_backlog: timedelta = timedelta(days=366)
    # Zone assumed for a device clock that states no offset (BLE Date Time is local time).
    assumed_zone: tzinfo = UTC
    # The device model's plausibility and critical limits (catalog profile), by metric.
    limits: Mapping[str, MetricLimits] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Accepted:
    reading: Reading


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A valid reading whose device no enrollment covers; ``reading.patient_id`` is empty."""

    reading: Reading
    reason: str


@dataclass(frozen=True, slots=True)
class Rejected:
    kind: RejectKind
    reason: str
    field: str | None = None


Outcome = Accepted | Quarantined | Rejected


def patient_at(enrollments: Sequence[Enrollment], moment: datetime) -> str | None:
    """The patient whose enrollment covers ``moment``; the latest-starting one wins."""
    covering = [e for e in enrollments if e.covers(moment)]
    if not covering:
        return None
    return max(covering, key=lambda e: e.start).patient_id


def resolve_time(
    device_time: datetime | None, receive_time: datetime, policy: Policy
) -> tuple[datetime, TimeSource, tuple[str, ...]]:
    """Effective time, its source, and the flags that explain it."""
    if device_time is None:
        return receive_time, TimeSource.RECEIVE, ()
    flags: tuple[str, ...] = ()
    source = TimeSource.DEVICE
    if device_time.tzinfo is None:
        device_time = device_time.replace(tzinfo=policy.assumed_zone)
        flags = ("time-zone-assumed",)
        source = TimeSource.DEVICE_ZONE_ASSUMED
    device_time = device_time.astimezone(UTC)
    too_new = device_time > receive_time + policy.max_clock_skew
    too_old = device_time < receive_time - policy.max_backlog
    if too_new or too_old:
        return receive_time, TimeSource.RECEIVE, (*flags, "clock-skew", "time-corrected")
    return device_time, source, flags


def _critical_flags(
    definition: MetricDef, limits: MetricLimits | None, value: Decimal
) -> tuple[str, ...]:
    """The profile's critical limits where it sets them, else the vocabulary's: every path."""
    low = limits.critical_low if limits and limits.critical_low is not None else None
    high = limits.critical_high if limits and limits.critical_high is not None else None
    flag = critical_flag(
        value,
        definition.critical_low if low is None else low,
        definition.critical_high if high is None else high,
    )
    return () if flag is None else (flag,)


def process_measurement(
    measurement: Measurement,
    *,
    device_id: str,
    source: Source,
    receive_time: datetime,
    enrollments: Sequence[Enrollment],
    policy: Policy,
) -> Outcome:
    """Decide what happens to one measurement (see the module docstring for the order)."""
    definition = METRICS.get(measurement.metric)
    if definition is None:
        known = ", ".join(sorted(METRICS))
        return Rejected(
            RejectKind.UNKNOWN_METRIC,
            f"unknown metric {measurement.metric!r}; known metrics: {known}",
            "metric",
        )
    if measurement.value is None:
        special = measurement.special.value if measurement.special else "no value"
        return Rejected(
            RejectKind.NO_VALUE, f"device reported {special} instead of a value", "value"
        )
    if measurement.is_control:
        return Rejected(
            RejectKind.NOT_PATIENT_READING, "control-solution sample: not a patient reading"
        )
    try:
        unit = normalize_unit(measurement.unit)
        canonical: Decimal = to_canonical(definition, measurement.value, unit)
    except DecodeError as err:
        return Rejected(RejectKind.BAD_UNIT, err.reason, "unit")
    value = float(canonical)
    low, high = definition.limits
    if not low <= value <= high:
        return Rejected(
            RejectKind.IMPLAUSIBLE,
            f"{definition.name} {canonical} {definition.unit} is outside the physically "
            f"possible range {low}-{high} {definition.unit}",
            "value",
        )
    limits = policy.limits.get(definition.name)
    if limits is not None and not limits.is_plausible(canonical):
        return Rejected(
            RejectKind.IMPLAUSIBLE,
            f"{definition.name} {canonical} {definition.unit} is outside this device model's "
            f"plausible range {limits.min}-{limits.max} {definition.unit}",
            "value",
        )
    effective, time_source, time_flags = resolve_time(measurement.time, receive_time, policy)
    reading = Reading(
        reading_id=reading_identity(
            device_id=device_id,
            metric=definition.name,
            time_raw=measurement.time_raw,
            value=measurement.value,
            unit=unit,
            seq=measurement.sequence,
        ),
        patient_id="",
        device_id=device_id,
        metric=definition.name,
        value=value,
        unit=definition.unit,
        effective_time=effective,
        receive_time=receive_time,
        device_time=measurement.time_raw,
        time_source=time_source,
        source=source,
        seq=measurement.sequence,
        flags=(
            *measurement.annotations,
            *time_flags,
            *_critical_flags(definition, limits, canonical),
        ),
    )
    patient = patient_at(enrollments, effective)
    if patient is None:
        return Quarantined(reading, "no enrollment of this device covers the reading's time")
    return Accepted(_attributed(reading, patient))


def _attributed(reading: Reading, patient_id: str) -> Reading:
    return replace(reading, patient_id=patient_id)


def attribute(reading: Reading, enrollments: Sequence[Enrollment]) -> Reading | None:
    """A quarantined reading attributed by a (new) enrollment, or None if none covers it."""
    patient = patient_at(enrollments, reading.effective_time)
    return None if patient is None else _attributed(reading, patient)
