"""The one strict JSON reader: what it refuses, with which path, and that it never crashes."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_profiles.errors import DecodeError
from device_profiles.strict_json import JsonValue, kind_of, loads

LIMIT = 64 * 1024


def refusal(payload: bytes | str, **limits: int) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        loads(payload, max_bytes=limits.pop("max_bytes", LIMIT), **limits)
    return caught.value


def test_numbers_keep_their_exact_value() -> None:
    document = loads(b'{"a": 98.6, "b": 7, "c": -0.10, "d": 1e2}', max_bytes=LIMIT)
    assert document == {"a": Decimal("98.6"), "b": 7, "c": Decimal("-0.10"), "d": Decimal("1e2")}
    assert isinstance(document, dict)
    assert type(document["b"]) is int


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        # The poison message: an integer of 4,400 digits (past Python's 4,300-digit limit).
        (b'{"metric": "glucose", "value": 1' + b"0" * 4400 + b"}", "$.value", "more than 30"),
        (b'{"v": -1' + b"0" * 40 + b"}", "$.v", "more than 30 digits"),
        (b'{"v": 1.' + b"1" * 40 + b"}", "$.v", "more than 30 digits"),
        (b'{"v": 1e999999}', "$.v", "exponent"),
        (b'{"v": 1e-401}', "$.v", "exponent"),
        (b'{"metric": "glucose", "metric": "ketone"}', "$.metric", "key repeated"),
        (b'{"a": [{"b": 1, "b": 2}]}', "$.a.0.b", "key repeated"),
        (b'{"a": NaN}', "$.a", "NaN"),
        (b"[1, -Infinity]", "$.1", "-Infinity"),
        (b"[" * 40 + b"]" * 40, "$" + ".0" * 32, "nests deeper than 32"),
        (b"[" * 30_000 + b"]" * 30_000, "$", "nests deeper"),
        (b'{"a": "\xff"}', "$", "not UTF-8"),
        (b'{"a": 1,}', "$", "not JSON"),
        (b"", "$", "not JSON"),
        (b'{"a": 1} {"b": 2}', "$", "not JSON"),
    ],
)
def test_hostile_documents_are_refused_with_the_path_of_the_problem(
    payload: bytes, field: str, words: str
) -> None:
    err = refusal(payload)
    assert err.field == field
    assert words in err.reason


def test_size_is_checked_before_parsing_for_bytes_and_text() -> None:
    assert "exceeds the limit of 10 bytes" in refusal(b'{"a": "xxxxxxxx"}', max_bytes=10).reason
    assert "11 characters" in refusal('{"a": "éé"}' + "", max_bytes=10).reason


def test_limits_are_the_callers() -> None:
    assert loads(b"[[[1]]]", max_bytes=LIMIT, max_depth=3) == [[[1]]]
    assert refusal(b"[[[1]]]", max_depth=2).field == "$.0.0"
    assert loads(b"123456", max_bytes=LIMIT, max_digits=6) == 123456
    assert refusal(b"1234567", max_digits=6).field == "$"


def test_the_first_problem_in_document_order_is_reported() -> None:
    err = refusal(b'{"a": 1, "b": NaN, "c": 1' + b"0" * 50 + b"}")
    assert err.field == "$.b"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**29), max_value=10**29)
    | st.decimals(
        allow_nan=False, allow_infinity=False, places=4, max_value=10**12, min_value=-(10**12)
    )
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


def _plain(value: JsonValue) -> object:
    """Comparable form: Decimal normalised (json.dumps writes them as floats' text)."""
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@settings(max_examples=2_000)
@given(json_values)
def test_every_document_within_the_limits_reads_back(value: JsonValue) -> None:
    text = json.dumps(value, default=lambda d: float(d) if isinstance(d, Decimal) else d)
    parsed = loads(text, max_bytes=LIMIT)
    assert _plain(parsed) == _plain(json.loads(text, parse_float=Decimal))


@settings(max_examples=2_000)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_a_document_or_a_decode_error(data: bytes) -> None:
    problem: DecodeError | None = None
    try:
        loads(data, max_bytes=LIMIT)
    except DecodeError as err:
        problem = err
    if problem is not None:
        assert problem.reason
        assert problem.field is not None and problem.field.startswith("$")


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (None, "null"),
        (True, "a boolean"),
        (7, "an integer"),
        (Decimal("7.5"), "a number"),
        ("7", "a string"),
        ([7], "an array"),
        ({"a": 7}, "an object"),
    ],
)
def test_one_naming_of_values_for_every_message(value: JsonValue, kind: str) -> None:
    assert kind_of(value) == kind
    assert kind_of({}, mapping="a table") == "a table"  # the catalog's TOML word
