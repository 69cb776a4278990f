"""Seeded fuzzing of decode_json: whatever a device sends, only DecodeError escapes.

``derandomize=True`` makes every run draw the same examples, so a failure reproduces on any
machine; hypothesis prints the failing payload.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_profiles.catalog import DeviceProfile, load_catalog
from device_profiles.errors import DecodeError
from device_profiles.json_mapping import JsonDecodeResult, RecordError, decode_json
from device_profiles.vocabulary import METRICS

FIXTURES = Path(__file__).parents[2] / "fixtures" / "profiles"
MQTT_PROFILES = load_catalog().by_transport("mqtt-json")
SAMPLES = {p.id: (FIXTURES / f"{p.id}.json").read_bytes() for p in MQTT_PROFILES}

# Field names the shipped profiles look up, so random documents often hit real paths.
KEYS = st.sampled_from(
    [
        "ts",
        "sys",
        "dia",
        "pulse",
        "unit",
        "irregular",
        "cuff_ok",
        "readings",
        "t",
        "glucose_mmol",
        "seq",
        "status",
        "data",
        "body",
        "weight",
        "value",
        "fat_permille",
        "user",
        "measured_at",
        "metric",
        "time",
        "0",
    ]
) | st.text(max_size=6)
TEXTS = st.sampled_from(
    [
        "2026-11-28T08:00:00Z",
        "2026-11-28T08:00:00",
        "2026-11-28",
        "mmHg",
        "kPa",
        "kg",
        "lb",
        "mmol/L",
        "mg/dL",
        "%",
        "glucose",
        "weight",
        "control",
        "ctrl",
        "NaN",
        "1e400",
        "",
    ]
) | st.text(max_size=12)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.decimals(allow_nan=True, allow_infinity=True)
    | TEXTS
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=25,
)


def to_json(value: Any) -> str:
    """Like json.dumps, but Decimals as written and NaN/Infinity in any spelling they take."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(item) for item in value) + "]"
    if isinstance(value, Decimal | float) and not isinstance(value, bool):
        return (
            str(value)
            if isinstance(value, Decimal) or math.isfinite(value)
            else ("NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity"))
        )
    return json.dumps(value)


@st.composite
def mutated_sample(draw: Callable[..., Any]) -> dict[str, Any]:
    """A real sample payload with one value somewhere inside replaced by a random one."""
    document = json.loads(draw(st.sampled_from(sorted(SAMPLES.values()))))
    node: Any = document
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        if isinstance(node[key], dict | list) and draw(st.booleans()):
            node = node[key]
            continue
        node[key] = draw(VALUES)
        break
    return dict(document)


@st.composite
def byte_edits(draw: Callable[..., Any]) -> bytes:
    """A real sample payload cut, or with random bytes spliced in."""
    sample = draw(st.sampled_from(sorted(SAMPLES.values())))
    start = draw(st.integers(0, len(sample)))
    end = draw(st.integers(start, len(sample)))
    return bytes(sample[:start] + draw(st.binary(max_size=8)) + sample[end:])


PAYLOADS = st.one_of(
    mutated_sample(),
    mutated_sample().map(to_json),
    mutated_sample().map(lambda doc: to_json(doc).encode()),
    byte_edits(),
    VALUES.map(to_json),
    st.dictionaries(KEYS, VALUES, max_size=6),
    st.binary(max_size=64),
)


def outcome(device: DeviceProfile, payload: Any) -> JsonDecodeResult | DecodeError:
    """What decode_json gives; any exception but DecodeError propagates and fails the test."""
    try:
        return decode_json(device, payload)
    except DecodeError as err:
        return err


def check(device: DeviceProfile, payload: Any) -> None:
    result = outcome(device, payload)
    if isinstance(result, DecodeError):
        assert result.field is not None
        assert result.field.startswith("$")
        return
    assert result.record_count >= len(result.errors)
    for measurement in result.measurements:
        assert measurement.metric in METRICS
        assert measurement.value is not None
        assert measurement.value.is_finite()
        assert measurement.unit in METRICS[measurement.metric].units
    for record_error in result.errors:
        assert isinstance(record_error, RecordError)
        assert record_error.error.field is not None
        assert record_error.error.field.startswith("$")


@settings(
    derandomize=True,
    max_examples=2000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(device=st.sampled_from(MQTT_PROFILES), payload=PAYLOADS)
def test_only_decode_error_escapes(device: DeviceProfile, payload: Any) -> None:
    check(device, payload)


def test_the_fuzzer_also_reaches_good_payloads() -> None:
    """The samples it mutates decode cleanly, so mutations start from meaningful input."""
    catalog = load_catalog()
    for profile_id, sample in SAMPLES.items():
        result = decode_json(catalog[profile_id], sample)
        assert result.ok
        assert result.measurements
