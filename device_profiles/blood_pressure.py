"""Blood Pressure Measurement (0x2A35) and Intermediate Cuff Pressure (0x2A36).

GATT Specification Supplement, characteristics "Blood Pressure Measurement" and
"Intermediate Cuff Pressure" (``org.bluetooth.characteristic.blood_pressure_measurement``,
``...intermediate_cuff_pressure``). Layout::

    flags u8      bit 0  units: 0 mmHg, 1 kPa
                  bit 1  Time Stamp present
                  bit 2  Pulse Rate present
                  bit 3  User ID present
                  bit 4  Measurement Status present
                  bits 5-7 reserved
    systolic SFLOAT, diastolic SFLOAT, mean arterial pressure SFLOAT   (unit per bit 0)
    [time stamp   Date Time, 7 bytes]
    [pulse rate   SFLOAT, beats per minute]
    [user id      u8, 0xFF = unknown user]
    [status u16]  bit 0 body movement, bit 1 cuff too loose, bit 2 irregular pulse,
                  bits 3-4 pulse rate range (0 in range, 1 above upper limit,
                  2 below lower limit, 3 reserved), bit 5 improper measurement position,
                  bits 6-15 reserved

Intermediate Cuff Pressure has the same layout; the systolic field carries the current cuff
pressure and the diastolic and MAP fields are unused (the encoder writes NaN there; the
decoder keeps whatever the device sent, since field devices send 0, and ignores it).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from device_profiles._bytes import (
    Reader,
    Writer,
    bit_annotations,
    numeric_measurement,
    reject_reserved,
)
from device_profiles.errors import DecodeError, EncodeError
from device_profiles.gatt_time import GattDateTime, measurement_time
from device_profiles.ieee11073 import Numeric
from device_profiles.measurement import Measurement, Special

_UNITS_KPA = 0x01
_TIMESTAMP = 0x02
_PULSE_RATE = 0x04
_USER_ID = 0x08
_STATUS = 0x10
_FLAGS_DEFINED = 0x1F
UNKNOWN_USER = 0xFF


class PressureUnit(enum.Enum):
    """Flags bit 0, as the UCUM unit of the three pressures."""

    MMHG = "mm[Hg]"
    KPA = "kPa"


class BpStatus(enum.IntFlag):
    """Measurement Status bits. Bits 3-4 form the pulse-rate-range field (3 is reserved)."""

    BODY_MOVEMENT = 1 << 0
    CUFF_TOO_LOOSE = 1 << 1
    IRREGULAR_PULSE = 1 << 2
    PULSE_RATE_ABOVE_RANGE = 1 << 3  # range field value 1
    PULSE_RATE_BELOW_RANGE = 1 << 4  # range field value 2
    IMPROPER_POSITION = 1 << 5


_STATUS_DEFINED = 0x3F
_STATUS_ANNOTATIONS: dict[int, str] = {
    BpStatus.BODY_MOVEMENT: "body-movement",
    BpStatus.CUFF_TOO_LOOSE: "cuff-loose",
    BpStatus.IRREGULAR_PULSE: "irregular-pulse",
    BpStatus.PULSE_RATE_ABOVE_RANGE: "pulse-rate-high",
    BpStatus.PULSE_RATE_BELOW_RANGE: "pulse-rate-low",
    BpStatus.IMPROPER_POSITION: "improper-position",
}


@dataclass(frozen=True, slots=True)
class BloodPressureRecord:
    """One Blood Pressure Measurement, field for field.

    ``None`` means "field absent" (its flag clear); ``status=BpStatus(0)`` is a present,
    all-clear status field.
    """

    systolic: Numeric
    diastolic: Numeric
    mean_arterial: Numeric
    unit: PressureUnit = PressureUnit.MMHG
    timestamp: GattDateTime | None = None
    pulse_rate: Numeric | None = None
    user_id: int | None = None
    status: BpStatus | None = None


@dataclass(frozen=True, slots=True)
class CuffPressureRecord:
    """One Intermediate Cuff Pressure value; ``unused_*`` are the ignored diastolic/MAP fields."""

    cuff_pressure: Numeric
    unit: PressureUnit = PressureUnit.MMHG
    timestamp: GattDateTime | None = None
    pulse_rate: Numeric | None = None
    user_id: int | None = None
    status: BpStatus | None = None
    unused_diastolic: Numeric = Special.NAN
    unused_mean_arterial: Numeric = Special.NAN


@dataclass(frozen=True, slots=True)
class _Frame:
    """The shared wire shape of 0x2A35 and 0x2A36."""

    first: Numeric
    second: Numeric
    third: Numeric
    unit: PressureUnit
    timestamp: GattDateTime | None
    pulse_rate: Numeric | None
    user_id: int | None
    status: BpStatus | None


def _parse_frame(data: bytes) -> _Frame:
    reader = Reader(data)
    flags = reader.u8("flags")
    reject_reserved(flags, _FLAGS_DEFINED, "flags")
    unit = PressureUnit.KPA if flags & _UNITS_KPA else PressureUnit.MMHG
    first = reader.sfloat("systolic")
    second = reader.sfloat("diastolic")
    third = reader.sfloat("mean_arterial_pressure")
    timestamp = reader.date_time("timestamp") if flags & _TIMESTAMP else None
    pulse_rate = reader.sfloat("pulse_rate") if flags & _PULSE_RATE else None
    user_id = reader.u8("user_id") if flags & _USER_ID else None
    status = None
    if flags & _STATUS:
        raw = reader.u16("measurement_status")
        reject_reserved(raw, _STATUS_DEFINED, "measurement_status")
        if raw & BpStatus.PULSE_RATE_ABOVE_RANGE and raw & BpStatus.PULSE_RATE_BELOW_RANGE:
            raise DecodeError("reserved pulse rate range value 3", field="measurement_status")
        status = BpStatus(raw)
    reader.finish()
    return _Frame(first, second, third, unit, timestamp, pulse_rate, user_id, status)


def _encode_frame(frame: _Frame) -> bytes:
    flags = (
        (_UNITS_KPA if frame.unit is PressureUnit.KPA else 0)
        | (_TIMESTAMP if frame.timestamp is not None else 0)
        | (_PULSE_RATE if frame.pulse_rate is not None else 0)
        | (_USER_ID if frame.user_id is not None else 0)
        | (_STATUS if frame.status is not None else 0)
    )
    out = Writer().u8(flags, "flags")
    out.sfloat(frame.first, "systolic").sfloat(frame.second, "diastolic")
    out.sfloat(frame.third, "mean_arterial_pressure")
    if frame.timestamp is not None:
        out.date_time(frame.timestamp)
    if frame.pulse_rate is not None:
        out.sfloat(frame.pulse_rate, "pulse_rate")
    if frame.user_id is not None:
        out.u8(frame.user_id, "user_id")
    if frame.status is not None:
        status = int(frame.status)
        if status & ~_STATUS_DEFINED or (
            status & BpStatus.PULSE_RATE_ABOVE_RANGE and status & BpStatus.PULSE_RATE_BELOW_RANGE
        ):
            raise EncodeError(f"invalid status {status:#x}", field="measurement_status")
        out.u16(status, "measurement_status")
    return out.getvalue()


def parse_blood_pressure(data: bytes) -> BloodPressureRecord:
    """Decode a Blood Pressure Measurement (0x2A35) value into its typed record."""
    frame = _parse_frame(data)
    return BloodPressureRecord(
        frame.first,
        frame.second,
        frame.third,
        frame.unit,
        frame.timestamp,
        frame.pulse_rate,
        frame.user_id,
        frame.status,
    )


def encode_blood_pressure(record: BloodPressureRecord) -> bytes:
    """The exact inverse of :func:`parse_blood_pressure`."""
    return _encode_frame(
        _Frame(
            record.systolic,
            record.diastolic,
            record.mean_arterial,
            record.unit,
            record.timestamp,
            record.pulse_rate,
            record.user_id,
            record.status,
        )
    )


def parse_intermediate_cuff_pressure(data: bytes) -> CuffPressureRecord:
    """Decode an Intermediate Cuff Pressure (0x2A36) value into its typed record."""
    frame = _parse_frame(data)
    return CuffPressureRecord(
        frame.first,
        frame.unit,
        frame.timestamp,
        frame.pulse_rate,
        frame.user_id,
        frame.status,
        frame.second,
        frame.third,
    )


def encode_intermediate_cuff_pressure(record: CuffPressureRecord) -> bytes:
    """The exact inverse of :func:`parse_intermediate_cuff_pressure`."""
    return _encode_frame(
        _Frame(
            record.cuff_pressure,
            record.unused_diastolic,
            record.unused_mean_arterial,
            record.unit,
            record.timestamp,
            record.pulse_rate,
            record.user_id,
            record.status,
        )
    )


def _measurements(
    pressures: tuple[tuple[str, Numeric], ...],
    unit: PressureUnit,
    frame: BloodPressureRecord | CuffPressureRecord,
    extra: tuple[str, ...] = (),
) -> list[Measurement]:
    when = measurement_time(frame.timestamp)
    notes = list(extra)
    if frame.status is not None:
        notes += bit_annotations(int(frame.status), _STATUS_ANNOTATIONS)
    user_id = frame.user_id
    if user_id == UNKNOWN_USER:
        notes.append("user-unknown")
        user_id = None
    values = [(metric, value, unit.value) for metric, value in pressures]
    if frame.pulse_rate is not None:
        values.append(("pulse_rate", frame.pulse_rate, "/min"))
    return [
        numeric_measurement(metric, value, ucum, when, user_id=user_id, annotations=notes)
        for metric, value, ucum in values
    ]


def blood_pressure_measurements(record: BloodPressureRecord) -> list[Measurement]:
    """systolic_bp, diastolic_bp, mean_arterial_pressure and, when present, pulse_rate."""
    pressures = (
        ("systolic_bp", record.systolic),
        ("diastolic_bp", record.diastolic),
        ("mean_arterial_pressure", record.mean_arterial),
    )
    return _measurements(pressures, record.unit, record)


def cuff_pressure_measurements(record: CuffPressureRecord) -> list[Measurement]:
    """cuff_pressure (annotated ``"intermediate"``) and, when present, pulse_rate."""
    pressures = (("cuff_pressure", record.cuff_pressure),)
    return _measurements(pressures, record.unit, record, ("intermediate",))


def decode_blood_pressure(data: bytes) -> list[Measurement]:
    """Decode a Blood Pressure Measurement (0x2A35) value into measurements."""
    return blood_pressure_measurements(parse_blood_pressure(data))


def decode_intermediate_cuff_pressure(data: bytes) -> list[Measurement]:
    """Decode an Intermediate Cuff Pressure (0x2A36) value into measurements."""
    return cuff_pressure_measurements(parse_intermediate_cuff_pressure(data))


__all__ = [
    "UNKNOWN_USER",
    "BloodPressureRecord",
    "BpStatus",
    "CuffPressureRecord",
    "PressureUnit",
    "blood_pressure_measurements",
    "cuff_pressure_measurements",
    "decode_blood_pressure",
    "decode_intermediate_cuff_pressure",
    "encode_blood_pressure",
    "encode_intermediate_cuff_pressure",
    "parse_blood_pressure",
    "parse_intermediate_cuff_pressure",
]
