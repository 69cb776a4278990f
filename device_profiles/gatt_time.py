"""Date Time (0x2A08): the 7-byte device clock reading used by every health measurement.

GATT Specification Supplement, characteristic "Date Time" (``org.bluetooth.characteristic.
date_time``). Layout, little-endian::

    offset  size  field    range
    0       2     year     1582..9999, 0 = not known
    2       1     month    1..12, 0 = not known
    3       1     day      1..31, 0 = not known
    4       1     hours    0..23
    5       1     minutes  0..59
    6       1     seconds  0..59

Invariants: a :class:`GattDateTime` always holds a possible reading (it validates on
construction), so an impossible date (February 30, month 13) is a :class:`DecodeError` at the
boundary and never reaches a measurement. The clock is the device's local clock: conversions
give *naive* datetimes. A reading with an unknown year, month or day has no datetime; it is
kept as its fields and its ISO-like text (``"0000-04-17T20:41:59"``).

Current Time (0x2A2B), GATT Specification Supplement, characteristic "Current Time"
(``org.bluetooth.characteristic.current_time``), the clock of the Current Time Service: an
Exact Time 256 (a Day Date Time — Date Time then Day of Week — and Fractions256) then the
Adjust Reason, 10 bytes::

    offset  size  field          range
    0       7     date time      as above
    7       1     day of week    1 = Monday .. 7 = Sunday, 0 = not known; 8..255 reserved
    8       1     fractions256   0..255, in 1/256 s
    9       1     adjust reason  bit 0 manual time update, bit 1 external reference time
                                 update, bit 2 change of time zone, bit 3 change of DST;
                                 bits 4-7 reserved

A :class:`CurrentTime` is consistent on construction: a known date carries its own day of
week (or 0), so a Tuesday that the calendar says is a Wednesday is a :class:`DecodeError`.
"""

from __future__ import annotations

import calendar
import enum
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta

from device_profiles.errors import DecodeError, EncodeError

DATE_TIME_SIZE = 7
_DATE_TIME = struct.Struct("<HBBBBB")
_TIME_UNKNOWN = "time-unknown"

# field -> (minimum, maximum) besides the "not known" value 0 of year, month and day
_RANGES: dict[str, tuple[int, int]] = {
    "year": (1582, 9999),
    "month": (1, 12),
    "day": (1, 31),
    "hours": (0, 23),
    "minutes": (0, 59),
    "seconds": (0, 59),
}
_MAY_BE_UNKNOWN = frozenset({"year", "month", "day"})


@dataclass(frozen=True, slots=True)
class GattDateTime:
    """One Date Time value. ``year``, ``month`` and ``day`` may be 0, meaning "not known".

    Raises :class:`DecodeError` (field ``"date_time"``) when constructed with an impossible
    value, so decoders can build it straight from the wire.
    """

    year: int
    month: int
    day: int
    hours: int
    minutes: int
    seconds: int

    def __post_init__(self) -> None:
        for name, (low, high) in _RANGES.items():
            value = getattr(self, name)
            if value == 0 and name in _MAY_BE_UNKNOWN:
                continue
            if not low <= value <= high:
                raise DecodeError(f"impossible date: {name} {value}", field="date_time")
        if self.month and self.day:
            # An unknown year allows February 29 (some year is a leap year).
            leap_year = self.year if self.year else 2000
            last_day = calendar.monthrange(leap_year, self.month)[1]
            if self.day > last_day:
                raise DecodeError(
                    f"impossible date: day {self.day} of month {self.month}", field="date_time"
                )

    @property
    def is_known(self) -> bool:
        """Whether year, month and day are all known."""
        return bool(self.year and self.month and self.day)

    def to_datetime(self) -> datetime | None:
        """The naive local datetime, or ``None`` when a date part is not known."""
        if not self.is_known:
            return None
        return datetime(self.year, self.month, self.day, self.hours, self.minutes, self.seconds)

    def iso(self) -> str:
        """The fields in ISO form; equal to ``to_datetime().isoformat()`` when known."""
        return (
            f"{self.year:04d}-{self.month:02d}-{self.day:02d}"
            f"T{self.hours:02d}:{self.minutes:02d}:{self.seconds:02d}"
        )

    @classmethod
    def from_datetime(cls, value: datetime) -> GattDateTime:
        """The Date Time of a naive whole-second ``value``; :class:`EncodeError` otherwise."""
        if value.tzinfo is not None:
            raise EncodeError("Date Time is a device-local clock: use naive", field="date_time")
        if value.microsecond:
            raise EncodeError("Date Time has whole seconds only", field="date_time")
        try:
            return cls(value.year, value.month, value.day, value.hour, value.minute, value.second)
        except DecodeError as err:
            raise EncodeError(err.reason, field="date_time") from err


def decode_date_time(data: bytes) -> GattDateTime:
    """Decode a Date Time characteristic value (exactly 7 bytes)."""
    if len(data) != DATE_TIME_SIZE:
        problem = "truncated" if len(data) < DATE_TIME_SIZE else "oversized"
        raise DecodeError(
            f"{problem}: Date Time is {DATE_TIME_SIZE} bytes, got {len(data)}", field="date_time"
        )
    return unpack_date_time(data, 0)


def unpack_date_time(data: bytes | memoryview, offset: int) -> GattDateTime:
    """The Date Time at ``offset``; the caller has checked that 7 bytes are there."""
    try:
        fields = _DATE_TIME.unpack_from(data, offset)
    except struct.error as err:
        raise DecodeError(f"truncated: {err}", field="date_time") from err
    return GattDateTime(*fields)


def encode_date_time(value: GattDateTime) -> bytes:
    """The 7 bytes of ``value`` (the exact inverse of :func:`decode_date_time`)."""
    return _DATE_TIME.pack(
        value.year, value.month, value.day, value.hours, value.minutes, value.seconds
    )


CURRENT_TIME_SIZE = 10
_EXACT_TIME_TAIL = struct.Struct("<BBB")  # day of week, fractions256, adjust reason


class AdjustReason(enum.IntFlag):
    """Why the clock was last adjusted (Current Time, Adjust Reason bits 0-3)."""

    MANUAL_TIME_UPDATE = 0x01
    EXTERNAL_REFERENCE_TIME_UPDATE = 0x02
    CHANGE_OF_TIME_ZONE = 0x04
    CHANGE_OF_DST = 0x08


_ADJUST_REASON_DEFINED = 0x0F
NOT_ADJUSTED = AdjustReason(0)


@dataclass(frozen=True, slots=True)
class CurrentTime:
    """One Current Time value: a device clock reading with sub-second fractions.

    Raises :class:`DecodeError` when constructed with a reserved day of week or adjust reason,
    fractions outside a byte, or a day of week that contradicts a known date.
    """

    date_time: GattDateTime
    day_of_week: int  # 1 = Monday .. 7 = Sunday, 0 = not known
    fractions256: int = 0
    adjust_reason: AdjustReason = NOT_ADJUSTED

    def __post_init__(self) -> None:
        if not 0 <= self.day_of_week <= 7:
            raise DecodeError(f"reserved day of week {self.day_of_week}", field="day_of_week")
        if not 0 <= self.fractions256 <= 0xFF:
            raise DecodeError(
                f"fractions256 {self.fractions256} is outside 0..255", field="fractions256"
            )
        reserved = int(self.adjust_reason) & ~_ADJUST_REASON_DEFINED
        if reserved:
            raise DecodeError(f"reserved bits set: {reserved:#x}", field="adjust_reason")
        shown = self.date_time.to_datetime()
        if self.day_of_week and shown is not None and shown.isoweekday() != self.day_of_week:
            raise DecodeError(
                f"day of week {self.day_of_week} is not that of {shown.date().isoformat()} "
                f"({shown.isoweekday()})",
                field="day_of_week",
            )

    def to_datetime(self) -> datetime | None:
        """The naive local datetime (fractions as microseconds), or ``None`` if not known."""
        shown = self.date_time.to_datetime()
        if shown is None:
            return None
        return shown + timedelta(microseconds=self.fractions256 * 1_000_000 // 256)

    @classmethod
    def from_datetime(
        cls, value: datetime, adjust_reason: AdjustReason = NOT_ADJUSTED
    ) -> CurrentTime:
        """The Current Time of a naive ``value``: the fractions are its microseconds, floored
        to 1/256 s; the day of week is its own. :class:`EncodeError` as for Date Time."""
        date_time = GattDateTime.from_datetime(value.replace(microsecond=0))
        fractions = value.microsecond * 256 // 1_000_000
        return cls(date_time, value.isoweekday(), fractions, adjust_reason)


def decode_current_time(data: bytes) -> CurrentTime:
    """Decode a Current Time characteristic value (exactly 10 bytes)."""
    if len(data) != CURRENT_TIME_SIZE:
        problem = "truncated" if len(data) < CURRENT_TIME_SIZE else "oversized"
        raise DecodeError(
            f"{problem}: Current Time is {CURRENT_TIME_SIZE} bytes, got {len(data)}",
            field="current_time",
        )
    date_time = unpack_date_time(data, 0)
    day_of_week, fractions, reason = _EXACT_TIME_TAIL.unpack_from(data, DATE_TIME_SIZE)
    return CurrentTime(date_time, day_of_week, fractions, AdjustReason(reason))


def encode_current_time(value: CurrentTime) -> bytes:
    """The 10 bytes of ``value`` (the exact inverse of :func:`decode_current_time`)."""
    tail = _EXACT_TIME_TAIL.pack(value.day_of_week, value.fractions256, int(value.adjust_reason))
    return encode_date_time(value.date_time) + tail


@dataclass(frozen=True, slots=True)
class MeasurementTime:
    """What a decoder puts in a Measurement's ``time``, ``time_raw`` and annotations."""

    time: datetime | None
    time_raw: str | None
    annotations: tuple[str, ...] = ()


NO_TIME = MeasurementTime(None, None)


def measurement_time(value: GattDateTime | None, offset_minutes: int = 0) -> MeasurementTime:
    """The time fields for a timestamp plus an optional offset (Glucose: base time + offset).

    An unknown date gives ``time=None``, the raw fields as ``time_raw`` and the annotation
    ``"time-unknown"`` (plus ``"time-offset-min:N"`` when an offset would have applied).
    A date that the offset pushes outside the datetime range is a :class:`DecodeError`.
    """
    if value is None:
        return NO_TIME
    base = value.to_datetime()
    if base is None:
        offset = (f"time-offset-min:{offset_minutes}",) if offset_minutes else ()
        notes = (_TIME_UNKNOWN, *offset)
        return MeasurementTime(None, value.iso(), notes)
    try:
        when = base + timedelta(minutes=offset_minutes)
    except OverflowError as err:
        raise DecodeError("time offset moves the date out of range", field="time_offset") from err
    return MeasurementTime(when, when.isoformat())
