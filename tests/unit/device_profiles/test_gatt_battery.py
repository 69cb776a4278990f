"""Battery Level 0x2A19 (GATT Specification Supplement, "Battery Level": u8 percent 0..100).
Byte arrays from Nordic Semiconductor's Android-BLE-Common-Library BatteryLevelDataCallbackTest."""

from __future__ import annotations

import pytest

from device_profiles.battery import BatteryLevel, encode_battery_level, parse_battery_level
from device_profiles.errors import DecodeError, EncodeError


@pytest.mark.parametrize(("data", "percent"), [(b"\x64", 100), (b"\x0f", 15), (b"\x00", 0)])
def test_battery_levels(data: bytes, percent: int) -> None:
    assert parse_battery_level(data) == BatteryLevel(percent)
    assert encode_battery_level(BatteryLevel(percent)) == data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x65", "above 100"),
        (b"\x64\x00", "oversized: 1 unexpected trailing bytes"),
        (b"", "truncated: battery_level needs 1 bytes, 0 left"),
    ],
)
def test_malformed_levels_are_decode_errors(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        parse_battery_level(data)


def test_encoder_refuses_impossible_levels() -> None:
    with pytest.raises(EncodeError):
        encode_battery_level(BatteryLevel(101))
