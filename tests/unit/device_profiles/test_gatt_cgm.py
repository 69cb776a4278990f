"""CGM Measurement 0x2AA7, CGM Session Start Time 0x2AAA and the CGM E2E-CRC.

Field layout: GATT Specification Supplement, "CGM Measurement" (org.bluetooth.characteristic.
cgm_measurement): size, flags, SFLOAT mg/dL, u16 minutes, then the flagged Sensor Status
Annunciation octets least significant first (status, cal/temp, warning), [trend], [quality],
[E2E-CRC: CRC-CCITT, seed 0xFFFF]. Captured-style vectors:
* Nordic Semiconductor nRF Toolbox for iOS, CGMSParsingTest.swift (testDataWithAllValidFields,
  CRC 0xACEC);
* Nordic Semiconductor Android-BLE-Common-Library, ContinuousGlucoseMeasurementDataCallbackTest
  (CRC 0x3F8E over its "full" record; 0x6F59 expected where 0x6F58 was sent) and
  CGMSessionStartTimeDataCallbackTest (CRC 0xC2E0).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from device_profiles.cgm import (
    CgmRecord,
    CgmSessionStartTime,
    CgmStatus,
    cgm_absolute_time,
    decode_cgm_measurement,
    e2e_crc16,
    encode_cgm_measurement,
    encode_cgm_session_start_time,
    parse_cgm_measurement,
    parse_cgm_session_start_time,
)
from device_profiles.errors import DecodeError, EncodeError
from device_profiles.gatt_time import GattDateTime

NRF_TOOLBOX = bytes.fromhex("0F E3 7800 1E00 01 02 03 5000 6000 ECAC")
NORDIC_FULL = bytes.fromhex("0F E3 D2E4 0500 02 14 FF 02F0 E5F3 8E3F")


def test_crc_is_ccitt_with_seed_ffff_lsb_first() -> None:
    assert e2e_crc16(b"123456789") == 0x6F91  # the catalogue check value of this CRC
    assert e2e_crc16(bytes.fromhex("08 00 0C10 0600")) == 0x6F59


def test_captured_record_with_every_field_and_crc() -> None:
    (record,) = parse_cgm_measurement(NRF_TOOLBOX)
    assert record == CgmRecord(
        glucose=Decimal(120),
        time_offset=30,
        status=CgmStatus.SESSION_STOPPED
        | CgmStatus.CALIBRATION_NOT_ALLOWED
        | CgmStatus.BELOW_PATIENT_LOW
        | CgmStatus.ABOVE_PATIENT_HIGH,
        octets=frozenset({"status", "cal_temp", "warning"}),
        trend=Decimal(80),
        quality=Decimal(96),
        e2e_crc=True,
    )
    (reading,) = decode_cgm_measurement(NRF_TOOLBOX, session_start=datetime(1970, 1, 1))
    assert (reading.metric, reading.value, reading.unit) == ("glucose_isf", 120, "mg/dL")
    assert reading.time == datetime(1970, 1, 1, 0, 30)
    assert reading.annotations == (
        "session-stopped",
        "calibration-not-allowed",
        "below-patient-low",
        "above-patient-high",
        "trend:80",
        "quality:96",
    )
    assert encode_cgm_measurement((record,)) == NRF_TOOLBOX


def test_second_captured_record_with_crc() -> None:
    (record,) = parse_cgm_measurement(NORDIC_FULL)
    assert (str(record.glucose), record.time_offset) == ("12.34", 5)
    assert (str(record.trend), str(record.quality)) == ("0.2", "99.7")
    assert record.status & CgmStatus.RESULT_TOO_HIGH
    (reading,) = decode_cgm_measurement(NORDIC_FULL)
    assert "HI" in reading.annotations and "LO" in reading.annotations
    assert encode_cgm_measurement((record,)) == NORDIC_FULL


def test_several_records_in_one_value() -> None:
    data = bytes.fromhex("06 00 0C10 0500 06 00 0C10 0600")  # Nordic "double": 120 at 5 and 6
    first, second = decode_cgm_measurement(data)
    assert (first.value, first.time, first.annotations) == (120, None, ("time-offset-min:5",))
    assert second.annotations == ("time-offset-min:6",)
    start = datetime(2024, 3, 1, 8, 0)
    assert decode_cgm_measurement(data, session_start=start)[1].time == datetime(2024, 3, 1, 8, 6)


def test_crc_mismatch_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="E2E-CRC mismatch: sent 0x6f58, computed 0x6f59"):
        parse_cgm_measurement(bytes.fromhex("08 00 0C10 0600 586F"))


def test_e2e_crc_presence_can_be_required() -> None:
    plain = bytes.fromhex("06 00 0C10 0600")
    assert parse_cgm_measurement(plain, e2e_crc=False)
    with pytest.raises(DecodeError, match="inconsistent: size 6"):
        parse_cgm_measurement(plain, e2e_crc=True)
    with pytest.raises(DecodeError, match="inconsistent: size 15"):
        parse_cgm_measurement(NRF_TOOLBOX, e2e_crc=False)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bytes.fromhex("05 00 7800 1E"), "record size 5 is below the minimum 6"),
        (bytes.fromhex("07 E3 0C10 0600 00"), "inconsistent: size 7 does not match flags 0xe3"),
        (bytes.fromhex("06 00 0C10 06"), "truncated: record needs 5 bytes, 4 left"),
        (bytes.fromhex("06 04 0C10 0600"), "reserved bits set: 0x4"),
        (bytes.fromhex("07 80 0C10 0600 40"), "reserved bits set: 0x40"),
        (bytes.fromhex("06 00 0C10 0600 05"), "record size 5 is below the minimum 6"),
        (b"", "no record"),
    ],
)
def test_malformed_values_are_decode_errors(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_cgm_measurement(data)


def test_encoder_keeps_absent_octets_clear() -> None:
    record = CgmRecord(Decimal(120), 5, status=CgmStatus.RESULT_TOO_HIGH)  # warning octet absent
    with pytest.raises(EncodeError, match="octet not sent"):
        encode_cgm_measurement([record])
    with pytest.raises(EncodeError, match="at least one record"):
        encode_cgm_measurement([])


def test_absolute_time_and_its_range() -> None:
    assert cgm_absolute_time(datetime(2024, 3, 1), 125) == datetime(2024, 3, 1, 2, 5)
    with pytest.raises(DecodeError, match="out of range"):
        cgm_absolute_time(datetime(9999, 12, 31, 23, 0), 65535)


# --------------------------------------------------------------- CGM Session Start Time


def test_captured_session_start_time_with_crc() -> None:
    data = bytes([0xE2, 0x07, 4, 24, 13, 8, 24, 8, 4, 0xE0, 0xC2])
    value = parse_cgm_session_start_time(data)
    assert value == CgmSessionStartTime(GattDateTime(2018, 4, 24, 13, 8, 24), 8, 4, True)
    assert value.local_start == datetime(2018, 4, 24, 13, 8, 24)
    assert encode_cgm_session_start_time(value) == data


def test_session_start_time_without_year_or_crc() -> None:
    value = parse_cgm_session_start_time(bytes([0, 0, 4, 24, 13, 8, 24, 8, 2]))
    assert value.local_start is None and not value.e2e_crc and value.dst_offset == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bytes([0xE2, 0x07, 4, 24, 13, 8, 24, 8, 4, 0xE0, 0xC3]), "E2E-CRC mismatch"),
        (bytes([0xE2, 0x07, 4, 24, 13, 8, 24, 8, 4, 0xE0]), "truncated: e2e_crc needs 2 bytes"),
        (bytes([0xE2, 0x07, 4, 24, 13, 8, 24, 57, 4]), "time_zone: reserved value 57"),
        (bytes([0xE2, 0x07, 4, 24, 13, 8, 24, 8, 3]), "dst_offset: reserved value 3"),
        (bytes([0xE2, 0x07, 4, 31, 13, 8, 24, 8, 4]), "impossible date: day 31 of month 4"),
    ],
)
def test_malformed_session_start_times_are_decode_errors(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        parse_cgm_session_start_time(data)
