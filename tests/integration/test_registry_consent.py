"""Patients, devices, pairing, care, consent, idempotency and erasure on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.adapters.registry import Registry
from hub.adapters.registry.audit import AuditEvent
from hub.adapters.registry.errors import DeviceConflict
from hub.adapters.registry.idempotency import StoredResponse
from tests.fixtures.registry import (  # noqa: F401 - pytest fixtures
    postgres_server_fixture,
    postgres_url_fixture,
    registry_fixture,
    registry_url_fixture,
)

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)  # times are passed in: any instant will do
INS = "255081416802538"


def test_patients_are_pseudonymous_and_registered_once(registry: Registry) -> None:
    patient, created = registry.patients.register(INS, now=NOW)
    assert created and patient.startswith("pat-") and INS not in patient
    assert registry.patients.register(INS, now=NOW) == (patient, False)
    assert registry.patients.set_document_visibility(patient, hidden_from_professionals=True)
    record = registry.patients.get(patient)
    assert record is not None and record.hidden_from_professionals is True
    assert not registry.patients.set_document_visibility("pat-none", hidden_from_professionals=True)


def test_devices_belong_to_their_maker(registry: Registry) -> None:
    assert registry.devices.register("d1", profile="acme-bp-wifi", maker="acme", now=NOW)
    assert not registry.devices.register("d1", profile="acme-bp-wifi", maker="acme", now=NOW)
    with pytest.raises(DeviceConflict):
        registry.devices.register("d1", profile="acme-bp-wifi", maker="globex", now=NOW)


def test_pairing_codes_work_once_for_their_device_until_they_expire(registry: Registry) -> None:
    code = registry.devices.create_pairing_code(
        "d1", created_by="acme", now=NOW, ttl=timedelta(minutes=15)
    )
    assert not registry.devices.redeem_pairing_code(code, "d2", now=NOW)
    assert not registry.devices.redeem_pairing_code(code, "d1", now=NOW + timedelta(minutes=16))
    assert registry.devices.redeem_pairing_code(code.lower(), "d1", now=NOW)
    assert not registry.devices.redeem_pairing_code(code, "d1", now=NOW)


def test_care_relationships_have_a_period(registry: Registry) -> None:
    rid = registry.care.add("dr-1", "pat-1", organization="chu", start=NOW, end=None)
    assert not registry.care.in_care("dr-1", "pat-1", at=NOW - timedelta(seconds=1))
    assert registry.care.in_care("dr-1", "pat-1", at=NOW)
    assert not registry.care.in_care("dr-2", "pat-1", at=NOW)
    assert registry.care.end(rid, at=NOW + timedelta(days=1))
    assert not registry.care.in_care("dr-1", "pat-1", at=NOW + timedelta(days=2))
    assert not registry.care.end(rid, at=NOW + timedelta(days=3))


def test_objections_in_force_and_withdrawn(registry: Registry) -> None:
    oid, created = registry.consent.add_objection("pat-1", "device", "d1", now=NOW)
    assert created
    assert registry.consent.add_objection("pat-1", "device", "d1", now=NOW) == (oid, False)
    registry.consent.add_objection("pat-2", "provider", "acme", now=NOW)
    assert registry.consent.active_objections(["pat-1", "pat-2", "pat-3"]) == {
        ("pat-1", "device", "d1"),
        ("pat-2", "provider", "acme"),
    }
    assert not registry.consent.withdraw_objection("pat-2", oid, now=NOW)  # not theirs
    assert registry.consent.withdraw_objection("pat-1", oid, now=NOW)
    assert registry.consent.active_objections(["pat-1"]) == set()
    assert registry.consent.objections("pat-1")[0].end == NOW


def test_idempotency_keys_are_per_principal(registry: Registry) -> None:
    registry.idempotency.save("acme", "k", request_hash="h", status=200, response="{}", now=NOW)
    registry.idempotency.save(
        "acme", "k", request_hash="other", status=200, response="[]", now=NOW
    )  # first one wins
    assert registry.idempotency.response("acme", "k") == StoredResponse("h", 200, "{}")
    assert registry.idempotency.response("globex", "k") is None


def test_erasure_removes_every_row_about_the_patient(registry: Registry) -> None:
    patient, _ = registry.patients.register(INS, now=NOW)
    registry.enrollments.enroll(
        "d1", patient, NOW - timedelta(days=1), actor="ops", role="admin", created=NOW
    )
    registry.enrollments.enroll(
        "d9", "pat-other", NOW - timedelta(days=1), actor="ops", role="admin", created=NOW
    )
    registry.consent.add_objection(patient, "device", "d7", now=NOW)
    registry.care.add("dr-1", patient, organization=None, start=NOW, end=None)
    registry.rejects.keep(
        [], [], [AuditEvent(NOW, "dr-1", "practitioner", "readings.list", patient, "allowed")]
    )
    exported = registry.gdpr.export(patient)
    assert {t.table: len(t.rows) for t in exported.tables if t.rows} == {
        "patients": 1,
        "enrollments": 1,
        "care_relationships": 1,
        "objections": 1,
        "audit_events": 1,
    }
    counts = registry.gdpr.erase(patient)
    assert counts["patients"] == 1 and counts["enrollments"] == 1
    assert all(not t.rows for t in registry.gdpr.export(patient).tables)
    assert registry.enrollments.for_devices(["d9"])["d9"][0].patient_id == "pat-other"
