"""Registry queries. The only module that talks SQL to the registry."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hub.model import Reading, epoch_ms, from_epoch_ms, reading_from_json, reading_to_json
from hub.pipeline import Enrollment
from hub.registry import schema


class RegistryError(Exception):
    """The registry could not be read or written (translated from SQLAlchemy)."""


class EnrollmentConflict(RegistryError):
    """A new enrollment would start before the device's current one."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message (or one item of it) that could not be ingested, kept for inspection."""

    received_time: datetime
    source: str
    topic: str
    sender_id: str | None
    item_index: int | None
    kind: str
    reason: str
    field: str | None
    payload: bytes

    @property
    def id(self) -> str:
        digest = hashlib.sha256()
        for part in (self.source, self.topic, str(self.item_index)):
            digest.update(part.encode())
            digest.update(b"\x1f")
        digest.update(self.payload)
        return digest.hexdigest()[:32]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # rows written before an ack must survive
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Registry:
    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        schema.metadata.create_all(self.engine)

    def _insert_ignoring_duplicates(self, table: Any) -> Any:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table).on_conflict_do_nothing()

    # --- enrollments -------------------------------------------------------------------

    def enroll(
        self,
        device_id: str,
        patient_id: str,
        start: datetime,
        *,
        actor: str,
        created: datetime,
    ) -> Enrollment:
        """Bind a device to a patient from ``start``; ends the device's open enrollment."""
        start_ms = epoch_ms(start)
        e = schema.enrollments
        with self.engine.begin() as conn:
            current = conn.execute(
                select(e.c.id, e.c.start_ms).where(e.c.device_id == device_id, e.c.end_ms.is_(None))
            ).all()
            for row in current:
                if row.start_ms >= start_ms:
                    raise EnrollmentConflict(
                        f"device {device_id} has an enrollment starting at or after "
                        f"{start.isoformat()}"
                    )
                conn.execute(update(e).where(e.c.id == row.id).values(end_ms=start_ms))
            conn.execute(
                insert(e).values(
                    device_id=device_id,
                    patient_id=patient_id,
                    start_ms=start_ms,
                    end_ms=None,
                    created_ms=epoch_ms(created),
                    created_by=actor,
                )
            )
        return Enrollment(device_id, patient_id, from_epoch_ms(start_ms))

    def enrollments_for(self, device_ids: Iterable[str]) -> dict[str, list[Enrollment]]:
        ids = sorted(set(device_ids))
        result: dict[str, list[Enrollment]] = {d: [] for d in ids}
        if not ids:
            return result
        e = schema.enrollments
        with self.engine.connect() as conn:
            rows = conn.execute(select(e).where(e.c.device_id.in_(ids))).all()
        for row in rows:
            result[row.device_id].append(
                Enrollment(
                    row.device_id,
                    row.patient_id,
                    from_epoch_ms(row.start_ms),
                    None if row.end_ms is None else from_epoch_ms(row.end_ms),
                )
            )
        return result

    # --- dead letters and quarantine ------------------------------------------------------

    def keep_rejects(self, dead: Sequence[DeadLetter], held: Sequence[tuple[Reading, str]]) -> None:
        """Durably keep dead letters and quarantined readings (idempotent), in one commit."""
        if not dead and not held:
            return
        with self.engine.begin() as conn:
            if dead:
                conn.execute(
                    self._insert_ignoring_duplicates(schema.dead_letters),
                    [
                        {
                            "id": d.id,
                            "received_ms": epoch_ms(d.received_time),
                            "source": d.source,
                            "topic": d.topic,
                            "sender_id": d.sender_id,
                            "item_index": d.item_index,
                            "kind": d.kind,
                            "reason": d.reason,
                            "field": d.field,
                            "payload": d.payload,
                        }
                        for d in dead
                    ],
                )
            if held:
                conn.execute(
                    self._insert_ignoring_duplicates(schema.quarantine),
                    [
                        {
                            "reading_id": r.reading_id,
                            "device_id": r.device_id,
                            "t_ms": epoch_ms(r.effective_time),
                            "received_ms": epoch_ms(r.receive_time),
                            "reason": reason,
                            "reading": json.dumps(reading_to_json(r)),
                        }
                        for r, reason in held
                    ],
                )

    def dead_letters(self, *, limit: int = 100, before: str | None = None) -> list[dict[str, Any]]:
        """Newest first; ``before`` is the cursor of the last row of the previous page."""
        d = schema.dead_letters
        query = select(d).order_by(d.c.received_ms.desc(), d.c.id.desc()).limit(limit)
        if before is not None:
            received_ms, _, last_id = before.partition(":")
            cursor_ms = int(received_ms)
            query = query.where(
                (d.c.received_ms < cursor_ms)
                | ((d.c.received_ms == cursor_ms) & (d.c.id < last_id))
            )
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def quarantined(self, device_id: str) -> list[Reading]:
        q = schema.quarantine
        with self.engine.connect() as conn:
            rows = conn.execute(select(q.c.reading).where(q.c.device_id == device_id)).all()
        return [reading_from_json(json.loads(row.reading)) for row in rows]

    def release_quarantined(self, reading_ids: Sequence[str]) -> None:
        if not reading_ids:
            return
        q = schema.quarantine
        with self.engine.begin() as conn:
            conn.execute(delete(q).where(q.c.reading_id.in_(list(reading_ids))))

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                for name, table in (
                    ("dead_letters", schema.dead_letters),
                    ("quarantine", schema.quarantine),
                )
            }

    # --- audit ---------------------------------------------------------------------------

    def audit(
        self,
        *,
        at: datetime,
        actor: str,
        role: str,
        action: str,
        patient_id: str | None,
        outcome: str,
        detail: str | None = None,
    ) -> None:
        """Append one event to the audit trail (never updated, never deleted but by erasure)."""
        with self.engine.begin() as conn:
            conn.execute(
                insert(schema.audit_events).values(
                    at_ms=epoch_ms(at),
                    actor=actor,
                    role=role,
                    action=action,
                    patient_id=patient_id,
                    outcome=outcome,
                    detail=detail,
                )
            )

    def audit_trail(self, patient_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
        a = schema.audit_events
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(a)
                .where(a.c.patient_id == patient_id)
                .order_by(a.c.at_ms.desc(), a.c.id.desc())
                .limit(limit)
            )
            return [dict(row._mapping) for row in rows]

    def close(self) -> None:
        self.engine.dispose()
