"""The ingest pipeline's decisions, as pure code (no IO, no clock, no logging).

For each decoded :class:`~device_profiles.Measurement` the pipeline decides, in this order:

1. **vocabulary** — the metric must be one the hub knows (``device_profiles.vocabulary``);
2. **value** — an IEEE 11073 special value (NaN, NRes, ±INF) is not a reading;
3. **patient reading** — control-solution samples never count as patient readings;
4. **unit** — converted to the metric's canonical UCUM unit, or refused;
5. **plausibility** — a value outside the physically possible range is refused (a decoding or
   device fault); a value beyond the profile's critical limits is kept and flagged;
6. **time provenance** — the effective time from the device's clock, corrected by the clock
   offset measured at upload when the clock is wrong, local times read in a named zone
   (``hub.core.timekeeping``, per upload); a time that cannot be right is kept but untrusted
   (``time-unknown``), never replaced by the receive time; the raw device time is kept;
7. **identity** — deterministic, from the device's facts (``hub.core.identity``); for a model
   whose record numbers restart (``sequence_resets``), never from the number alone;
8. **attribution** — the patient the device was enrolled to at the effective time (the
   receive time for an untrusted time), or quarantine when no enrollment covers it.

:func:`process_upload` runs them over the measurements of one upload (the clock offset and
the order of records are properties of an upload); :func:`process_measurement` decides one.

Each refusal is a :class:`Rejected` with a stable ``kind`` and a reason a person can act on.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
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
from hub.core.identity import canonical_decimal, reading_identity
from hub.core.model import Reading, Source, TimeSource
from hub.core.timekeeping import (
    ClockReading,
    RecordTime,
    ResolvedTime,
    TimePolicy,
    UploadClock,
    resolve_times,
)


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
    HUB_ERROR = "hub-error"  # the hub failed on this input (kept, so the stream moves on)
    NOT_PAIRED = "not-paired"  # a gateway spoke for a device it is not paired with


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
    """How one device's measurements are judged: time rules, zone and the model's limits."""

    time: TimePolicy = field(default_factory=TimePolicy)
    # The zone of a device clock that states no offset (BLE Date Time is local time): the
    # device's or its gateway's IANA zone; ``zone_stated`` False when it is the hub's default.
    zone: tzinfo = UTC
    zone_stated: bool = True
    # The model's clock is known to drift or reset (catalog quirk ``clock_unreliable``): its
    # times are flagged ``clock-unverified`` unless the upload measured the clock.
    clock_unreliable: bool = False
    # The model's record numbers restart (power cycle; catalog quirk ``sequence_resets``): a
    # number alone, without a device time, tells no record from an older one with it.
    sequence_resets: bool = False
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


def _critical_flags(
    definition: MetricDef, limits: MetricLimits | None, value: Decimal
) -> tuple[str, ...]:
    """The profile's critical limits where it sets them, else the vocabulary's: every path."""
    if limits is None:
        flag = critical_flag(value, definition.critical_low, definition.critical_high)
    else:
        flag = limits.critical_flag(value, fallback=definition)
    return () if flag is None else (flag,)


def process_upload(
    measurements: Sequence[Measurement],
    *,
    device_id: str,
    source: Source,
    receive_time: datetime,
    enrollments: Sequence[Enrollment],
    policy: Policy,
    clock: ClockReading | None = None,
    clocks: Sequence[ClockReading | None] = (),
    reference_time: datetime | None = None,
) -> list[Outcome]:
    """Decide every measurement of one upload, in order.

    ``clock`` is the device's clock as read at upload — or ``clocks``, one per measurement,
    when the upload holds the records of several connections (gateway frames): its offset
    corrects the records read with it when the clock is wrong. ``reference_time`` is the true
    time of the upload (the gateway's time; default: ``receive_time``): device times later
    than it cannot be right.
    """
    reference = reference_time or receive_time
    readings = clocks if clocks else [clock] * len(measurements)
    measured: dict[int, UploadClock] = {}
    for reading in readings:
        if reading is not None and id(reading) not in measured:
            measured[id(reading)] = UploadClock.measure(reading, policy.zone, policy.time)
    times = resolve_times(
        [
            _record_time(m, None if r is None else measured[id(r)])
            for m, r in zip(measurements, readings, strict=True)
        ],
        reference=reference,
        zone=policy.zone,
        policy=policy.time,
        zone_stated=policy.zone_stated,
    )
    if policy.clock_unreliable:
        times = [
            t if r is not None else _unverified(t) for t, r in zip(times, readings, strict=True)
        ]
    return [
        process_measurement(
            measurement,
            device_id=device_id,
            source=source,
            receive_time=receive_time,
            enrollments=enrollments,
            policy=policy,
            time=time,
        )
        for measurement, time in zip(measurements, times, strict=True)
    ]


def _unverified(time: ResolvedTime) -> ResolvedTime:
    if time.source is TimeSource.RECEIVE:
        return time
    return replace(time, flags=(*time.flags, "clock-unverified"))


def _record_time(measurement: Measurement, clock: UploadClock | None) -> RecordTime:
    if "time-from-gateway" in measurement.annotations:
        # No device time: the gateway's receive time was put in its place (hub.core.decoding).
        return RecordTime(None, measurement.metric, received=measurement.time)
    return RecordTime(measurement.time, measurement.metric, clock=clock)


def process_measurement(
    measurement: Measurement,
    *,
    device_id: str,
    source: Source,
    receive_time: datetime,
    enrollments: Sequence[Enrollment],
    policy: Policy,
    time: ResolvedTime,
) -> Outcome:
    """Decide what happens to one measurement whose time :func:`process_upload` resolved
    (see the module docstring for the order)."""
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
    time_raw = measurement.time_raw
    if time_raw is not None and time.identity_suffix:
        time_raw = f"{time_raw}|{time.identity_suffix}"  # the second of a repeated local time
    elif time_raw is None and policy.sequence_resets and measurement.sequence is not None:
        # A restarting counter identifies nothing alone: record 5 after a power cycle is not
        # the record 5 stored last week. The record is told apart by when it arrived, as for
        # a device with neither time nor number (docs/wire.md, "Reading identity").
        time_raw = time.effective.isoformat()
    # Attributed before the reading is built (built once: this runs for every reading).
    attributed_at = receive_time if time.source is TimeSource.UNTRUSTED else time.effective
    patient = patient_at(enrollments, attributed_at)
    reading = Reading(
        reading_id=reading_identity(
            device_id=device_id,
            metric=definition.name,
            time_raw=time_raw,
            value=measurement.value,
            unit=unit,
            seq=measurement.sequence,
        ),
        patient_id=patient or "",
        device_id=device_id,
        metric=definition.name,
        value=value,
        unit=definition.unit,
        effective_time=time.effective,
        receive_time=receive_time,
        device_time=measurement.time_raw,
        time_source=time.source,
        source=source,
        seq=measurement.sequence,
        flags=(
            *measurement.annotations,
            *time.flags,
            *_critical_flags(definition, limits, canonical),
        ),
        value_sent=canonical_decimal(measurement.value),
        unit_sent=unit,
        utc_offset_min=time.utc_offset_min,
        clock_offset_ms=time.clock_offset_ms,
        time_zone=time.zone,
    )
    if patient is None:
        return Quarantined(reading, "no enrollment of this device covers the reading's time")
    return Accepted(reading)


def _attributed(reading: Reading, patient_id: str) -> Reading:
    return replace(reading, patient_id=patient_id)


def attribution_time(reading: Reading) -> datetime:
    """When a reading is attributed: its effective time, or — when that time cannot be
    trusted — when the hub received it (the device was in its holder's hands then).
    ``process_measurement`` applies the same rule before the reading exists."""
    return reading.receive_time if reading.time_unknown else reading.effective_time


def attribute(reading: Reading, enrollments: Sequence[Enrollment]) -> Reading | None:
    """A quarantined reading attributed by a (new) enrollment, or None if none covers it."""
    patient = patient_at(enrollments, attribution_time(reading))
    return None if patient is None else _attributed(reading, patient)
