"""The HTTP API in-process (real app, real SQLite files): auth, problems, paging, quarantine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.adapters.tokens import Role
from hub.config import AuthSettings, Settings
from hub.core.batch import Incoming
from tests.conftest import TEST_AUTH, api_client, bearer

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with api_client(settings, NOW) as test_client:
        yield test_client


def auth(role: Role, subject: str, **kw: Any) -> dict[str, str]:
    return bearer(role, subject, kw.pop("now", NOW), kw.pop("auth", TEST_AUTH), **kw)


ADMIN = auth(Role.ADMIN, "ops")
PATIENT = auth(Role.PATIENT, "pat-1")


def ingest(client: TestClient, device: str, *payloads: str) -> None:
    ingestor = client.app.state.hub.ingestor  # type: ignore[attr-defined]
    ingestor.ingest(
        [Incoming(f"hs/v1/devices/{device}/readings", p.encode(), NOW) for p in payloads]
    )


def reading(value: int, minutes_ago: int, seq: int | None = None) -> str:
    time = (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    seq_part = "" if seq is None else f', "seq": {seq}'
    return (
        f'{{"metric": "glucose_isf", "value": {value}, "unit": "mg/dL", '
        f'"time": "{time}"{seq_part}}}'
    )


def enroll(client: TestClient, device: str, patient: str = "pat-1", **extra: str) -> Any:
    return client.post(
        "/v1/enrollments", headers=ADMIN, json={"device_id": device, "patient_id": patient, **extra}
    )


def test_health_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/patients/{patient_id}/readings" in paths
    assert "/v1/enrollments" in paths


def test_readings_are_paged_with_a_cursor(client: TestClient) -> None:
    assert enroll(client, "cgm-1", start=(NOW - timedelta(days=1)).isoformat()).status_code == 201
    ingest(client, "cgm-1", *(reading(100 + i, 60 - 5 * i, seq=i) for i in range(10)))
    seen: list[float] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 4, "metric": "glucose_isf"}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/v1/patients/pat-1/readings", headers=PATIENT, params=params).json()
        seen += [item["value"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [100.0 + i for i in range(10)]
    assert pages == 3


@pytest.mark.parametrize(
    ("headers", "status", "kind"),
    [
        ({}, 401, "unauthenticated"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401, "unauthenticated"),
        ({"Authorization": "Bearer not-a-jwt"}, 401, "invalid-token"),
        (auth(Role.PATIENT, "pat-1", now=NOW - timedelta(days=2)), 401, "invalid-token"),
        (
            auth(
                Role.PATIENT,
                "pat-1",
                auth=AuthSettings(issuer="elsewhere", secret=TEST_AUTH.secret),
            ),
            401,
            "invalid-token",
        ),
        (
            auth(Role.PATIENT, "pat-1", auth=AuthSettings(secret="another-secret-" + "x" * 32)),
            401,
            "invalid-token",
        ),
        (auth(Role.PATIENT, "pat-2"), 403, "forbidden"),
        (auth(Role.PRACTITIONER, "dr-1"), 403, "forbidden"),
        (auth(Role.DEVICE_MAKER, "acme"), 403, "forbidden"),
        (ADMIN, 403, "forbidden"),
    ],
)
def test_wrong_principals_never_see_readings(
    client: TestClient, headers: dict[str, str], status: int, kind: str
) -> None:
    enroll(client, "cgm-1", start=(NOW - timedelta(days=1)).isoformat())
    ingest(client, "cgm-1", reading(110, 10))
    response = client.get("/v1/patients/pat-1/readings", headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"/problems/{kind}"
    assert "items" not in body
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_every_access_to_patient_data_is_audited_refusals_included(client: TestClient) -> None:
    client.get("/v1/patients/pat-1/readings", headers=PATIENT)
    client.get("/v1/patients/pat-1/readings", headers=auth(Role.PATIENT, "pat-2"))
    trail = client.app.state.hub.registry.audit.trail("pat-1")  # type: ignore[attr-defined]
    assert [(e.actor, e.action, e.outcome) for e in trail] == [
        ("pat-2", "readings.list", "refused"),
        ("pat-1", "readings.list", "allowed"),
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"metric": "cholesterol"}, "metric"),
        ({"from": "2026-11-28T08:00:00"}, "from"),  # no offset
        ({"from": "2026-11-28T08:00:00Z", "to": "2026-11-27T08:00:00Z"}, "from"),
        ({"limit": "0"}, "limit"),
        ({"limit": "100000"}, "limit"),
        ({"cursor": "!!!"}, "cursor"),
        ({"to": "0001-01-01T00:00:00Z"}, "to"),  # `to` - 7 days is before year 1
        ({"from": "9999-12-31T23:59:59Z", "to": "9999-12-31T23:59:59.5Z"}, "from"),
    ],
)
def test_bad_queries_name_the_field(client: TestClient, params: dict[str, str], field: str) -> None:
    response = client.get("/v1/patients/pat-1/readings", headers=PATIENT, params=params)
    assert response.status_code in (400, 422)
    body = response.json()
    assert body["errors"][0]["field"] == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"device_id": "a/b", "patient_id": "pat-1"}, "device_id"),
        ({"device_id": "dev", "patient_id": "185057812345678"}, "patient_id"),
        ({"device_id": "dev", "patient_id": "pat-1", "start": "2026-01-01T00:00:00"}, "start"),
        ({"patient_id": "pat-1"}, "device_id"),
    ],
)
def test_bad_enrollments_name_the_field(
    client: TestClient, body: dict[str, str], field: str
) -> None:
    response = client.post("/v1/enrollments", headers=ADMIN, json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


def test_enrollment_needs_an_admin(client: TestClient) -> None:
    assert enroll(client, "dev").status_code == 201
    response = client.post(
        "/v1/enrollments", headers=PATIENT, json={"device_id": "dev", "patient_id": "pat-1"}
    )
    assert response.status_code == 403


def test_enrollment_conflict_and_handover(client: TestClient) -> None:
    start = NOW - timedelta(days=2)
    assert enroll(client, "dev", start=start.isoformat()).status_code == 201
    conflict = enroll(client, "dev", "pat-2", start=(start - timedelta(days=1)).isoformat())
    assert conflict.status_code == 409
    assert conflict.json()["type"] == "/problems/enrollment-conflict"
    handover = NOW - timedelta(days=1)
    assert enroll(client, "dev", "pat-2", start=handover.isoformat()).status_code == 201
    ingest(client, "dev", reading(120, 60 * 30), reading(130, 60))  # before / after handover
    one = client.get("/v1/patients/pat-1/readings", headers=PATIENT).json()["items"]
    two = client.get("/v1/patients/pat-2/readings", headers=auth(Role.PATIENT, "pat-2")).json()[
        "items"
    ]
    assert [r["value"] for r in one] == [120.0]
    assert [r["value"] for r in two] == [130.0]


def test_quarantined_readings_are_released_by_enrollment(client: TestClient) -> None:
    ingest(client, "early", reading(140, 30), reading(141, 20))
    response = enroll(client, "early", start=(NOW - timedelta(hours=1)).isoformat())
    assert response.json()["released_from_quarantine"] == 2
    items = client.get("/v1/patients/pat-1/readings", headers=PATIENT).json()["items"]
    assert [r["value"] for r in items] == [140.0, 141.0]
    assert client.app.state.hub.registry.rejects.quarantined("early") == []  # type: ignore[attr-defined]


def test_dead_letters_are_listed_for_admins_only(client: TestClient) -> None:
    ingest(client, "dev", "garbage", reading(2000, 1))
    assert client.get("/v1/admin/dead-letters", headers=PATIENT).status_code == 403
    items = client.get("/v1/admin/dead-letters", headers=ADMIN).json()["items"]
    assert sorted(i["kind"] for i in items) == ["implausible", "malformed"]
    page = client.get("/v1/admin/dead-letters", headers=ADMIN, params={"limit": 1}).json()
    rest = client.get(
        "/v1/admin/dead-letters", headers=ADMIN, params={"limit": 1, "cursor": page["next_cursor"]}
    ).json()
    assert {page["items"][0]["id"], rest["items"][0]["id"]} == {i["id"] for i in items}
    assert rest["next_cursor"] is None


def test_unknown_route_is_a_problem(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["type"] == "/problems/not-found"


def test_a_reading_the_store_refuses_is_dead_lettered_alone(client: TestClient) -> None:
    enroll(client, "cgm-9", start=(NOW - timedelta(days=1)).isoformat())
    ingestor = client.app.state.hub.ingestor  # type: ignore[attr-defined]
    # A receive clock in 2300 (a broken host clock) makes the effective time unstorable.
    broken = Incoming(
        "hs/v1/devices/cgm-9/readings", reading(150, 5).encode(), datetime(2300, 1, 1, tzinfo=UTC)
    )
    good = Incoming("hs/v1/devices/cgm-9/readings", reading(151, 4).encode(), NOW)
    report = ingestor.ingest([broken, good])
    assert (report.stored, report.dead_lettered) == (1, 1)
    assert report.dead_letter_kinds == {"store-refused": 1}
