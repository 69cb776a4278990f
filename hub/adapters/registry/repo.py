"""Registry queries. The only module that talks SQL to the registry."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hub.adapters.registry import migrations, schema
from hub.core.model import Reading, epoch_ms, from_epoch_ms, reading_from_json, reading_to_json
from hub.core.pipeline import Enrollment


class RegistryError(Exception):
    """The registry could not be read or written (translated from SQLAlchemy)."""


class EnrollmentConflict(RegistryError):
    """A new enrollment would start before the device's current one."""


class DeviceConflict(RegistryError):
    """The device id is registered already, by another maker or with another model."""


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
        try:
            migrations.upgrade(self.engine)  # an upgrade never loses data (docs/registry.md)
        except migrations.MigrationError as err:
            self.engine.dispose()
            raise RegistryError(str(err)) from err

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

    def keep_rejects(
        self,
        dead: Sequence[DeadLetter],
        held: Sequence[tuple[Reading, str]],
        audits: Sequence[AuditEvent] = (),
    ) -> None:
        """Durably keep dead letters, quarantined readings and audit events, in one commit.

        Dead letters and quarantine are idempotent; audit events are appended (a batch retried
        after a store failure may append a refusal twice: an audit trail may over-report,
        never under-report).
        """
        if not dead and not held and not audits:
            return
        with self.engine.begin() as conn:
            if audits:
                conn.execute(insert(schema.audit_events), [_audit_row(a) for a in audits])
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

    def audit_event(self, event: AuditEvent) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(schema.audit_events).values(**_audit_row(event)))

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
        self.audit_event(AuditEvent(at, actor, role, action, patient_id, outcome, detail))

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

    # --- patients ------------------------------------------------------------------------

    def register_patient(self, ins: str, *, now: datetime) -> tuple[str, bool]:
        """The pseudonymous id of the patient with this (validated) INS, created if new."""
        p = schema.patients
        with self.engine.begin() as conn:
            existing = conn.execute(select(p.c.id).where(p.c.ins == ins)).scalar_one_or_none()
            if existing is not None:
                return str(existing), False
            patient_id = f"pat-{secrets.token_hex(8)}"  # random: nothing derives it from the INS
            conn.execute(insert(p).values(id=patient_id, ins=ins, created_ms=epoch_ms(now)))
        return patient_id, True

    def patient(self, patient_id: str) -> dict[str, Any] | None:
        p = schema.patients
        with self.engine.connect() as conn:
            row = conn.execute(select(p).where(p.c.id == patient_id)).one_or_none()
        return None if row is None else dict(row._mapping)

    def set_document_visibility(self, patient_id: str, *, hidden_from_professionals: bool) -> bool:
        p = schema.patients
        with self.engine.begin() as conn:
            result = conn.execute(
                update(p)
                .where(p.c.id == patient_id)
                .values(hidden_from_professionals=hidden_from_professionals)
            )
        return result.rowcount == 1

    # --- devices and pairing ---------------------------------------------------------------

    def register_device(self, device_id: str, *, profile: str, maker: str, now: datetime) -> bool:
        """Register a device (idempotent for the same maker and model); True if new."""
        d = schema.devices
        with self.engine.begin() as conn:
            row = conn.execute(select(d).where(d.c.id == device_id)).one_or_none()
            if row is not None:
                if (row.maker, row.profile) != (maker, profile):
                    raise DeviceConflict(f"device {device_id} is registered already")
                return False
            conn.execute(
                insert(d).values(
                    id=device_id, profile=profile, maker=maker, created_ms=epoch_ms(now)
                )
            )
        return True

    def device(self, device_id: str) -> dict[str, Any] | None:
        d = schema.devices
        with self.engine.connect() as conn:
            row = conn.execute(select(d).where(d.c.id == device_id)).one_or_none()
        return None if row is None else dict(row._mapping)

    def create_pairing_code(
        self, device_id: str, *, created_by: str, now: datetime, ttl: timedelta
    ) -> str:
        """A one-time code (shown once, stored hashed) a patient uses to enroll the device."""
        code = "".join(secrets.choice(_PAIRING_ALPHABET) for _ in range(10))
        with self.engine.begin() as conn:
            conn.execute(
                insert(schema.pairing_codes).values(
                    code_hash=_hash(code),
                    device_id=device_id,
                    created_by=created_by,
                    expires_ms=epoch_ms(now + ttl),
                    used_ms=None,
                )
            )
        return code

    def redeem_pairing_code(self, code: str, device_id: str, *, now: datetime) -> bool:
        """Use a pairing code once; False if unknown, for another device, used or expired."""
        c = schema.pairing_codes
        with self.engine.begin() as conn:
            result = conn.execute(
                update(c)
                .where(
                    c.c.code_hash == _hash(code.strip().upper()),
                    c.c.device_id == device_id,
                    c.c.used_ms.is_(None),
                    c.c.expires_ms > epoch_ms(now),
                )
                .values(used_ms=epoch_ms(now))
            )
        return result.rowcount == 1

    # --- care relationships ----------------------------------------------------------------

    def add_care_relationship(
        self,
        practitioner_id: str,
        patient_id: str,
        *,
        organization: str | None,
        start: datetime,
        end: datetime | None,
    ) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(schema.care_relationships).values(
                    practitioner_id=practitioner_id,
                    patient_id=patient_id,
                    organization=organization,
                    start_ms=epoch_ms(start),
                    end_ms=None if end is None else epoch_ms(end),
                )
            )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def end_care_relationship(self, relationship_id: int, *, at: datetime) -> bool:
        c = schema.care_relationships
        with self.engine.begin() as conn:
            result = conn.execute(
                update(c)
                .where(c.c.id == relationship_id, c.c.end_ms.is_(None))
                .values(end_ms=epoch_ms(at))
            )
        return result.rowcount == 1

    def has_care_relationship(self, practitioner_id: str, patient_id: str, *, at: datetime) -> bool:
        c = schema.care_relationships
        moment = epoch_ms(at)
        with self.engine.connect() as conn:
            found = conn.execute(
                select(c.c.id)
                .where(
                    c.c.practitioner_id == practitioner_id,
                    c.c.patient_id == patient_id,
                    c.c.start_ms <= moment,
                    (c.c.end_ms.is_(None)) | (c.c.end_ms > moment),
                )
                .limit(1)
            ).first()
        return found is not None

    # --- consent -----------------------------------------------------------------------------

    def add_objection(
        self, patient_id: str, source_kind: str, source_id: str, *, now: datetime
    ) -> tuple[int, bool]:
        """Object to a source feeding the patient's space; (id, created). Idempotent."""
        o = schema.objections
        with self.engine.begin() as conn:
            existing = conn.execute(
                select(o.c.id).where(
                    o.c.patient_id == patient_id,
                    o.c.source_kind == source_kind,
                    o.c.source_id == source_id,
                    o.c.end_ms.is_(None),
                )
            ).scalar_one_or_none()
            if existing is not None:
                return int(existing), False
            result = conn.execute(
                insert(o).values(
                    patient_id=patient_id,
                    source_kind=source_kind,
                    source_id=source_id,
                    start_ms=epoch_ms(now),
                    end_ms=None,
                )
            )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0]), True

    def withdraw_objection(self, patient_id: str, objection_id: int, *, now: datetime) -> bool:
        o = schema.objections
        with self.engine.begin() as conn:
            result = conn.execute(
                update(o)
                .where(o.c.id == objection_id, o.c.patient_id == patient_id, o.c.end_ms.is_(None))
                .values(end_ms=epoch_ms(now))
            )
        return result.rowcount == 1

    def objections(self, patient_id: str) -> list[dict[str, Any]]:
        o = schema.objections
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(o).where(o.c.patient_id == patient_id).order_by(o.c.start_ms, o.c.id)
            )
            return [dict(row._mapping) for row in rows]

    def active_objections(self, patient_ids: Iterable[str]) -> set[tuple[str, str, str]]:
        """``(patient_id, source_kind, source_id)`` of every objection in force."""
        ids = sorted(set(patient_ids))
        if not ids:
            return set()
        o = schema.objections
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(o.c.patient_id, o.c.source_kind, o.c.source_id).where(
                    o.c.patient_id.in_(ids), o.c.end_ms.is_(None)
                )
            )
            return {(r.patient_id, r.source_kind, r.source_id) for r in rows}

    # --- idempotency ---------------------------------------------------------------------------

    def idempotent_response(self, principal: str, key: str) -> tuple[str, int, str] | None:
        """``(request_hash, status, response body)`` stored for this key, if any."""
        i = schema.idempotency_keys
        with self.engine.connect() as conn:
            row = conn.execute(
                select(i.c.request_hash, i.c.status, i.c.response).where(
                    i.c.principal == principal, i.c.key == key
                )
            ).one_or_none()
        return None if row is None else (row.request_hash, int(row.status), str(row.response))

    def save_idempotent_response(
        self,
        principal: str,
        key: str,
        *,
        request_hash: str,
        status: int,
        response: str,
        now: datetime,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                self._insert_ignoring_duplicates(schema.idempotency_keys).values(
                    principal=principal,
                    key=key,
                    request_hash=request_hash,
                    status=status,
                    response=response,
                    created_ms=epoch_ms(now),
                )
            )

    # --- GDPR: export and erasure ----------------------------------------------------------

    def patient_devices(self, patient_id: str) -> list[str]:
        e = schema.enrollments
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(e.c.device_id).where(e.c.patient_id == patient_id).distinct()
            )
            return sorted(str(r.device_id) for r in rows)

    def export_patient(self, patient_id: str) -> dict[str, list[dict[str, Any]]]:
        """Every registry row about the patient, by table."""
        devices = self.patient_devices(patient_id)
        queries = {
            "patients": select(schema.patients).where(schema.patients.c.id == patient_id),
            "enrollments": select(schema.enrollments).where(
                schema.enrollments.c.patient_id == patient_id
            ),
            "devices": select(schema.devices).where(schema.devices.c.id.in_(devices)),
            "care_relationships": select(schema.care_relationships).where(
                schema.care_relationships.c.patient_id == patient_id
            ),
            "objections": select(schema.objections).where(
                schema.objections.c.patient_id == patient_id
            ),
            "audit_events": select(schema.audit_events).where(
                schema.audit_events.c.patient_id == patient_id
            ),
            "outbox": select(schema.outbox).where(schema.outbox.c.patient_id == patient_id),
            "quarantine": select(schema.quarantine).where(
                schema.quarantine.c.device_id.in_(devices)
            ),
            "dead_letters": select(schema.dead_letters).where(
                schema.dead_letters.c.sender_id.in_(devices)
            ),
        }
        with self.engine.connect() as conn:
            return {
                name: [dict(row._mapping) for row in conn.execute(query)]
                for name, query in queries.items()
            }

    def erase_patient(self, patient_id: str) -> dict[str, int]:
        """Delete every registry row about the patient, in one transaction; counts by table.

        Quarantined readings and dead letters of the patient's devices go too (they may hold
        the patient's readings). The caller records the erasure itself in the audit trail.
        """
        devices = self.patient_devices(patient_id)
        statements = {
            "quarantine": delete(schema.quarantine).where(
                schema.quarantine.c.device_id.in_(devices)
            ),
            "dead_letters": delete(schema.dead_letters).where(
                schema.dead_letters.c.sender_id.in_(devices)
            ),
            "outbox": delete(schema.outbox).where(schema.outbox.c.patient_id == patient_id),
            "objections": delete(schema.objections).where(
                schema.objections.c.patient_id == patient_id
            ),
            "care_relationships": delete(schema.care_relationships).where(
                schema.care_relationships.c.patient_id == patient_id
            ),
            "enrollments": delete(schema.enrollments).where(
                schema.enrollments.c.patient_id == patient_id
            ),
            "audit_events": delete(schema.audit_events).where(
                schema.audit_events.c.patient_id == patient_id
            ),
            "patients": delete(schema.patients).where(schema.patients.c.id == patient_id),
        }
        with self.engine.begin() as conn:
            return {
                name: conn.execute(statement).rowcount for name, statement in statements.items()
            }

    def close(self) -> None:
        self.engine.dispose()


def _audit_row(event: AuditEvent) -> dict[str, Any]:
    return {
        "at_ms": epoch_ms(event.at),
        "actor": event.actor,
        "role": event.role,
        "action": event.action,
        "patient_id": event.patient_id,
        "outcome": event.outcome,
        "detail": event.detail,
    }


_PAIRING_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed by hand


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
