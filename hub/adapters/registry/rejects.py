"""What ingestion keeps instead of storing: dead letters (tables ``dead_letters``) and
readings no enrollment covers yet (``quarantine``), written with the batch's audit events in
one commit before the batch is acknowledged."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from hub.adapters.registry import schema
from hub.adapters.registry.audit import AuditEvent, event_row
from hub.adapters.registry.database import Database
from hub.core.model import Reading, epoch_ms, from_epoch_ms, reading_from_json, reading_to_json


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
    payload: bytes  # the item (not the request it came in), as received
    device_id: str | None = None  # the device the item belonged to, when known

    @property
    def id(self) -> str:
        digest = hashlib.sha256()
        for part in (self.source, self.topic, str(self.item_index)):
            digest.update(part.encode())
            digest.update(b"\x1f")
        digest.update(self.payload)
        return digest.hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    """A stored dead letter. ``payload`` is at most ``DeadLetterLimits.max_item_bytes`` of the
    item; ``payload_size`` and ``payload_sha256`` describe the whole item (``payload_sha256``
    only when it was cut; both None in rows older than the limits)."""

    id: str
    received: datetime
    source: str
    topic: str
    sender_id: str | None
    item_index: int | None
    kind: str
    reason: str
    field: str | None
    payload: bytes
    device_id: str | None
    payload_size: int | None
    payload_sha256: str | None

    @property
    def cursor(self) -> str:
        """Where the next page starts (``before=`` of :meth:`Rejects.dead_letters`)."""
        return f"{epoch_ms(self.received)}:{self.id}"


@dataclass(frozen=True, slots=True)
class DeadLetterLimits:
    """Dead letters are bounded: each keeps at most ``max_item_bytes`` of its item (with the
    item's size and SHA-256), and the table at most ``max_rows`` rows — beyond, the oldest
    go first (counted: ``KeptRejects.evicted``, the ``hub_dead_letters_evicted`` metric)."""

    max_item_bytes: int = 64 * 1024
    max_rows: int = 1_000_000


@dataclass(frozen=True, slots=True)
class KeptRejects:
    evicted: int = 0  # oldest dead letters deleted to stay within DeadLetterLimits.max_rows


@dataclass(frozen=True, slots=True)
class RejectCounts:
    dead_letters: int
    quarantine: int


def _dead_letter_row(dead: DeadLetter, max_item_bytes: int) -> dict[str, Any]:
    payload = dead.payload
    cut = len(payload) > max_item_bytes
    return {
        "id": dead.id,
        "received_ms": epoch_ms(dead.received_time),
        "source": dead.source,
        "topic": dead.topic,
        "sender_id": dead.sender_id,
        "item_index": dead.item_index,
        "kind": dead.kind,
        "reason": dead.reason,
        "field": dead.field,
        "payload": payload[:max_item_bytes] if cut else payload,
        "device_id": dead.device_id,
        "payload_size": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest() if cut else None,
    }


def _dead_letter_record(row: Any) -> DeadLetterRecord:
    return DeadLetterRecord(
        id=str(row.id),
        received=from_epoch_ms(row.received_ms),
        source=str(row.source),
        topic=str(row.topic),
        sender_id=row.sender_id,
        item_index=row.item_index,
        kind=str(row.kind),
        reason=str(row.reason),
        field=row.field,
        payload=bytes(row.payload),
        device_id=row.device_id,
        payload_size=row.payload_size,
        payload_sha256=row.payload_sha256,
    )


def _evict_oldest_dead_letters(conn: Connection, max_rows: int) -> int:
    dead_letters = schema.dead_letters
    excess = (
        int(conn.execute(select(func.count()).select_from(dead_letters)).scalar_one()) - max_rows
    )
    if excess <= 0:
        return 0
    oldest = (
        select(dead_letters.c.id)
        .order_by(dead_letters.c.received_ms, dead_letters.c.id)
        .limit(excess)
        .scalar_subquery()
    )
    return int(conn.execute(delete(dead_letters).where(dead_letters.c.id.in_(oldest))).rowcount)


class Rejects:
    def __init__(self, db: Database, limits: DeadLetterLimits) -> None:
        self.db = db
        self.limits = limits

    def keep(
        self,
        dead: Sequence[DeadLetter],
        quarantined: Sequence[tuple[Reading, str]],
        audits: Sequence[AuditEvent] = (),
    ) -> KeptRejects:
        """Durably keep dead letters, quarantined readings and audit events, in one commit.

        Dead letters and quarantine are idempotent; audit events are appended (a batch retried
        after a store failure may append a refusal twice: an audit trail may over-report,
        never under-report). Dead letters stay within :class:`DeadLetterLimits`.
        """
        if not dead and not quarantined and not audits:
            return KeptRejects()
        evicted = 0
        limits = self.limits
        with self.db.write("keep rejects") as conn:
            if audits:
                conn.execute(insert(schema.audit_events), [event_row(a) for a in audits])
            if dead:
                conn.execute(
                    self.db.insert_ignoring_duplicates(schema.dead_letters),
                    [_dead_letter_row(d, limits.max_item_bytes) for d in dead],
                )
                evicted = _evict_oldest_dead_letters(conn, limits.max_rows)
            if quarantined:
                conn.execute(
                    self.db.insert_ignoring_duplicates(schema.quarantine),
                    [
                        {
                            "reading_id": r.reading_id,
                            "device_id": r.device_id,
                            "t_ms": epoch_ms(r.effective_time),
                            "received_ms": epoch_ms(r.receive_time),
                            "reason": reason,
                            "reading": json.dumps(reading_to_json(r)),
                        }
                        for r, reason in quarantined
                    ],
                )
        return KeptRejects(evicted)

    def dead_letters(
        self, *, limit: int = 100, before: str | None = None
    ) -> list[DeadLetterRecord]:
        """Newest first; ``before`` is the :attr:`DeadLetterRecord.cursor` of the last row of
        the previous page."""
        dead_letters = schema.dead_letters
        query = (
            select(dead_letters)
            .order_by(dead_letters.c.received_ms.desc(), dead_letters.c.id.desc())
            .limit(limit)
        )
        if before is not None:
            received_ms, _, last_id = before.partition(":")
            cursor_ms = int(received_ms)
            query = query.where(
                (dead_letters.c.received_ms < cursor_ms)
                | ((dead_letters.c.received_ms == cursor_ms) & (dead_letters.c.id < last_id))
            )
        with self.db.read("dead letters") as conn:
            rows = conn.execute(query).all()
        return [_dead_letter_record(row) for row in rows]

    def quarantined(self, device_id: str) -> list[Reading]:
        quarantine = schema.quarantine
        with self.db.read("quarantine") as conn:
            rows = conn.execute(
                select(quarantine.c.reading).where(quarantine.c.device_id == device_id)
            ).all()
        return [reading_from_json(json.loads(row.reading)) for row in rows]

    def release(self, reading_ids: Sequence[str]) -> None:
        """Remove readings from quarantine (once stored for their patient)."""
        if not reading_ids:
            return
        quarantine = schema.quarantine
        with self.db.write("release quarantine") as conn:
            conn.execute(delete(quarantine).where(quarantine.c.reading_id.in_(list(reading_ids))))

    def counts(self) -> RejectCounts:
        """How many dead letters and quarantined readings are kept (also: the registry
        answers)."""
        with self.db.read("counts") as conn:
            dead, quarantine = (
                int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                for table in (schema.dead_letters, schema.quarantine)
            )
        return RejectCounts(dead_letters=dead, quarantine=quarantine)
