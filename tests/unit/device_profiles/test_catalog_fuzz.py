"""Seeded fuzzing of the profile loader: whatever a profile file holds, only ProfileError
escapes, and a profile that loads is internally consistent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_profiles import catalog as catalog_module
from device_profiles.catalog import DeviceProfile, load_profile_text
from device_profiles.errors import ProfileError

SHIPPED = [
    path.read_text(encoding="utf-8")
    for path in sorted(
        Path(catalog_module.__file__).with_name(catalog_module.PROFILES_DIRECTORY).glob("*.toml")
    )
]
# Fragments that are valid TOML on their own line, many of them wrong for the schema.
LINES = st.sampled_from(
    [
        "min = 1e400",
        "max = nan",
        "scale = -0.0",
        "equals = inf",
        'value = "$"',
        'value = "a..b"',
        'unit = "kg"',
        'metric = "spo2"',
        "required = 1",
        "metrics = []",
        "[limits.glucose]",
        "[json]",
        "[[json.metrics]]",
        "[ble]",
        "[quirks]",
        "clock_zone = 3",
        "kg_resolution_override = 0.005",
        'services = ["2A35", 7]',
        "characteristics = [[]]",
        'status = { field = "s", values = { a = 1 } }',
        "annotations = [1, {}]",
        "time = 1979-05-27T07:32:00Z",
        'transport = "ble-gatt"',
        'transport = "mqtt-json"',
        "schema_version = true",
    ]
)


@st.composite
def edited_profile(draw: Callable[..., Any]) -> str:
    """A shipped profile with lines removed, replaced or inserted."""
    lines = draw(st.sampled_from(SHIPPED)).splitlines()
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(lines)))
        action = draw(st.sampled_from(["insert", "replace", "delete"]))
        if action == "insert" or index == len(lines):
            lines.insert(index, draw(LINES | st.text(max_size=20)))
        elif action == "replace":
            lines[index] = draw(LINES)
        else:
            del lines[index]
    return "\n".join(lines)


def load(text: str) -> DeviceProfile | ProfileError:
    try:
        return load_profile_text(text, "fuzz.toml")
    except ProfileError as err:
        return err


@settings(
    derandomize=True,
    max_examples=1000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(text=edited_profile())
def test_only_profile_error_escapes_the_loader(text: str) -> None:
    outcome = load(text)

    if isinstance(outcome, ProfileError):
        assert outcome.problems
        assert all(file == "fuzz.toml" and field for file, field, _ in outcome.problems)
    else:
        assert (outcome.ble is None) != (outcome.json_mapping is None)
        for limits in outcome.limits:
            assert limits.min < limits.max
