"""CGM Measurement (0x2AA7), CGM Session Start Time (0x2AAA) and the E2E-CRC.

GATT Specification Supplement, characteristic "CGM Measurement"
(``org.bluetooth.characteristic.cgm_measurement``): one or more records back to back, each::

    size u8       length of this record including the size byte (minimum 6)
    flags u8      bit 0 CGM Trend Information present, bit 1 CGM Quality present,
                  bits 2-4 reserved, bit 5 Warning-Octet present, bit 6 Cal/Temp-Octet
                  present, bit 7 Status-Octet present
    glucose       SFLOAT, mg/dL
    time offset   u16, minutes since the session start time
    [status-octet u8] [cal/temp-octet u8] [warning-octet u8]
                  the Sensor Status Annunciation, least significant octet first (bits 0-7
                  status, 8-15 cal/temp, 16-23 warning), only the flagged octets
    [trend SFLOAT, (mg/dL)/min] [quality SFLOAT, %]
    [E2E-CRC u16] present when the sensor supports E2E-CRC (CGM Feature bit 12)

The E2E-CRC covers every preceding byte of the record (size byte included): CRC-CCITT,
polynomial x^16 + x^12 + x^5 + 1, seed 0xFFFF, bits least significant first (0x8408
reflected form; the "MCRF4XX" variant). Whether a record carries one is read from its size
byte (the only thing on the wire that says so); a caller that knows the CGM Feature can
insist with ``e2e_crc=True/False``. A wrong CRC is a :class:`DecodeError`.

"CGM Session Start Time" (``...cgm_session_start_time``): Date Time (7), Time Zone s8
(-48..56 in 15-minute steps, -128 unknown), DST Offset u8 (0 standard, 2 +0.5 h, 4 +1 h,
8 +2 h, 255 unknown), [E2E-CRC u16].

Record times: a CGM record knows only its minutes since session start; with the session start
(device-local, naive) the decoder gives absolute times, without it ``time=None`` and the
annotation ``"time-offset-min:N"``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from device_profiles._bytes import (
    Reader,
    Writer,
    bit_annotations,
    numeric_measurement,
    reject_reserved,
)
from device_profiles.errors import DecodeError, EncodeError
from device_profiles.gatt_time import GattDateTime, MeasurementTime
from device_profiles.ieee11073 import Numeric
from device_profiles.measurement import Measurement, Special


def e2e_crc16(data: bytes) -> int:
    """CRC-CCITT as the CGM service uses it: seed 0xFFFF, reflected polynomial 0x8408."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


def _check_crc(reader: Reader, start: int, field: str) -> None:
    computed = e2e_crc16(reader.consumed(start))
    sent = reader.u16(field)
    if sent != computed:
        raise DecodeError(
            f"E2E-CRC mismatch: sent {sent:#06x}, computed {computed:#06x}", field=field
        )


# --------------------------------------------------------------- CGM Measurement (0x2AA7)

_TREND = 0x01
_QUALITY = 0x02
_WARNING_OCTET = 0x20
_CAL_TEMP_OCTET = 0x40
_STATUS_OCTET = 0x80
_FLAGS_DEFINED = 0xE3
_MIN_SIZE = 6


class CgmStatus(enum.IntFlag):
    """Sensor Status Annunciation, all 24 bits (status 0-7, cal/temp 8-15, warning 16-23)."""

    SESSION_STOPPED = 1 << 0
    DEVICE_BATTERY_LOW = 1 << 1
    SENSOR_TYPE_INCORRECT = 1 << 2
    SENSOR_MALFUNCTION = 1 << 3
    DEVICE_SPECIFIC_ALERT = 1 << 4
    GENERAL_DEVICE_FAULT = 1 << 5
    TIME_SYNC_REQUIRED = 1 << 8
    CALIBRATION_NOT_ALLOWED = 1 << 9
    CALIBRATION_RECOMMENDED = 1 << 10
    CALIBRATION_REQUIRED = 1 << 11
    SENSOR_TEMPERATURE_HIGH = 1 << 12
    SENSOR_TEMPERATURE_LOW = 1 << 13
    BELOW_PATIENT_LOW = 1 << 16
    ABOVE_PATIENT_HIGH = 1 << 17
    BELOW_HYPO = 1 << 18
    ABOVE_HYPER = 1 << 19
    RATE_OF_DECREASE_EXCEEDED = 1 << 20
    RATE_OF_INCREASE_EXCEEDED = 1 << 21
    RESULT_TOO_LOW = 1 << 22
    RESULT_TOO_HIGH = 1 << 23


_STATUS_DEFINED = 0xFF3F3F
_ALL_CLEAR = CgmStatus(0)
# octet flag -> (bit shift of the octet in the 24-bit field, field name); wire order
_OCTETS: tuple[tuple[int, int, str], ...] = (
    (_STATUS_OCTET, 0, "status_octet"),
    (_CAL_TEMP_OCTET, 8, "cal_temp_octet"),
    (_WARNING_OCTET, 16, "warning_octet"),
)
_STATUS_NOTES: dict[int, str] = {
    CgmStatus.SESSION_STOPPED: "session-stopped",
    CgmStatus.DEVICE_BATTERY_LOW: "device-battery-low",
    CgmStatus.SENSOR_TYPE_INCORRECT: "sensor-type-incorrect",
    CgmStatus.SENSOR_MALFUNCTION: "sensor-malfunction",
    CgmStatus.DEVICE_SPECIFIC_ALERT: "device-specific-alert",
    CgmStatus.GENERAL_DEVICE_FAULT: "general-device-fault",
    CgmStatus.TIME_SYNC_REQUIRED: "time-sync-required",
    CgmStatus.CALIBRATION_NOT_ALLOWED: "calibration-not-allowed",
    CgmStatus.CALIBRATION_RECOMMENDED: "calibration-recommended",
    CgmStatus.CALIBRATION_REQUIRED: "calibration-required",
    CgmStatus.SENSOR_TEMPERATURE_HIGH: "sensor-temperature-high",
    CgmStatus.SENSOR_TEMPERATURE_LOW: "sensor-temperature-low",
    CgmStatus.BELOW_PATIENT_LOW: "below-patient-low",
    CgmStatus.ABOVE_PATIENT_HIGH: "above-patient-high",
    CgmStatus.BELOW_HYPO: "below-hypo",
    CgmStatus.ABOVE_HYPER: "above-hyper",
    CgmStatus.RATE_OF_DECREASE_EXCEEDED: "rate-of-decrease-exceeded",
    CgmStatus.RATE_OF_INCREASE_EXCEEDED: "rate-of-increase-exceeded",
    CgmStatus.RESULT_TOO_LOW: "LO",
    CgmStatus.RESULT_TOO_HIGH: "HI",
}


@dataclass(frozen=True, slots=True)
class CgmRecord:
    """One CGM Measurement record, field for field.

    ``status`` holds the 24-bit annunciation; ``octets`` says which of its octets are on the
    wire (``"status"``, ``"cal_temp"``, ``"warning"``): a device may send an all-zero octet,
    and bits of an absent octet must be zero. ``trend`` is in (mg/dL)/min, ``quality`` in %.
    """

    glucose: Numeric
    time_offset: int
    status: CgmStatus = _ALL_CLEAR
    octets: frozenset[str] = frozenset()
    trend: Numeric | None = None
    quality: Numeric | None = None
    e2e_crc: bool = False


def _parse_record(reader: Reader, e2e: bool | None) -> CgmRecord:
    size = reader.u8("size")
    if size < _MIN_SIZE:
        raise DecodeError(f"record size {size} is below the minimum {_MIN_SIZE}", field="size")
    if reader.remaining() < size - 1:
        raise DecodeError(
            f"truncated: record needs {size - 1} bytes, {reader.remaining()} left", field="size"
        )
    record = Reader(reader.take(size - 1, "record"))
    flags = record.u8("flags")
    reject_reserved(flags, _FLAGS_DEFINED, "flags")
    expected = (
        _MIN_SIZE
        + sum(1 for flag, _, _ in _OCTETS if flags & flag)
        + (2 if flags & _TREND else 0)
        + (2 if flags & _QUALITY else 0)
    )
    if size not in (expected, expected + 2) or (e2e is not None and size != expected + 2 * e2e):
        raise DecodeError(
            f"inconsistent: size {size} does not match flags {flags:#04x}", field="size"
        )
    glucose = record.sfloat("glucose")
    time_offset = record.u16("time_offset")
    status = 0
    octets = set()
    for flag, shift, name in _OCTETS:
        if flags & flag:
            status |= record.u8(name) << shift
            octets.add(name.removesuffix("_octet"))
    reject_reserved(status, _STATUS_DEFINED, "sensor_status_annunciation")
    trend = record.sfloat("trend") if flags & _TREND else None
    quality = record.sfloat("quality") if flags & _QUALITY else None
    has_crc = size == expected + 2
    if has_crc:
        computed = e2e_crc16(bytes([size]) + record.consumed(0))
        sent = record.u16("e2e_crc")
        if sent != computed:
            raise DecodeError(
                f"E2E-CRC mismatch: sent {sent:#06x}, computed {computed:#06x}", field="e2e_crc"
            )
    record.finish()
    return CgmRecord(
        glucose, time_offset, CgmStatus(status), frozenset(octets), trend, quality, has_crc
    )


def parse_cgm_measurement(data: bytes, *, e2e_crc: bool | None = None) -> tuple[CgmRecord, ...]:
    """Decode a CGM Measurement (0x2AA7) value: every record it holds, in order."""
    reader = Reader(data)
    if reader.remaining() == 0:
        raise DecodeError("truncated: CGM Measurement has no record", field="size")
    records = []
    while reader.remaining():
        records.append(_parse_record(reader, e2e_crc))
    return tuple(records)


def _encode_record(record: CgmRecord) -> bytes:
    unknown = record.octets - {"status", "cal_temp", "warning"}
    if unknown:
        raise EncodeError(f"unknown octets {sorted(unknown)}", field="octets")
    status = int(record.status)
    if status & ~_STATUS_DEFINED:
        raise EncodeError("reserved status bits", field="sensor_status_annunciation")
    flags = (_TREND if record.trend is not None else 0) | (
        _QUALITY if record.quality is not None else 0
    )
    body = Writer()
    body.sfloat(record.glucose, "glucose").u16(record.time_offset, "time_offset")
    for flag, shift, name in _OCTETS:
        octet = (status >> shift) & 0xFF
        if name.removesuffix("_octet") in record.octets:
            flags |= flag
            body.u8(octet, name)
        elif octet:
            raise EncodeError("status bits set in an octet not sent", field=name)
    if record.trend is not None:
        body.sfloat(record.trend, "trend")
    if record.quality is not None:
        body.sfloat(record.quality, "quality")
    size = 2 + len(body) + (2 if record.e2e_crc else 0)
    out = Writer().u8(size, "size").u8(flags, "flags").raw(body.getvalue())
    if record.e2e_crc:
        out.u16(e2e_crc16(out.getvalue()), "e2e_crc")
    return out.getvalue()


def encode_cgm_measurement(records: Sequence[CgmRecord]) -> bytes:
    """The exact inverse of :func:`parse_cgm_measurement` (records back to back)."""
    if not records:
        raise EncodeError("a CGM Measurement holds at least one record", field="records")
    return b"".join(_encode_record(record) for record in records)


def cgm_absolute_time(session_start: datetime, time_offset_minutes: int) -> datetime:
    """The device-local time of a record: session start + offset minutes."""
    try:
        return session_start + timedelta(minutes=time_offset_minutes)
    except OverflowError as err:
        raise DecodeError("time offset moves the date out of range", field="time_offset") from err


def cgm_measurements(
    records: Sequence[CgmRecord], session_start: datetime | None = None
) -> list[Measurement]:
    """One ``glucose_isf`` measurement (mg/dL) per record.

    Trend and quality become annotations ``"trend:<(mg/dL)/min>"`` and ``"quality:<%>"``.
    """
    out = []
    for record in records:
        notes = list(bit_annotations(int(record.status), _STATUS_NOTES))
        for name, value in (("trend", record.trend), ("quality", record.quality)):
            if value is not None:
                text = value.value if isinstance(value, Special) else f"{value:f}"
                notes.append(f"{name}:{text}")
        if session_start is None:
            when = MeasurementTime(None, None, (f"time-offset-min:{record.time_offset}",))
        else:
            time = cgm_absolute_time(session_start, record.time_offset)
            when = MeasurementTime(time, time.isoformat())
        out.append(
            numeric_measurement("glucose_isf", record.glucose, "mg/dL", when, annotations=notes)
        )
    return out


def decode_cgm_measurement(
    data: bytes, *, session_start: datetime | None = None, e2e_crc: bool | None = None
) -> list[Measurement]:
    """Decode a CGM Measurement (0x2AA7) value into measurements (one per record)."""
    return cgm_measurements(parse_cgm_measurement(data, e2e_crc=e2e_crc), session_start)


# ---------------------------------------------------------- CGM Session Start Time (0x2AAA)

TIME_ZONE_UNKNOWN = -128
DST_UNKNOWN = 255
# DST Offset value -> offset in minutes (None: not known)
DST_OFFSETS: dict[int, int | None] = {0: 0, 2: 30, 4: 60, 8: 120, DST_UNKNOWN: None}


@dataclass(frozen=True, slots=True)
class CgmSessionStartTime:
    """The CGM session start: device-local Date Time, its time zone and DST offset.

    ``time_zone`` is in 15-minute steps from UTC (``TIME_ZONE_UNKNOWN`` = -128);
    ``dst_offset`` is the raw DST Offset value (see :data:`DST_OFFSETS`).
    """

    start: GattDateTime
    time_zone: int = TIME_ZONE_UNKNOWN
    dst_offset: int = DST_UNKNOWN
    e2e_crc: bool = False

    @property
    def local_start(self) -> datetime | None:
        """The naive device-local start, or ``None`` when the date is not known."""
        return self.start.to_datetime()


def _zone_problem(time_zone: int, dst_offset: int) -> tuple[str, str] | None:
    """``(field, reason)`` when the time zone or DST offset is a reserved value."""
    if time_zone != TIME_ZONE_UNKNOWN and not -48 <= time_zone <= 56:
        return "time_zone", f"reserved value {time_zone}"
    if dst_offset not in DST_OFFSETS:
        return "dst_offset", f"reserved value {dst_offset}"
    return None


def parse_cgm_session_start_time(data: bytes) -> CgmSessionStartTime:
    """Decode a CGM Session Start Time (0x2AAA) value (9 bytes, or 11 with E2E-CRC)."""
    reader = Reader(data)
    start = reader.date_time("session_start_time")
    time_zone = reader.s8("time_zone")
    dst_offset = reader.u8("dst_offset")
    problem = _zone_problem(time_zone, dst_offset)
    if problem is not None:
        raise DecodeError(problem[1], field=problem[0])
    has_crc = reader.remaining() > 0
    if has_crc:
        _check_crc(reader, 0, "e2e_crc")
    reader.finish()
    return CgmSessionStartTime(start, time_zone, dst_offset, has_crc)


def encode_cgm_session_start_time(value: CgmSessionStartTime) -> bytes:
    """The exact inverse of :func:`parse_cgm_session_start_time`."""
    problem = _zone_problem(value.time_zone, value.dst_offset)
    if problem is not None:
        raise EncodeError(problem[1], field=problem[0])
    out = Writer().date_time(value.start).s8(value.time_zone, "time_zone")
    out.u8(value.dst_offset, "dst_offset")
    if value.e2e_crc:
        out.u16(e2e_crc16(out.getvalue()), "e2e_crc")
    return out.getvalue()
