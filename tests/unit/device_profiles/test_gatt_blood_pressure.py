"""Blood Pressure Measurement 0x2A35 and Intermediate Cuff Pressure 0x2A36.

Spec vectors are hand-built from the GATT Specification Supplement characteristic
"Blood Pressure Measurement" (org.bluetooth.characteristic.blood_pressure_measurement):
flags u8, three SFLOAT pressures, [Date Time], [SFLOAT pulse rate], [u8 user id],
[u16 measurement status]. Captured-style vectors come from Nordic Semiconductor's
Android-BLE-Common-Library tests (ble-common/src/test/java/no/nordicsemi/android/ble/common/
callback/bps/BloodPressureMeasurementDataCallbackTest.java and
IntermediateCuffPressureDataCallbackTest.java), whose expected byte arrays are quoted here.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from device_profiles.blood_pressure import (
    BloodPressureRecord,
    BpStatus,
    CuffPressureRecord,
    PressureUnit,
    decode_blood_pressure,
    decode_intermediate_cuff_pressure,
    encode_blood_pressure,
    encode_intermediate_cuff_pressure,
    parse_blood_pressure,
    parse_intermediate_cuff_pressure,
)
from device_profiles.errors import DecodeError, EncodeError
from device_profiles.gatt_time import GattDateTime
from device_profiles.measurement import Special

NORDIC_FULL = bytes.fromhex("1E 8A00 5800 7800 0000 04 11 14 29 3B 3C00 01 2700")
NORDIC_KPA = bytes([0x15, 0xBD, 0xF0, 0x0B, 0x00, 0x9F, 0xF0, 0x3C, 0x00, 0x12, 0x00])
NORDIC_MINIMAL = bytes([0x00, 0xBD, 0xF0, 0x0B, 0x00, 0x9F, 0xF0])


def test_spec_vector_mmhg_with_everything() -> None:
    # flags 0x1E; 120/80/93 mmHg; 2024-03-01 08:30:00; pulse 72; user 2; status 0.
    data = bytes.fromhex("1E 7800 5000 5D00 E807030108 1E00 4800 02 0000")
    readings = decode_blood_pressure(data)
    assert [(m.metric, m.value, m.unit) for m in readings] == [
        ("systolic_bp", Decimal(120), "mm[Hg]"),
        ("diastolic_bp", Decimal(80), "mm[Hg]"),
        ("mean_arterial_pressure", Decimal(93), "mm[Hg]"),
        ("pulse_rate", Decimal(72), "/min"),
    ]
    assert all(m.time == datetime(2024, 3, 1, 8, 30) for m in readings)
    assert all(m.user_id == 2 and m.annotations == () for m in readings)
    assert encode_blood_pressure(parse_blood_pressure(data)) == data


def test_captured_full_measurement_with_unknown_year() -> None:
    record = parse_blood_pressure(NORDIC_FULL)
    assert record == BloodPressureRecord(
        Decimal(138),
        Decimal(88),
        Decimal(120),
        PressureUnit.MMHG,
        GattDateTime(0, 4, 17, 20, 41, 59),
        Decimal(60),
        1,
        BpStatus.BODY_MOVEMENT
        | BpStatus.CUFF_TOO_LOOSE
        | BpStatus.IRREGULAR_PULSE
        | BpStatus.IMPROPER_POSITION,
    )
    systolic = decode_blood_pressure(NORDIC_FULL)[0]
    assert systolic.time is None and systolic.time_raw == "0000-04-17T20:41:59"
    assert systolic.annotations == (
        "time-unknown",
        "body-movement",
        "cuff-loose",
        "irregular-pulse",
        "improper-position",
    )
    assert encode_blood_pressure(record) == NORDIC_FULL


def test_captured_kpa_measurement() -> None:
    readings = decode_blood_pressure(NORDIC_KPA)
    assert [(m.metric, str(m.value), m.unit) for m in readings] == [
        ("systolic_bp", "18.9", "kPa"),
        ("diastolic_bp", "11", "kPa"),
        ("mean_arterial_pressure", "15.9", "kPa"),
        ("pulse_rate", "60", "/min"),
    ]
    assert readings[0].annotations == ("cuff-loose", "pulse-rate-low")
    assert encode_blood_pressure(parse_blood_pressure(NORDIC_KPA)) == NORDIC_KPA


def test_captured_minimal_measurement() -> None:
    assert len(decode_blood_pressure(NORDIC_MINIMAL)) == 3


def test_pulse_rate_above_range_and_unknown_user() -> None:
    data = bytes.fromhex("18 7800 5000 5D00 FF 0800")
    systolic = decode_blood_pressure(data)[0]
    assert systolic.user_id is None
    assert systolic.annotations == ("pulse-rate-high", "user-unknown")


def test_special_values_stay_special() -> None:
    data = bytes.fromhex("00 FF07 5000 0008")
    systolic, diastolic, mean = decode_blood_pressure(data)
    assert (systolic.value, systolic.special) == (None, Special.NAN)
    assert diastolic.value == Decimal(80)
    assert mean.special is Special.NRES


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bytes([3, 2, 3, 4, 5, 6, 7]), "truncated: timestamp needs 7 bytes, 0 left"),  # Nordic
        (bytes([1, 2, 3, 4, 5, 6]), "truncated: mean_arterial_pressure needs 2 bytes, 1 left"),
        (bytes.fromhex("20 7800 5000 5D00"), "reserved bits set: 0x20"),
        (bytes.fromhex("10 7800 5000 5D00 1800"), "reserved pulse rate range value 3"),
        (bytes.fromhex("10 7800 5000 5D00 4000"), "reserved bits set: 0x40"),
        (bytes.fromhex("04 7800 5000 5D00"), "truncated: pulse_rate needs 2 bytes, 0 left"),
        (NORDIC_MINIMAL + b"\x00", "oversized: 1 unexpected trailing bytes"),
        (b"", "truncated: flags needs 1 bytes, 0 left"),
    ],
)
def test_malformed_values_are_decode_errors(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_blood_pressure(data)


def test_encoder_refuses_reserved_status_and_inexact_pressures() -> None:
    with pytest.raises(EncodeError, match="invalid status"):
        encode_blood_pressure(
            BloodPressureRecord(Decimal(1), Decimal(1), Decimal(1), status=BpStatus(0x18))
        )
    with pytest.raises(EncodeError, match="not exactly representable"):
        encode_blood_pressure(BloodPressureRecord(Decimal("120.0001"), Decimal(1), Decimal(1)))


# ------------------------------------------------------------------ Intermediate Cuff Pressure


def test_captured_cuff_pressure_with_zeroed_unused_fields() -> None:
    # Nordic's vector fills the unused diastolic/MAP fields with 0, not NaN: accepted, ignored.
    data = bytes.fromhex("1E 0400 0000 0000 0000 04 11 14 29 3B 3C00 01 2700")
    cuff, pulse = decode_intermediate_cuff_pressure(data)
    assert (cuff.metric, cuff.value, cuff.unit) == ("cuff_pressure", Decimal(4), "mm[Hg]")
    assert cuff.annotations[:2] == ("time-unknown", "intermediate")
    assert pulse.metric == "pulse_rate"
    assert encode_intermediate_cuff_pressure(parse_intermediate_cuff_pressure(data)) == data


def test_spec_cuff_pressure_writes_nan_in_unused_fields() -> None:
    record = CuffPressureRecord(Decimal("11.1"), PressureUnit.KPA)
    data = encode_intermediate_cuff_pressure(record)
    assert data == bytes.fromhex("01 6FF0 FF07 FF07")
    (cuff,) = decode_intermediate_cuff_pressure(data)
    assert (str(cuff.value), cuff.unit, cuff.annotations) == ("11.1", "kPa", ("intermediate",))


def test_captured_minimal_cuff_pressure() -> None:
    data = bytes([0x00, 0xD7, 0xF0, 0x00, 0x00, 0x00, 0x00])  # 21.5 mmHg (Nordic)
    (cuff,) = decode_intermediate_cuff_pressure(data)
    assert str(cuff.value) == "21.5"
