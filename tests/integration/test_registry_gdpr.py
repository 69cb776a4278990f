"""GDPR export and erasure on SQLite and PostgreSQL: a device's rows belong to the patient who
held it at their time, not to everyone who ever held it.

Patient A holds device D from day 1 to day 4 (days 1-3), patient B from day 4 on. Dead
letters and quarantined readings of D on day 2 are A's, those of day 5 are B's; a provider's
push for another device is nobody's here, even when the provider also sent for D.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.adapters.registry import DeadLetter, Registry
from hub.adapters.registry.gdpr import PatientExport
from hub.core.ins import ins_key
from hub.core.model import Reading, Source, TimeSource
from tests.fixtures.registry import (  # noqa: F401 - pytest fixtures
    postgres_server_fixture,
    postgres_url_fixture,
    registry_fixture,
    registry_url_fixture,
)

pytestmark = pytest.mark.integration

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)  # a fixed calendar: nothing here reads the clock


def day(n: float) -> datetime:
    return DAY0 + timedelta(days=n)


def ins(nir: str) -> str:
    return f"{nir}{ins_key(nir):02d}"


def letter(device: str | None, sender: str, at: datetime, tag: str) -> DeadLetter:
    return DeadLetter(
        received_time=at,
        source="provider" if sender == "acme" else "mqtt",
        topic="/v1/ingest" if sender == "acme" else f"hs/v1/devices/{device}/readings",
        sender_id=sender,
        item_index=0,
        kind="implausible",
        reason=f"value refused ({tag})",
        field="value",
        payload=tag.encode(),
        device_id=device,
    )


def quarantined_reading(
    reading_id: str, device: str, at: datetime, *, received: datetime | None = None
) -> Reading:
    """A quarantined reading taken at ``at``; ``received`` given: its time is untrusted."""
    return Reading(
        reading_id=reading_id,
        patient_id="",
        device_id=device,
        metric="systolic_bp",
        value=131.0,
        unit="mm[Hg]",
        effective_time=at,
        receive_time=received or at + timedelta(seconds=5),
        device_time=None,
        time_source=TimeSource.DEVICE if received is None else TimeSource.UNTRUSTED,
        source=Source.MQTT,
    )


def rows(exported: PatientExport, table: str) -> list[dict[str, Any]]:
    return exported.table(table).records()


def payloads(exported: PatientExport) -> set[bytes]:
    return {bytes(r["payload"]) for r in rows(exported, "dead_letters")}  # type: ignore[arg-type]


def quarantined(exported: PatientExport) -> set[str]:
    return {str(r["reading_id"]) for r in rows(exported, "quarantine")}


@pytest.fixture
def two_holders(registry: Registry) -> tuple[str, str]:
    """D: A's for days 1-3, B's from day 4; the rejects of both periods and around them."""
    a, _ = registry.patients.register(ins("2550814168025"), now=DAY0)
    b, _ = registry.patients.register(ins("1840275123456"), now=DAY0)
    registry.devices.register("D", profile="acme-bp-wifi", maker="acme", now=DAY0)
    registry.gateways.register("gw-1", owner="acme", zone=None, now=DAY0)
    registry.gateways.pair_device("gw-1", "D", now=day(0.5))  # before A, and still
    code = registry.devices.create_pairing_code(
        "D", created_by="acme", now=day(1), ttl=timedelta(hours=1)
    )
    assert registry.devices.redeem_pairing_code(code, "D", now=day(1))
    for patient, start in ((a, day(1)), (b, day(4))):
        registry.enrollments.enroll("D", patient, start, actor="ops", role="admin", created=start)
    registry.rejects.keep(
        [
            letter("D", "D", day(0.5), "D before anyone"),
            letter("D", "D", day(2), "D on A's day 2"),
            letter("D", "acme", day(2.5), "acme for D on A's day 2"),
            letter("E", "acme", day(2.5), "acme for E on A's day 2"),
            letter(None, "D", day(3), "D, device unknown"),
            letter("D", "D", day(4), "D on B's first instant"),
            letter("D", "D", day(5), "D on B's day 5"),
        ],
        [
            (quarantined_reading("q-before", "D", day(0.5)), "no enrollment"),
            (quarantined_reading("q-a", "D", day(2)), "no enrollment"),
            (quarantined_reading("q-b", "D", day(5)), "no enrollment"),
            # Taken on A's day 2 by a clock that cannot be trusted, received on B's day 5:
            # attribution goes by the receive time, so does the GDPR.
            (quarantined_reading("q-untrusted", "D", day(2), received=day(5)), "no enrollment"),
            (quarantined_reading("q-e", "E", day(2)), "no enrollment"),
        ],
    )
    return a, b


def test_each_holder_gets_the_rejects_of_their_own_period(
    registry: Registry, two_holders: tuple[str, str]
) -> None:
    a, b = two_holders
    mine, theirs = registry.gdpr.export(a), registry.gdpr.export(b)

    assert payloads(mine) == {b"D on A's day 2", b"acme for D on A's day 2"}
    assert payloads(theirs) == {b"D on B's first instant", b"D on B's day 5"}
    assert quarantined(mine) == {"q-a"}
    assert quarantined(theirs) == {"q-b", "q-untrusted"}
    # The device and its gateway pairing are both holders' to see; its code was A's act.
    for exported in (mine, theirs):
        assert [r["id"] for r in rows(exported, "devices")] == ["D"]
        assert [r["gateway_id"] for r in rows(exported, "gateway_devices")] == ["gw-1"]
    assert len(rows(mine, "pairing_codes")) == 1 and rows(theirs, "pairing_codes") == []
    assert [r["ins"] for r in rows(mine, "patients")] == [ins("2550814168025")]


def test_a_provider_push_for_another_device_never_reaches_a_patients_export(
    registry: Registry, two_holders: tuple[str, str]
) -> None:
    a, b = two_holders
    for patient in (a, b):
        exported = registry.gdpr.export(patient)
        assert b"acme for E on A's day 2" not in payloads(exported)
        assert "q-e" not in quarantined(exported)


def test_erasure_takes_exactly_what_the_export_showed(
    registry: Registry, two_holders: tuple[str, str]
) -> None:
    a, b = two_holders
    before_b = registry.gdpr.export(b)
    shown = registry.gdpr.export(a)

    counts = registry.gdpr.erase(a)

    assert counts == {
        "patients": 1,
        "enrollments": 1,
        "care_relationships": 0,
        "objections": 0,
        "audit_events": 0,
        "documents": 0,
        "document_filings": 0,
        "quarantine": len(shown.table("quarantine").rows),
        "dead_letters": len(shown.table("dead_letters").rows),
    }
    assert (counts["quarantine"], counts["dead_letters"]) == (1, 2)
    assert all(not t.rows for t in registry.gdpr.export(a).tables)
    # B's rows, the device, its pairing and code, and nobody's rows are all still there.
    assert registry.gdpr.export(b) == before_b
    assert registry.devices.get("D") is not None
    left = {d.payload for d in registry.rejects.dead_letters()}
    assert left == {
        b"D before anyone",
        b"acme for E on A's day 2",
        b"D, device unknown",
        b"D on B's first instant",
        b"D on B's day 5",
    }
    assert {r.reading_id for r in registry.rejects.quarantined("D")} == {
        "q-before",
        "q-b",
        "q-untrusted",
    }
    assert registry.rejects.counts().quarantine == 4


def test_a_reading_at_the_handover_instant_is_the_new_holders(registry: Registry) -> None:
    registry.enrollments.enroll("D", "pat-a", day(1), actor="ops", role="admin", created=day(1))
    registry.enrollments.enroll("D", "pat-b", day(4), actor="ops", role="admin", created=day(4))
    registry.rejects.keep(
        [], [(quarantined_reading("q-last", "D", day(4) - timedelta(milliseconds=1)), "x")]
    )
    registry.rejects.keep([], [(quarantined_reading("q-handover", "D", day(4)), "x")])
    assert quarantined(registry.gdpr.export("pat-a")) == {"q-last"}
    assert quarantined(registry.gdpr.export("pat-b")) == {"q-handover"}
