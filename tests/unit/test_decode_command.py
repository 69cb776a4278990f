"""``hub decode`` on every characteristic the gateway handles: structured JSON of the record,
with the coded measurements of a measurement characteristic."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from hub.runtime.cli import main


def decode(capsys: pytest.CaptureFixture[str], uuid: str, hex_value: str) -> dict[str, Any]:
    assert main(["decode", "--uuid", uuid, "--hex", hex_value]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out, parse_float=Decimal)
    return document


def test_a_glucose_measurement_context(capsys: pytest.CaptureFixture[str]) -> None:
    # flags 0x07: carbohydrate (lunch, 50 g), meal (postprandial), tester-health (self, none)
    out = decode(capsys, "2A34", "072a000232d00251")
    assert out["characteristic"] == "Glucose Measurement Context"
    assert out["record"]["sequence"] == 42
    assert out["record"]["meal"] == {"code": 2, "name": "postprandial"}
    assert out["record"]["carbohydrate_grams"] == 50
    assert out["measurements"] == []


@pytest.mark.parametrize(
    ("uuid", "hex_value", "record"),
    [
        ("2A08", "ea070b1c0a0000", "2026-11-28T10:00:00"),  # Date Time
        (
            "2A2B",  # Current Time: half a second past, Saturday, not adjusted
            "ea070b1c0a0000068000",
            {
                "date_time": "2026-11-28T10:00:00",
                "day_of_week": 6,
                "fractions256": 128,
                "adjust_reason": {"code": 0, "flags": []},
            },
        ),
        (
            "2A52",
            "06000106",
            {"request_opcode": 1, "code": {"code": 6, "name": "no_records_found"}},
        ),
        ("2A52", "0500f401", {"count": 500, "wide": False}),
        ("2A19", "64", {"percent": 100}),
    ],
)
def test_status_and_control_characteristics(
    capsys: pytest.CaptureFixture[str], uuid: str, hex_value: str, record: object
) -> None:
    assert decode(capsys, uuid, hex_value)["record"] == record


def test_a_weight_scale_feature(capsys: pytest.CaptureFixture[str]) -> None:
    record = decode(capsys, "2A9E", "0e000000")["record"]
    assert record["multiple_users_supported"] and record["bmi_supported"]
    assert record["weight_resolution"] == {"si": Decimal("0.5"), "imperial": 1}


def test_rr_intervals_are_numbers_in_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    record = decode(capsys, "2A37", "10482c031603")["record"]  # 72 /min, RR 812 and 790
    assert record["rr_intervals"] == [812, 790]  # units of 1/1024 s, as sent
    assert record["rr_intervals_s"] == [Decimal("0.79296875"), Decimal("0.771484375")]


def test_body_composition_fields_with_their_codes(capsys: pytest.CaptureFixture[str]) -> None:
    out = decode(capsys, "2A9C", "3806ea006419600144160314343a")
    fields = {f["field"]: f for f in out["record"]["coded_fields"]}
    assert fields["body_fat_pct"]["mdc"] == {"code": 188748, "ref": "MDC_BODY_FAT"}
    assert fields["weight"]["mdc"] == {"code": 188736, "ref": "MDC_MASS_BODY_ACTUAL"}
    # no verified MDC code: emitted with their unit, no code invented
    assert {
        name: (f["value"], f["unit"], f["mdc"]) for name, f in fields.items() if not f["metric"]
    } == {
        "basal_metabolism_kj": (6500, "kJ", None),
        "muscle_pct": (Decimal("35.2"), "%", None),
        "muscle_mass": (Decimal("28.5"), "kg", None),
        "impedance_ohm": (Decimal("512.3"), "Ohm", None),
    }
    assert {m["metric"] for m in out["measurements"]} == {"body_fat", "weight"}


def test_a_reserved_temperature_type_keeps_the_temperature(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = decode(capsys, "2A1C", "046e0100ffff")
    assert out["record"]["temperature_type"] == 255
    [reading] = out["measurements"]
    assert reading["value"] == "36.6"
    assert reading["annotations"] == ["temperature-type-reserved:255"]
