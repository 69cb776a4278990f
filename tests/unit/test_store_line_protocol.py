"""Line-protocol and InfluxQL escaping, and the point layout of a reading (pure)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from device_profiles.vocabulary import METRICS
from hub.adapters.store.influx_schema import (
    READING_COLUMNS,
    families,
    family_of,
    measurement_of,
    meta_json,
    point_line,
    reading_from_row,
)
from hub.adapters.store.line_protocol import (
    decode_tag_value,
    encode_tag_value,
    escape_key,
    escape_measurement,
    influxql_identifier,
    influxql_string,
    string_field,
    tag,
)
from hub.core.model import Reading, Source, TimeSource


def test_escaping_per_element() -> None:
    assert escape_measurement("a b,c=d") == r"a\ b\,c=d"
    assert escape_key("a b,c=d") == r"a\ b\,c\=d"
    assert string_field('say "hi" \\o/') == r'"say \"hi\" \\o/"'
    assert string_field("a, b=c") == '"a, b=c"'  # nothing else is special inside quotes
    assert influxql_string("it's a \\ test") == r"'it\'s a \\ test'"
    assert influxql_identifier('we"ird') == r'"we\"ird"'


def test_tag_values_never_carry_a_backslash() -> None:
    # InfluxDB 1.x keeps "\\" as two characters and refuses a trailing backslash.
    assert tag("device", "trailing\\") == "device=trailing%5C"
    assert tag("device", "50% off, a=b") == r"device=50%25\ off\,\ a\=b"
    assert tag("device", "unicodé 血糖") == r"device=unicodé\ 血糖"
    assert encode_tag_value("plain-id:01") == "plain-id:01"  # the usual case is untouched


@given(st.text())
def test_tag_encoding_round_trips(text: str) -> None:
    stored = encode_tag_value(text)
    assert "\\" not in stored
    assert decode_tag_value(stored) == text


def test_point_line_layout() -> None:
    at = datetime(2024, 3, 1, 8, 30, 0, 125000, tzinfo=UTC)
    reading = Reading(
        reading_id="0123456789abcdef0123456789abcdef",
        patient_id="pt-1",
        device_id="cgm 7,a=b",
        metric="glucose_isf",
        value=104.0,
        unit="mg/dL",
        effective_time=at,
        receive_time=datetime(2024, 3, 1, 8, 31, tzinfo=UTC),
        device_time='08:30 "local"',
        time_source=TimeSource.DEVICE,
        source=Source.GATEWAY,
        seq=42,
        flags=("HI", "a,b"),
    )
    meta = {
        "unit": "mg/dL",
        "recv": 1709281860000,
        "ts": "device",
        "src": "gateway",
        "dt": '08:30 "local"',
        "seq": 42,
        "flags": ["HI", "a,b"],
    }
    line = point_line(reading)
    assert line == (
        r"glucose,device=cgm\ 7\,a\=b,metric=glucose_isf,patient=pt-1 "
        'value=104.0,rid="0123456789abcdef0123456789abcdef",'
        f"meta={string_field(json.dumps(meta, separators=(',', ':')))} 1709281800125"
    )
    assert json.loads(meta_json(reading)) == meta
    bare = replace(reading, device_time=None, seq=None, flags=())
    assert json.loads(meta_json(bare)) == {k: meta[k] for k in ("unit", "recv", "ts", "src")}
    assert ",slot=2 " in point_line(reading, slot=2)


def test_every_metric_has_a_measurement() -> None:
    assert family_of("glucose") == family_of("glucose_isf") == "glucose"
    assert family_of("systolic_bp") == family_of("diastolic_bp") == "blood_pressure"
    assert set(families()) >= {family_of(m) for m in METRICS}
    for name in families():
        assert name.replace("_", "").isalnum()
    assert family_of("some_future_metric") == "some_future_metric"


def test_provenance_and_untrusted_times_in_the_point() -> None:
    reading = Reading(
        reading_id="r",
        patient_id="pt-1",
        device_id="m",
        metric="glucose",
        value=180.0,
        unit="mg/dL",
        effective_time=datetime(2024, 3, 1, tzinfo=UTC),
        receive_time=datetime(2024, 3, 1, tzinfo=UTC),
        device_time="2031-01-01T00:00",
        time_source=TimeSource.UNTRUSTED,
        source=Source.GATEWAY,
        value_sent="10.0",
        unit_sent='mmol/"L"',
        utc_offset_min=-210,
        clock_offset_ms=-5,
        time_zone="America/St_Johns",
    )
    assert measurement_of(reading) == "untrusted_time"
    assert point_line(reading).startswith("untrusted_time,device=m,metric=glucose,patient=pt-1 ")
    meta = json.loads(meta_json(reading))
    assert {k: meta[k] for k in ("vs", "us", "uo", "co", "tz")} == {
        "vs": "10.0",
        "us": 'mmol/"L"',
        "uo": -210,
        "co": -5,
        "tz": "America/St_Johns",
    }
    row = dict.fromkeys(READING_COLUMNS)
    row.update(value=180.0, rid="r", meta=meta_json(reading), patient="pt-1", metric="glucose")
    row["device"] = "m"
    assert reading_from_row(1709251200000, row) == reading
    trusted = replace(reading, time_source=TimeSource.DEVICE_CORRECTED)
    assert measurement_of(trusted) == "glucose"
    assert "vs" not in json.loads(meta_json(replace(reading, value_sent=None)))
