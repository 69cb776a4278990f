"""Fixtures of the FHIR tests: an app whose clock is pinned (both validators: tests/conftest.py).

Times in these tests are relative to ``NOW``, the app's injected clock (``HubContext.clock``):
nothing depends on the calendar day the suite runs on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.adapters.tokens import Role
from hub.config import Settings
from hub.core.ins import ins_key
from tests.conftest import api_client, bearer

NOW = datetime.now(UTC).replace(microsecond=0)


def ins(nir: str) -> str:
    return f"{nir}{ins_key(nir):02d}"


INS_A = ins("2550814168025")
INS_B = ins("1850578123456")
INS_UNKNOWN = ins("2990375111222")


def auth(role: Role, subject: str) -> dict[str, str]:
    return bearer(role, subject, NOW)


ADMIN = auth(Role.ADMIN, "ops")
MAKER = auth(Role.DEVICE_MAKER, "acme")

# Devices the provider "acme" registers (hub id -> catalog profile), all enrolled to patient A.
DEVICES = {
    "cuff-1": "acme-bp-wifi",
    "00-1C-05-04-00-00-78-25": "hub-canonical",  # a PHD pulse oximeter, by its SYSID
    "phd-74E8FFFEFF051C00.001C05FFE874": "hub-canonical",  # named by Device/<id> only
    "meter-1": "glucocloud-meter",
    "scale-1": "nimbus-scale",
    "thermo-1": "hub-canonical",
}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with api_client(settings, NOW) as test_client:
        yield test_client


@pytest.fixture
def world(client: TestClient) -> dict[str, Any]:
    """Patients A and B (by INS); acme's devices, all enrolled to A for the last 400 days."""
    a = client.post("/v1/patients", headers=ADMIN, json={"ins": INS_A}).json()["patient_id"]
    b = client.post("/v1/patients", headers=ADMIN, json={"ins": INS_B}).json()["patient_id"]
    for device, profile in DEVICES.items():
        made = client.post(
            "/v1/devices", headers=MAKER, json={"device_id": device, "profile": profile}
        )
        assert made.status_code == 201, made.text
        enrolled = client.post(
            "/v1/enrollments",
            headers=ADMIN,
            json={
                "device_id": device,
                "patient_id": a,
                "start": (NOW - timedelta(days=400)).isoformat(),
            },
        )
        assert enrolled.status_code == 201, enrolled.text
    return {"a": a, "b": b, "A": auth(Role.PATIENT, a), "B": auth(Role.PATIENT, b)}


def push(client: TestClient, body: Any, *, key: str | None = None) -> Any:
    headers = {**MAKER, "Content-Type": "application/fhir+json"}
    if key:
        headers["Idempotency-Key"] = key
    content = body if isinstance(body, bytes) else json.dumps(body)
    return client.post("/v1/ingest", headers=headers, content=content)


def readings(client: TestClient, world: dict[str, Any], **params: Any) -> list[dict[str, Any]]:
    """Patient A's stored readings over the last 400 days (the JSON reading API)."""
    query = {"from": (NOW - timedelta(days=400)).isoformat(), "to": NOW.isoformat(), **params}
    response = client.get(f"/v1/patients/{world['a']}/readings", headers=world["A"], params=query)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def at(minutes_ago: int, offset: str = "+01:00") -> str:
    """An R4 dateTime ``minutes_ago`` before NOW, written with a UTC offset."""
    sign = 1 if offset[0] == "+" else -1
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    zone = timezone(timedelta(hours=hours, minutes=minutes) * sign)
    return (NOW - timedelta(minutes=minutes_ago)).astimezone(zone).isoformat()
