"""What the hub emits as FHIR — GDPR export, audit trail, Observation search — valid R4 for
both validators, with true totals and ``next`` links that walk every page."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from hub.adapters.tokens import Role
from tests.unit.fhir import examples as ex
from tests.unit.fhir.conftest import INS_A, NOW, auth, push

Json = dict[str, Any]
Check = Callable[[Json], None]


def fill(client: TestClient) -> None:
    """Glucose with a meal, SpO2 and pulse, a BP panel, a date-only heart rate."""
    glucose_url = "urn:uuid:7d1b44d2-0000-4000-8000-00000000000b"
    document = ex.bundle(
        "batch",
        ex.entry(ex.phd_glucose(minutes_ago=30), glucose_url),
        ex.entry(ex.phd_meal_context(glucose_url, minutes_ago=30)),
        ex.entry(ex.r4_bp_panel(minutes_ago=50)),
        ex.entry(ex.r4_heart_rate(days_ago=2)),
    )
    assert push(client, document).status_code == 200
    assert push(client, ex.phd_pulse_ox_bundle()).status_code == 200


def follow(client: TestClient, url: str, headers: dict[str, str]) -> list[Json]:
    """Every page of a searchset, by its ``next`` links."""
    pages = []
    while url:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        url = next((k["url"] for k in pages[-1]["link"] if k["relation"] == "next"), "")
    return pages


def test_the_export_is_a_valid_collection(
    client: TestClient, world: Json, valid_fhir: Check
) -> None:
    fill(client)
    response = client.get(f"/v1/patients/{world['a']}/export", headers=world["A"])
    assert response.headers["content-type"] == "application/fhir+json"
    export = response.json()
    valid_fhir(export)
    assert export["type"] == "collection" and "total" not in export
    kinds = [e["resource"]["resourceType"] for e in export["entry"]]
    assert kinds[0] == "Patient" and "Device" in kinds and "Basic" in kinds
    assert export["entry"][0]["resource"]["identifier"][0]["value"] == INS_A
    basics = [
        e["resource"]["id"] for e in export["entry"] if e["resource"]["resourceType"] == "Basic"
    ]
    assert "registry-audit-events" in basics and all("_" not in b for b in basics)
    urls = {e["fullUrl"] for e in export["entry"]}
    assert len(urls) == len(export["entry"])  # bdl-7
    observations = [
        e["resource"] for e in export["entry"] if e["resource"]["resourceType"] == "Observation"
    ]
    devices = {
        f"Device/{e['resource']['id']}"
        for e in export["entry"]
        if e["resource"]["resourceType"] == "Device"
    }
    assert {o["device"]["reference"] for o in observations} <= devices  # they resolve
    codes = {c["code"] for o in observations for c in o["code"]["coding"]}
    assert {"85354-9", "2708-6", "8867-4", "160184"} <= codes
    glucose = next(o for o in observations if o["code"]["coding"][-1]["code"] == "160184")
    assert glucose["component"][0]["valueCodeableConcept"]["coding"][0]["code"] == "8417872"
    sent = ex.phd_glucose(minutes_ago=30)["effectiveDateTime"]
    assert glucose["effectiveDateTime"] == sent  # the device's own offset, -05:00


def test_the_audit_trail_pages_with_a_true_total(
    client: TestClient, world: Json, valid_fhir: Check
) -> None:
    for _ in range(4):
        client.get(f"/v1/patients/{world['a']}/consent", headers=world["A"])
    first = client.get(
        f"/v1/patients/{world['a']}/audit", headers=world["A"], params={"limit": 3}
    ).json()
    valid_fhir(first)
    total = first["total"]
    assert total > 3 and len(first["entry"]) == 3
    pages = [
        first,
        *follow(
            client, next(k["url"] for k in first["link"] if k["relation"] == "next"), world["A"]
        ),
    ]
    events = [e["resource"] for page in pages for e in page["entry"]]
    assert len({e["id"] for e in events}) == len(events) >= total  # nothing repeated or lost
    assert all(e["source"]["observer"]["display"] == "health-device-hub" for e in events)
    recorded = [e["recorded"] for e in events]
    assert recorded == sorted(recorded, reverse=True)


def test_a_practitioner_reads_no_audit_trail(client: TestClient, world: Json) -> None:
    doctor = auth(Role.PRACTITIONER, "dr-1")
    response = client.get(f"/v1/patients/{world['a']}/audit", headers=doctor)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


def test_observation_search_by_code_and_date(
    client: TestClient, world: Json, valid_fhir: Check
) -> None:
    fill(client)
    url = f"/v1/patients/{world['a']}/fhir/Observation"
    everything = client.get(url, headers=world["A"]).json()
    valid_fhir(everything)
    kinds = [e["resource"]["code"]["coding"][0]["code"] for e in everything["entry"]]
    assert everything["total"] == len(kinds) == 5  # glucose, bp panel, heart rate, spo2, pulse
    assert "85354-9" in kinds
    rates = client.get(url, headers=world["A"], params={"code": "http://loinc.org|8867-4"}).json()
    assert rates["total"] == 2  # heart rate and the oximeter's pulse rate
    spo2 = client.get(url, headers=world["A"], params={"code": "2708-6"}).json()
    [only] = spo2["entry"]
    assert only["resource"]["valueQuantity"]["value"] == 98
    mdc = client.get(url, headers=world["A"], params={"code": "urn:iso:std:iso:11073:10101|160368"})
    assert mdc.json()["total"] == 1
    since = (NOW - timedelta(hours=1)).isoformat()
    recent = client.get(url, headers=world["A"], params={"date": f"ge{since}"}).json()
    assert recent["total"] == 4  # all but the date-only heart rate of two days ago
    day = (NOW - timedelta(days=2)).date().isoformat()
    that_day = client.get(
        url,
        headers=world["A"],
        params={"date": f"lt{(NOW - timedelta(days=1)).date().isoformat()}"},
    ).json()
    assert [e["resource"]["effectiveDateTime"] for e in that_day["entry"]] == [day]
    unknown = client.get(url, headers=world["A"], params={"code": "http://loinc.org|0000-0"}).json()
    assert (unknown["total"], unknown["entry"]) == (0, [])


def test_observation_search_pages_without_cutting_a_panel(
    client: TestClient, world: Json, valid_fhir: Check
) -> None:
    fill(client)
    url = f"/v1/patients/{world['a']}/fhir/Observation?_count=1"
    pages = follow(client, url, world["A"])
    for page in pages:
        valid_fhir(page)
    resources = [e["resource"] for page in pages for e in page["entry"]]
    assert len(resources) == pages[0]["total"] == 5
    [panel] = [r for r in resources if r["code"]["coding"][0]["code"] == "85354-9"]
    assert len(panel["component"]) == 2
    assert parse_qs(urlsplit(pages[0]["link"][0]["url"]).query)["_count"] == ["1"]


def test_bad_search_parameters_are_operation_outcomes(client: TestClient, world: Json) -> None:
    url = f"/v1/patients/{world['a']}/fhir/Observation"
    for params, expression in (
        ({"date": "sa2026-01-01"}, "date"),
        ({"date": "yesterday"}, "date"),
        ({"patient": world["b"]}, "patient"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ):
        response = client.get(url, headers=world["A"], params=params)
        assert response.status_code == 400, params
        assert response.headers["content-type"] == "application/fhir+json"
        assert response.json()["issue"][0]["expression"] == [expression]


def test_only_the_patient_and_their_practitioners_search(client: TestClient, world: Json) -> None:
    url = f"/v1/patients/{world['a']}/fhir/Observation"
    assert client.get(url, headers=world["B"]).status_code == 403
    assert json.loads(client.get(url, headers=world["A"]).text)["resourceType"] == "Bundle"
