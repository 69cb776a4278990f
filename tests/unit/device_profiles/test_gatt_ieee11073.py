"""IEEE 11073-20601 SFLOAT/FLOAT (GATT Specification Supplement, "medfloat16"/"medfloat32";
IEEE 11073-20601 Annex F.8 for the special values)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from device_profiles.errors import DecodeError, EncodeError
from device_profiles.ieee11073 import (
    decode_float,
    decode_sfloat,
    encode_float,
    encode_sfloat,
    float_numeric,
    scale10,
    sfloat_numeric,
)
from device_profiles.measurement import Special


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0x0072, "114"),  # exponent 0, mantissa 114
        (0xF4D2, "123.4"),  # exponent -1, mantissa 1234: stays 123.4, no binary float
        (0xF0BD, "18.9"),  # Nordic BPM test vector "BD F0" (kPa systolic)
        (0xB078, "0.00120"),  # 120 mg/dL written as kg/L: exponent -5, mantissa 120
        (0x0FFF, "-1"),  # mantissa two's complement
        (0x8800, "-2048E-8"),  # smallest exponent, most negative mantissa
        (0x77FD, "2045E7"),  # largest exponent
        (0x17FF, "2047E1"),  # 0x7FF is NaN only with exponent 0
    ],
)
def test_sfloat_numbers_keep_device_precision(raw: int, expected: str) -> None:
    number, special = decode_sfloat(raw)
    assert special is None
    assert number == Decimal(expected)
    assert str(number) == str(Decimal(expected))  # same digits, same exponent


@pytest.mark.parametrize(
    ("raw", "special"),
    [
        (0x07FF, Special.NAN),
        (0x0800, Special.NRES),
        (0x07FE, Special.POSITIVE_INFINITY),
        (0x0802, Special.NEGATIVE_INFINITY),
        (0x0801, Special.RESERVED),
    ],
)
def test_sfloat_specials_are_never_numbers(raw: int, special: Special) -> None:
    assert decode_sfloat(raw) == (None, special)
    assert encode_sfloat(special) == raw


@pytest.mark.parametrize(
    ("raw", "special"),
    [
        (0x007FFFFF, Special.NAN),
        (0x00800000, Special.NRES),
        (0x007FFFFE, Special.POSITIVE_INFINITY),
        (0x00800002, Special.NEGATIVE_INFINITY),
        (0x00800001, Special.RESERVED),
    ],
)
def test_float_specials_are_never_numbers(raw: int, special: Special) -> None:
    assert decode_float(raw) == (None, special)
    assert encode_float(special) == raw


def test_float_number_from_a_thermometer() -> None:
    # Nordic Android-BLE-Common-Library TemperatureMeasurementDataCallbackTest:
    # bytes B0 0E 00 FE = exponent -2, mantissa 3760 -> 37.60 degrees.
    assert decode_float(0xFE000EB0) == (Decimal("37.60"), None)
    assert encode_float(Decimal("37.60")) == 0xFE000EB0


def test_every_sfloat_bit_pattern_round_trips() -> None:
    for raw in range(0x10000):
        assert encode_sfloat(sfloat_numeric(raw)) == raw


@pytest.mark.parametrize("raw", [0, 1, 0x00FFFFFF, 0x7F7FFFFD, 0x80800000, 0xFF123456])
def test_float_bit_patterns_round_trip(raw: int) -> None:
    assert encode_float(float_numeric(raw)) == raw


@pytest.mark.parametrize(
    ("value", "raw"),
    [
        (Decimal("36.6"), 0xF16E),  # mantissa 366, exponent -1
        (Decimal("2000000"), 0x37D0),  # trailing zeros move into the exponent: 2000E3
        (Decimal("10E-9"), 0x8001),  # ...and out of it: 1E-8
        (Decimal("20470"), 0x17FF),  # 2047E1, not the NaN pattern
        (Decimal("0E-20"), 0x8000),  # zero clamps its exponent
        (Decimal("-0.5"), 0xFFFB),
    ],
)
def test_sfloat_encoder_chooses_an_exact_exponent(value: Decimal, raw: int) -> None:
    assert encode_sfloat(value) == raw
    assert sfloat_numeric(raw) == value


@pytest.mark.parametrize(
    "value",
    [Decimal("123456"), Decimal("1E-9"), Decimal("2047"), Decimal("1E12"), Decimal("0.00012345")],
)
def test_sfloat_encoder_refuses_what_it_cannot_represent_exactly(value: Decimal) -> None:
    with pytest.raises(EncodeError, match="not exactly representable"):
        encode_sfloat(value)


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity")])
def test_decimal_non_numbers_must_be_specials(value: Decimal) -> None:
    with pytest.raises(EncodeError, match="Special"):
        encode_sfloat(value)


def test_raw_values_outside_the_format_are_decode_errors() -> None:
    with pytest.raises(DecodeError):
        decode_sfloat(0x10000)


def test_scale10_moves_only_the_exponent() -> None:
    assert str(scale10(Decimal("120E-5"), 5)) == "120"
    assert scale10(scale10(Decimal("0.0055"), 3), -3).as_tuple() == Decimal("0.0055").as_tuple()
