"""Authorization on every route, consent, GDPR export/erasure and provider pushes.

In-process app on real SQLite files. The matrix walks the app's own route table, so a route
added without a rule here fails the test instead of escaping it.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.ratelimit import TokenBuckets
from hub.adapters.tokens import Role
from hub.config import AuthSettings, Settings
from hub.core.batch import Incoming
from hub.core.ins import ins_key
from tests.conftest import TEST_AUTH, api_client, bearer

NOW = datetime.now(UTC).replace(microsecond=0)
INS = f"2550814168025{ins_key('2550814168025'):02d}"


def auth(role: Role, subject: str, **kw: Any) -> dict[str, str]:
    return bearer(role, subject, kw.pop("now", NOW), kw.pop("auth", TEST_AUTH))


ADMIN = auth(Role.ADMIN, "ops")
MAKER = auth(Role.DEVICE_MAKER, "acme")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with api_client(settings, NOW) as test_client:
        yield test_client


@pytest.fixture
def world(client: TestClient) -> dict[str, Any]:
    """A patient with a device, readings, a practitioner in care, a registered device."""
    patient = client.post("/v1/patients", headers=ADMIN, json={"ins": INS}).json()["patient_id"]
    assert (
        client.post(
            "/v1/devices", headers=MAKER, json={"device_id": "cuff-1", "profile": "acme-bp-wifi"}
        ).status_code
        == 201
    )
    enrolled = client.post(
        "/v1/enrollments",
        headers=ADMIN,
        json={
            "device_id": "cuff-1",
            "patient_id": patient,
            "start": (NOW - timedelta(days=2)).isoformat(),
        },
    )
    assert enrolled.status_code == 201
    gateway = client.post("/v1/gateways", headers=MAKER, json={"gateway_id": "gw-1"})
    assert gateway.status_code == 201
    assert client.put("/v1/gateways/gw-1/devices/cuff-1", headers=MAKER).status_code == 200
    care = client.post(
        "/v1/care-relationships",
        headers=ADMIN,
        json={"practitioner_id": "dr-1", "patient_id": patient},
    ).json()["id"]
    ingest(client, "cuff-1", 120, 10)
    return {
        "patient": patient,
        "care": care,
        "enrollment": enrolled.json()["id"],
        "PATIENT": auth(Role.PATIENT, patient),
        "DOCTOR": auth(Role.PRACTITIONER, "dr-1"),
    }


def ingest(client: TestClient, device: str, value: int, minutes_ago: int) -> None:
    time = (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = json.dumps(
        {"metric": "systolic_bp", "value": value, "unit": "mm[Hg]", "time": time}
    ).encode()
    client.app.state.hub.ingestor.ingest(  # type: ignore[attr-defined]
        [Incoming(f"hs/v1/devices/{device}/readings", payload, NOW)]
    )


def values(client: TestClient, world: dict[str, Any], headers: dict[str, str]) -> Any:
    return client.get(f"/v1/patients/{world['patient']}/readings", headers=headers)


# --- the authorization matrix ---------------------------------------------------------------

# Every /v1 route: a request that its rightful principal may make (body where one is needed).
ROUTES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/patients"): {"json": {"ins": INS}},
    ("GET", "/v1/patients/{patient_id}/audit"): {},
    ("GET", "/v1/patients/{patient_id}/consent"): {},
    ("POST", "/v1/patients/{patient_id}/objections"): {
        "json": {"source_kind": "device", "source_id": "cuff-1"}
    },
    ("DELETE", "/v1/patients/{patient_id}/objections/{objection_id}"): {},
    ("PUT", "/v1/patients/{patient_id}/document-visibility"): {
        "json": {"hidden_from_professionals": True}
    },
    ("GET", "/v1/patients/{patient_id}/export"): {},
    ("DELETE", "/v1/patients/{patient_id}"): {},
    ("GET", "/v1/patients/{patient_id}/readings"): {},
    ("GET", "/v1/patients/{patient_id}/fhir/Observation"): {},
    ("POST", "/v1/care-relationships"): {
        "json": {"practitioner_id": "dr-9", "patient_id": "{patient_id}"}
    },
    ("DELETE", "/v1/care-relationships/{relationship_id}"): {},
    ("POST", "/v1/devices"): {"json": {"device_id": "cuff-9", "profile": "acme-bp-wifi"}},
    ("GET", "/v1/devices/{device_id}"): {},
    ("POST", "/v1/devices/{device_id}/pairing-codes"): {},
    ("POST", "/v1/enrollments"): {"json": {"device_id": "cuff-1", "patient_id": "{patient_id}"}},
    ("GET", "/v1/enrollments"): {"params": {"patient_id": "{patient_id}"}},
    ("PATCH", "/v1/enrollments/{enrollment_id}"): {"json": {"patient_id": "pat-other"}},
    ("DELETE", "/v1/enrollments/{enrollment_id}"): {},
    ("POST", "/v1/gateways"): {"json": {"gateway_id": "gw-9", "zone": "Europe/Paris"}},
    ("GET", "/v1/gateways/{gateway_id}"): {},
    ("PUT", "/v1/gateways/{gateway_id}/devices/{device_id}"): {},
    ("DELETE", "/v1/gateways/{gateway_id}/devices/{device_id}"): {},
    ("DELETE", "/v1/gateways/{gateway_id}"): {},
    ("POST", "/v1/ingest"): {
        "json": {
            "readings": [
                {
                    "device_id": "cuff-1",
                    "metric": "systolic_bp",
                    "value": 121,
                    "unit": "mm[Hg]",
                    "time": "2026-11-28T08:00:00Z",
                }
            ]
        }
    },
    ("GET", "/v1/admin/dead-letters"): {},
    ("GET", "/v1/patients/{patient_id}/trends"): {},
    ("GET", "/v1/patients/{patient_id}/summaries"): {},
    ("GET", "/v1/patients/{patient_id}/summaries/cgm"): {},
    ("GET", "/v1/patients/{patient_id}/alerts"): {},
    ("GET", "/v1/patients/{patient_id}/preferences"): {},
    ("PUT", "/v1/patients/{patient_id}/preferences"): {"json": {"language": "en"}},
    ("PUT", "/v1/patients/{patient_id}/program"): {"json": {"program": None}},
    ("GET", "/v1/programs/{program_id}"): {},
    ("PUT", "/v1/programs/{program_id}"): {"json": {"name": "Diabetes"}},
    ("GET", "/v1/patients/{patient_id}/documents"): {},
    ("GET", "/v1/patients/{patient_id}/documents/{document_id}/content"): {},
}

WRONG = {
    "no token": {},
    "expired": auth(Role.PATIENT, "{patient_id}", now=NOW - timedelta(days=2)),
    "wrong issuer": auth(
        Role.ADMIN, "ops", auth=AuthSettings(issuer="someone-else", secret=TEST_AUTH.secret)
    ),
    "forged": auth(Role.ADMIN, "ops", auth=AuthSettings(secret="not-the-secret" + "x" * 30)),
    "other patient": auth(Role.PATIENT, "pat-other"),
    "practitioner without care": auth(Role.PRACTITIONER, "dr-2"),
    "other device maker": auth(Role.DEVICE_MAKER, "globex"),
}
# Routes a principal of that kind may use on other objects by design (no patient data).
BY_DESIGN = {
    ("POST", "/v1/patients"): {"practitioner without care"},  # registers an INS
    ("POST", "/v1/devices"): {"other device maker"},  # registers its own device
    ("POST", "/v1/gateways"): {"other device maker"},  # registers its own gateway
}


def test_every_route_is_in_the_matrix(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    routes = {
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/v1")
        for method in operations
    }
    assert routes == set(ROUTES)


@pytest.mark.parametrize("wrong", sorted(WRONG))
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_wrong_principals_never_get_data(
    client: TestClient, world: dict[str, Any], route: tuple[str, str], wrong: str
) -> None:
    if wrong in BY_DESIGN.get(route, set()):
        pytest.skip("allowed by design")
    method, path = route
    url = path.format(
        patient_id=world["patient"],
        objection_id=1,
        relationship_id=world["care"],
        device_id="cuff-1",
        enrollment_id=world["enrollment"],
        gateway_id="gw-1",
        document_id="doc-1",
        program_id="diabetes",
    )
    spec = json.loads(json.dumps(ROUTES[route]).replace("{patient_id}", world["patient"]))
    headers = {k: v.replace("{patient_id}", world["patient"]) for k, v in WRONG[wrong].items()}
    response = client.request(method, url, headers=headers, **spec)
    if (route, wrong) == (("POST", "/v1/ingest"), "other device maker"):
        # Partial acceptance answers per item: the item for a device not its own is refused.
        assert response.status_code == 200
        assert response.json()["accepted"] == 0
        assert "not registered to you" in response.json()["rejected"][0]["reason"]
    else:
        assert response.status_code in (401, 403, 404), (route, wrong, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        if wrong in ("no token", "expired", "wrong issuer", "forged"):
            assert response.status_code == 401
        # A problem document and nothing else: no data leaked.
        assert set(response.json()) <= {"type", "title", "status", "detail", "instance", "errors"}
    assert INS not in response.text
    # ...and nothing changed.
    assert [r["value"] for r in values(client, world, world["PATIENT"]).json()["items"]] == [120.0]


def test_practitioner_reads_only_during_care(client: TestClient, world: dict[str, Any]) -> None:
    assert values(client, world, world["DOCTOR"]).status_code == 200
    assert (
        client.delete(f"/v1/care-relationships/{world['care']}", headers=ADMIN).status_code == 204
    )
    assert values(client, world, world["DOCTOR"]).status_code == 403
    # consent, audit, export and erasure are the patient's own, care or not
    for path in ("audit", "consent", "export"):
        response = client.get(f"/v1/patients/{world['patient']}/{path}", headers=world["DOCTOR"])
        assert response.status_code == 403


def test_patient_registration_validates_the_ins(client: TestClient) -> None:
    bad = client.post("/v1/patients", headers=ADMIN, json={"ins": INS[:-2] + "00"})
    assert bad.status_code == 422
    assert "control key" in bad.json()["errors"][0]["detail"]
    first = client.post("/v1/patients", headers=ADMIN, json={"ins": INS})
    again = client.post("/v1/patients", headers=ADMIN, json={"ins": " ".join(INS)})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["patient_id"] == again.json()["patient_id"]
    assert INS not in first.json()["patient_id"]


def test_pairing_code_lets_a_patient_enroll_a_device_once(
    client: TestClient, world: dict[str, Any]
) -> None:
    client.post(
        "/v1/devices", headers=MAKER, json={"device_id": "cuff-2", "profile": "acme-bp-wifi"}
    )
    code = client.post("/v1/devices/cuff-2/pairing-codes", headers=MAKER).json()["code"]
    body = {"device_id": "cuff-2", "patient_id": world["patient"], "pairing_code": code}
    assert client.post("/v1/enrollments", headers=world["PATIENT"], json=body).status_code == 201
    assert client.post("/v1/enrollments", headers=world["PATIENT"], json=body).status_code == 403
    other = {**body, "device_id": "cuff-1"}
    assert client.post("/v1/enrollments", headers=world["PATIENT"], json=other).status_code == 403


# --- consent ----------------------------------------------------------------------------------


def test_an_objected_source_feeds_nothing_and_the_refusal_is_audited(
    client: TestClient, world: dict[str, Any]
) -> None:
    patient, headers = world["patient"], world["PATIENT"]
    objection = client.post(
        f"/v1/patients/{patient}/objections",
        headers=headers,
        json={"source_kind": "device", "source_id": "cuff-1"},
    )
    assert objection.status_code == 201
    ingest(client, "cuff-1", 130, 5)
    assert [r["value"] for r in values(client, world, headers).json()["items"]] == [120.0]
    trail = client.get(f"/v1/patients/{patient}/audit", headers=headers).json()["entry"]
    refusals = [
        e["resource"]
        for e in trail
        if e["resource"]["subtype"][0]["code"] == "ingest.refused-by-consent"
    ]
    assert len(refusals) == 1
    assert refusals[0]["outcome"] == "4"
    assert "130" not in json.dumps(refusals)  # the refused reading itself is not kept
    # nor in dead letters
    dead = client.get("/v1/admin/dead-letters", headers=ADMIN).json()["items"]
    assert dead == []
    # withdrawn: the source feeds the space again
    oid = objection.json()["id"]
    assert (
        client.delete(f"/v1/patients/{patient}/objections/{oid}", headers=headers).status_code
        == 204
    )
    for bad in (0, 2**64, "x"):  # ids the registry cannot hold are refused by name, not a 500
        refused = client.delete(f"/v1/patients/{patient}/objections/{bad}", headers=headers)
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "objection_id"
    ingest(client, "cuff-1", 131, 4)
    assert [r["value"] for r in values(client, world, headers).json()["items"]] == [120.0, 131.0]
    consent = client.get(f"/v1/patients/{patient}/consent", headers=headers).json()
    assert consent["objections"][0]["withdrawn"] is not None


def test_document_visibility(client: TestClient, world: dict[str, Any]) -> None:
    url = f"/v1/patients/{world['patient']}/document-visibility"
    response = client.put(url, headers=world["PATIENT"], json={"hidden_from_professionals": True})
    assert response.json()["hidden_from_professionals"] is True
    trail = client.get(f"/v1/patients/{world['patient']}/audit", headers=world["PATIENT"])
    actions = [e["resource"]["subtype"][0]["code"] for e in trail.json()["entry"]]
    assert actions.count("consent.visibility") == 1
    assert "consent.read" not in actions  # one change, one audit event


# --- GDPR -------------------------------------------------------------------------------------


def test_export_then_erasure_covers_every_store(client: TestClient, world: dict[str, Any]) -> None:
    patient, headers = world["patient"], world["PATIENT"]
    hub = client.app.state.hub  # type: ignore[attr-defined]
    ingest(client, "cuff-1", 9999, 3)  # a dead letter from the patient's device
    export = client.get(f"/v1/patients/{patient}/export", headers=headers).json()
    kinds = [e["resource"]["resourceType"] for e in export["entry"]]
    assert kinds.count("Patient") == 1 and kinds.count("Observation") == 1
    assert export["entry"][0]["resource"]["identifier"][0]["value"] == INS
    basics = {
        e["resource"]["id"]: json.loads(e["resource"]["extension"][0]["valueString"])
        for e in export["entry"]
        if e["resource"]["resourceType"] == "Basic"
    }
    assert len(basics["registry-dead-letters"]) == 1 and len(basics["registry-enrollments"]) == 1

    erased = client.delete(f"/v1/patients/{patient}", headers=headers)
    assert erased.status_code == 200
    assert erased.json()["readings"] == 1
    assert hub.store.readings(patient, None, NOW - timedelta(days=9), NOW) == []
    left = hub.registry.gdpr.export(patient)
    assert [t.table for t in left.tables if t.rows and t.table != "audit_events"] == []
    assert [e["action"] for e in left.table("audit_events").records()] == ["patient.erased"]


def traces(data_dir: Path, needles: dict[str, bytes]) -> set[tuple[str, str]]:
    """(needle, file) for every needle found in a file of ``data_dir``, byte for byte."""
    return {
        (name, path.name)
        for path in data_dir.rglob("*")
        if path.is_file()
        for name, needle in needles.items()
        if needle in path.read_bytes()
    }


def test_erasure_leaves_no_trace_in_the_files(settings: Settings, data_dir: Path) -> None:
    """After DELETE /v1/patients/{id}, no file of the data directory — the registry and the
    readings store, their -wal and -shm — holds the INS, or a reading's value, in a live row,
    a free page (secure_delete) or the log (truncated). The pseudonymous id remains in the
    erasure's own audit event only: erased with it, it is gone too."""
    value = 187.3  # in JSON text, and as SQLite stores a REAL (8 bytes, big-endian)
    with api_client(settings, NOW) as client:
        hub = client.app.state.hub  # type: ignore[attr-defined]
        patient = client.post("/v1/patients", headers=ADMIN, json={"ins": INS}).json()
        patient = patient["patient_id"]
        device = {"device_id": "cuff-1", "profile": "acme-bp-wifi"}
        assert client.post("/v1/devices", headers=MAKER, json=device).status_code == 201

        def send(minutes_ago: int, unit: str = "mm[Hg]") -> None:
            time = (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
            body = {"metric": "systolic_bp", "value": value, "unit": unit, "time": time}
            topic = "hs/v1/devices/cuff-1/readings"
            hub.ingestor.ingest([Incoming(topic, json.dumps(body).encode(), NOW)])

        send(30)  # no enrollment yet: quarantined
        # Enrolled without re-attribution (what `hub` commands do, or a crash between the
        # two steps leaves): the quarantined reading falls in the patient's period.
        hub.registry.enrollments.enroll(
            "cuff-1", patient, NOW - timedelta(days=1), actor="ops", role="admin", created=NOW
        )
        send(20)  # stored
        send(10, unit="furlong")  # dead-lettered, the value in its payload
        needles = {
            "INS": INS.encode(),
            "patient id": patient.encode(),
            "value as text": str(value).encode(),
            "value as a REAL": struct.pack(">d", value),
        }
        found = {name for name, _ in traces(data_dir, needles)}
        assert found == set(needles), "the search must find what is there before erasure"
        headers = auth(Role.PATIENT, patient)

        erased = client.delete(f"/v1/patients/{patient}", headers=headers)

        assert erased.status_code == 200, erased.text
        assert erased.json()["readings"] == 1
        assert erased.json()["registry"]["quarantine"] == 1
        assert erased.json()["registry"]["dead_letters"] == 1
        left = traces(data_dir, needles)
        assert {name for name, _ in left} == {"patient id"}, left
        assert {file for _, file in left} <= {"registry.sqlite3", "registry.sqlite3-wal"}
        trail = hub.registry.audit.trail(patient)
        assert [e.action for e in trail] == ["patient.erased"]
        hub.registry.gdpr.erase(patient)  # the erasure's event, erased in turn
        assert traces(data_dir, needles) == set()


# --- provider push ------------------------------------------------------------------------------


def push(
    client: TestClient,
    body: Any,
    *,
    media: str = "application/json",
    key: str | None = None,
    headers: dict[str, str] = MAKER,
) -> Any:
    extra = {"Content-Type": media, **({"Idempotency-Key": key} if key else {})}
    return client.post(
        "/v1/ingest",
        headers={**headers, **extra},
        content=body if isinstance(body, bytes) else json.dumps(body),
    )


def reading(value: Any, minutes_ago: int = 1, device: str = "cuff-1") -> dict[str, Any]:
    time = (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "device_id": device,
        "metric": "systolic_bp",
        "value": value,
        "unit": "mm[Hg]",
        "time": time,
    }


def test_partial_acceptance_reports_each_bad_item(
    client: TestClient, world: dict[str, Any]
) -> None:
    body = {
        "readings": [
            reading(125, 2),
            reading("high"),
            reading(900, 3),
            reading(126, 4, device="not-mine"),
            reading(127, 5),
        ]
    }
    response = push(client, body)
    assert response.status_code == 200
    result = response.json()
    assert (result["accepted"], result["stored"]) == (2, 2)
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [
        (1, "readings[1].value"),
        (2, "value"),
        (3, "device_id"),
    ]
    stored = [r["value"] for r in values(client, world, world["PATIENT"]).json()["items"]]
    assert sorted(stored) == [120.0, 125.0, 127.0]


def test_idempotency_key_replays_and_refuses_another_body(
    client: TestClient, world: dict[str, Any]
) -> None:
    body = {"readings": [reading(122, 2)]}
    first = push(client, body, key="batch-1")
    again = push(client, body, key="batch-1")
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert push(client, {"readings": [reading(123, 2)]}, key="batch-1").status_code == 409
    assert push(client, body).json()["duplicates"] == 1  # no key: stored once all the same


def test_size_type_and_rate_limits(client: TestClient, world: dict[str, Any]) -> None:
    hub = client.app.state.hub  # type: ignore[attr-defined]
    big = b'{"readings": [' + b" " * (hub.settings.api.max_ingest_bytes + 1) + b"]}"
    assert push(client, big).status_code == 413
    assert push(client, b"<xml/>", media="application/xml").status_code == 415
    assert push(client, b"not json").json()["type"] == "/problems/invalid-document"
    # The configured burst, refilled too slowly to matter: at the default 10 per second, a
    # machine slower than 20 ms a request (loaded, or measuring coverage) never ran dry.
    hub.ingest_buckets = TokenBuckets(rate=0.001, burst=hub.settings.api.ingest_burst)
    statuses = [
        push(
            client, {"readings": [reading(120)]}, headers=auth(Role.DEVICE_MAKER, "burst")
        ).status_code
        for _ in range(hub.settings.api.ingest_burst + 5)
    ]
    assert 429 in statuses
    limited = push(client, {"readings": [reading(120)]}, headers=auth(Role.DEVICE_MAKER, "burst"))
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


def fhir_bundle() -> dict[str, Any]:
    when = (NOW - timedelta(minutes=7)).isoformat()
    return {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "fullUrl": "urn:uuid:dev-1",
                "resource": {"resourceType": "Device", "identifier": [{"value": "cuff-1"}]},
            },
            {
                "resource": {  # blood-pressure panel with components (HL7 PHD IG)
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
                    "effectiveDateTime": when,
                    "device": {"reference": "urn:uuid:dev-1"},
                    "component": [
                        {
                            "code": {
                                "coding": [
                                    {"system": "urn:iso:std:iso:11073:10101", "code": "150021"}
                                ]
                            },
                            "valueQuantity": {
                                "value": 133,
                                "system": "http://unitsofmeasure.org",
                                "code": "mm[Hg]",
                            },
                        },
                        {
                            "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                            "valueQuantity": {
                                "value": 84,
                                "system": "http://unitsofmeasure.org",
                                "code": "mm[Hg]",
                            },
                        },
                    ],
                }
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "preliminary",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                    "effectiveDateTime": when,
                    "device": {"reference": "urn:uuid:dev-1"},
                    "valueQuantity": {"value": 70, "code": "/min"},
                }
            },
            {"resource": {"resourceType": "MedicationRequest"}},
        ],
    }


def test_fhir_bundle_of_observations(client: TestClient, world: dict[str, Any]) -> None:
    """A batch: each entry answered in a batch-response (tests/unit/fhir has the rest)."""
    response = push(client, fhir_bundle(), media="application/fhir+json")
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["type"] == "batch-response"
    assert [e["response"]["status"][:3] for e in result["entry"]] == ["200", "201", "422", "422"]
    assert [
        issue["expression"]
        for e in result["entry"]
        for issue in e["response"].get("outcome", {}).get("issue", [])
        if issue["severity"] == "error"
    ] == [["Bundle.entry[2].resource.status"], ["Bundle.entry[3].resource.resourceType"]]
    items = values(client, world, world["PATIENT"]).json()["items"]
    assert sorted((r["metric"], r["value"]) for r in items) == [
        ("diastolic_bp", 84.0),
        ("systolic_bp", 120.0),
        ("systolic_bp", 133.0),
    ]
    assert {r["source"] for r in items if r["value"] != 120.0} == {"provider"}
    transaction = {**fhir_bundle(), "type": "transaction"}
    refused = push(client, transaction, media="application/fhir+json")
    assert (refused.status_code, refused.json()["resourceType"]) == (422, "OperationOutcome")


def test_a_provider_the_patient_objects_to_feeds_nothing(
    client: TestClient, world: dict[str, Any]
) -> None:
    client.post(
        f"/v1/patients/{world['patient']}/objections",
        headers=world["PATIENT"],
        json={"source_kind": "provider", "source_id": "acme"},
    )
    result = push(client, {"readings": [reading(124, 2)]}).json()
    assert (result["accepted"], result["refused"]) == (0, 1)
    assert [r["value"] for r in values(client, world, world["PATIENT"]).json()["items"]] == [120.0]


def test_a_store_outage_answers_503_and_a_retry_with_the_key_lands_once(
    settings: Settings,
) -> None:
    """Ack after commit, over HTTPS: no 2xx without the durable commit; the retry stores it once."""
    import sqlite3

    settings.store.sqlite_busy_timeout_s = 0.2
    with api_client(settings, NOW) as client:
        patient = client.post("/v1/patients", headers=ADMIN, json={"ins": INS}).json()
        client.post(
            "/v1/devices", headers=MAKER, json={"device_id": "cuff-1", "profile": "acme-bp-wifi"}
        )
        client.post(
            "/v1/enrollments",
            headers=ADMIN,
            json={
                "device_id": "cuff-1",
                "patient_id": patient["patient_id"],
                "start": (NOW - timedelta(days=1)).isoformat(),
            },
        )
        blocker = sqlite3.connect(settings.store.sqlite_path, isolation_level=None)  # type: ignore[arg-type]
        blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        try:
            down = push(client, {"readings": [reading(128, 2)]}, key="k-1")
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert down.status_code == 503
        assert down.headers["retry-after"] == "5"
        again = push(client, {"readings": [reading(128, 2)]}, key="k-1")
        assert again.status_code == 200
        assert (again.json()["stored"], again.json()["duplicates"]) == (1, 0)
