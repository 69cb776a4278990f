"""The registry's documents and filing outbox (tables ``documents``, ``document_filings``).

* :meth:`FilingStore.decide` writes a report version — its document rows, the ITI-65
  bundle that files them and the patient's audit event — in **one transaction**, after
  checking that the latest version is still the one the decision was made on (two runs
  deciding the same report: one wins, the other is told, nothing is filed twice; the unique
  ``(set_id, version)`` is the last guard).
* Delivery reads :meth:`due` filings — pending, due, and never a version whose earlier
  version of the same report is still pending (a replacement must reach the vault after what
  it replaces) — and records each outcome: delivered, retry later (attempts, next attempt,
  error), or failed (refused by the vault: a defect to look at, not retried).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, and_, exists, func, insert, select, update
from sqlalchemy.orm import aliased

from hub.adapters.registry import schema
from hub.adapters.registry.database import Database
from hub.core.reports.versioning import LatestVersion

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DocumentRow:
    id: str  # entryUUID
    set_id: str
    version: int
    doc_type: str
    unique_id: str
    title: str


@dataclass(frozen=True, slots=True)
class NewFiling:
    patient_id: str
    program_id: str
    period: str
    report: str  # patient|program|period
    version: int
    content_hash: str
    hidden_from_professionals: bool
    bundle: bytes  # the ITI-65 bundle, JSON, without the INS
    documents: tuple[DocumentRow, ...]


@dataclass(frozen=True, slots=True)
class PendingFiling:
    id: int
    patient_id: str
    report: str
    version: int
    attempts: int
    bundle: bytes


class FilingStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def patient_ids(self) -> list[str]:
        """The registered patients (with an INS: the only ones a vault can file for)."""
        patients = schema.patients
        with self.db.read("patient ids") as conn:
            return [str(r.id) for r in conn.execute(select(patients.c.id).order_by(patients.c.id))]

    def latest(self, set_id: str) -> LatestVersion | None:
        """The latest version decided for a document set (delivered or not)."""
        with self.db.read("latest document") as conn:
            return _latest(conn, set_id)

    def decide(
        self, filing: NewFiling, *, expected: int | None, now_ms: int, actor: str
    ) -> int | None:
        """Record a new version, its filing and the patient's audit event in one transaction;
        the filing's id, or None when the latest version is no longer ``expected`` (decided
        meanwhile by another run)."""
        documents, filings = schema.documents, schema.document_filings
        with self.db.write("decide filing") as conn:
            for doc in filing.documents:
                latest = _latest(conn, doc.set_id)
                if (None if latest is None else latest.version) != expected:
                    return None
            key = conn.execute(
                insert(filings).values(
                    patient_id=filing.patient_id,
                    report=filing.report,
                    version=filing.version,
                    bundle=filing.bundle,
                    state=PENDING,
                    attempts=0,
                    next_attempt_ms=now_ms,
                    created_ms=now_ms,
                )
            ).inserted_primary_key
            assert key is not None
            filing_id = int(key[0])
            conn.execute(
                insert(documents),
                [
                    {
                        "id": doc.id,
                        "set_id": doc.set_id,
                        "version": doc.version,
                        "patient_id": filing.patient_id,
                        "program_id": filing.program_id,
                        "period": filing.period,
                        "doc_type": doc.doc_type,
                        "unique_id": doc.unique_id,
                        "content_hash": filing.content_hash,
                        "title": doc.title,
                        "hidden_from_professionals": filing.hidden_from_professionals,
                        "filing_id": filing_id,
                        "created_ms": now_ms,
                    }
                    for doc in filing.documents
                ],
            )
            conn.execute(
                insert(schema.audit_events).values(
                    at_ms=now_ms,
                    actor=actor,
                    role="service",
                    action="documents.create",
                    patient_id=filing.patient_id,
                    outcome="allowed",
                    detail=f"report {filing.period} version {filing.version} queued for filing",
                )
            )
        return filing_id

    def due(self, now_ms: int, *, limit: int = 50) -> list[PendingFiling]:
        """Pending filings whose next attempt has come, oldest first, none behind an earlier
        pending version of its report."""
        filings = schema.document_filings
        earlier = aliased(filings)
        blocked = exists().where(
            and_(
                earlier.c.report == filings.c.report,
                earlier.c.version < filings.c.version,
                earlier.c.state == PENDING,
            )
        )
        query = (
            select(
                filings.c.id,
                filings.c.patient_id,
                filings.c.report,
                filings.c.version,
                filings.c.attempts,
                filings.c.bundle,
            )
            .where(filings.c.state == PENDING, filings.c.next_attempt_ms <= now_ms, ~blocked)
            .order_by(filings.c.id)
            .limit(limit)
        )
        with self.db.read("due filings") as conn:
            return [
                PendingFiling(
                    int(r.id),
                    str(r.patient_id),
                    str(r.report),
                    int(r.version),
                    int(r.attempts),
                    bytes(r.bundle),
                )
                for r in conn.execute(query)
            ]

    def next_attempt_ms(self) -> int | None:
        """When the earliest pending filing is due (None: nothing pending)."""
        return self._earliest_pending(schema.document_filings.c.next_attempt_ms, "next filing")

    def oldest_pending_ms(self) -> int | None:
        """When the oldest filing still pending was decided (None: nothing pending)."""
        return self._earliest_pending(schema.document_filings.c.created_ms, "oldest filing")

    def _earliest_pending(self, column: Column[int], what: str) -> int | None:
        filings = schema.document_filings
        with self.db.read(what) as conn:
            found = conn.execute(
                select(func.min(column)).where(filings.c.state == PENDING)
            ).scalar_one_or_none()
        return None if found is None else int(found)

    def delivered(self, filing_id: int, *, now_ms: int) -> None:
        self._set(filing_id, state=DELIVERED, delivered_ms=now_ms, last_error=None)

    def retry_later(self, filing_id: int, *, attempts: int, at_ms: int, error: str) -> None:
        self._set(filing_id, attempts=attempts, next_attempt_ms=at_ms, last_error=error[:2000])

    def failed(self, filing_id: int, *, attempts: int, error: str) -> None:
        self._set(filing_id, state=FAILED, attempts=attempts, last_error=error[:2000])

    def _set(self, filing_id: int, **values: Any) -> None:
        filings = schema.document_filings
        with self.db.write("filing state") as conn:
            conn.execute(update(filings).where(filings.c.id == filing_id).values(**values))

    def states(self, filing_ids: Sequence[int]) -> dict[int, str]:
        filings = schema.document_filings
        if not filing_ids:
            return {}
        with self.db.read("filing states") as conn:
            rows = conn.execute(
                select(filings.c.id, filings.c.state).where(filings.c.id.in_(list(filing_ids)))
            )
            return {int(r.id): str(r.state) for r in rows}


def _latest(conn: Connection, set_id: str) -> LatestVersion | None:
    documents = schema.documents
    row = conn.execute(
        select(documents.c.version, documents.c.content_hash)
        .where(documents.c.set_id == set_id)
        .order_by(documents.c.version.desc())
        .limit(1)
    ).one_or_none()
    return None if row is None else LatestVersion(int(row.version), str(row.content_hash))
