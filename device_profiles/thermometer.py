"""Temperature Measurement (0x2A1C) and Intermediate Temperature (0x2A1E).

GATT Specification Supplement, characteristics "Temperature Measurement" and "Intermediate
Temperature" (``org.bluetooth.characteristic.temperature_measurement``, same layout)::

    flags u8      bit 0 units: 0 Celsius, 1 Fahrenheit
                  bit 1 Time Stamp present
                  bit 2 Temperature Type present
                  bits 3-7 reserved
    temperature   FLOAT (IEEE 11073 32-bit)
    [time stamp   Date Time, 7 bytes]
    [type u8]     "Temperature Type": 1 armpit, 2 body (general), 3 ear (usually earlobe),
                  4 finger, 5 gastro-intestinal tract, 6 mouth, 7 rectum, 8 toe,
                  9 tympanum (ear drum); 0 and 10-255 reserved

The measurement is ``body_temperature`` in ``"Cel"`` or ``"[degF]"``, the site an annotation
(``"site:armpit"``); intermediate values are annotated ``"intermediate"``. The type only
describes where the temperature was taken: a reserved type is kept as its number and
flagged (``"temperature-type-reserved:255"``), the temperature is not lost.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from device_profiles._bytes import (
    Reader,
    Writer,
    descriptive_value,
    numeric_measurement,
    reject_reserved,
    reserved_note,
)
from device_profiles.gatt_time import GattDateTime, measurement_time
from device_profiles.ieee11073 import Numeric
from device_profiles.measurement import Measurement

_FAHRENHEIT = 0x01
_TIMESTAMP = 0x02
_TYPE = 0x04
_FLAGS_DEFINED = 0x07


class TemperatureUnit(enum.Enum):
    """Flags bit 0, as UCUM."""

    CELSIUS = "Cel"
    FAHRENHEIT = "[degF]"


class TemperatureType(enum.IntEnum):
    ARMPIT = 1
    BODY = 2
    EAR = 3
    FINGER = 4
    GASTRO_INTESTINAL_TRACT = 5
    MOUTH = 6
    RECTUM = 7
    TOE = 8
    TYMPANUM = 9


_SITE_ANNOTATIONS: dict[TemperatureType, str] = {
    TemperatureType.ARMPIT: "site:armpit",
    TemperatureType.BODY: "site:body",
    TemperatureType.EAR: "site:ear",
    TemperatureType.FINGER: "site:finger",
    TemperatureType.GASTRO_INTESTINAL_TRACT: "site:gastro-intestinal-tract",
    TemperatureType.MOUTH: "site:mouth",
    TemperatureType.RECTUM: "site:rectum",
    TemperatureType.TOE: "site:toe",
    TemperatureType.TYMPANUM: "site:tympanum",
}


@dataclass(frozen=True, slots=True)
class TemperatureRecord:
    """One Temperature Measurement (or Intermediate Temperature), field for field."""

    temperature: Numeric
    unit: TemperatureUnit = TemperatureUnit.CELSIUS
    timestamp: GattDateTime | None = None
    temperature_type: TemperatureType | int | None = None  # int: a reserved value, kept


def parse_temperature(data: bytes) -> TemperatureRecord:
    """Decode a Temperature Measurement or Intermediate Temperature value."""
    reader = Reader(data)
    flags = reader.u8("flags")
    reject_reserved(flags, _FLAGS_DEFINED, "flags")
    unit = TemperatureUnit.FAHRENHEIT if flags & _FAHRENHEIT else TemperatureUnit.CELSIUS
    temperature = reader.float32("temperature")
    timestamp = reader.date_time("timestamp") if flags & _TIMESTAMP else None
    kind = None
    if flags & _TYPE:
        kind = descriptive_value(TemperatureType, reader.u8("temperature_type"))
    reader.finish()
    return TemperatureRecord(temperature, unit, timestamp, kind)


def encode_temperature(record: TemperatureRecord) -> bytes:
    """The exact inverse of :func:`parse_temperature`."""
    flags = (
        (_FAHRENHEIT if record.unit is TemperatureUnit.FAHRENHEIT else 0)
        | (_TIMESTAMP if record.timestamp is not None else 0)
        | (_TYPE if record.temperature_type is not None else 0)
    )
    out = Writer().u8(flags, "flags").float32(record.temperature, "temperature")
    if record.timestamp is not None:
        out.date_time(record.timestamp)
    if record.temperature_type is not None:
        out.u8(int(record.temperature_type), "temperature_type")
    return out.getvalue()


def temperature_measurements(
    record: TemperatureRecord, *, intermediate: bool = False
) -> list[Measurement]:
    """The ``body_temperature`` measurement of a record."""
    notes = ["intermediate"] if intermediate else []
    kind = record.temperature_type
    if isinstance(kind, TemperatureType):
        notes.append(_SITE_ANNOTATIONS[kind])
    elif kind is not None:
        notes += reserved_note(TemperatureType, kind, "temperature_type")
    when = measurement_time(record.timestamp)
    return [
        numeric_measurement(
            "body_temperature", record.temperature, record.unit.value, when, annotations=notes
        )
    ]


def decode_temperature(data: bytes) -> list[Measurement]:
    """Decode a Temperature Measurement (0x2A1C) value into measurements."""
    return temperature_measurements(parse_temperature(data))


def decode_intermediate_temperature(data: bytes) -> list[Measurement]:
    """Decode an Intermediate Temperature (0x2A1E) value into measurements."""
    return temperature_measurements(parse_temperature(data), intermediate=True)
