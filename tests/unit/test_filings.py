"""The registry side of filing (real SQLite): a version and its filing are decided together,
a race is detected, and versions of one report are delivered in order."""

from __future__ import annotations

import pytest
from sqlalchemy import Table, func, select

from hub.adapters.registry import Registry, RegistryError, RegistryUnavailable, schema
from hub.adapters.registry.filings import (
    DELIVERED,
    FAILED,
    PENDING,
    DocumentRow,
    FilingStore,
    NewFiling,
)
from hub.config import Settings
from hub.core.reports.versioning import LatestVersion, document_set_id, version_ids

PATIENT = "pat-0123456789abcdef"
SET = document_set_id(PATIENT, "diabetes", "2026-W47", "pdf")


def filing(version: int, digest: str = "h", *, doc_id: str | None = None) -> NewFiling:
    ids = version_ids(SET, version)
    row = DocumentRow(doc_id or ids.resource_id, SET, version, "pdf", ids.unique_id, "Rapport")
    return NewFiling(
        PATIENT,
        "diabetes",
        "2026-W47",
        f"{PATIENT}|diabetes|2026-W47",
        version,
        f"{digest}{version}",
        False,
        b"{}",
        (row,),
    )


@pytest.fixture
def filings(settings: Settings) -> FilingStore:
    assert settings.registry.url is not None
    return Registry(settings.registry.url).filings


def count(store: FilingStore, table: Table) -> int:
    with store.db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_versions_are_decided_once_and_delivered_in_order(filings: FilingStore) -> None:
    first = filings.decide(filing(1), expected=None, now_ms=1_000, actor="hub")
    assert first is not None
    assert filings.latest(SET) == LatestVersion(1, "h1")
    # Another run that decided on the same state is told: nothing is filed twice.
    assert filings.decide(filing(1), expected=None, now_ms=1_000, actor="hub") is None
    second = filings.decide(filing(2), expected=1, now_ms=2_000, actor="hub")
    assert second is not None
    # Version 2 waits for version 1 (it replaces it).
    assert [f.id for f in filings.due(5_000)] == [first]
    filings.retry_later(first, attempts=1, at_ms=9_000, error="vault down")
    assert filings.due(5_000) == [] and filings.next_attempt_ms() == 2_000
    assert filings.oldest_pending_ms() == 1_000  # what the outbox-age gauge is made of
    filings.delivered(first, now_ms=9_500)
    assert filings.oldest_pending_ms() == 2_000
    assert [f.version for f in filings.due(9_500)] == [2]
    filings.failed(second, attempts=1, error="422")
    assert filings.oldest_pending_ms() is None  # failed is not pending: a defect, logged
    assert filings.states([first, second]) == {first: DELIVERED, second: FAILED}
    assert PENDING not in filings.states([first, second]).values()
    # Each decision is in the patient's audit trail.
    with filings.db.engine.connect() as conn:
        actions = (
            conn.execute(
                select(schema.audit_events.c.action).where(
                    schema.audit_events.c.patient_id == PATIENT
                )
            )
            .scalars()
            .all()
        )
    assert actions == ["documents.create", "documents.create"]


def test_a_decision_that_fails_leaves_no_filing_behind(filings: FilingStore) -> None:
    assert filings.decide(filing(1), expected=None, now_ms=1_000, actor="hub") is not None
    clash = filing(2, doc_id=version_ids(SET, 1).resource_id)  # a document row that exists
    with pytest.raises(RegistryError, match="IntegrityError") as refused:
        filings.decide(clash, expected=1, now_ms=2_000, actor="hub")
    assert not isinstance(refused.value, RegistryUnavailable)  # the input's fault: no retry
    assert count(filings, schema.document_filings) == 1
    assert count(filings, schema.documents) == 1
    assert filings.latest(SET) == LatestVersion(1, "h1")
