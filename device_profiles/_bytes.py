"""Bounds-checked byte cursors for the GATT codecs: :class:`Reader` in, :class:`Writer` out.

Every read checks the remaining length first and fails with one :class:`DecodeError` whose
reason reads ``"truncated: <field> needs N bytes, M left"``; :meth:`Reader.finish` refuses
trailing bytes (``"oversized: N unexpected trailing bytes"``). ``struct.error`` never escapes:
it is translated where it can happen (here, and for Date Time in ``gatt_time``). Multi-octet
fields are little-endian: the characteristic definitions list them "LSO to MSO".

The bit-field helpers (:func:`reject_reserved`, :func:`bit_annotations`, :func:`enum_value`)
and :func:`numeric_measurement` live here too: they are the private toolkit every codec uses
between the cursor and the :class:`~device_profiles.measurement.Measurement` it returns.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Mapping
from typing import TypeVar

from device_profiles.errors import DecodeError, EncodeError
from device_profiles.gatt_time import (
    DATE_TIME_SIZE,
    NO_TIME,
    GattDateTime,
    MeasurementTime,
    encode_date_time,
)
from device_profiles.gatt_time import unpack_date_time as _unpack_date_time
from device_profiles.ieee11073 import (
    Numeric,
    encode_float,
    encode_sfloat,
    float_numeric,
    sfloat_numeric,
    split_numeric,
)
from device_profiles.measurement import Measurement

E = TypeVar("E", bound=enum.Enum)

_U8 = struct.Struct("<B")
_S8 = struct.Struct("<b")
_U16 = struct.Struct("<H")
_S16 = struct.Struct("<h")
_U32 = struct.Struct("<I")


class Reader:
    """A cursor over a characteristic value. Reads advance; nothing is ever read out of range."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        self._data = view.cast("B") if view.format != "B" or view.ndim != 1 else view
        self._pos = 0

    @property
    def position(self) -> int:
        """Bytes consumed so far."""
        return self._pos

    def remaining(self) -> int:
        """Bytes not yet consumed."""
        return len(self._data) - self._pos

    def _need(self, size: int, field: str) -> int:
        left = self.remaining()
        if left < size:
            raise DecodeError(f"truncated: {field} needs {size} bytes, {left} left", field=field)
        start = self._pos
        self._pos += size
        return start

    def _unpack(self, fmt: struct.Struct, field: str) -> int:
        start = self._need(fmt.size, field)
        try:
            (value,) = fmt.unpack_from(self._data, start)
        except struct.error as err:  # unreachable after _need; kept as the translation point
            raise DecodeError(f"truncated: {field}: {err}", field=field) from err
        return int(value)

    def u8(self, field: str) -> int:
        return self._unpack(_U8, field)

    def s8(self, field: str) -> int:
        return self._unpack(_S8, field)

    def u16(self, field: str) -> int:
        return self._unpack(_U16, field)

    def s16(self, field: str) -> int:
        return self._unpack(_S16, field)

    def u24(self, field: str) -> int:
        start = self._need(3, field)
        return int.from_bytes(self._data[start : start + 3], "little")

    def u32(self, field: str) -> int:
        return self._unpack(_U32, field)

    def sfloat(self, field: str) -> Numeric:
        """An IEEE 11073 16-bit SFLOAT."""
        return sfloat_numeric(self.u16(field))

    def float32(self, field: str) -> Numeric:
        """An IEEE 11073 32-bit FLOAT."""
        return float_numeric(self.u32(field))

    def date_time(self, field: str) -> GattDateTime:
        """A 7-byte Date Time; an impossible date is a :class:`DecodeError` naming ``field``."""
        start = self._need(DATE_TIME_SIZE, field)
        try:
            return _unpack_date_time(self._data, start)
        except DecodeError as err:
            raise DecodeError(err.reason, field=field) from err

    def take(self, size: int, field: str) -> bytes:
        """The next ``size`` raw bytes."""
        start = self._need(size, field)
        return bytes(self._data[start : start + size])

    def consumed(self, start: int) -> bytes:
        """The bytes read since ``start`` (for CRCs computed over what was read)."""
        return bytes(self._data[start : self._pos])

    def finish(self) -> None:
        """Refuse trailing bytes: a value longer than its flags announce is not trusted."""
        left = self.remaining()
        if left:
            raise DecodeError(f"oversized: {left} unexpected trailing bytes", field="length")


class Writer:
    """Builds a characteristic value; a field outside its wire range is an :class:`EncodeError`."""

    __slots__ = ("_out",)

    def __init__(self) -> None:
        self._out = bytearray()

    def _pack(self, fmt: struct.Struct, value: int, field: str) -> Writer:
        try:
            self._out += fmt.pack(value)
        except struct.error as err:
            raise EncodeError(f"{value!r} does not fit the field", field=field) from err
        return self

    def u8(self, value: int, field: str) -> Writer:
        return self._pack(_U8, value, field)

    def s8(self, value: int, field: str) -> Writer:
        return self._pack(_S8, value, field)

    def u16(self, value: int, field: str) -> Writer:
        return self._pack(_U16, value, field)

    def s16(self, value: int, field: str) -> Writer:
        return self._pack(_S16, value, field)

    def u24(self, value: int, field: str) -> Writer:
        if not 0 <= value <= 0xFFFFFF:
            raise EncodeError(f"{value!r} does not fit the field", field=field)
        self._out += value.to_bytes(3, "little")
        return self

    def u32(self, value: int, field: str) -> Writer:
        return self._pack(_U32, value, field)

    def sfloat(self, value: Numeric, field: str) -> Writer:
        return self.u16(encode_sfloat(value, field=field), field)

    def float32(self, value: Numeric, field: str) -> Writer:
        return self.u32(encode_float(value, field=field), field)

    def date_time(self, value: GattDateTime) -> Writer:
        self._out += encode_date_time(value)
        return self

    def raw(self, data: bytes) -> Writer:
        self._out += data
        return self

    def __len__(self) -> int:
        return len(self._out)

    def getvalue(self) -> bytes:
        return bytes(self._out)


def reject_reserved(value: int, allowed: int, field: str) -> None:
    """:class:`DecodeError` when ``value`` sets a bit outside ``allowed`` (RFU bits)."""
    extra = value & ~allowed
    if extra:
        raise DecodeError(f"reserved bits set: {extra:#x}", field=field)


def bit_annotations(value: int, table: Mapping[int, str]) -> tuple[str, ...]:
    """The annotation of every set bit of ``value`` whose mask is in ``table``, in table order."""
    return tuple(note for mask, note in table.items() if value & mask)


def enum_value(kind: type[E], value: int, field: str) -> E:
    """The member of ``kind`` for ``value``; :class:`DecodeError` for a reserved value."""
    try:
        return kind(value)
    except ValueError as err:
        raise DecodeError(f"reserved value {value}", field=field) from err


def descriptive_value(kind: type[E], value: int) -> E | int:
    """A *descriptive* field (where the value was taken, by whom): its member of ``kind``, or
    the raw number of a reserved value — kept, for the caller to flag (:func:`reserved_note`),
    never a reason to lose the measurement it describes."""
    try:
        return kind(value)
    except ValueError:
        return value


def reserved_note(kind: type[E], value: E | int, field: str) -> tuple[str, ...]:
    """``("<field>-reserved:<value>",)`` for a reserved descriptive value, else nothing."""
    return () if isinstance(value, kind) else (f"{field.replace('_', '-')}-reserved:{value}",)


def unique(notes: Iterable[str]) -> tuple[str, ...]:
    """``notes`` without repeats, first occurrence kept."""
    return tuple(dict.fromkeys(notes))


def numeric_measurement(
    metric: str,
    value: Numeric,
    unit: str,
    when: MeasurementTime = NO_TIME,
    *,
    sequence: int | None = None,
    user_id: int | None = None,
    annotations: Iterable[str] = (),
) -> Measurement:
    """A :class:`Measurement` of an IEEE 11073 value (number or special) with its time fields."""
    number, special = split_numeric(value)
    return Measurement(
        metric=metric,
        value=number,
        unit=unit,
        special=special,
        time=when.time,
        time_raw=when.time_raw,
        sequence=sequence,
        user_id=user_id,
        annotations=unique((*when.annotations, *annotations)),
    )
