"""Date Time 0x2A08 (GATT Specification Supplement, "Date Time";
org.bluetooth.characteristic.date_time: year u16 1582..9999 or 0, month, day, hours, minutes,
seconds u8), Current Time 0x2A2B (org.bluetooth.characteristic.current_time: Date Time, day
of week, fractions256, adjust reason) and the byte cursor every codec reads with."""

from __future__ import annotations

from datetime import UTC, datetime

import _gatt_strategies as gs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_profiles._bytes import Reader, Writer, enum_value, reject_reserved
from device_profiles.errors import DecodeError, EncodeError
from device_profiles.gatt_time import (
    AdjustReason,
    CurrentTime,
    GattDateTime,
    decode_current_time,
    decode_date_time,
    encode_current_time,
    encode_date_time,
    measurement_time,
)
from device_profiles.racp import RacpOperator


def test_captured_date_time() -> None:
    # Nordic Android-BLE-Common-Library DateTimeDataCallbackTest: 2018-04-17 15:51:00.
    data = bytes([0xE2, 0x07, 4, 17, 15, 51, 0])
    value = decode_date_time(data)
    assert value == GattDateTime(2018, 4, 17, 15, 51, 0)
    assert value.to_datetime() == datetime(2018, 4, 17, 15, 51, 0)
    assert value.iso() == "2018-04-17T15:51:00"
    assert encode_date_time(value) == data


def test_unknown_date_keeps_its_fields_and_has_no_datetime() -> None:
    # Same source: year, month and day 0 ("not known"), 18:26:32.
    value = decode_date_time(bytes([0, 0, 0, 0, 18, 26, 32]))
    assert not value.is_known
    assert value.to_datetime() is None
    assert value.iso() == "0000-00-00T18:26:32"
    assert measurement_time(value, 5).annotations == ("time-unknown", "time-offset-min:5")


def test_february_29_needs_a_leap_year_or_an_unknown_one() -> None:
    assert GattDateTime(2024, 2, 29, 0, 0, 0).is_known
    assert GattDateTime(0, 2, 29, 0, 0, 0).to_datetime() is None
    with pytest.raises(DecodeError, match="day 29 of month 2"):
        GattDateTime(2023, 2, 29, 0, 0, 0)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ((2024, 2, 30, 0, 0, 0), "day 30 of month 2"),
        ((2024, 4, 31, 0, 0, 0), "day 31 of month 4"),
        ((2024, 13, 1, 0, 0, 0), "month 13"),
        ((1581, 1, 1, 0, 0, 0), "year 1581"),
        ((10000, 1, 1, 0, 0, 0), "year 10000"),
        ((2024, 1, 32, 0, 0, 0), "day 32"),
        ((2024, 1, 1, 24, 0, 0), "hours 24"),
        ((2024, 1, 1, 0, 60, 0), "minutes 60"),
        ((2024, 1, 1, 0, 0, 60), "seconds 60"),
    ],
)
def test_impossible_dates_are_decode_errors(fields: tuple[int, ...], problem: str) -> None:
    year, *rest = fields
    data = year.to_bytes(2, "little") + bytes(rest)
    with pytest.raises(DecodeError, match=problem) as info:
        decode_date_time(data)
    assert info.value.field == "date_time"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bytes([0xE2, 0x07, 4, 17, 15, 51]), "truncated: Date Time is 7 bytes, got 6"),
        (bytes([0xE2, 0x07, 4, 17, 15, 51, 0, 0]), "oversized: Date Time is 7 bytes, got 8"),
    ],
)
def test_date_time_length_is_exact(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_date_time(data)


def test_from_datetime_refuses_what_the_wire_cannot_say() -> None:
    assert GattDateTime.from_datetime(datetime(2024, 3, 1, 8, 30)) == GattDateTime(
        2024, 3, 1, 8, 30, 0
    )
    with pytest.raises(EncodeError, match="naive"):
        GattDateTime.from_datetime(datetime(2024, 3, 1, tzinfo=UTC))
    with pytest.raises(EncodeError, match="whole seconds"):
        GattDateTime.from_datetime(datetime(2024, 3, 1, microsecond=5))
    with pytest.raises(EncodeError, match="year 1500"):
        GattDateTime.from_datetime(datetime(1500, 3, 1))


def test_measurement_time_adds_the_offset_and_refuses_overflow() -> None:
    base = GattDateTime(2024, 3, 1, 0, 2, 0)
    when = measurement_time(base, -5)
    assert when.time == datetime(2024, 2, 29, 23, 57, 0)
    assert when.time_raw == "2024-02-29T23:57:00"
    with pytest.raises(DecodeError, match="out of range"):
        measurement_time(GattDateTime(9999, 12, 31, 23, 59, 0), 32767)


# ------------------------------------------------------------------------- Current Time


def test_captured_current_time() -> None:
    # blevalueparser CurrentTimeTest "Manual_255": 2023-01-02 (a Monday) 20:22:07 and 255/256 s,
    # adjusted by hand.
    data = bytes([0xE7, 0x07, 1, 2, 0x14, 0x16, 0x07, 1, 0xFF, 0x01])
    value = decode_current_time(data)
    assert value == CurrentTime(
        GattDateTime(2023, 1, 2, 20, 22, 7), 1, 255, AdjustReason.MANUAL_TIME_UPDATE
    )
    assert value.to_datetime() == datetime(2023, 1, 2, 20, 22, 7, 996093)
    assert encode_current_time(value) == data


def test_every_adjust_reason_bit_and_an_unknown_day() -> None:
    # 2018-04-17 15:51:00, day of week not known, no fraction, all four reasons.
    data = bytes([0xE2, 0x07, 4, 17, 15, 51, 0, 0, 0, 0x0F])
    value = decode_current_time(data)
    assert value.day_of_week == 0
    assert value.adjust_reason == (
        AdjustReason.MANUAL_TIME_UPDATE
        | AdjustReason.EXTERNAL_REFERENCE_TIME_UPDATE
        | AdjustReason.CHANGE_OF_TIME_ZONE
        | AdjustReason.CHANGE_OF_DST
    )
    assert value.to_datetime() == datetime(2018, 4, 17, 15, 51)
    assert encode_current_time(value) == data


def test_unknown_date_has_no_datetime() -> None:
    value = decode_current_time(bytes([0, 0, 0, 0, 18, 26, 32, 0, 128, 0]))
    assert value.to_datetime() is None
    assert value.date_time.iso() == "0000-00-00T18:26:32"


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        (bytes([0xE7, 0x07, 1, 2, 0x14, 0x16, 7, 1, 0xFF]), "current_time", "truncated"),
        (bytes([0xE7, 0x07, 1, 2, 0x14, 0x16, 7, 1, 0xFF, 1, 0]), "current_time", "oversized"),
        (bytes([0xE7, 0x07, 1, 2, 0x14, 0x16, 7, 8, 0, 0]), "day_of_week", "reserved day"),
        (bytes([0xE7, 0x07, 1, 2, 0x14, 0x16, 7, 2, 0, 0]), "day_of_week", "is not that of"),
        (bytes([0xE7, 0x07, 1, 2, 0x14, 0x16, 7, 1, 0, 0x10]), "adjust_reason", "0x10"),
        (bytes([0xE7, 0x07, 2, 30, 0x14, 0x16, 7, 0, 0, 0]), "date_time", "day 30 of month 2"),
    ],
)
def test_impossible_current_times_are_decode_errors(data: bytes, field: str, problem: str) -> None:
    with pytest.raises(DecodeError, match=problem) as info:
        decode_current_time(data)
    assert info.value.field == field


def test_current_time_from_datetime_floors_to_the_256th() -> None:
    value = CurrentTime.from_datetime(
        datetime(2024, 3, 1, 8, 30, 0, 999_999), AdjustReason.MANUAL_TIME_UPDATE
    )
    assert value == CurrentTime(
        GattDateTime(2024, 3, 1, 8, 30, 0), 5, 255, AdjustReason.MANUAL_TIME_UPDATE
    )
    with pytest.raises(EncodeError, match="naive"):
        CurrentTime.from_datetime(datetime(2024, 3, 1, tzinfo=UTC))
    with pytest.raises(DecodeError, match="fractions256 256"):
        CurrentTime(GattDateTime(2024, 3, 1, 0, 0, 0), 5, 256)


@st.composite
def current_times(draw: st.DrawFn) -> CurrentTime:
    date_time = draw(gs.date_times())
    shown = date_time.to_datetime()
    own_day = st.just(shown.isoweekday()) if shown else st.integers(1, 7)
    return CurrentTime(
        date_time,
        draw(st.just(0) | own_day),
        draw(st.integers(0, 255)),
        AdjustReason(draw(st.integers(0, 0x0F))),
    )


@settings(max_examples=max(50, settings().max_examples // 10))
@given(value=current_times())
def test_current_time_round_trip(value: CurrentTime) -> None:
    data = encode_current_time(value)
    assert len(data) == 10
    assert decode_current_time(data) == value


@given(data=st.binary(max_size=12))
def test_random_bytes_raise_only_decode_error_or_round_trip(data: bytes) -> None:
    try:
        value = decode_current_time(data)
    except DecodeError:
        return
    assert encode_current_time(value) == data


# ------------------------------------------------------------------------- the byte cursor


def test_reader_names_the_field_and_the_shortfall() -> None:
    reader = Reader(b"\x01\x02\x03")
    assert reader.u8("flags") == 1
    with pytest.raises(DecodeError) as info:
        reader.u32("weight")
    assert str(info.value) == "weight: truncated: weight needs 4 bytes, 2 left"
    assert info.value.reason == "truncated: weight needs 4 bytes, 2 left"
    assert info.value.field == "weight"


def test_reader_finish_refuses_trailing_bytes() -> None:
    reader = Reader(b"\x01\x02\x03")
    reader.u8("flags")
    with pytest.raises(DecodeError, match="oversized: 2 unexpected trailing bytes"):
        reader.finish()


def test_reader_widths_and_signs() -> None:
    reader = Reader(bytes([0xFF, 0xFE, 0xFF, 0x01, 0x02, 0x03, 0xFB, 0xFF]))
    assert reader.s8("a") == -1
    assert reader.s16("b") == -2
    assert reader.u24("c") == 0x030201
    assert reader.s16("d") == -5
    reader.finish()


def test_writer_refuses_values_outside_the_field() -> None:
    assert Writer().u24(0x030201, "c").getvalue() == bytes([1, 2, 3])
    with pytest.raises(EncodeError, match="does not fit"):
        Writer().u8(256, "user_id")
    with pytest.raises(EncodeError, match="does not fit"):
        Writer().u24(-1, "status")


def test_bit_and_enumeration_helpers() -> None:
    reject_reserved(0x1F, 0x1F, "flags")
    with pytest.raises(DecodeError, match="reserved bits set: 0x20"):
        reject_reserved(0x3F, 0x1F, "flags")
    assert enum_value(RacpOperator, 1, "operator") is RacpOperator.ALL_RECORDS
    with pytest.raises(DecodeError, match="reserved value 7"):
        enum_value(RacpOperator, 7, "operator")
