"""Wire contract v1: topics and the canonical JSON reading, including hostile input."""

from __future__ import annotations

import contextlib
import importlib.util
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_profiles.errors import DecodeError
from hub.config import SAFE_ID
from hub.core.identity import ANCHORED_ID_PATTERN, ID_PATTERN
from hub.core.wire import (
    TopicKind,
    WireError,
    device_readings_topic,
    parse_device_readings,
    parse_topic,
    shared,
)

GOOD = {"metric": "glucose", "value": 104, "unit": "mg/dL", "time": "2026-11-28T08:00:00Z"}


def encode(document: object) -> bytes:
    return json.dumps(document).encode()


def test_topic_round_trip() -> None:
    topic = parse_topic(device_readings_topic("meter-1"))
    assert topic.kind is TopicKind.DEVICE_READINGS
    assert topic.sender_id == "meter-1"


@pytest.mark.parametrize(
    "topic",
    [
        "hs/v2/devices/a/readings",
        "hs/v1/devices//readings",
        "hs/v1/devices/a/b/readings",
        "hs/v1/devices/+/readings",
        "hs/v1/devices/a#/readings",
        "hs/v1/devices/" + "a" * 129 + "/readings",
        "",
    ],
)
def test_topics_outside_the_contract_are_refused(topic: str) -> None:
    with pytest.raises(WireError, match="not part of wire contract v1"):
        parse_topic(topic)


def test_device_id_with_wildcards_cannot_make_a_topic() -> None:
    with pytest.raises(WireError, match="invalid device id"):
        device_readings_topic("a/+")


def test_shared_subscription_form() -> None:
    assert shared("hs/v1/devices/+/readings", "hub") == "$share/hub/hs/v1/devices/+/readings"
    assert shared("hs/v1/devices/+/readings", "") == "hs/v1/devices/+/readings"


def test_canonical_reading_keeps_exact_decimals_and_raw_time() -> None:
    payload = (
        b'{"metric": "weight", "value": 72.40, "unit": "kg", '
        b'"time": "2026-11-28T07:05:00+01:00", "seq": 3}'
    )
    [(index, m)] = parse_device_readings(payload).measurements
    assert index is None
    assert m.value == Decimal("72.40")
    assert m.time_raw == "2026-11-28T07:05:00+01:00"
    assert m.time is not None and m.time.utcoffset() is not None
    assert m.sequence == 3


def test_array_and_wrapped_forms() -> None:
    for document in ([GOOD, GOOD], {"readings": [GOOD, GOOD]}):
        parsed = parse_device_readings(encode(document))
        assert [i for i, _ in parsed.measurements] == [0, 1]
        assert parsed.errors == []


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"value": None}, "value", "required field is missing"),
        ({"value": True}, "value", "got a boolean"),
        ({"value": "104"}, "value", "expected a number, got a string"),
        ({"value": [1]}, "value", "expected a number, got an array"),
        ({"metric": 5}, "metric", "expected a string"),
        ({"time": "yesterday"}, "time", "not an ISO-8601"),
        ({"time": "2026-11-28T08:00:00"}, "time", "no UTC offset"),
        ({"time": "2026-02-30T08:00:00Z"}, "time", "not an ISO-8601"),
        ({"seq": -1}, "seq", "between 0 and"),
        ({"seq": 1.5}, "seq", "expected an integer"),
        ({"extra": 1}, "extra", "unknown field"),
    ],
)
def test_each_bad_field_is_named(change: dict[str, object], field: str, reason: str) -> None:
    item = {**GOOD, **change}
    item = {k: v for k, v in item.items() if v is not None}
    with pytest.raises(WireError, match=reason) as caught:
        parse_device_readings(encode(item))
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "not JSON"),
        (b"not json", "not JSON"),
        (b'{"metric": "glucose", "value": 10', "not JSON"),  # truncated
        (b"\xff\xfe", "not UTF-8"),
        (b'{"metric": "glucose", "value": NaN, "unit": "mg/dL", "time": "x"}', "NaN"),
        (b'{"metric": "glucose", "value": Infinity}', "Infinity"),
        (b"[" * 100_000 + b"]" * 100_000, "nests deeper"),
        (b"[]", "empty array"),
        (b'"a string"', "got a string"),
        (b"x" * 300_000, "exceeds"),
        # The same strict reader as every other path: a repeated key is ambiguous, refused.
        (b'{"metric": "glucose", "value": 90, "value": 300, "unit": "mg/dL"}', "key repeated"),
        # The poison message of the security review: 4,400 digits, past Python's int limit.
        (b'{"metric": "glucose", "value": 1' + b"0" * 4400 + b"}", "more than 30 digits"),
    ],
)
def test_hostile_payloads_get_a_clear_error(payload: bytes, reason: str) -> None:
    with pytest.raises(WireError, match=reason):
        parse_device_readings(payload)


def test_too_many_readings_in_one_message() -> None:
    with pytest.raises(WireError, match="exceed the limit"):
        parse_device_readings(encode([GOOD] * 1001))


def test_one_bad_item_does_not_reject_the_others() -> None:
    parsed = parse_device_readings(encode([GOOD, {"metric": "glucose"}, 7, GOOD]))
    assert [i for i, _ in parsed.measurements] == [0, 3]
    assert [(e.index, e.error.field) for e in parsed.errors] == [
        (1, "readings[1].value"),
        (2, "readings[2]"),
    ]


@settings(max_examples=500, derandomize=True, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_only_ever_raise_decode_error(payload: bytes) -> None:
    with contextlib.suppress(DecodeError):
        parse_device_readings(payload)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=500, derandomize=True, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["metric", "value", "unit", "time", "seq", "x"]), json_values, max_size=6
    )
)
def test_random_reading_shapes_only_ever_raise_decode_error(item: dict[str, object]) -> None:
    try:
        parsed = parse_device_readings(encode(item))
    except DecodeError:
        return
    assert len(parsed.measurements) == 1


def test_one_identifier_syntax_everywhere() -> None:
    """Settings, the wire contract and the broker bootstrap accept the same ids. The
    bootstrap script runs without the hub installed, so it keeps a copy: it must agree."""
    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location(
        "bootstrap", root / "deploy" / "mosquitto" / "dynsec" / "bootstrap.py"
    )
    assert spec is not None and spec.loader is not None
    bootstrap = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bootstrap)
    assert bootstrap.SAFE_NAME.pattern == ID_PATTERN
    assert SAFE_ID == ANCHORED_ID_PATTERN == f"^{ID_PATTERN}$"
