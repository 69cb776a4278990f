"""Refusals the API must make cleanly, and record where they belong (regression tests).

* A cursor the API did not give is a 400 naming ``cursor`` — never a 500 from the registry or
  the store it would otherwise reach.
* A readings store that cannot answer a read is a 503 ``unavailable`` with ``Retry-After``.
* A refused care-relationship request that names a patient is in that patient's audit trail.
* A provider's refused push names the provider: in the dead letter (its sender) and in the
  audit event of a consent refusal.

In-process app on real SQLite files; every time is relative to ``NOW``, pinned into the app.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.adapters.tokens import Role
from hub.config import Settings
from hub.core.ins import ins_key
from tests.conftest import api_client, bearer, enroll_device

NOW = datetime.now(UTC).replace(microsecond=0)
INS = f"2550814168025{ins_key('2550814168025'):02d}"


def auth(role: Role, subject: str) -> dict[str, str]:
    return bearer(role, subject, NOW)


ADMIN = auth(Role.ADMIN, "ops")
MAKER = auth(Role.DEVICE_MAKER, "acme")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with api_client(settings, NOW) as test_client:
        yield test_client


def register(client: TestClient) -> str:
    """A registered patient with the device cuff-1 (made by acme) enrolled two days ago."""
    response = client.post("/v1/patients", headers=ADMIN, json={"ins": INS})
    patient: str = response.json()["patient_id"]
    enroll_device(client, NOW, "cuff-1", "acme-bp-wifi", patient, NOW - timedelta(days=2))
    return patient


def trail(client: TestClient, patient: str) -> list[dict[str, Any]]:
    """The patient's audit trail as they read it (FHIR AuditEvents, newest first)."""
    response = client.get(f"/v1/patients/{patient}/audit", headers=auth(Role.PATIENT, patient))
    assert response.status_code == 200, response.text
    return [entry["resource"] for entry in response.json()["entry"]]


def action(event: dict[str, Any]) -> str:
    return str(event["subtype"][0]["code"])


def actor(event: dict[str, Any]) -> tuple[str, str]:
    agent = event["agent"][0]
    return agent["who"]["identifier"]["value"], agent["role"][0]["text"]


def assert_problem(response: Any, status: int, kind: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"/problems/{kind}"


# --- cursors ------------------------------------------------------------------------------------


def opaque(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# Each would reach the registry's or the store's query without the routes' own check: "abc"
# and "zz" fail int(); a 20-digit time overflows SQLite's 64-bit integer; "1:" and a 16-digit
# time are numbers a query accepts (answering 200 to a cursor no page ever gave).
MALFORMED = ["abc", "1:", "9" * 20, "9999999999999999:zz", "1:abc\n", "-1:ab", "1:AB", " 1:ab"]


@pytest.mark.parametrize("cursor", MALFORMED)
def test_a_malformed_dead_letter_cursor_is_a_400_naming_the_cursor(
    client: TestClient, cursor: str
) -> None:
    response = client.get("/v1/admin/dead-letters", headers=ADMIN, params={"cursor": cursor})
    assert_problem(response, 400, "invalid-cursor")
    assert response.json()["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize("route", ["readings", "audit"])
@pytest.mark.parametrize("cursor", MALFORMED + [opaque(c) for c in MALFORMED])
def test_a_malformed_patient_cursor_is_a_400_naming_the_cursor(
    client: TestClient, route: str, cursor: str
) -> None:
    """The readings and audit cursors are opaque (base64url): junk, and the same junk
    encoded as the API encodes its own cursors, are both refused by name."""
    patient = register(client)
    response = client.get(
        f"/v1/patients/{patient}/{route}",
        headers=auth(Role.PATIENT, patient),
        params={"cursor": cursor},
    )
    assert_problem(response, 400, "invalid-cursor")
    assert response.json()["errors"][0]["field"] == "cursor"


# --- a store that cannot answer -----------------------------------------------------------------


def test_reads_answer_503_while_the_readings_store_is_locked(settings: Settings) -> None:
    """Another process holds the readings database in exclusive locking mode (as a backup or
    a maintenance tool may): reads wait the busy timeout, then say "retry later". A plain
    ``BEGIN EXCLUSIVE`` would not do: in WAL mode a writer never blocks readers."""
    settings.store.sqlite_busy_timeout_s = 0.2
    with api_client(settings, NOW) as client:
        patient = register(client)
        me = auth(Role.PATIENT, patient)
        window = {"from": (NOW - timedelta(days=1)).isoformat(), "to": NOW.isoformat()}
        reads = {
            "readings": window,
            "trends": window,
            "summaries": {},
            "fhir/Observation": {},
        }
        for path, params in reads.items():
            ok = client.get(f"/v1/patients/{patient}/{path}", headers=me, params=params)
            assert ok.status_code == 200, (path, ok.text)

        store = client.app.state.hub.store  # type: ignore[attr-defined]
        store.close()  # its connections reopen on the next read: under the lock below
        assert settings.store.sqlite_path is not None
        blocker = sqlite3.connect(settings.store.sqlite_path, isolation_level=None)
        try:
            blocker.execute("PRAGMA locking_mode=EXCLUSIVE")
            blocker.execute("BEGIN EXCLUSIVE")
            for path, params in reads.items():
                down = client.get(f"/v1/patients/{patient}/{path}", headers=me, params=params)
                assert_problem(down, 503, "unavailable")
                assert down.headers["retry-after"] == "5", path
                assert INS not in down.text and patient not in down.json()["detail"]
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        # The lock gone, the same reads answer again.
        for path, params in reads.items():
            again = client.get(f"/v1/patients/{patient}/{path}", headers=me, params=params)
            assert again.status_code == 200, (path, again.text)


# --- care relationships -------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.PRACTITIONER, Role.PATIENT, Role.DEVICE_MAKER])
def test_a_refused_care_request_is_in_the_named_patients_trail(
    client: TestClient, role: Role
) -> None:
    patient = register(client)
    intruder = auth(role, "mallory")
    body = {"practitioner_id": "mallory", "patient_id": patient}
    refused = client.post("/v1/care-relationships", headers=intruder, json=body)
    assert_problem(refused, 403, "forbidden")

    [event] = [e for e in trail(client, patient) if action(e) == "care.add"]
    assert event["outcome"] == "4"  # refused
    assert actor(event) == ("mallory", role.value)
    assert event["outcomeDesc"] == "refused: practitioner mallory"
    assert event["entity"][0]["what"]["reference"] == f"Patient/{patient}"
    # ...and the refused request created nothing: the "practitioner" reads no data.
    readings = client.get(
        f"/v1/patients/{patient}/readings", headers=auth(Role.PRACTITIONER, "mallory")
    )
    assert readings.status_code == 403


def test_an_allowed_care_request_is_audited_once_as_allowed(client: TestClient) -> None:
    """The refusal's audit event is the refusal's only: an admin's request is one 'allowed'."""
    patient = register(client)
    body = {"practitioner_id": "dr-1", "patient_id": patient}
    assert client.post("/v1/care-relationships", headers=ADMIN, json=body).status_code == 201
    events = [e for e in trail(client, patient) if action(e) == "care.add"]
    assert [(e["outcome"], actor(e)) for e in events] == [("0", ("ops", "admin"))]


# --- provider pushes ----------------------------------------------------------------------------


def item(device: str, value: int, minutes_ago: int) -> dict[str, Any]:
    time = (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "device_id": device,
        "metric": "systolic_bp",
        "value": value,
        "unit": "mm[Hg]",
        "time": time,
    }


def push(client: TestClient, headers: dict[str, str], *items: dict[str, Any]) -> Any:
    response = client.post("/v1/ingest", headers=headers, json={"readings": list(items)})
    assert response.status_code == 200, response.text
    return response.json()


def dead_letters(client: TestClient) -> list[dict[str, Any]]:
    response = client.get("/v1/admin/dead-letters", headers=ADMIN)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_a_push_for_a_device_not_yours_names_the_provider_in_its_dead_letter(
    client: TestClient,
) -> None:
    patient = register(client)  # cuff-1 is acme's
    result = push(client, auth(Role.DEVICE_MAKER, "globex"), item("cuff-1", 131, 5))
    assert (result["accepted"], [r["field"] for r in result["rejected"]]) == (0, ["device_id"])

    [dead] = dead_letters(client)
    assert dead["sender_id"] == "globex"
    assert dead["source"] == "provider"
    assert dead["reason"] == "device cuff-1 is not registered to you (POST /v1/devices)"
    assert (dead["item_index"], dead["field"]) == (0, "device_id")
    assert json.loads(base64.b64decode(dead["payload_base64"]))["value"] == 131
    stored = client.get(f"/v1/patients/{patient}/readings", headers=auth(Role.PATIENT, patient))
    assert stored.json()["items"] == []  # nothing of the refused push was stored


def test_a_push_the_patient_objects_to_names_the_provider_in_the_audit_trail(
    client: TestClient,
) -> None:
    patient = register(client)
    me = auth(Role.PATIENT, patient)
    objection = {"source_kind": "provider", "source_id": "acme"}
    assert client.post(f"/v1/patients/{patient}/objections", headers=me, json=objection).is_success

    result = push(client, MAKER, item("cuff-1", 124, 5), item("cuff-1", 125, 4))
    assert (result["accepted"], result["refused"]) == (0, 2)

    [event] = [e for e in trail(client, patient) if action(e) == "ingest.refused-by-consent"]
    assert event["outcome"] == "4"
    assert actor(event) == ("acme", "source:provider")
    assert event["outcomeDesc"] == "refused: 2 reading(s) from provider acme"
    assert event["entity"][0]["what"]["reference"] == f"Patient/{patient}"
    assert dead_letters(client) == []  # a consent refusal keeps no copy of the data
