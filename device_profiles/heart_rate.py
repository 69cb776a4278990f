"""Heart Rate Measurement (0x2A37).

GATT Specification Supplement, characteristic "Heart Rate Measurement"
(``org.bluetooth.characteristic.heart_rate_measurement``)::

    flags u8      bit 0 value format: 0 u8, 1 u16 (beats per minute)
                  bits 1-2 sensor contact: 0/1 not supported, 2 supported but not detected,
                           3 supported and detected
                  bit 3 Energy Expended present
                  bit 4 RR-Interval present (one or more)
                  bits 5-7 reserved
    heart rate    u8 or u16
    [energy expended u16, kilojoules, cumulative since the last reset]
    [RR-interval u16, 1/1024 s] ...    every remaining pair of bytes

The measurement is ``heart_rate`` in ``"/min"``. RR intervals stay exact in the record (units
of 1/1024 s; :attr:`HeartRateRecord.rr_intervals_s` in seconds, exactly) and appear on the
measurement as one annotation ``"rr-1024s:812,790"`` (in order); energy as
``"energy-kJ:123"``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from device_profiles._bytes import Reader, Writer, numeric_measurement, reject_reserved
from device_profiles.errors import DecodeError, EncodeError
from device_profiles.measurement import Measurement

_UINT16 = 0x01
_CONTACT_SHIFT = 1
_CONTACT_MASK = 0x06
_ENERGY = 0x08
_RR = 0x10
_FLAGS_DEFINED = 0x1F


class SensorContact(enum.IntEnum):
    """Flags bits 1-2. Values 0 and 1 both mean "not supported"; both are kept for encoding."""

    NOT_SUPPORTED = 0
    NOT_SUPPORTED_1 = 1
    NOT_DETECTED = 2
    DETECTED = 3


_CONTACT_ANNOTATIONS: dict[SensorContact, tuple[str, ...]] = {
    SensorContact.NOT_SUPPORTED: (),
    SensorContact.NOT_SUPPORTED_1: (),
    SensorContact.NOT_DETECTED: ("sensor-contact:not-detected",),
    SensorContact.DETECTED: ("sensor-contact:detected",),
}


@dataclass(frozen=True, slots=True)
class HeartRateRecord:
    """One Heart Rate Measurement, field for field.

    ``uint16`` is the value format flag (a value below 256 may be sent either way);
    ``rr_intervals`` in units of 1/1024 s, empty when the RR flag is clear.
    """

    heart_rate: int
    uint16: bool = False
    contact: SensorContact = SensorContact.NOT_SUPPORTED
    energy_expended_kj: int | None = None
    rr_intervals: tuple[int, ...] = ()

    @property
    def rr_intervals_s(self) -> tuple[Decimal, ...]:
        """The RR intervals in seconds (n / 1024 is exact in decimal)."""
        return tuple(Decimal(n) / 1024 for n in self.rr_intervals)


def parse_heart_rate(data: bytes) -> HeartRateRecord:
    """Decode a Heart Rate Measurement (0x2A37) value into its typed record."""
    reader = Reader(data)
    flags = reader.u8("flags")
    reject_reserved(flags, _FLAGS_DEFINED, "flags")
    uint16 = bool(flags & _UINT16)
    rate = reader.u16("heart_rate") if uint16 else reader.u8("heart_rate")
    contact = SensorContact((flags & _CONTACT_MASK) >> _CONTACT_SHIFT)
    energy = reader.u16("energy_expended") if flags & _ENERGY else None
    intervals: list[int] = []
    if flags & _RR:
        if reader.remaining() == 0:
            raise DecodeError("inconsistent: flags announce RR intervals, none present", field="rr")
        while reader.remaining():
            intervals.append(reader.u16("rr_interval"))
    reader.finish()
    return HeartRateRecord(rate, uint16, contact, energy, tuple(intervals))


def encode_heart_rate(record: HeartRateRecord) -> bytes:
    """The exact inverse of :func:`parse_heart_rate`."""
    flags = (
        (_UINT16 if record.uint16 else 0)
        | int(record.contact) << _CONTACT_SHIFT
        | (_ENERGY if record.energy_expended_kj is not None else 0)
        | (_RR if record.rr_intervals else 0)
    )
    out = Writer().u8(flags, "flags")
    if record.uint16:
        out.u16(record.heart_rate, "heart_rate")
    else:
        out.u8(record.heart_rate, "heart_rate")
    if record.energy_expended_kj is not None:
        out.u16(record.energy_expended_kj, "energy_expended")
    for interval in record.rr_intervals:
        out.u16(interval, "rr_interval")
    if len(out) > 512:  # ATT_MTU bounds a characteristic value (Core Vol 3, Part F, 3.2.9)
        raise EncodeError("value longer than 512 bytes", field="rr")
    return out.getvalue()


def heart_rate_measurements(record: HeartRateRecord) -> list[Measurement]:
    """The ``heart_rate`` measurement, with contact, energy and RR intervals as annotations."""
    notes = list(_CONTACT_ANNOTATIONS[record.contact])
    if record.energy_expended_kj is not None:
        notes.append(f"energy-kJ:{record.energy_expended_kj}")
    if record.rr_intervals:
        notes.append("rr-1024s:" + ",".join(map(str, record.rr_intervals)))
    return [
        numeric_measurement("heart_rate", Decimal(record.heart_rate), "/min", annotations=notes)
    ]


def decode_heart_rate(data: bytes) -> list[Measurement]:
    """Decode a Heart Rate Measurement (0x2A37) value into measurements."""
    return heart_rate_measurements(parse_heart_rate(data))
