"""Enrollments that can be corrected, devices that cannot be stolen, gateways that must be paired.

In-process app on real SQLite stores; readings enter through the real ingestor. Every time is
relative to the test's ``NOW``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from device_profiles.blood_pressure import BloodPressureRecord, encode_blood_pressure
from hub.adapters.tokens import Role
from hub.config import Settings
from hub.core.batch import Incoming
from hub.core.model import Source
from tests.conftest import api_client, bearer

NOW = datetime.now(UTC).replace(microsecond=0)


def auth(role: Role, subject: str) -> dict[str, str]:
    return bearer(role, subject, NOW)


ADMIN = auth(Role.ADMIN, "ops")
MAKER = auth(Role.DEVICE_MAKER, "acme")
DOCTOR = auth(Role.PRACTITIONER, "dr-1")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with api_client(settings, NOW) as test_client:
        yield test_client


def hub(client: TestClient) -> Any:
    return client.app.state.hub  # type: ignore[attr-defined]


def care(client: TestClient, patient: str, practitioner: str = "dr-1") -> None:
    body = {"practitioner_id": practitioner, "patient_id": patient}
    assert client.post("/v1/care-relationships", headers=ADMIN, json=body).status_code == 201


def enroll(
    client: TestClient, device: str, patient: str, days_ago: float, headers: dict[str, str] = ADMIN
) -> Any:
    start = (NOW - timedelta(days=days_ago)).isoformat()
    body = {"device_id": device, "patient_id": patient, "start": start}
    return client.post("/v1/enrollments", headers=headers, json=body)


def publish(client: TestClient, device: str, *hours_ago: float) -> None:
    messages = [
        Incoming(
            f"hs/v1/devices/{device}/readings",
            json.dumps(
                {
                    "metric": "weight",
                    "value": 70 + k,
                    "unit": "kg",
                    "time": (NOW - timedelta(hours=h)).isoformat(),
                }
            ).encode(),
            NOW,
        )
        for k, h in enumerate(hours_ago)
    ]
    hub(client).ingestor.ingest(messages)


def weights(client: TestClient, patient: str) -> list[float]:
    items = hub(client).store.readings(
        patient, ["weight"], NOW - timedelta(days=60), NOW + timedelta(days=1)
    )
    return [r.value for r in items]


def trail(client: TestClient, patient: str) -> list[tuple[str, str, str]]:
    rows = hub(client).registry.audit.trail(patient, limit=1000)
    return [(r.action, r.outcome, r.actor) for r in rows]


def test_a_practitioner_cannot_take_a_device_from_a_patient_not_in_their_care(
    client: TestClient,
) -> None:
    assert enroll(client, "scale-1", "pat-a", 10).status_code == 201
    care(client, "pat-b")  # dr-1 cares for pat-b, not for pat-a
    moved = enroll(client, "scale-1", "pat-b", 0, headers=DOCTOR)
    assert moved.status_code == 403
    assert "not in your care" in moved.json()["detail"]
    # the holder hears of the attempt; the device stays where it was
    assert ("enrollment.create", "refused", "dr-1") in trail(client, "pat-a")
    [current] = client.get("/v1/enrollments?device_id=scale-1", headers=ADMIN).json()["items"]
    assert (current["patient_id"], current["end"]) == ("pat-a", None)


def test_only_an_admin_backdates_an_enrollment(client: TestClient) -> None:
    care(client, "pat-b")
    refused = enroll(client, "scale-2", "pat-b", 30, headers=DOCTOR)
    assert refused.status_code == 403
    assert "backdates" in refused.json()["detail"]
    assert enroll(client, "scale-2", "pat-b", 0.0001, headers=DOCTOR).status_code == 201


def test_moving_a_device_with_both_patients_in_care_tells_the_previous_holder(
    client: TestClient,
) -> None:
    care(client, "pat-a")
    care(client, "pat-b")
    assert enroll(client, "scale-3", "pat-a", 10).status_code == 201
    assert enroll(client, "scale-3", "pat-b", 0, headers=DOCTOR).status_code == 201
    assert ("enrollment.ended", "allowed", "dr-1") in trail(client, "pat-a")


def test_a_mistaken_enrollment_is_corrected_and_its_readings_move(client: TestClient) -> None:
    first = enroll(client, "scale-4", "pat-a", 10).json()
    publish(client, "scale-4", 48, 24, 2)
    assert weights(client, "pat-a") == [70.0, 71.0, 72.0]
    # It was pat-b who had the scale all along.
    patch = {"patient_id": "pat-b"}
    corrected = client.patch(f"/v1/enrollments/{first['id']}", headers=ADMIN, json=patch)
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["moved"] == 3
    assert weights(client, "pat-a") == []
    assert weights(client, "pat-b") == [70.0, 71.0, 72.0]
    for patient in ("pat-a", "pat-b"):
        assert ("enrollment.correct", "allowed", "ops") in trail(client, patient)
    # Idempotent: the same correction again moves nothing and loses nothing.
    again = client.patch(f"/v1/enrollments/{first['id']}", headers=ADMIN, json=patch)
    assert again.json()["moved"] == 0
    assert weights(client, "pat-b") == [70.0, 71.0, 72.0]


def test_an_enrollment_ended_earlier_sends_later_readings_to_quarantine_and_back(
    client: TestClient,
) -> None:
    first = enroll(client, "scale-5", "pat-a", 10).json()
    publish(client, "scale-5", 72, 2)
    end = {"end": (NOW - timedelta(days=1)).isoformat()}
    ended = client.patch(f"/v1/enrollments/{first['id']}", headers=ADMIN, json=end).json()
    assert ended["to_quarantine"] == 1
    assert weights(client, "pat-a") == [70.0]
    assert len(hub(client).registry.rejects.quarantined("scale-5")) == 1
    reopened = client.patch(f"/v1/enrollments/{first['id']}", headers=ADMIN, json={"end": None})
    assert reopened.json()["released_from_quarantine"] == 1
    assert weights(client, "pat-a") == [70.0, 71.0]
    assert hub(client).registry.rejects.quarantined("scale-5") == []


def test_deleting_a_mistaken_enrollment_and_reopening_the_right_one(client: TestClient) -> None:
    right = enroll(client, "scale-6", "pat-a", 10).json()
    wrong = enroll(client, "scale-6", "pat-b", 3).json()  # a mistake: ends pat-a's at -3 days
    publish(client, "scale-6", 96, 24)
    assert (weights(client, "pat-a"), weights(client, "pat-b")) == ([70.0], [71.0])
    assert client.delete(f"/v1/enrollments/{wrong['id']}", headers=ADMIN).status_code == 204
    assert weights(client, "pat-b") == []  # no enrollment covers it now: quarantine
    assert len(hub(client).registry.rejects.quarantined("scale-6")) == 1
    client.patch(f"/v1/enrollments/{right['id']}", headers=ADMIN, json={"end": None})
    assert weights(client, "pat-a") == [70.0, 71.0]
    assert ("enrollment.delete", "allowed", "ops") in trail(client, "pat-b")


def test_a_correction_that_gives_a_device_two_patients_is_refused(client: TestClient) -> None:
    first = enroll(client, "scale-7", "pat-a", 10).json()
    enroll(client, "scale-7", "pat-b", 3)
    overlap = {"end": None}
    answer = client.patch(f"/v1/enrollments/{first['id']}", headers=ADMIN, json=overlap)
    assert answer.status_code == 409
    assert answer.json()["type"] == "/problems/enrollment-conflict"


def test_only_the_practitioner_who_made_it_corrects_an_enrollment(client: TestClient) -> None:
    care(client, "pat-a")
    care(client, "pat-a", "dr-2")
    made = enroll(client, "scale-8", "pat-a", 0, headers=DOCTOR).json()
    other = auth(Role.PRACTITIONER, "dr-2")
    answer = client.patch(f"/v1/enrollments/{made['id']}", headers=other, json={"end": None})
    assert answer.status_code == 403
    ok = client.patch(f"/v1/enrollments/{made['id']}", headers=DOCTOR, json={"end": None})
    assert ok.status_code == 200


def test_a_device_maker_cannot_claim_a_device_already_in_use(client: TestClient) -> None:
    enroll(client, "unregistered-1", "pat-a", 5)  # enrolled by an admin, no maker registered
    claim = {"device_id": "unregistered-1", "profile": "acme-bp-wifi"}
    answer = client.post("/v1/devices", headers=auth(Role.DEVICE_MAKER, "evil"), json=claim)
    assert answer.status_code == 409
    assert "evil" not in json.dumps(answer.json())
    admin = client.post("/v1/devices", headers=ADMIN, json={**claim, "maker": "acme"})
    assert admin.status_code == 201


def frames(device: str) -> bytes:
    record = BloodPressureRecord(
        systolic=Decimal(121), diastolic=Decimal(79), mean_arterial=Decimal(93)
    )
    envelope = {
        "gateway_time": NOW.isoformat(),
        "zone": "Europe/Paris",
        "device": {"id": device, "profile": "generic-ble-blood-pressure"},
        "frames": [{"seq": 1, "uuid": "2A35", "data": encode_blood_pressure(record).hex()}],
    }
    return json.dumps(envelope).encode()


def ingest_frames(client: TestClient, gateway: str, device: str) -> Any:
    # Received now: after the pairing the test just made (pairings start when made).
    received = datetime.now(UTC)
    message = Incoming(f"hs/v1/gateways/{gateway}/frames", frames(device), received, Source.MQTT)
    return hub(client).ingestor.ingest([message])


def test_gateways_speak_only_for_their_paired_devices(client: TestClient) -> None:
    for device in ("cuff-1", "cuff-2"):
        body = {"device_id": device, "profile": "generic-ble-blood-pressure"}
        assert client.post("/v1/devices", headers=MAKER, json=body).status_code == 201
        enroll(client, device, "pat-a" if device == "cuff-1" else "pat-b", 1)
    # An unregistered gateway: refused whole, acked (so it stops resending), audited.
    unknown = ingest_frames(client, "gw-x", "cuff-1")
    assert unknown.dead_letter_kinds == {"not-paired": 1}
    assert unknown.gateway_acks == {"gw-x": {"cuff-1": [1]}}
    registered = client.post("/v1/gateways", headers=MAKER, json={"gateway_id": "gw-1"})
    assert registered.status_code == 201
    assert client.put("/v1/gateways/gw-1/devices/cuff-1", headers=MAKER).status_code == 200
    assert ingest_frames(client, "gw-1", "cuff-1").stored == 3  # sys, dia, mean
    # The attack: a gateway forwarding frames for somebody else's device.
    forged = ingest_frames(client, "gw-1", "cuff-2")
    assert (forged.stored, forged.dead_letter_kinds) == (0, {"not-paired": 1})
    assert ("ingest.refused-unpaired-gateway", "refused", "gw-1") in trail(client, "pat-b")
    [dead] = [d for d in hub(client).registry.rejects.dead_letters() if d.sender_id == "gw-1"]
    assert (dead.device_id, dead.kind) == ("cuff-2", "not-paired")
    # Unpaired or revoked: refused from the next message on.
    assert client.delete("/v1/gateways/gw-1/devices/cuff-1", headers=MAKER).status_code == 204
    assert ingest_frames(client, "gw-1", "cuff-1").dead_letter_kinds == {"not-paired": 1}


def test_a_gateway_pairs_only_devices_its_owner_owns(client: TestClient) -> None:
    other = auth(Role.DEVICE_MAKER, "globex")
    client.post("/v1/devices", headers=other, json={"device_id": "g-1", "profile": "acme-bp-wifi"})
    client.post("/v1/gateways", headers=MAKER, json={"gateway_id": "gw-2"})
    assert client.put("/v1/gateways/gw-2/devices/g-1", headers=MAKER).status_code == 404
    assert client.get("/v1/gateways/gw-2", headers=other).status_code == 404
