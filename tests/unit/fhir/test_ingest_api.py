"""``POST /v1/ingest`` with FHIR Bundles: the guides' kinds of examples stored with the right
metric, value, unit, time, device and context; batch and transaction semantics; subjects
checked; bad entries refused with an OperationOutcome; every answer valid R4."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.unit.fhir import examples as ex
from tests.unit.fhir.conftest import ADMIN, INS_A, INS_B, INS_UNKNOWN, MAKER, NOW, push, readings

Json = dict[str, Any]
Check = Callable[[Json], None]


def statuses(answer: Json) -> list[str]:
    return [e["response"]["status"] for e in answer["entry"]]


def issues(answer: Json, number: int) -> list[Json]:
    outcome = answer["entry"][number]["response"].get("outcome", {"issue": []})
    found: list[Json] = outcome["issue"]
    return found


def by_metric(items: list[Json]) -> dict[str, list[Json]]:
    found: dict[str, list[Json]] = {}
    for item in items:
        found.setdefault(item["metric"], []).append(item)
    return found


def test_a_phd_pulse_oximeter_bundle(client: TestClient, world: Json, valid_fhir: Check) -> None:
    """bundle-example-1: SpO2 and the oximeter's pulse stored on the SYSID device at the time
    sent; Patient, Devices and the coincident time stamp answered, not refused."""
    response = push(client, ex.phd_pulse_ox_bundle("transaction"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    answer = response.json()
    valid_fhir(answer)
    assert answer["type"] == "transaction-response"
    assert statuses(answer) == ["200 OK"] * 4 + ["201 Created"] * 2
    stored = by_metric(readings(client, world))
    [spo2], [pulse] = stored["spo2"], stored["pulse_rate"]
    sent = ex.phd_spo2()["effectiveDateTime"]
    assert (spo2["value"], spo2["unit"], spo2["device_id"]) == (98, "%", "00-1C-05-04-00-00-78-25")
    assert datetime.fromisoformat(spo2["effective_time"]) == datetime.fromisoformat(sent)
    assert spo2["device_time"] == sent
    assert "modality:spot" in spo2["flags"]
    assert (pulse["value"], pulse["unit"]) == (47, "/min")
    notes = [i["diagnostics"] for i in issues(answer, 3)]
    assert any("clock" in n for n in notes)  # the coincident time stamp: the device's clock
    # The Device's location is the logical id the gateway uses from then on (PHD IG).
    location = answer["entry"][2]["response"]["location"]
    assert location == "Device/00-1C-05-04-00-00-78-25"
    later = ex.phd_spo2(minutes_ago=2, value=96)
    later["device"] = {"reference": location}
    assert statuses(push(client, ex.bundle("batch", ex.entry(later))).json()) == ["201 Created"]
    assert {r["device_id"] for r in by_metric(readings(client, world))["spo2"]} == {
        "00-1C-05-04-00-00-78-25"
    }


def test_a_phd_bundle_whose_device_is_not_in_it_stores_everything_without_a_reject(
    client: TestClient, world: Json, valid_fhir: Check
) -> None:
    """bundle-continuousnonin (transaction): battery, SpO2, pulse, quality, status bits, a
    data-absent quality. Before: 47/47 refused."""
    document = ex.phd_continuous_bundle(seconds=4)
    answer = push(client, document).json()
    valid_fhir(answer)
    assert all(not s.startswith("4") for s in statuses(answer)), statuses(answer)
    stored = by_metric(readings(client, world))
    assert len(stored["spo2"]) == 4 and len(stored["pulse_rate"]) == 4
    flagged = [r for r in stored["spo2"] if "poor-signal" in r["flags"]]
    assert len(flagged) == 3
    assert all(any(f.startswith("signal-quality:") for f in r["flags"]) for r in stored["spo2"][:3])
    battery = [i["diagnostics"] for i in issues(answer, 0)]
    assert any("battery 100 %" in n for n in battery)


def test_glucose_of_the_three_guides_with_its_meal_context(client: TestClient, world: Json) -> None:
    glucose_url = "urn:uuid:7d1b44d2-0000-4000-8000-00000000000a"
    document = ex.bundle(
        "batch",
        ex.entry(ex.phd_glucose(minutes_ago=30, value=99), glucose_url),
        ex.entry(ex.phd_meal_context(glucose_url, minutes_ago=30)),
        ex.entry(ex.r4_glucose(minutes_ago=90)),
        ex.entry(ex.ans_glucose(days_ago=3)),
    )
    answer = push(client, document).json()
    assert statuses(answer) == ["201 Created", "200 OK", "201 Created", "201 Created"]
    stored = sorted(by_metric(readings(client, world))["glucose"], key=lambda r: r["value"])
    assert [r["value"] for r in stored] == [92, 99, 113]  # 6.3 mmol/L = 113 mg/dL
    ans, phd, r4 = stored
    assert "meal:postprandial" in phd["flags"] and "meal:postprandial" in ans["flags"]
    assert r4["device_id"] == "meter-1" and "period:start-only" in r4["flags"]
    day = (NOW - timedelta(days=3)).date().isoformat()
    assert ans["device_time"] == day and "time-precision:day" in ans["flags"]
    local_day = datetime.fromisoformat(ans["effective_time"]).astimezone(
        __import__("zoneinfo").ZoneInfo("Europe/Paris")
    )
    assert (local_day.date().isoformat(), local_day.hour) == (day, 0)


def test_heart_rate_8867_4_is_stored_as_heart_rate(client: TestClient, world: Json) -> None:
    push(client, ex.bundle("batch", ex.entry(ex.r4_heart_rate(days_ago=2))))
    [stored] = readings(client, world)
    assert (stored["metric"], stored["value"]) == ("heart_rate", 44)


def test_a_bp_panel_and_a_phd_compound_with_a_period(client: TestClient, world: Json) -> None:
    document = ex.bundle("batch", ex.entry(ex.r4_bp_panel(50)), ex.entry(ex.phd_bp_compound(40)))
    assert statuses(push(client, document).json()) == ["201 Created", "201 Created"]
    stored = by_metric(readings(client, world))
    assert sorted(r["value"] for r in stored["systolic_bp"]) == [107, 133]
    assert [r["value"] for r in stored["mean_arterial_pressure"]] == [100]
    assert all("period-ms:40000" in r["flags"] for r in stored["diastolic_bp"] if r["value"] == 60)


# --- subject -------------------------------------------------------------------------------------


def audit_actions(client: TestClient, headers: dict[str, str], patient: str) -> list[str]:
    trail = client.get(f"/v1/patients/{patient}/audit", headers=headers, params={"limit": 1000})
    return [e["resource"]["subtype"][0]["code"] for e in trail.json()["entry"]]


def test_a_subject_naming_another_patients_ins_is_refused_and_audited(
    client: TestClient, world: Json, valid_fhir: Check
) -> None:
    document = ex.ans_weight_bundle(subject_ins=INS_B)
    document["type"] = "batch"
    answer = push(client, document).json()
    valid_fhir(answer)
    assert statuses(answer) == ["200 OK", "422 Unprocessable Entity"]
    [issue] = issues(answer, 1)
    assert issue["expression"] == ["Bundle.entry[1].resource.subject"]
    assert issue["code"] == "business-rule"
    assert readings(client, world) == []
    assert "ingest.subject-mismatch" in audit_actions(client, world["A"], world["a"])
    assert "ingest.subject-mismatch" in audit_actions(client, world["B"], world["b"])


def test_a_transaction_naming_another_patient_stores_nothing(
    client: TestClient, world: Json, valid_fhir: Check
) -> None:
    response = push(client, ex.ans_weight_bundle(subject_ins=INS_B))
    assert response.status_code == 422
    answer = response.json()
    valid_fhir(answer)
    [issue] = [i for i in answer["issue"] if i.get("expression")]
    assert (issue["expression"], issue["code"]) == (
        ["Bundle.entry[1].resource.subject"],
        "business-rule",
    )
    assert readings(client, world) == []


def test_a_subject_naming_the_devices_patient_is_accepted(client: TestClient, world: Json) -> None:
    answer = push(client, ex.ans_weight_bundle(subject_ins=INS_A)).json()
    assert statuses(answer) == ["200 OK", "201 Created"]
    [weight] = readings(client, world)
    assert (weight["metric"], weight["value"], weight["device_id"]) == ("weight", 71, "scale-1")


def test_a_subject_whose_ins_the_hub_does_not_know_is_refused(
    client: TestClient, world: Json
) -> None:
    document = ex.ans_weight_bundle(subject_ins=INS_UNKNOWN)
    document["type"] = "batch"
    answer = push(client, document).json()
    assert statuses(answer) == ["200 OK", "422 Unprocessable Entity"]
    [issue] = issues(answer, 1)
    assert issue["expression"] == ["Bundle.entry[1].resource.subject"]
    dead = client.get("/v1/admin/dead-letters", headers=ADMIN).json()["items"]
    assert INS_UNKNOWN not in json.dumps(dead)


# --- batch, transaction, errors ------------------------------------------------------------------


def _with_bad_entry() -> Json:
    bad = ex.phd_glucose(minutes_ago=20)
    bad["valueQuantity"]["value"] = "ninety-nine"
    return ex.bundle("batch", ex.entry(ex.phd_glucose(minutes_ago=30)), ex.entry(bad))


def test_a_batch_is_processed_entry_by_entry(
    client: TestClient, world: Json, valid_fhir: Check
) -> None:
    answer = push(client, _with_bad_entry()).json()
    valid_fhir(answer)
    assert answer["type"] == "batch-response"
    assert statuses(answer) == ["201 Created", "422 Unprocessable Entity"]
    [issue] = issues(answer, 1)
    assert issue["expression"] == ["Bundle.entry[1].resource.valueQuantity.value"]
    assert issue["severity"] == "error"
    assert [r["value"] for r in readings(client, world)] == [99]


def test_a_transaction_is_all_or_nothing(
    client: TestClient, world: Json, valid_fhir: Check
) -> None:
    document = _with_bad_entry()
    document["type"] = "transaction"
    response = push(client, document)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/fhir+json"
    valid_fhir(response.json())
    expressions = [i.get("expression") for i in response.json()["issue"]]
    assert ["Bundle.entry[1].resource.valueQuantity.value"] in expressions
    assert readings(client, world) == []
    assert client.get("/v1/admin/dead-letters", headers=ADMIN).json()["items"] == []
    document["entry"].pop()
    assert push(client, document).json()["type"] == "transaction-response"
    assert len(readings(client, world)) == 1


def test_an_implausible_value_names_the_component_it_is_in(client: TestClient, world: Json) -> None:
    answer = push(client, ex.bundle("batch", ex.entry(ex.phd_bp_compound(systolic=900)))).json()
    assert statuses(answer) == ["422 Unprocessable Entity"]
    expressions = [i.get("expression") for i in issues(answer, 0)]
    assert ["Bundle.entry[0].resource.component[0].valueQuantity.value"] in expressions
    notes = [i["diagnostics"] for i in issues(answer, 0) if i["severity"] == "information"]
    assert notes == ["2 reading(s) of this entry stored"]  # a batch: diastolic and mean went in


def test_a_device_of_another_provider_is_refused(client: TestClient, world: Json) -> None:
    other = ex.phd_glucose()
    other["device"] = {"reference": "Device/not-mine"}
    answer = push(client, ex.bundle("batch", ex.entry(other))).json()
    [issue] = issues(answer, 0)
    assert issue["expression"] == ["Bundle.entry[0].resource.device"]
    assert "not registered to you" in issue["diagnostics"]


def test_request_errors_are_operation_outcomes(client: TestClient, world: Json) -> None:
    response = push(client, b'{"resourceType": "Patient"}')
    assert (response.status_code, response.headers["content-type"]) == (
        422,
        "application/fhir+json",
    )
    assert response.json()["issue"][0]["expression"] == ["resourceType"]
    limit = client.app.state.hub.settings.api.max_ingest_bytes  # type: ignore[attr-defined]
    too_big = push(client, b" " * (limit + 1))
    assert too_big.status_code == 413 and too_big.json()["resourceType"] == "OperationOutcome"


def test_a_dead_letter_keeps_its_entry_not_the_request(client: TestClient, world: Json) -> None:
    document = _with_bad_entry()
    document["entry"] += [ex.entry(ex.phd_glucose(minutes_ago=m)) for m in range(40, 60)]
    push(client, document)
    [dead] = client.get("/v1/admin/dead-letters", headers=ADMIN).json()["items"]
    payload = json.loads(base64.b64decode(dead["payload_base64"]))
    assert payload == json.loads(json.dumps(document["entry"][1]))
    assert dead["item_index"] == 1


def test_a_keyed_retry_replays_the_fhir_answer(client: TestClient, world: Json) -> None:
    first = push(client, _with_bad_entry(), key="upload-1")
    again = push(client, _with_bad_entry(), key="upload-1")
    assert again.json() == first.json()
    assert again.headers["content-type"] == "application/fhir+json"
    assert again.headers["idempotent-replayed"] == "true"
    assert len(readings(client, world)) == 1


def test_a_resend_lands_on_the_same_reading(client: TestClient, world: Json) -> None:
    document = ex.bundle("batch", ex.entry(ex.phd_glucose(minutes_ago=30)))
    push(client, document)
    answer = push(client, copy.deepcopy(document)).json()
    assert statuses(answer) == ["200 OK"]  # already held: a conditional create finds it
    assert len(readings(client, world)) == 1


def test_quarantine_and_consent_have_their_own_entry_status(
    client: TestClient, world: Json
) -> None:
    client.post(
        "/v1/devices", headers=MAKER, json={"device_id": "new-1", "profile": "hub-canonical"}
    )
    unenrolled = ex.phd_glucose(minutes_ago=15)
    unenrolled["device"] = {"reference": "Device/new-1"}
    client.post(
        f"/v1/patients/{world['a']}/objections",
        headers=world["A"],
        json={"source_kind": "device", "source_id": "meter-1"},
    )
    document = ex.bundle("batch", ex.entry(unenrolled), ex.entry(ex.phd_glucose(minutes_ago=16)))
    answer = push(client, document).json()
    assert statuses(answer) == ["202 Accepted", "403 Forbidden"]
    assert "quarantine" in issues(answer, 0)[0]["diagnostics"]
    assert issues(answer, 1)[0]["code"] == "forbidden"
    document["type"] = "transaction"
    refused = push(client, document)
    assert refused.status_code == 422
    codes = {i["code"] for i in refused.json()["issue"] if i.get("expression")}
    assert codes == {"business-rule", "forbidden"}


def test_a_json_batch_dead_letter_keeps_its_item_not_the_request(
    client: TestClient, world: Json
) -> None:
    """The security finding: one item's dead letter held the whole 5,000-item request."""
    items = [
        {
            "device_id": "cuff-1",
            "metric": "systolic_bp",
            "value": 120 + n,
            "unit": "mm[Hg]",
            "time": (NOW - timedelta(minutes=n + 1)).isoformat(),
        }
        for n in range(50)
    ]
    items[7]["value"] = 900  # implausible: refused by the pipeline, not the parser
    response = client.post(
        "/v1/ingest",
        headers={**MAKER, "Content-Type": "application/json"},
        json={"readings": items},
    )
    assert response.json()["accepted"] == 49
    [dead] = client.get("/v1/admin/dead-letters", headers=ADMIN).json()["items"]
    assert json.loads(base64.b64decode(dead["payload_base64"])) == items[7]
