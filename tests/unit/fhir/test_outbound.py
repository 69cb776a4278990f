"""Readings, devices and audit rows as R4 resources (pure builders), checked by both
validators."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from hub.core.fhir import outbound
from hub.core.model import Reading, Source, TimeSource
from tests.unit.fhir.conftest import NOW

Json = dict[str, Any]
Check = Callable[[Json], None]


def reading(metric: str, value: float, unit: str, **kw: Any) -> Reading:
    fields: dict[str, Any] = {
        "reading_id": f"{metric.replace('_', '')[:8]}{len(metric):02d}".ljust(32, "0"),
        "patient_id": "pat-1",
        "device_id": "cuff-1",
        "metric": metric,
        "value": value,
        "unit": unit,
        "effective_time": NOW - timedelta(hours=1),
        "receive_time": NOW,
        "device_time": (NOW - timedelta(hours=1)).isoformat(),
        "time_source": TimeSource.DEVICE,
        "source": Source.PROVIDER,
        "value_sent": str(value),
        "unit_sent": unit,
        "utc_offset_min": 60,
        "time_zone": "Europe/Paris",
    }
    fields.update(kw)
    return Reading(**fields)


def codes_of(concept: Json) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in concept["coding"]}


def extensions(resource: Json, url: str) -> list[Json]:
    return [e for e in resource.get("extension", []) if e["url"] == url]


def test_an_observation_carries_mdc_and_loinc_codings_and_the_vital_signs_category() -> None:
    spo2 = outbound.observation(reading("spo2", 97.0, "%"))
    assert {("http://loinc.org", "2708-6"), ("http://loinc.org", "59408-5")} <= codes_of(
        spo2["code"]
    )
    assert ("urn:iso:std:iso:11073:10101", "150456") in codes_of(spo2["code"])
    assert spo2["code"]["coding"][0]["code"] == "2708-6"  # the oxygensat profile's slice first
    categories = {c["coding"][0]["code"] for c in spo2["category"]}
    assert categories == {"vital-signs", "phd"}
    assert spo2["meta"]["profile"] == [
        "http://hl7.org/fhir/StructureDefinition/vitalsigns",
        "http://hl7.org/fhir/StructureDefinition/oxygensat",
    ]
    assert spo2["device"] == {"reference": "Device/cuff-1"}
    assert spo2["subject"] == {"reference": "Patient/pat-1"}


def test_the_effective_time_keeps_the_devices_offset() -> None:
    local = outbound.observation(reading("heart_rate", 64.0, "/min", utc_offset_min=120))
    moment = NOW - timedelta(hours=1)
    assert local["effectiveDateTime"].endswith("+02:00")
    assert local["effectiveDateTime"][:19] == (moment + timedelta(hours=2)).isoformat()[:19]
    unknown = outbound.observation(
        reading("heart_rate", 64.0, "/min", utc_offset_min=None, time_zone=None)
    )
    assert unknown["effectiveDateTime"].endswith("Z")


def test_a_date_and_a_period_are_written_back_as_they_came() -> None:
    day = reading(
        "body_temperature",
        37.2,
        "Cel",
        device_time="2026-01-15",
        flags=("time-precision:day",),
        effective_time=NOW - timedelta(days=3),
    )
    expected_day = (NOW - timedelta(days=3)).astimezone(outbound.local_zone(day)).date()
    assert outbound.effective(day) == {"effectiveDateTime": expected_day.isoformat()}
    period = outbound.effective(reading("systolic_bp", 120.0, "mm[Hg]", flags=("period-ms:40000",)))
    start = period["effectivePeriod"]["start"]
    end = period["effectivePeriod"]["end"]
    assert start.endswith("+01:00") and end.endswith("+01:00")
    assert int(end[17:19]) == (int(start[17:19]) + 40) % 60


def test_systolic_and_diastolic_of_one_measurement_are_one_bp_panel() -> None:
    members = [
        reading("systolic_bp", 182.0, "mm[Hg]", flags=("critical-high", "irregular-pulse")),
        reading("diastolic_bp", 84.0, "mm[Hg]"),
        reading("pulse_rate", 70.0, "/min"),
    ]
    lone = reading("systolic_bp", 121.0, "mm[Hg]", effective_time=NOW - timedelta(hours=5))
    resources = outbound.observations([lone, *members])
    assert [r["code"]["coding"][0]["code"] for r in resources] == ["8480-6", "85354-9", "8867-4"]
    panel = resources[1]
    assert panel["meta"]["profile"][-1] == "http://hl7.org/fhir/StructureDefinition/bp"
    assert [c["code"]["coding"][0]["code"] for c in panel["component"]] == ["8480-6", "8462-4"]
    assert panel["component"][0]["interpretation"][0]["coding"][0]["code"] == "HH"
    assert "valueQuantity" not in panel
    flags = [e["valueCode"] for e in extensions(panel, outbound.FLAG_EXT)]
    assert "irregular-pulse" in flags


def test_a_meal_context_is_a_phd_component_and_the_ans_moment_extension() -> None:
    glucose = outbound.observation(reading("glucose", 180.0, "mg/dL", flags=("meal:postprandial",)))
    [component] = glucose["component"]
    assert codes_of(component["code"]) == {("urn:iso:std:iso:11073:10101", "8417864")}
    assert codes_of(component["valueCodeableConcept"]) == {
        ("urn:iso:std:iso:11073:10101", "8417872")
    }
    [moment] = extensions(
        glucose,
        "https://interop.esante.gouv.fr/ig/fhir/mesures/StructureDefinition/"
        "mesures-moment-of-measurement",
    )
    assert moment["valueCodeableConcept"]["coding"][0]["code"] == "16915-1"


def test_provenance_is_kept_as_extensions() -> None:
    corrected = reading(
        "glucose",
        104.0,
        "mg/dL",
        time_source=TimeSource.DEVICE_CORRECTED,
        clock_offset_ms=-3_600_000,
        device_time="2026-01-01T09:00:00",
        value_sent="5.8",
        unit_sent="mmol/L",
        flags=("time-corrected",),
        seq=12,
    )
    resource = outbound.observation(corrected)
    [provenance] = extensions(resource, outbound.PROVENANCE_EXT)
    parts = {e["url"]: e for e in provenance["extension"]}
    assert parts["timeSource"]["valueCode"] == "device-corrected"
    assert parts["deviceTime"]["valueString"] == "2026-01-01T09:00:00"
    assert parts["clockOffset"]["valueQuantity"]["value"] == -3_600_000
    assert (parts["valueSent"]["valueString"], parts["unitSent"]["valueCode"]) == ("5.8", "mmol/L")
    assert parts["sequence"]["valueString"] == "12"
    assert "time-corrected" in [e["valueCode"] for e in extensions(resource, outbound.FLAG_EXT)]


def test_ids_that_r4_refuses_are_hashed_stably() -> None:
    assert outbound.fhir_id("cuff-1", "dev-") == "cuff-1"
    hashed = outbound.fhir_id("gw_1:cuff", "dev-")
    assert hashed.startswith("dev-") and hashed == outbound.fhir_id("gw_1:cuff", "dev-")
    assert outbound.basic("dead_letters", "[]")["id"] == "registry-dead-letters"


def test_an_audit_event_has_its_source_and_action() -> None:
    row = {
        "id": 7,
        "action": "readings.list",
        "outcome": "refused",
        "detail": None,
        "actor": "dr-2",
        "role": "practitioner",
        "patient_id": "pat-1",
    }
    event = outbound.audit_event(row, NOW)
    assert event["source"]["observer"] == {"display": "health-device-hub"}
    assert (event["action"], event["outcome"]) == ("R", "4")
    assert event["entity"][0]["what"]["reference"] == "Patient/pat-1"


def test_a_collection_has_no_total_and_a_searchset_has_links() -> None:
    collection = outbound.collection([], timestamp=NOW)
    assert "total" not in collection
    page = outbound.searchset(
        [], total=3, self_url="http://h/x", next_url="http://h/x?cursor=a", timestamp=NOW
    )
    assert [link["relation"] for link in page["link"]] == ["self", "next"]


@pytest.mark.parametrize(
    "resource",
    [
        outbound.observation(reading("spo2", 97.0, "%", flags=("signal-quality:90",))),
        outbound.observation(reading("heart_rate", 64.0, "/min", flags=("critical-low",))),
        outbound.observation(reading("weight", 71.5, "kg")),
        outbound.observation(reading("glucose", 180.0, "mg/dL", flags=("meal:fasting",))),
        outbound.observation(
            reading(
                "body_temperature",
                37.0,
                "Cel",
                device_time="2026-01-15",
                flags=("time-precision:day",),
            )
        ),
        outbound.observation(reading("cuff_pressure", 150.0, "mm[Hg]")),
        outbound.bp_panel(
            [
                reading("systolic_bp", 120.0, "mm[Hg]", flags=("period-ms:40000",)),
                reading("diastolic_bp", 80.0, "mm[Hg]", flags=("period-ms:40000",)),
                reading("mean_arterial_pressure", 93.0, "mm[Hg]"),
            ]
        ),
        outbound.device("00-1C-05-04-00-00-78-25", manufacturer="Nonin", model="3150"),
        outbound.patient("pat-1", "255081416802538"),
        outbound.audit_event(
            {
                "id": 1,
                "action": "patient.export",
                "outcome": "allowed",
                "actor": "pat-1",
                "role": "patient",
                "patient_id": "pat-1",
            },
            NOW,
        ),
        outbound.basic("audit_events", "[]"),
        outbound.operation_outcome([outbound.issue("error", "invalid", "x", "Bundle.entry[0]")]),
    ],
    ids=[
        "spo2",
        "heart-rate",
        "weight",
        "glucose-meal",
        "temperature-day",
        "no-loinc",
        "bp-panel",
        "device",
        "patient",
        "audit",
        "basic",
        "outcome",
    ],
)
def test_each_builder_passes_both_validators(resource: Json, valid_fhir: Check) -> None:
    valid_fhir(resource)


def test_a_reading_without_provenance_fields_still_renders() -> None:
    old = replace(
        reading("weight", 70.0, "kg"),
        value_sent=None,
        unit_sent=None,
        utc_offset_min=None,
        time_zone=None,
        device_time=None,
    )
    resource = outbound.observation(old)
    [provenance] = extensions(resource, outbound.PROVENANCE_EXT)
    assert {e["url"] for e in provenance["extension"]} == {"source", "timeSource", "readingId"}
