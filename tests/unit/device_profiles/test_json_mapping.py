"""decode_json: vendor payload shapes decode to the expected measurements; hostile payloads
give a DecodeError naming the offending path; one bad record never drops the good ones."""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from device_profiles import json_mapping
from device_profiles.catalog import DeviceProfile, load_catalog, load_profile_text
from device_profiles.errors import DecodeError
from device_profiles.json_mapping import (
    MAX_DEPTH,
    MAX_PAYLOAD_BYTES,
    MAX_RECORDS,
    JsonDecodeResult,
    JsonPath,
    decode_json,
)
from device_profiles.measurement import Measurement

FIXTURES = Path(__file__).parents[2] / "fixtures" / "profiles"
CATALOG = load_catalog()
ACME = CATALOG["acme-bp-wifi"]
GLUCOCLOUD = CATALOG["glucocloud-meter"]
NIMBUS = CATALOG["nimbus-scale"]
CANONICAL = CATALOG["hub-canonical"]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def profile(json_section: str) -> DeviceProfile:
    head = 'id = "test-device"\nmanufacturer = "T"\nmodel = "T"\ntransport = "mqtt-json"\n'
    return load_profile_text(head + json_section, "test-device.toml")


def only_error(result: JsonDecodeResult) -> DecodeError:
    assert not result.measurements, result.measurements
    assert len(result.errors) == 1, result.errors
    return result.errors[0].error


def error_of(device: DeviceProfile, payload: bytes | str | Mapping[str, object]) -> DecodeError:
    """The payload's error, raised (payload refused whole) or reported (its one record)."""
    try:
        result = decode_json(device, payload)
    except DecodeError as err:
        return err
    return only_error(result)


# --- the three vendor shapes and the canonical reading --------------------------------------


def test_shape_a_flat_object_with_several_metrics() -> None:
    result = decode_json(ACME, fixture("acme-bp-wifi.json"))

    time = datetime(2025, 11, 28, 8, 0, tzinfo=UTC)  # 1764316800
    common = {"time": time, "time_raw": "1764316800"}
    assert result.ok
    assert result.record_count == 1
    assert result.measurements == (
        Measurement("systolic_bp", Decimal(128), "mm[Hg]", **common),  # type: ignore[arg-type]
        Measurement("diastolic_bp", Decimal(82), "mm[Hg]", **common),  # type: ignore[arg-type]
        Measurement("pulse_rate", Decimal(71), "/min", annotations=("irregular-pulse",), **common),  # type: ignore[arg-type]
    )


def test_shape_a_optional_metric_unit_field_and_record_annotation() -> None:
    payload = {"ts": 1764316800, "sys": 16.8, "dia": 10.9, "unit": "kPa", "cuff_ok": False}

    result = decode_json(ACME, payload)

    assert [(m.metric, m.value, m.unit, m.annotations) for m in result.measurements] == [
        ("systolic_bp", Decimal("16.8"), "kPa", ("cuff-loose",)),
        ("diastolic_bp", Decimal("10.9"), "kPa", ("cuff-loose",)),
    ]


def test_shape_a_without_unit_field_uses_the_profile_fallback() -> None:
    result = decode_json(ACME, '{"ts": 1764316800, "sys": 120, "dia": 80}')

    assert [m.unit for m in result.measurements] == ["mm[Hg]", "mm[Hg]"]


def test_shape_b_list_of_records_under_a_key() -> None:
    result = decode_json(GLUCOCLOUD, fixture("glucocloud-meter.json"))

    assert result.ok
    assert result.record_count == 3
    assert [
        (m.value, m.unit, m.sequence, m.time, m.time_raw, m.annotations)
        for m in result.measurements
    ] == [
        (
            Decimal("5.8"),
            "mmol/L",
            12,
            datetime(2026, 11, 28, 8, 0, tzinfo=UTC),
            "2026-11-28T08:00:00Z",
            (),
        ),
        (
            Decimal("6.10"),
            "mmol/L",
            13,
            datetime(2026, 11, 28, 12, 10, tzinfo=timezone(timedelta(hours=1))),
            "2026-11-28T12:10:00+01:00",
            (),
        ),
        # No offset in the text: a naive time, the zone left to the hub.
        (
            Decimal("5.5"),
            "mmol/L",
            14,
            datetime(2026, 11, 28, 18, 30),
            "2026-11-28T18:30:00",
            ("control-solution",),
        ),
    ]
    assert result.measurements[2].is_control
    assert str(result.measurements[1].value) == "6.10", "the device's precision is kept"


def test_shape_c_nested_paths_scale_and_user() -> None:
    result = decode_json(NIMBUS, fixture("nimbus-scale.json"))

    at = datetime(2026, 11, 28, 7, 30, tzinfo=timezone(timedelta(hours=1)))
    assert result.measurements == (
        Measurement(
            "weight",
            Decimal("72.4"),
            "kg",
            time=at,
            time_raw="2026-11-28T07:30:00+01:00",
            user_id=2,
        ),
        Measurement(
            "body_fat",
            Decimal("21.3"),
            "%",
            time=at,
            time_raw="2026-11-28T07:30:00+01:00",
            user_id=2,
        ),
    )


def test_hub_canonical_reading_takes_its_metric_from_a_field() -> None:
    result = decode_json(CANONICAL, fixture("hub-canonical.json"))

    assert result.measurements == (
        Measurement(
            "glucose",
            Decimal(104),
            "mg/dL",
            time=datetime(2026, 11, 28, 8, 0, tzinfo=UTC),
            time_raw="2026-11-28T08:00:00Z",
            sequence=1,
        ),
    )
    other = decode_json(
        CANONICAL, '{"metric": "spo2", "value": 97, "unit": "%", "time": "2026-11-28T08:00:00Z"}'
    )
    assert other.measurements[0].metric == "spo2"
    assert other.measurements[0].sequence is None


def test_bytes_text_and_mapping_payloads_decode_alike() -> None:
    raw = fixture("glucocloud-meter.json")

    from_bytes = decode_json(GLUCOCLOUD, raw)

    assert decode_json(GLUCOCLOUD, raw.decode()) == from_bytes
    assert decode_json(GLUCOCLOUD, bytearray(raw)) == from_bytes
    parsed = json.loads(raw)  # floats, as a caller's own json.loads would give
    assert decode_json(GLUCOCLOUD, parsed).measurements[0].value == Decimal("5.8")


# --- time formats ---------------------------------------------------------------------------

EPOCH_MS = """
[json]
time = "at"
time_format = "epoch_ms"
[[json.metrics]]
metric = "spo2"
value = "v"
unit = "%"
"""


@pytest.mark.parametrize(
    ("section", "at", "expected", "raw"),
    [
        (
            EPOCH_MS,
            "1764316800123",
            datetime(2025, 11, 28, 8, 0, 0, 123000, tzinfo=UTC),
            "1764316800123",
        ),
        (EPOCH_MS, "0", datetime(1970, 1, 1, tzinfo=UTC), "0"),
        (
            EPOCH_MS.replace("epoch_ms", "epoch_s"),
            "1764316800.5",
            datetime(2025, 11, 28, 8, 0, 0, 500000, tzinfo=UTC),
            "1764316800.5",
        ),
        (
            EPOCH_MS.replace("epoch_ms", "iso8601"),
            '"2026-11-28T08:00:00.250-05:00"',
            datetime(2026, 11, 28, 8, 0, 0, 250000, tzinfo=timezone(timedelta(hours=-5))),
            "2026-11-28T08:00:00.250-05:00",
        ),
        (
            EPOCH_MS.replace("epoch_ms", "iso8601"),
            '"2026-11-28 08:00"',
            datetime(2026, 11, 28, 8, 0),
            "2026-11-28 08:00",
        ),
    ],
)
def test_time_formats(section: str, at: str, expected: datetime, raw: str) -> None:
    result = decode_json(profile(section), f'{{"at": {at}, "v": 97}}')

    (measurement,) = result.measurements
    assert measurement.time == expected
    assert (measurement.time.tzinfo is None) == (expected.tzinfo is None)
    assert measurement.time_raw == raw


def test_a_mapping_without_time_gives_measurements_without_time() -> None:
    section = '[json]\n[[json.metrics]]\nmetric = "heart_rate"\nvalue = "hr"\nunit = "bpm"\n'

    (measurement,) = decode_json(profile(section), '{"hr": 61}').measurements

    assert measurement.time is None
    assert measurement.time_raw is None


@pytest.mark.parametrize(
    ("at", "words"),
    [
        ('"2026-11-28"', "has no time of day"),
        ('"2026-11-28x08:00"', "has no time of day"),
        ('"28/11/2026 08:00"', "not an ISO-8601 date-time"),
        ('"2026-11-28T23:59:60Z"', "not an ISO-8601 date-time"),
        ("1764316800", "expected ISO-8601 time as a string, got an integer"),
        ('"' + "2026-11-28T08:00:00" + "0" * 100 + '"', "is longer than 64"),
    ],
)
def test_bad_iso_times_name_the_field(at: str, words: str) -> None:
    section = EPOCH_MS.replace("epoch_ms", "iso8601")

    err = error_of(profile(section), f'{{"at": {at}, "v": 97}}')

    assert err.field == "$.at"
    assert words in err.reason


@pytest.mark.parametrize(
    ("at", "words"),
    [
        ("-1", "out of range"),
        ("1e400", "out of range"),
        ("253402300800000", "out of range"),
        ("true", "expected an epoch time as a number, got a boolean"),
        ('"1764316800"', "expected an epoch time as a number, got a string"),
    ],
)
def test_bad_epoch_times_name_the_field(at: str, words: str) -> None:
    err = error_of(profile(EPOCH_MS), f'{{"at": {at}, "v": 97}}')

    assert err.field == "$.at"
    assert words in err.reason


# --- one bad record among good ones ---------------------------------------------------------


def test_one_bad_record_never_drops_the_good_ones() -> None:
    payload = {
        "readings": [
            {"t": "2026-11-28T08:00:00Z", "glucose_mmol": 5.8, "seq": 1},
            {"t": "2026-11-28T09:00:00Z", "glucose_mmol": "5.9", "seq": 2},
            {"t": "2026-11-28T10:00:00Z", "glucose_mmol": 6.0, "seq": 3},
            {"t": "not a time", "glucose_mmol": 6.1, "seq": 4},
            "garbage",
            {"t": "2026-11-28T11:00:00Z", "glucose_mmol": 6.2, "seq": 5},
            {"t": "2026-11-28T12:00:00Z", "seq": 6},
        ]
    }

    result = decode_json(GLUCOCLOUD, payload)

    assert [m.sequence for m in result.measurements] == [1, 3, 5]
    assert [(e.index, e.error.field) for e in result.errors] == [
        (1, "$.readings.1.glucose_mmol"),
        (3, "$.readings.3.t"),
        (4, "$.readings.4"),
        (6, "$.readings.6.glucose_mmol"),
    ]
    assert result.record_count == 7
    assert not result.ok
    assert "expected a number, got a string" in result.errors[0].error.reason


def test_a_record_is_decoded_whole_or_not_at_all() -> None:
    result = decode_json(ACME, {"ts": 1764316800, "sys": 120, "dia": True})

    err = only_error(result)
    assert err.field == "$.dia"


def test_a_record_with_none_of_its_metrics_is_an_error_not_a_silent_drop() -> None:
    section = (
        '[json]\n[[json.metrics]]\nmetric = "heart_rate"\nvalue = "hr"\nunit = "bpm"\n'
        "required = false\n"
    )

    err = error_of(profile(section), '{"other": 1}')

    assert (err.field, err.reason) == ("$", "the record has none of the mapped metrics")


def test_an_empty_records_array_is_no_measurement_and_no_error() -> None:
    result = decode_json(GLUCOCLOUD, '{"readings": []}')

    assert result == JsonDecodeResult((), (), 0)


# --- hostile payloads -----------------------------------------------------------------------

HOSTILE = [
    # (case id, profile, payload, expected error field, words in the reason)
    ("malformed", ACME, b'{"ts": 1764316800, "sys": }', "$", "not JSON"),
    ("truncated", ACME, fixture("acme-bp-wifi.json")[:40], "$", "not JSON"),
    ("empty", ACME, b"", "$", "not JSON"),
    ("not utf-8", ACME, b'{"sys": "\xff"}', "$", "not UTF-8"),
    ("utf-16", ACME, '{"sys": 1}'.encode("utf-16"), "$", "not UTF-8"),
    ("oversized", ACME, b'{"pad": "' + b"x" * MAX_PAYLOAD_BYTES + b'"}', "$", "exceeds the limit"),
    ("oversized text", ACME, "[" * (MAX_PAYLOAD_BYTES + 1), "$", "exceeds the limit"),
    ("deep nesting", ACME, b"[" * 100_000 + b"]" * 100_000, "$", "nests deeper"),
    (
        "nesting past the limit",
        ACME,
        b'{"sys": ' + b"[" * MAX_DEPTH + b"1" + b"]" * MAX_DEPTH + b"}",
        "$.sys" + ".0" * (MAX_DEPTH - 1),
        "nests deeper",
    ),
    (
        "NaN literal",
        ACME,
        b'{"ts": 1764316800, "sys": NaN, "dia": 80}',
        "$.sys",
        "NaN is not a number JSON allows",
    ),
    (
        "Infinity literal",
        ACME,
        b'{"ts": 1764316800, "sys": 120, "dia": -Infinity}',
        "$.dia",
        "-Infinity is not a number",
    ),
    (
        "NaN deep in an ignored field",
        ACME,
        b'{"x": {"y": [1, Infinity]}, "sys": 1, "dia": 1}',
        "$.x.y.1",
        "Infinity is not a number",
    ),
    (
        "duplicate key",
        ACME,
        b'{"ts": 1764316800, "sys": 120, "sys": 300, "dia": 80}',
        "$.sys",
        "key repeated",
    ),
    (
        "boolean as number",
        ACME,
        b'{"ts": 1764316800, "sys": true, "dia": 80}',
        "$.sys",
        "expected a number, got a boolean",
    ),
    (
        "string as number",
        ACME,
        b'{"ts": 1764316800, "sys": "128", "dia": 80}',
        "$.sys",
        "expected a number, got a string",
    ),
    (
        "object as number",
        ACME,
        b'{"ts": 1764316800, "sys": {}, "dia": 80}',
        "$.sys",
        "expected a number, got an object",
    ),
    (
        "huge exponent",
        ACME,
        b'{"ts": 1764316800, "sys": 1e400, "dia": 80}',
        "$.sys",
        "out of range",
    ),
    (
        "huge integer",
        ACME,
        b'{"ts": 1764316800, "sys": 1' + b"0" * 400 + b', "dia": 80}',
        "$.sys",
        "more than 30 digits",
    ),
    (
        "integer past Python's digit limit",
        ACME,
        b'{"sys": 1' + b"0" * 5000 + b"}",
        "$.sys",
        "more than 30 digits",
    ),
    (
        "too many digits",
        ACME,
        b'{"ts": 1764316800, "sys": 120.00000000000000000000000000001, "dia": 80}',
        "$.sys",
        "more than 30 digits",
    ),
    ("tiny number", ACME, b'{"ts": 1764316800, "sys": 1e-400, "dia": 80}', "$.sys", "out of range"),
    (
        "null required value",
        ACME,
        b'{"ts": 1764316800, "sys": null, "dia": 80}',
        "$.sys",
        "required value is null",
    ),
    (
        "missing required value",
        ACME,
        b'{"ts": 1764316800, "dia": 80}',
        "$.sys",
        "required value is missing",
    ),
    ("missing time", ACME, b'{"sys": 120, "dia": 80}', "$.ts", "the time is missing"),
    (
        "unknown unit",
        ACME,
        b'{"ts": 1764316800, "sys": 120, "dia": 80, "unit": "psi"}',
        "$.unit",
        "unknown unit 'psi'",
    ),
    (
        "unit for another metric",
        ACME,
        b'{"ts": 1764316800, "sys": 120, "dia": 80, "unit": "kg"}',
        "$.unit",
        "'kg' is not valid for systolic_bp",
    ),
    (
        "unit not text",
        ACME,
        b'{"ts": 1764316800, "sys": 120, "dia": 80, "unit": 7}',
        "$.unit",
        "expected unit as a string, got an integer",
    ),
    ("top-level array", ACME, b"[1, 2]", "$", "expected an object to look up 'sys'"),
    ("top-level number", ACME, b"42", "$", "expected an object to look up 'sys'"),
    (
        "path through a scalar",
        NIMBUS,
        b'{"data": {"body": 5}}',
        "$.data.body",
        "expected an object to look up 'weight'",
    ),
    (
        "records missing",
        GLUCOCLOUD,
        b'{"device": "x"}',
        "$.readings",
        "the records array is missing",
    ),
    (
        "records not an array",
        GLUCOCLOUD,
        b'{"readings": {"t": 1}}',
        "$.readings",
        "expected an array of records, got an object",
    ),
    (
        "too many records",
        GLUCOCLOUD,
        b'{"readings": [' + b",".join([b"0"] * (MAX_RECORDS + 1)) + b"]}",
        "$.readings",
        "exceed the limit",
    ),
    (
        "sequence not an integer",
        GLUCOCLOUD,
        b'{"readings": [{"t": "2026-11-28T08:00:00Z", "glucose_mmol": 5.8, "seq": 1.5}]}',
        "$.readings.0.seq",
        "expected an integer, got a number",
    ),
    (
        "sequence negative",
        GLUCOCLOUD,
        b'{"readings": [{"t": "2026-11-28T08:00:00Z", "glucose_mmol": 5.8, "seq": -1}]}',
        "$.readings.0.seq",
        "outside 0..",
    ),
    (
        "sequence boolean",
        GLUCOCLOUD,
        b'{"readings": [{"t": "2026-11-28T08:00:00Z", "glucose_mmol": 5.8, "seq": true}]}',
        "$.readings.0.seq",
        "got a boolean",
    ),
    (
        "status not text",
        GLUCOCLOUD,
        b'{"readings": [{"t": "2026-11-28T08:00:00Z", "glucose_mmol": 5.8, "status": [1]}]}',
        "$.readings.0.status",
        "expected a status string",
    ),
    (
        "unknown metric name",
        CANONICAL,
        b'{"metric": "mood", "value": 3, "unit": "%", "time": "2026-11-28T08:00:00Z"}',
        "$.metric",
        "metric 'mood' is not one of",
    ),
    (
        "metric name not text",
        CANONICAL,
        b'{"metric": 1, "value": 3, "unit": "%", "time": "2026-11-28T08:00:00Z"}',
        "$.metric",
        "expected metric name as a string",
    ),
    (
        "user id too large",
        NIMBUS,
        b'{"data": {"body": {"weight": {"value": 70, "unit": "kg"}}, "user": 9999999999,'
        b' "measured_at": "2026-11-28T07:30:00Z"}}',
        "$.data.user",
        "outside 0..",
    ),
]


@pytest.mark.parametrize(
    ("device", "payload", "field", "words"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
def test_hostile_payloads_give_a_decode_error_naming_the_path(
    device: DeviceProfile, payload: bytes | str, field: str, words: str
) -> None:
    err = error_of(device, payload)

    assert err.field == field
    assert words in err.reason, err.reason
    assert len(str(err)) < 400, "payload text never floods an error message"


def test_hostile_mapping_payloads() -> None:
    nan_float = {"ts": 1764316800, "sys": float("nan"), "dia": 80}
    cyclic: dict[str, object] = {"ts": 1764316800, "dia": 80}
    cyclic["sys"] = cyclic
    odd_key: dict[object, object] = {1: 2}

    assert error_of(ACME, nan_float).field == "$.sys"
    assert "nests deeper" in error_of(ACME, cyclic).reason
    assert "is not text" in error_of(ACME, odd_key).reason  # type: ignore[arg-type]
    assert "is not a JSON value" in error_of(ACME, {"sys": object()}).reason
    assert "payload must be" in error_of(ACME, 42).reason  # type: ignore[arg-type]


def test_a_ble_profile_cannot_decode_json() -> None:
    with pytest.raises(DecodeError, match="has no \\[json\\] mapping") as caught:
        decode_json(CATALOG["generic-ble-cgm"], b"{}")
    assert caught.value.field == "profile"


# --- mapping details ------------------------------------------------------------------------


def test_annotations_compare_json_types_strictly() -> None:
    section = """
[json]
[[json.metrics]]
metric = "pulse_rate"
value = "p"
unit = "bpm"
annotations = [
  { field = "irregular", annotation = "irregular-pulse" },
  { field = "motion", equals = 1, annotation = "motion" },
  { field = "mode", equals = "manual", annotation = "manual-entry" },
]
"""
    device = profile(section)

    def annotations(payload: str) -> tuple[str, ...]:
        return decode_json(device, payload).measurements[0].annotations

    assert annotations('{"p": 70, "irregular": true, "motion": 1.0, "mode": "manual"}') == (
        "irregular-pulse",
        "motion",
        "manual-entry",
    )
    assert annotations('{"p": 70, "irregular": 1, "motion": true, "mode": "MANUAL"}') == ()


def test_status_values_may_be_integers_and_unlisted_values_add_nothing() -> None:
    section = """
[json]
status = { field = "st", values = { "2" = "control-solution", ok = "checked" } }
[[json.metrics]]
metric = "glucose"
value = "g"
unit = "mg/dL"
"""
    device = profile(section)

    assert decode_json(device, '{"g": 90, "st": 2}').measurements[0].is_control
    assert decode_json(device, '{"g": 90, "st": "ok"}').measurements[0].annotations == ("checked",)
    assert decode_json(device, '{"g": 90, "st": "weird"}').measurements[0].annotations == ()
    assert decode_json(device, '{"g": 90, "st": null}').measurements[0].annotations == ()


def test_root_paths_and_array_indexes() -> None:
    section = """
[json]
records = "batch.items"
time = "$.batch.sent"
time_format = "epoch_s"
[[json.metrics]]
metric = "body_temperature"
value = "vals.0"
unit_field = "$.batch.unit"
"""
    payload = '{"batch": {"sent": 1764316800, "unit": "[degF]", "items": [{"vals": [98.6]}]}}'

    (measurement,) = decode_json(profile(section), payload).measurements

    assert (measurement.value, measurement.unit) == (Decimal("98.6"), "[degF]")
    assert measurement.time == datetime(2025, 11, 28, 8, 0, tzinfo=UTC)


def test_scale_is_exact() -> None:
    section = (
        '[json]\n[[json.metrics]]\nmetric = "weight"\nvalue = "w"\nunit = "kg"\nscale = 0.005\n'
    )

    (measurement,) = decode_json(profile(section), '{"w": 14480}').measurements

    assert str(measurement.value) == "72.400"


@pytest.mark.parametrize(
    ("text", "segments", "from_root"),
    [
        ("sys", ("sys",), False),
        ("data.body.weight.value", ("data", "body", "weight", "value"), False),
        ("$.unit", ("unit",), True),
        ("$", (), True),
        ("$ts", ("$ts",), False),
        ("readings.0.t", ("readings", "0", "t"), False),
        ("Body Weight", ("Body Weight",), False),
    ],
)
def test_path_syntax(text: str, segments: tuple[str, ...], from_root: bool) -> None:
    path = JsonPath.parse(text)

    assert (path.segments, path.from_root, str(path)) == (segments, from_root, text)


@pytest.mark.parametrize(
    "text", ["", "$.", "a..b", ".a", "a.", " a", "a\nb", "x" * 129, ".".join("a" * 33)]
)
def test_invalid_paths_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        JsonPath.parse(text)


def test_a_payload_that_is_itself_the_array_of_records() -> None:
    section = """
[json]
records = "$"
[[json.metrics]]
metric = "spo2"
value = "v"
unit = "%"
"""
    result = decode_json(profile(section), '[{"v": 97}, {"v": 98}, {"v": "x"}]')

    assert [m.value for m in result.measurements] == [Decimal(97), Decimal(98)]
    assert [(e.index, e.error.field) for e in result.errors] == [(2, "$.2.v")]


def test_the_json_mapping_never_imports_the_catalog() -> None:
    """The catalog imports the mapping's types and its section check, never the reverse:
    decode_json takes any JsonProfile, so the two modules form no import cycle."""
    tree = ast.parse(Path(json_mapping.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {
        a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names
    }
    assert "device_profiles.catalog" not in imported
