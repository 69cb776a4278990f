"""PLX Spot-Check Measurement 0x2A5E and PLX Continuous Measurement 0x2A5F.

Vectors are hand-built from the GATT Specification Supplement characteristics
(org.bluetooth.characteristic.plx_spot_check_measurement / plx_continuous_measurement):
SFLOAT SpO2 and PR pairs, [Date Time], [u16 measurement status], [u24 device and sensor
status], [SFLOAT pulse amplitude index].
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from device_profiles.errors import DecodeError
from device_profiles.measurement import Special
from device_profiles.pulse_oximeter import (
    ContinuousRecord,
    PlxDeviceStatus,
    PlxMeasurementStatus,
    SpO2PR,
    decode_continuous,
    decode_spot_check,
    encode_continuous,
    encode_spot_check,
    parse_continuous,
    parse_spot_check,
)

# flags 0x0F: timestamp, measurement status, device status, PAI; SpO2 97 %, PR 72 /min;
# 2024-03-01 08:30:00; status validated + fully qualified; low perfusion; PAI 2.5 %.
SPOT = bytes.fromhex("0F 6100 4800 E807030108 1E00 8001 200000 19F0")


def test_spot_check_with_everything() -> None:
    record = parse_spot_check(SPOT)
    assert record.measurement_status == (
        PlxMeasurementStatus.VALIDATED_DATA | PlxMeasurementStatus.FULLY_QUALIFIED_DATA
    )
    assert record.device_status == PlxDeviceStatus.LOW_PERFUSION
    readings = decode_spot_check(SPOT)
    assert [(m.metric, str(m.value), m.unit) for m in readings] == [
        ("spo2", "97", "%"),
        ("pulse_rate", "72", "/min"),
        ("pulse_amplitude_index", "2.5", "%"),
    ]
    assert all(m.time == datetime(2024, 3, 1, 8, 30) for m in readings)
    assert readings[0].annotations == ("validated", "fully-qualified", "low-perfusion")
    assert encode_spot_check(record) == SPOT


def test_spot_check_with_device_clock_not_set_has_no_time() -> None:
    data = bytes.fromhex("11 6100 4800 D007010100 0000")  # 2000-01-01 00:00:00, clock not set
    spo2, _ = decode_spot_check(data)
    assert spo2.time is None
    assert spo2.time_raw == "2000-01-01T00:00:00"
    assert set(spo2.annotations) == {"device-clock-not-set", "time-unknown"}


def test_unavailable_measurement_is_special() -> None:
    data = bytes.fromhex("02 FF07 FF07 0020")  # NaN / NaN, "measurement unavailable"
    spo2, pulse = decode_spot_check(data)
    assert spo2.special is Special.NAN and pulse.special is Special.NAN
    assert spo2.annotations == ("measurement-unavailable",)


def test_continuous_normal_fast_and_slow() -> None:
    data = bytes.fromhex("03 6100 4800 6000 4900 6200 4700")
    record = parse_continuous(data)
    assert record == ContinuousRecord(
        SpO2PR(Decimal(97), Decimal(72)),
        SpO2PR(Decimal(96), Decimal(73)),
        SpO2PR(Decimal(98), Decimal(71)),
    )
    readings = decode_continuous(data)
    assert [(m.metric, int(m.value or 0), m.annotations) for m in readings] == [
        ("spo2", 97, ("averaging:normal",)),
        ("pulse_rate", 72, ("averaging:normal",)),
        ("spo2", 96, ("averaging:fast",)),
        ("pulse_rate", 73, ("averaging:fast",)),
        ("spo2", 98, ("averaging:slow",)),
        ("pulse_rate", 71, ("averaging:slow",)),
    ]
    assert all(m.time is None for m in readings)
    assert encode_continuous(record) == data


def test_continuous_with_status_and_pai() -> None:
    data = bytes.fromhex("1C 6100 4800 2000 008000 0A00")
    readings = decode_continuous(data)
    assert readings[0].annotations == (
        "averaging:normal",
        "measurement-ongoing",
        "sensor-disconnected",
    )
    assert readings[-1].metric == "pulse_amplitude_index" and readings[-1].value == 10


@pytest.mark.parametrize(
    ("decode", "data", "message"),
    [
        (decode_spot_check, bytes.fromhex("20 6100 4800"), "reserved bits set: 0x20"),
        (decode_spot_check, bytes.fromhex("02 6100 4800 0100"), "reserved bits set: 0x1"),
        (decode_spot_check, bytes.fromhex("04 6100 4800 000001"), "reserved bits set: 0x10000"),
        (decode_spot_check, bytes.fromhex("00 6100 48"), "truncated: pulse_rate needs 2 bytes"),
        (decode_spot_check, bytes.fromhex("01 6100 4800 E80702"), "truncated: timestamp"),
        (decode_continuous, bytes.fromhex("01 6100 4800 6000"), "truncated: pulse_rate_fast"),
        (decode_continuous, bytes.fromhex("20 6100 4800"), "reserved bits set: 0x20"),
        (decode_continuous, bytes.fromhex("00 6100 4800 00"), "oversized"),
    ],
)
def test_malformed_values_are_decode_errors(decode: object, data: bytes, message: str) -> None:
    assert callable(decode)
    with pytest.raises(DecodeError, match=message):
        decode(data)
