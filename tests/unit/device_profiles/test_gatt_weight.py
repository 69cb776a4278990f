"""Weight Measurement 0x2A9D, Weight Scale Feature 0x2A9E, Body Composition Measurement 0x2A9C.

Vectors are hand-built from the GATT Specification Supplement characteristics (org.bluetooth.
characteristic.weight_measurement / weight_scale_feature / body_composition_measurement):
weight u16 at 0.005 kg or 0.01 lb, BMI u16 at 0.1, height u16 at 0.001 m or 0.1 in,
body fat u16 at 0.1 %, 0xFFFF = measurement unsuccessful.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from device_profiles.errors import DecodeError, EncodeError
from device_profiles.measurement import Special
from device_profiles.weight import (
    BodyCompositionRecord,
    MeasurementSystem,
    Resolution,
    WeightRecord,
    WeightScaleFeature,
    decode_body_composition,
    decode_weight_measurement,
    encode_body_composition,
    encode_weight_measurement,
    encode_weight_scale_feature,
    parse_body_composition,
    parse_weight_measurement,
    parse_weight_scale_feature,
    with_kg_resolution,
)

# flags 0x0E: time stamp, user id, BMI + height (SI); 69.600 kg (13920 x 0.005);
# 2022-05-17 08:30:00; user 2; BMI 24.2; height 1.710 m.
SI_FULL = bytes.fromhex("0E 6036 E607051108 1E00 02 F200 AE06")


def test_si_weight_with_bmi_and_height() -> None:
    weight, bmi, height = decode_weight_measurement(SI_FULL)
    assert (weight.metric, str(weight.value), weight.unit) == ("weight", "69.600", "kg")
    assert (bmi.metric, str(bmi.value), bmi.unit) == ("bmi", "24.2", "kg/m2")
    assert (height.metric, str(height.value), height.unit) == ("height", "1.710", "m")
    assert weight.time == datetime(2022, 5, 17, 8, 30) and weight.user_id == 2
    assert encode_weight_measurement(parse_weight_measurement(SI_FULL)) == SI_FULL


def test_imperial_weight_and_height() -> None:
    data = bytes.fromhex("09 F13B F200 A102")  # 153.45 lb, BMI 24.2, 67.3 in
    weight, _, height = decode_weight_measurement(data)
    assert (str(weight.value), weight.unit) == ("153.45", "[lb_av]")
    assert (str(height.value), height.unit) == ("67.3", "[in_i]")


def test_unsuccessful_measurement_is_nan_with_annotation() -> None:
    (weight,) = decode_weight_measurement(bytes.fromhex("00 FFFF"))
    assert weight.special is Special.NAN and weight.value is None
    assert weight.annotations == ("measurement-unsuccessful",)
    assert parse_weight_measurement(bytes.fromhex("00 FFFF")) == WeightRecord(None)


def test_unknown_user() -> None:
    (weight,) = decode_weight_measurement(bytes.fromhex("04 6036 FF"))
    assert weight.user_id is None and weight.annotations == ("user-unknown",)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bytes.fromhex("10 6036"), "reserved bits set: 0x10"),
        (bytes.fromhex("08 6036 F200"), "truncated: height needs 2 bytes, 0 left"),
        (bytes.fromhex("00 60"), "truncated: weight needs 2 bytes, 1 left"),
        (bytes.fromhex("00 6036 00"), "oversized"),
    ],
)
def test_malformed_weights_are_decode_errors(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_weight_measurement(data)


def test_weight_encoder_needs_whole_resolution_steps() -> None:
    assert encode_weight_measurement(WeightRecord(Decimal("70"))) == bytes.fromhex("00 B036")
    with pytest.raises(EncodeError, match="whole number"):
        encode_weight_measurement(WeightRecord(Decimal("70.001")))
    with pytest.raises(EncodeError, match="unsuccessful"):
        encode_weight_measurement(WeightRecord(Decimal("327.675")))  # raw 0xFFFF
    with pytest.raises(EncodeError, match="together"):
        encode_weight_measurement(WeightRecord(Decimal(70), bmi=Decimal("24.2")))


# ----------------------------------------------------------------------- Weight Scale Feature


def test_weight_scale_feature() -> None:
    # multiple users, BMI, weight resolution 7 (0.005 kg / 0.01 lb), height resolution 3.
    feature = parse_weight_scale_feature(bytes.fromhex("BE010000"))
    assert feature == WeightScaleFeature(
        timestamp_supported=False,
        multiple_users_supported=True,
        bmi_supported=True,
        weight_resolution=Resolution(Decimal("0.005"), Decimal("0.01")),
        height_resolution=Resolution(Decimal("0.001"), Decimal("0.1")),
    )
    assert encode_weight_scale_feature(feature) == bytes.fromhex("BE010000")
    assert parse_weight_scale_feature(bytes(4)) == WeightScaleFeature()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bytes.fromhex("40000000"), "weight_resolution: reserved value 8"),
        (bytes.fromhex("00020000"), "height_resolution: reserved value 4"),
        (bytes.fromhex("00040000"), "reserved bits set: 0x400"),
        (bytes.fromhex("000000"), "truncated"),
        (bytes.fromhex("0000000000"), "oversized"),
    ],
)
def test_malformed_features_are_decode_errors(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        parse_weight_scale_feature(data)


# --------------------------------------------------------------- Body Composition Measurement

# flags 0x0C4E: time stamp, user, basal metabolism, fat free mass, weight, height (SI);
# body fat 23.4 %; 2022-05-17 08:30:00; user 1; 6000 kJ; 53.500 kg; 70.200 kg; 1.800 m.
BODY = bytes.fromhex("4E0C EA00 E607051108 1E00 01 7017 CC29 D836 0807")


def test_body_composition() -> None:
    record = parse_body_composition(BODY)
    assert record.basal_metabolism_kj == Decimal(6000)  # kept in the record
    readings = decode_body_composition(BODY)
    assert [(m.metric, str(m.value), m.unit) for m in readings] == [
        ("body_fat", "23.4", "%"),
        ("fat_free_mass", "53.500", "kg"),
        ("weight", "70.200", "kg"),
        ("height", "1.800", "m"),
    ]
    assert encode_body_composition(record) == BODY


def test_body_composition_unsuccessful_and_multiple_packet() -> None:
    (fat,) = decode_body_composition(bytes.fromhex("0000 FFFF"))
    assert fat.special is Special.NAN and fat.annotations == ("measurement-unsuccessful",)
    (fat,) = decode_body_composition(bytes.fromhex("0010 EA00"))
    assert fat.annotations == ("multiple-packet",)


def test_body_composition_imperial_masses() -> None:
    record = BodyCompositionRecord(
        Decimal("23.4"),
        MeasurementSystem.IMPERIAL,
        soft_lean_mass=Decimal("100.01"),
        body_water_mass=Decimal("80.5"),
    )
    readings = decode_body_composition(encode_body_composition(record))
    assert [(m.metric, str(m.value), m.unit) for m in readings] == [
        ("body_fat", "23.4", "%"),
        ("soft_lean_mass", "100.01", "[lb_av]"),
        ("body_water_mass", "80.50", "[lb_av]"),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bytes.fromhex("0020 EA00"), "reserved bits set: 0x2000"),
        (bytes.fromhex("0002 EA00"), "truncated: impedance_ohm needs 2 bytes, 0 left"),
        (bytes.fromhex("0000 EA"), "truncated: body_fat_percentage needs 2 bytes, 1 left"),
    ],
)
def test_malformed_body_composition_is_decode_error(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_body_composition(data)


def test_a_scale_counting_in_its_own_resolution_is_read_with_it() -> None:
    """kg_resolution_override: the raw count times the scale's kg per step; only kg values."""
    weight, bmi, height = decode_weight_measurement(SI_FULL)  # raw 13920: 69.600 kg at 0.005
    assert str(with_kg_resolution(weight, Decimal("0.05")).value) == "696.00"
    assert str(with_kg_resolution(weight, Decimal("0.005")).value) == "69.600"
    assert with_kg_resolution(bmi, Decimal("0.05")) == bmi
    assert with_kg_resolution(height, Decimal("0.05")) == height
    imperial, _, _ = decode_weight_measurement(bytes.fromhex("09 F13B F200 A102"))
    assert with_kg_resolution(imperial, Decimal("0.05")) == imperial
    (unsuccessful,) = decode_weight_measurement(bytes.fromhex("00 FFFF"))
    assert with_kg_resolution(unsuccessful, Decimal("0.05")) == unsuccessful
