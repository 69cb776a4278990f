"""The audit trail: one event per access to patient data, refusals included; append-only
(table ``audit_events``). Rows go only by erasure of their patient."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from hub.adapters.registry import schema
from hub.adapters.registry.database import Database
from hub.adapters.registry.errors import RegistryError
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


@dataclass(slots=True)
class _Pending:
    """One caller's event waiting for a group commit, and how that commit ended."""

    row: dict[str, Any]
    done: bool = False
    error: BaseException | None = None


class Audit:
    """The audit trail. :meth:`record` commits concurrent callers' events together (group
    commit) and still returns only once the caller's own event is committed."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a group committed (or failed)
        self._queue: list[_Pending] = []  # in append order; not yet taken by a writer
        self._writing = False  # a caller is committing a group now

    def record(self, event: AuditEvent) -> None:
        """Append one event to the trail (never updated, never deleted but by erasure);
        return once it is committed — every access is audited before it is answered.

        Group commit. Each API request appends its event, and one transaction per event made
        the requests queue for the database's write lock (on SQLite, one writer at a time and
        an fsync per commit): sampled under 16 concurrent clients, waiting for that lock was
        about two thirds of a patient-page handler's time, most of it in SQLite's busy handler
        sleeping while the lock sat free. So callers share transactions instead: the first to
        find no commit in progress becomes the writer, takes every event queued so far (its own
        among them) and appends them with one ``INSERT`` of many rows and one commit, through
        :meth:`Database.write` like every writer; the callers that arrive meanwhile queue and
        wait, and the first of them to wake after that commit writes the next group. Each
        caller returns only when the group holding its event has committed. Row ids follow the
        order the events were queued in, within a group and across groups.

        If the group's write fails, every caller of the group gets the error (the same
        :class:`~hub.adapters.registry.errors.RegistryUnavailable` or
        :class:`~hub.adapters.registry.errors.RegistryError`), and none of its events is
        stored: the transaction is rolled back whole. A bad event is caught before it joins a
        group (its row is built in the caller's thread)."""
        pending = _Pending(event_row(event))
        with self._changed:
            self._queue.append(pending)
            while self._writing and not pending.done:
                self._changed.wait()
            if pending.done:  # another caller's group held this event
                if pending.error is not None:
                    raise _copy(pending.error)
                return
            group, self._queue = self._queue, []
            self._writing = True
        error: BaseException | None = None
        try:
            with self.db.write("audit") as conn:
                conn.execute(insert(schema.audit_events), [p.row for p in group])
        except BaseException as err:
            error = err
            raise
        finally:
            with self._changed:
                for p in group:
                    p.done, p.error = True, error
                self._writing = False
                self._changed.notify_all()

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


def _copy(error: BaseException) -> BaseException:
    """The group writer's error for one of its waiters: a new exception of the same class and
    message (one instance raised in several threads would share one traceback), the driver's
    error still reachable as ``__context__`` but not printed, as the writer's. A writer
    interrupted by something that is not an error (``KeyboardInterrupt``) is a
    :class:`RegistryError` for its waiters: they were not interrupted; so is an error that
    cannot be copied."""
    if not isinstance(error, Exception):
        return RegistryError(f"registry audit: the group's write was interrupted ({error!r})")
    try:
        raised = copy.copy(error)
    except Exception:
        return RegistryError(f"registry audit: the group's write failed ({type(error).__name__})")
    raised.__context__, raised.__cause__ = error.__context__, None
    raised.__suppress_context__ = True
    return raised
