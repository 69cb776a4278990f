"""Battery Level (0x2A19): device status, not a patient measurement.

GATT Specification Supplement, characteristic "Battery Level"
(``org.bluetooth.characteristic.battery_level``): one u8, the charge in percent, 0..100
(100 is fully charged). Anything else (a value above 100, a missing or an extra byte) is a
:class:`DecodeError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from device_profiles._bytes import Reader, Writer
from device_profiles.errors import DecodeError, EncodeError


@dataclass(frozen=True, slots=True)
class BatteryLevel:
    """The battery charge of a device, in percent (0..100)."""

    percent: int


def parse_battery_level(data: bytes) -> BatteryLevel:
    """Decode a Battery Level (0x2A19) value."""
    reader = Reader(data)
    percent = reader.u8("battery_level")
    reader.finish()
    if percent > 100:
        raise DecodeError(f"battery level {percent} is above 100 %", field="battery_level")
    return BatteryLevel(percent)


def encode_battery_level(level: BatteryLevel) -> bytes:
    """The exact inverse of :func:`parse_battery_level`."""
    if not 0 <= level.percent <= 100:
        raise EncodeError(f"battery level {level.percent} is outside 0..100", field="battery_level")
    return Writer().u8(level.percent, "battery_level").getvalue()
