"""The UUID -> codec table and decode_characteristic (device_profiles.codecs)."""

from __future__ import annotations

from datetime import datetime

import pytest

from device_profiles import uuids
from device_profiles.battery import BatteryLevel
from device_profiles.codecs import (
    CODECS,
    MEASUREMENT_CODECS,
    codec_for,
    decode_characteristic,
    parse_characteristic,
)
from device_profiles.errors import DecodeError
from device_profiles.vocabulary import METRICS

BP = bytes([0x15, 0xBD, 0xF0, 0x0B, 0x00, 0x9F, 0xF0, 0x3C, 0x00, 0x12, 0x00])


@pytest.mark.parametrize("uuid", ["2A35", "0x2a35", 0x2A35, "00002a35-0000-1000-8000-00805f9b34fb"])
def test_every_uuid_spelling_finds_the_codec(uuid: str | int) -> None:
    readings = decode_characteristic(uuid, BP)
    assert [m.metric for m in readings] == [
        "systolic_bp",
        "diastolic_bp",
        "mean_arterial_pressure",
        "pulse_rate",
    ]


def test_every_measurement_characteristic_is_registered() -> None:
    assert set(MEASUREMENT_CODECS) == {
        uuids.GLUCOSE_MEASUREMENT,
        uuids.BLOOD_PRESSURE_MEASUREMENT,
        uuids.INTERMEDIATE_CUFF_PRESSURE,
        uuids.HEART_RATE_MEASUREMENT,
        uuids.TEMPERATURE_MEASUREMENT,
        uuids.INTERMEDIATE_TEMPERATURE,
        uuids.PLX_SPOT_CHECK_MEASUREMENT,
        uuids.PLX_CONTINUOUS_MEASUREMENT,
        uuids.WEIGHT_MEASUREMENT,
        uuids.BODY_COMPOSITION_MEASUREMENT,
        uuids.CGM_MEASUREMENT,
    }
    assert set(CODECS) == set(uuids.CHARACTERISTICS)
    for number, codec in CODECS.items():
        assert (codec.uuid, codec.name) == (number, uuids.CHARACTERISTICS[number])


def test_unknown_and_non_measurement_uuids_are_decode_errors() -> None:
    with pytest.raises(DecodeError, match="no codec for characteristic 2A00"):
        decode_characteristic("2A00", b"")
    with pytest.raises(DecodeError, match="not a measurement characteristic"):
        decode_characteristic(uuids.BATTERY_LEVEL, b"\x10")
    with pytest.raises(DecodeError, match="not a 16-bit UUID"):
        decode_characteristic("zz", b"")
    assert parse_characteristic("2A19", b"\x10") == BatteryLevel(16)


def test_session_start_reaches_the_cgm_codec_only() -> None:
    data = bytes.fromhex("06 00 0C10 0500")
    (reading,) = decode_characteristic("2AA7", data, session_start=datetime(2024, 3, 1, 8))
    assert reading.time == datetime(2024, 3, 1, 8, 5)
    assert decode_characteristic("2A35", BP, session_start=datetime(2024, 3, 1))[0].time is None


def test_intermediate_temperature_is_marked() -> None:
    data = bytes.fromhex("00 6E0100FF")
    assert codec_for("2A1E").decode(data)[0].annotations == ("intermediate",)
    assert codec_for("2A1C").decode(data)[0].annotations == ()


def test_every_metric_a_codec_can_emit_is_in_the_vocabulary() -> None:
    emitted = {
        "glucose", "glucose_isf", "systolic_bp", "diastolic_bp", "mean_arterial_pressure",
        "pulse_rate", "heart_rate", "cuff_pressure", "body_temperature", "spo2",
        "pulse_amplitude_index", "weight", "bmi", "height", "body_fat", "fat_free_mass",
        "soft_lean_mass", "body_water_mass",
    }  # fmt: skip
    assert emitted <= set(METRICS)
