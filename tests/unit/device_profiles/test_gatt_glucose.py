"""Glucose Measurement 0x2A18 and Glucose Measurement Context 0x2A34.

Spec vectors are hand-built from the field layouts of the GATT Specification Supplement
characteristics "Glucose Measurement" and "Glucose Measurement Context"
(org.bluetooth.characteristic.glucose_measurement / ..._context): flags, sequence number,
Date Time base time, s16 time offset, SFLOAT concentration in kg/L or mol/L, type nibble +
sample-location nibble, 16-bit sensor status annunciation.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from device_profiles.errors import DecodeError, EncodeError
from device_profiles.gatt_time import GattDateTime
from device_profiles.glucose import (
    CarbohydrateId,
    GlucoseContext,
    GlucoseRecord,
    GlucoseStatus,
    GlucoseTester,
    GlucoseUnit,
    Health,
    Meal,
    MedicationId,
    MedicationUnit,
    SampleLocation,
    SampleType,
    decode_glucose_measurement,
    encode_glucose_context,
    encode_glucose_measurement,
    join_glucose_context,
    parse_glucose_context,
    parse_glucose_measurement,
)
from device_profiles.measurement import Special

BASE = bytes([0xE8, 0x07, 3, 1, 8, 30, 0])  # 2024-03-01 08:30:00


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(text)


def test_mg_dl_record_with_time_offset() -> None:
    # flags 0x03: time offset + concentration (kg/L); seq 7; offset +2 min;
    # 0xB078 = 120E-5 kg/L = 120 mg/dL; type 1 capillary whole blood, location 1 finger.
    data = hexbytes("030700") + BASE + hexbytes("0200 78B0 11")
    (reading,) = decode_glucose_measurement(data)
    assert reading.metric == "glucose"
    assert reading.value == Decimal("120") and str(reading.value) == "120"
    assert reading.unit == "mg/dL"
    assert reading.time == datetime(2024, 3, 1, 8, 32)
    assert reading.time_raw == "2024-03-01T08:32:00"
    assert reading.sequence == 7
    assert reading.annotations == ("sample:capillary-whole-blood", "location:finger")
    assert encode_glucose_measurement(parse_glucose_measurement(data)) == data


def test_mmol_l_record() -> None:
    # flags 0x06: concentration in mol/L; 0xC037 = 55E-4 mol/L = 5.5 mmol/L; capillary plasma.
    data = hexbytes("060800") + BASE + hexbytes("37C0 12")
    (reading,) = decode_glucose_measurement(data)
    assert (reading.value, reading.unit) == (Decimal("5.5"), "mmol/L")
    assert reading.time == datetime(2024, 3, 1, 8, 30)
    assert reading.annotations == ("sample:capillary-plasma", "location:finger")


def test_interstitial_fluid_is_glucose_isf() -> None:
    data = hexbytes("020900") + BASE + hexbytes("78B0 F9")  # ISF, location not available
    (reading,) = decode_glucose_measurement(data)
    assert reading.metric == "glucose_isf"
    assert reading.annotations == ("sample:interstitial-fluid",)


def test_control_solution_is_annotated_not_dropped() -> None:
    data = hexbytes("020A00") + BASE + hexbytes("78B0 4A")  # type 10 and location 4
    (reading,) = decode_glucose_measurement(data)
    assert reading.annotations == ("control-solution",)
    assert reading.is_control


def test_result_above_range_is_hi_and_stays_special() -> None:
    # flags 0x0A: concentration + status; +INF (0x07FE); status bit 5 "higher than the
    # device can process", bit 0 battery low.
    data = hexbytes("0A0B00") + BASE + hexbytes("FE07 11 2100")
    (reading,) = decode_glucose_measurement(data)
    assert reading.value is None and reading.special is Special.POSITIVE_INFINITY
    assert "HI" in reading.annotations and "device-battery-low" in reading.annotations


@pytest.mark.parametrize(
    ("bit", "note"),
    [
        (1 << 1, "sensor-malfunction"),
        (1 << 2, "sample-size-insufficient"),
        (1 << 3, "strip-insertion-error"),
        (1 << 4, "strip-type-incorrect"),
        (1 << 6, "LO"),
        (1 << 7, "sensor-temperature-high"),
        (1 << 8, "sensor-temperature-low"),
        (1 << 9, "sensor-read-interrupted"),
        (1 << 10, "general-device-fault"),
        (1 << 11, "time-fault"),
    ],
)
def test_sensor_status_bits_become_annotations(bit: int, note: str) -> None:
    data = hexbytes("0A0B00") + BASE + hexbytes("78B0 11") + bit.to_bytes(2, "little")
    (reading,) = decode_glucose_measurement(data)
    assert note in reading.annotations


def test_captured_record_from_nordic_tests() -> None:
    # Nordic Android-BLE-Common-Library GlucoseMeasurementDataCallbackTest: flags 0b011011,
    # seq 1, 2019-02-27 11:10:30, offset -5 min, concentration raw 30 (kg/L), type 2 /
    # location 1, status 0x0105, context follows.
    data = bytes(
        [0b011011, 1, 0, 0xE3, 0x07, 2, 27, 11, 10, 30, 0xFB, 0xFF, 30, 0, 0x12, 0b101, 0b1]
    )
    record = parse_glucose_measurement(data)
    assert record.time_offset == -5
    assert record.status == (
        GlucoseStatus.BATTERY_LOW
        | GlucoseStatus.SAMPLE_SIZE_INSUFFICIENT
        | GlucoseStatus.TEMPERATURE_TOO_LOW
    )
    assert record.context_follows
    (reading,) = decode_glucose_measurement(data)
    assert reading.time == datetime(2019, 2, 27, 11, 5, 30)
    assert reading.value == Decimal(3_000_000)  # 30 kg/L, exactly
    assert "context-follows" in reading.annotations
    assert encode_glucose_measurement(record) == data


def test_record_without_concentration_has_no_measurement() -> None:
    data = hexbytes("000100") + BASE
    assert decode_glucose_measurement(data) == []
    assert parse_glucose_measurement(data) == GlucoseRecord(1, GattDateTime(2024, 3, 1, 8, 30, 0))


def test_unknown_base_time_keeps_the_offset_as_annotation() -> None:
    data = hexbytes("030700") + bytes([0, 0, 0, 0, 8, 30, 0]) + hexbytes("0200 78B0 11")
    (reading,) = decode_glucose_measurement(data)
    assert reading.time is None
    assert reading.time_raw == "0000-00-00T08:30:00"
    assert reading.annotations[:2] == ("time-unknown", "time-offset-min:2")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (hexbytes("200100") + BASE, "reserved bits set: 0x20"),
        (hexbytes("020100") + BASE + hexbytes("78B0 10"), "type: reserved value 0"),
        (hexbytes("020100") + BASE + hexbytes("78B0 1B"), "type: reserved value 11"),
        (hexbytes("080100") + BASE + hexbytes("0010"), "reserved bits set: 0x1000"),
        (hexbytes("020100") + BASE, "truncated: concentration needs 2 bytes, 0 left"),
        (hexbytes("0001"), "truncated: sequence_number needs 2 bytes, 1 left"),
        (hexbytes("000100") + BASE + b"\x00", "oversized: 1 unexpected trailing bytes"),
        (hexbytes("000100E807021E000000"), "impossible date: day 30 of month 2"),
    ],
)
def test_malformed_measurements_are_decode_errors(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_glucose_measurement(data)


def test_a_reserved_sample_location_is_kept_and_flagged_not_a_reason_to_lose_it() -> None:
    data = hexbytes("020100") + BASE + hexbytes("78B0 51")  # capillary, location 5: reserved
    (reading,) = decode_glucose_measurement(data)
    assert reading.value == Decimal(120)
    assert reading.annotations == ("sample:capillary-whole-blood", "sample-location-reserved:5")
    assert parse_glucose_measurement(data).location == 5
    assert encode_glucose_measurement(parse_glucose_measurement(data)) == data


def test_encoder_refuses_a_concentration_without_type() -> None:
    record = GlucoseRecord(1, GattDateTime(2024, 3, 1, 8, 30, 0), concentration=Decimal(120))
    with pytest.raises(EncodeError, match="go together"):
        encode_glucose_measurement(record)


def test_encoder_writes_clinical_units_back_to_si() -> None:
    record = GlucoseRecord(
        7,
        GattDateTime(2024, 3, 1, 8, 30, 0),
        concentration=Decimal("5.5"),
        unit=GlucoseUnit.MMOL_L,
        sample_type=SampleType.CAPILLARY_PLASMA,
        location=SampleLocation.FINGER,
    )
    assert encode_glucose_measurement(record) == hexbytes("060700") + BASE + hexbytes("37C0 12")


# ------------------------------------------------------------------------------- context

# flags 0x5F: carbohydrate, meal, tester-health, exercise, medication (kg), HbA1c; seq 7;
# breakfast 0xD032 = 50E-3 kg; preprandial; tester self / health "no issues" (0x51);
# 1800 s at 60 %; rapid-acting insulin 0xA002 = 2E-6 kg; HbA1c 0xF041 = 6.5 %.
FULL_CONTEXT = hexbytes("5F0700 01 32D0 01 51 0807 3C 01 02A0 41F0")


def test_full_context() -> None:
    context = parse_glucose_context(FULL_CONTEXT)
    assert context == GlucoseContext(
        sequence=7,
        carbohydrate_id=CarbohydrateId.BREAKFAST,
        carbohydrate_grams=Decimal(50),
        meal=Meal.PREPRANDIAL,
        tester=GlucoseTester.SELF,
        health=Health.NO_ISSUES,
        exercise_duration_s=1800,
        exercise_intensity_pct=60,
        medication_id=MedicationId.RAPID_ACTING_INSULIN,
        medication=Decimal("0.000002"),
        medication_unit=MedicationUnit.KILOGRAM,
        hba1c_pct=Decimal("6.5"),
    )
    assert encode_glucose_context(context) == FULL_CONTEXT


def test_medication_in_litres_and_empty_extended_flags() -> None:
    context = parse_glucose_context(hexbytes("B00700 00 01 01D0"))
    assert context.medication == Decimal("0.001")
    assert context.medication_unit is MedicationUnit.LITRE
    assert context.extended_flags == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # Nordic's test sends extended flags 0xB3 "ignored"; every such bit is reserved.
        (hexbytes("800000B3"), "reserved bits set: 0xb3"),
        (hexbytes("020700 06"), "meal: reserved value 6"),
        (hexbytes("010700 08 32D0"), "carbohydrate_id: reserved value 8"),
        (hexbytes("040700 14"), "tester: reserved value 4"),
        (hexbytes("040700 61"), "health: reserved value 6"),
        (hexbytes("100700 06 02A0"), "medication_id: reserved value 6"),
        (hexbytes("400700 41"), "truncated: hba1c needs 2 bytes, 1 left"),
        (hexbytes("000700 00"), "oversized"),
    ],
)
def test_malformed_contexts_are_decode_errors(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        parse_glucose_context(data)


def test_join_adds_context_annotations_by_sequence() -> None:
    readings = decode_glucose_measurement(hexbytes("030700") + BASE + hexbytes("0200 78B0 11"))
    readings += decode_glucose_measurement(hexbytes("020800") + BASE + hexbytes("78B0 11"))
    joined = join_glucose_context(readings, [parse_glucose_context(FULL_CONTEXT)])
    assert joined[0].annotations == (
        "sample:capillary-whole-blood",
        "location:finger",
        "meal:preprandial",
        "tester:self",
        "health:no-issues",
        "carbohydrate:breakfast",
        "medication:rapid-acting-insulin",
    )
    assert joined[1] == readings[1]  # sequence 8 has no context
    assert join_glucose_context(joined, [parse_glucose_context(FULL_CONTEXT)]) == joined
