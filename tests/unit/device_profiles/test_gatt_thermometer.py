"""Temperature Measurement 0x2A1C and Intermediate Temperature 0x2A1E.

Spec vectors follow the GATT Specification Supplement characteristic "Temperature
Measurement" (org.bluetooth.characteristic.temperature_measurement): flags u8, FLOAT value,
[Date Time], [Temperature Type u8]. The captured-style vector is the byte array of Nordic
Semiconductor's Android-BLE-Common-Library TemperatureMeasurementDataCallbackTest.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from device_profiles.errors import DecodeError
from device_profiles.measurement import Special
from device_profiles.thermometer import (
    TemperatureRecord,
    TemperatureType,
    TemperatureUnit,
    decode_intermediate_temperature,
    decode_temperature,
    encode_temperature,
    parse_temperature,
)

NORDIC = bytes([0x06, 0xB0, 0x0E, 0x00, 0xFE, 0xDC, 0x07, 0x0C, 0x05, 0x0B, 0x32, 0x1B, 0x04])


def test_captured_temperature_at_the_finger() -> None:
    (reading,) = decode_temperature(NORDIC)
    assert (reading.metric, str(reading.value), reading.unit) == (
        "body_temperature",
        "37.60",
        "Cel",
    )
    assert reading.time == datetime(2012, 12, 5, 11, 50, 27)
    assert reading.annotations == ("site:finger",)
    assert encode_temperature(parse_temperature(NORDIC)) == NORDIC


def test_fahrenheit() -> None:
    data = bytes.fromhex("01 DA0300FF")  # 986 x 10^-1 degF
    assert parse_temperature(data) == TemperatureRecord(Decimal("98.6"), TemperatureUnit.FAHRENHEIT)
    (reading,) = decode_temperature(data)
    assert reading.unit == "[degF]"


def test_intermediate_temperature_is_annotated() -> None:
    data = bytes.fromhex("04 6E0100FF 01")  # 36.6 Cel, armpit
    (reading,) = decode_intermediate_temperature(data)
    assert reading.annotations == ("intermediate", "site:armpit")
    assert parse_temperature(data).temperature_type is TemperatureType.ARMPIT


def test_nan_temperature_stays_special() -> None:
    (reading,) = decode_temperature(bytes.fromhex("00 FFFF7F00"))
    assert reading.special is Special.NAN and reading.value is None


@pytest.mark.parametrize("kind", [0x00, 0x0A, 0xFF])
def test_a_reserved_temperature_type_is_kept_and_flagged_not_a_reason_to_lose_it(
    kind: int,
) -> None:
    data = bytes.fromhex("04 6E0100FF") + bytes([kind])  # 36.6 Cel, type reserved
    (reading,) = decode_temperature(data)
    assert reading.value == Decimal("36.6")
    assert reading.annotations == (f"temperature-type-reserved:{kind}",)
    assert parse_temperature(data).temperature_type == kind
    assert encode_temperature(parse_temperature(data)) == data  # still the exact inverse


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (NORDIC[:-1], "truncated: temperature_type needs 1 bytes, 0 left"),  # Nordic's invalid
        (bytes.fromhex("08 6E0100FF"), "reserved bits set: 0x8"),
        (bytes.fromhex("00 6E0100"), "truncated: temperature needs 4 bytes, 3 left"),
        (bytes.fromhex("00 6E0100FF 00"), "oversized"),
    ],
)
def test_malformed_values_are_decode_errors(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_temperature(data)
