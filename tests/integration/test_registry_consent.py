"""Patients, devices, pairing, care, consent, idempotency and erasure on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.adapters.registry import Registry
from hub.adapters.registry.repo import AuditEvent, DeviceConflict
from tests.fixtures.registry import (  # noqa: F401 - pytest fixtures
    postgres_server_fixture,
    postgres_url_fixture,
    registry_fixture,
    registry_url_fixture,
)

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
INS = "255081416802538"


def test_patients_are_pseudonymous_and_registered_once(registry: Registry) -> None:
    patient, created = registry.register_patient(INS, now=NOW)
    assert created and patient.startswith("pat-") and INS not in patient
    assert registry.register_patient(INS, now=NOW) == (patient, False)
    assert registry.set_document_visibility(patient, hidden_from_professionals=True)
    assert registry.patient(patient)["hidden_from_professionals"] is True  # type: ignore[index]
    assert not registry.set_document_visibility("pat-none", hidden_from_professionals=True)


def test_devices_belong_to_their_maker(registry: Registry) -> None:
    assert registry.register_device("d1", profile="acme-bp-wifi", maker="acme", now=NOW)
    assert not registry.register_device("d1", profile="acme-bp-wifi", maker="acme", now=NOW)
    with pytest.raises(DeviceConflict):
        registry.register_device("d1", profile="acme-bp-wifi", maker="globex", now=NOW)


def test_pairing_codes_work_once_for_their_device_until_they_expire(registry: Registry) -> None:
    code = registry.create_pairing_code("d1", created_by="acme", now=NOW, ttl=timedelta(minutes=15))
    assert not registry.redeem_pairing_code(code, "d2", now=NOW)
    assert not registry.redeem_pairing_code(code, "d1", now=NOW + timedelta(minutes=16))
    assert registry.redeem_pairing_code(code.lower(), "d1", now=NOW)
    assert not registry.redeem_pairing_code(code, "d1", now=NOW)


def test_care_relationships_have_a_period(registry: Registry) -> None:
    rid = registry.add_care_relationship("dr-1", "pat-1", organization="chu", start=NOW, end=None)
    assert not registry.has_care_relationship("dr-1", "pat-1", at=NOW - timedelta(seconds=1))
    assert registry.has_care_relationship("dr-1", "pat-1", at=NOW)
    assert not registry.has_care_relationship("dr-2", "pat-1", at=NOW)
    assert registry.end_care_relationship(rid, at=NOW + timedelta(days=1))
    assert not registry.has_care_relationship("dr-1", "pat-1", at=NOW + timedelta(days=2))
    assert not registry.end_care_relationship(rid, at=NOW + timedelta(days=3))


def test_objections_in_force_and_withdrawn(registry: Registry) -> None:
    oid, created = registry.add_objection("pat-1", "device", "d1", now=NOW)
    assert created
    assert registry.add_objection("pat-1", "device", "d1", now=NOW) == (oid, False)
    registry.add_objection("pat-2", "provider", "acme", now=NOW)
    assert registry.active_objections(["pat-1", "pat-2", "pat-3"]) == {
        ("pat-1", "device", "d1"),
        ("pat-2", "provider", "acme"),
    }
    assert not registry.withdraw_objection("pat-2", oid, now=NOW)  # not theirs
    assert registry.withdraw_objection("pat-1", oid, now=NOW)
    assert registry.active_objections(["pat-1"]) == set()
    assert registry.objections("pat-1")[0]["end_ms"] is not None


def test_idempotency_keys_are_per_principal(registry: Registry) -> None:
    registry.save_idempotent_response(
        "acme", "k", request_hash="h", status=200, response="{}", now=NOW
    )
    registry.save_idempotent_response(
        "acme", "k", request_hash="other", status=200, response="[]", now=NOW
    )  # first one wins
    assert registry.idempotent_response("acme", "k") == ("h", 200, "{}")
    assert registry.idempotent_response("globex", "k") is None


def test_erasure_removes_every_row_about_the_patient(registry: Registry) -> None:
    patient, _ = registry.register_patient(INS, now=NOW)
    registry.enroll("d1", patient, NOW - timedelta(days=1), actor="ops", role="admin", created=NOW)
    registry.enroll(
        "d9", "pat-other", NOW - timedelta(days=1), actor="ops", role="admin", created=NOW
    )
    registry.add_objection(patient, "device", "d7", now=NOW)
    registry.add_care_relationship("dr-1", patient, organization=None, start=NOW, end=None)
    registry.keep_rejects(
        [], [], [AuditEvent(NOW, "dr-1", "practitioner", "readings.list", patient, "allowed")]
    )
    exported = registry.export_patient(patient)
    assert {k: len(v) for k, v in exported.items() if v} == {
        "patients": 1,
        "enrollments": 1,
        "care_relationships": 1,
        "objections": 1,
        "audit_events": 1,
    }
    counts = registry.erase_patient(patient)
    assert counts["patients"] == 1 and counts["enrollments"] == 1
    assert all(not rows for rows in registry.export_patient(patient).values())
    assert registry.enrollments_for(["d9"])["d9"][0].patient_id == "pat-other"
