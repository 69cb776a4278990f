"""Heart Rate Measurement 0x2A37 (GATT Specification Supplement, "Heart Rate Measurement";
org.bluetooth.characteristic.heart_rate_measurement). The byte arrays are those of Nordic
Semiconductor's Android-BLE-Common-Library HeartRateMeasurementDataCallbackTest."""

from __future__ import annotations

from decimal import Decimal

import pytest

from device_profiles.errors import DecodeError, EncodeError
from device_profiles.heart_rate import (
    HeartRateRecord,
    SensorContact,
    decode_heart_rate,
    encode_heart_rate,
    parse_heart_rate,
)


@pytest.mark.parametrize(
    ("data", "record", "annotations"),
    [
        (bytes([0, 85]), HeartRateRecord(85), ()),
        (
            bytes([0x4, 0xFF]),
            HeartRateRecord(255, contact=SensorContact.NOT_DETECTED),
            ("sensor-contact:not-detected",),
        ),
        (
            bytes([0b11110, 85, 50, 0, 33, 0]),
            HeartRateRecord(85, False, SensorContact.DETECTED, 50, (33,)),
            ("sensor-contact:detected", "energy-kJ:50", "rr-1024s:33"),
        ),
        (
            bytes([0b11111, 1, 1, 50, 1, 1, 0, 2, 1, 0xFF, 0xFF]),
            HeartRateRecord(257, True, SensorContact.DETECTED, 306, (1, 258, 65535)),
            ("sensor-contact:detected", "energy-kJ:306", "rr-1024s:1,258,65535"),
        ),
    ],
)
def test_captured_heart_rates(
    data: bytes, record: HeartRateRecord, annotations: tuple[str, ...]
) -> None:
    assert parse_heart_rate(data) == record
    (reading,) = decode_heart_rate(data)
    assert (reading.metric, reading.value, reading.unit) == (
        "heart_rate",
        Decimal(record.heart_rate),
        "/min",
    )
    assert reading.annotations == annotations
    assert encode_heart_rate(record) == data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bytes([0b10111, 1, 1]), "inconsistent: flags announce RR intervals, none present"),
        (bytes([0x10, 60, 1]), "truncated: rr_interval needs 2 bytes, 1 left"),
        (bytes([0x20, 60]), "reserved bits set: 0x20"),
        (bytes([0x01, 60]), "truncated: heart_rate needs 2 bytes, 1 left"),
        (bytes([0x08, 60, 1]), "truncated: energy_expended needs 2 bytes, 1 left"),
        (bytes([0x00, 60, 0]), "oversized"),
    ],
)
def test_malformed_values_are_decode_errors(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_heart_rate(data)


def test_encoder_refuses_a_value_wider_than_its_format() -> None:
    with pytest.raises(EncodeError, match="does not fit"):
        encode_heart_rate(HeartRateRecord(300))
