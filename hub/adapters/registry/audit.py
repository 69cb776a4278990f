"""The audit trail: one event per access to patient data, refusals included; append-only
(table ``audit_events``). Rows go only by erasure of their patient."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from hub.adapters.registry import schema
from hub.adapters.registry.database import Database
from hub.core.model import epoch_ms, from_epoch_ms


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One entry of the append-only audit trail (shaped like a FHIR AuditEvent)."""

    at: datetime
    actor: str
    role: str
    action: str
    patient_id: str | None
    outcome: str  # allowed | refused
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """A stored audit event, with its row id (the trail's tie-breaker and cursor)."""

    id: int
    at: datetime
    actor: str
    role: str
    action: str
    patient_id: str | None
    outcome: str
    detail: str | None


def event_row(event: AuditEvent) -> dict[str, Any]:
    """The ``audit_events`` row of an event (for writers that append in their own
    transaction)."""
    return {
        "at_ms": epoch_ms(event.at),
        "actor": event.actor,
        "role": event.role,
        "action": event.action,
        "patient_id": event.patient_id,
        "outcome": event.outcome,
        "detail": event.detail,
    }


def _record(row: Any) -> AuditRecord:
    return AuditRecord(
        id=int(row.id),
        at=from_epoch_ms(row.at_ms),
        actor=str(row.actor),
        role=str(row.role),
        action=str(row.action),
        patient_id=None if row.patient_id is None else str(row.patient_id),
        outcome=str(row.outcome),
        detail=None if row.detail is None else str(row.detail),
    )


class Audit:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, event: AuditEvent) -> None:
        """Append one event to the trail (never updated, never deleted but by erasure)."""
        with self.db.write("audit") as conn:
            conn.execute(insert(schema.audit_events).values(**event_row(event)))

    def trail(self, patient_id: str, *, limit: int = 100) -> list[AuditRecord]:
        """The patient's events, newest first (same instant: the later append first)."""
        audit_events = schema.audit_events
        with self.db.read("audit trail") as conn:
            rows = conn.execute(
                select(audit_events)
                .where(audit_events.c.patient_id == patient_id)
                .order_by(audit_events.c.at_ms.desc(), audit_events.c.id.desc())
                .limit(limit)
            ).all()
        return [_record(row) for row in rows]
