"""Registry queries. The only module that talks SQL to the registry, with ``filings``
(the filed documents and their outbox)."""

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
from hub.core.wire import GatewayStatus, encode_gateway_status, parse_gateway_status


class RegistryError(Exception):
    """The registry could not be read or written (translated from SQLAlchemy)."""


class RegistryUnavailable(RegistryError):
    """The registry's database cannot be reached now (connection refused, locked, timed out):
    retry later. Raised at the registry's one translation point."""


class EnrollmentConflict(RegistryError):
    """A new enrollment would start before the device's current one."""


class EnrollmentNotFound(RegistryError):
    """No enrollment has this id."""


class _Keep:
    """Marker: leave this field as it is (``None`` means something else: open-ended)."""


KEEP = _Keep()


@dataclass(frozen=True, slots=True)
class EnrollmentRecord:
    """A stored enrollment: who bound the device to the patient, for which period."""

    id: int
    device_id: str
    patient_id: str
    start: datetime
    end: datetime | None
    created: datetime
    created_by: str
    created_by_role: str

    @property
    def period(self) -> Enrollment:
        return Enrollment(self.device_id, self.patient_id, self.start, self.end)


def _enrollment_record(row: Any) -> EnrollmentRecord:
    return EnrollmentRecord(
        id=int(row.id),
        device_id=str(row.device_id),
        patient_id=str(row.patient_id),
        start=from_epoch_ms(row.start_ms),
        end=None if row.end_ms is None else from_epoch_ms(row.end_ms),
        created=from_epoch_ms(row.created_ms),
        created_by=str(row.created_by),
        created_by_role=str(row.created_by_role),
    )


def _overlap(start_a: int, end_a: int | None, start_b: int, end_b: int | None) -> bool:
    """Whether [start_a, end_a) and [start_b, end_b) share an instant (None: open-ended)."""
    return (end_b is None or start_a < end_b) and (end_a is None or start_b < end_a)


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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # rows written before an ack must survive
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


DEFAULT_LANGUAGE = "fr"
DEFAULT_GLUCOSE_UNIT = "mg/dL"


@dataclass(frozen=True, slots=True)
class PatientPreferences:
    """What a patient chose: zone (None: the hub's default), language of documents and of
    the page, glucose unit, and the monitoring program they follow (None: none)."""

    zone: str | None = None
    language: str = DEFAULT_LANGUAGE
    glucose_unit: str = DEFAULT_GLUCOSE_UNIT
    program: str | None = None


@dataclass(frozen=True, slots=True)
class ProgramRecord:
    """A remote-monitoring program: its alert thresholds (fields of
    ``hub.core.summaries.AlertThresholds``; absent ones take the defaults) and the periods
    its reports cover (``week``, ``month``)."""

    id: str
    name: str
    thresholds: dict[str, float]
    report_periods: tuple[str, ...] = ("week", "month")


def _program_record(row: Any) -> ProgramRecord:
    return ProgramRecord(
        id=str(row.id),
        name=str(row.name),
        thresholds={str(k): float(v) for k, v in json.loads(row.thresholds).items()},
        report_periods=tuple(str(p) for p in json.loads(row.report_periods)),
    )


@dataclass(frozen=True, slots=True)
class GatewayHealth:
    """A gateway's retained status as the hub last recorded it (docs/wire.md).

    ``since``: when the hub first received the current state; ``reported``: the gateway's own
    time in its last status; ``details``: the last status that carried details (outbox,
    devices), kept through an ``offline`` last will."""

    status: str
    since: datetime
    reported: datetime | None
    details: GatewayStatus | None


@dataclass(frozen=True, slots=True)
class GatewayRecord:
    id: str
    owner: str
    zone: str | None
    created: datetime
    revoked: datetime | None
    devices: tuple[str, ...]  # paired now
    health: GatewayHealth | None = None  # None: it never reported its status


@dataclass(frozen=True, slots=True)
class GatewayPairings:
    """Which devices a gateway may speak for, and when (``[start, end)``; end None: still)."""

    gateway_id: str
    revoked: datetime | None
    devices: dict[str, list[tuple[datetime, datetime | None]]]

    def may_speak_for(self, device_id: str, at: datetime) -> bool:
        if self.revoked is not None and at >= self.revoked:
            return False
        return any(
            start <= at and (end is None or at < end)
            for start, end in self.devices.get(device_id, ())
        )


def _gateway_record(conn: Any, row: Any) -> GatewayRecord:
    p = schema.gateway_devices
    devices = conn.execute(
        select(p.c.device_id)
        .where(p.c.gateway_id == row.id, p.c.end_ms.is_(None))
        .order_by(p.c.device_id)
    ).scalars()
    return GatewayRecord(
        id=str(row.id),
        owner=str(row.owner),
        zone=row.zone,
        created=from_epoch_ms(row.created_ms),
        revoked=None if row.revoked_ms is None else from_epoch_ms(row.revoked_ms),
        devices=tuple(str(d) for d in devices),
        health=_gateway_health(row),
    )


def _gateway_health(row: Any) -> GatewayHealth | None:
    if row.status is None or row.status_since_ms is None:
        return None
    reported = row.status_reported_ms
    return GatewayHealth(
        status=str(row.status),
        since=from_epoch_ms(row.status_since_ms),
        reported=None if reported is None else from_epoch_ms(reported),
        # written by record_gateway_status from a parsed status: it parses again
        details=None if row.health is None else parse_gateway_status(row.health.encode()),
    )


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


class Registry:
    def __init__(self, url: str, *, dead_letter_limits: DeadLetterLimits | None = None) -> None:
        self.dead_letter_limits = dead_letter_limits or DeadLetterLimits()
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
        role: str,
        created: datetime,
    ) -> EnrollmentRecord:
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
            key = conn.execute(
                insert(e).values(
                    device_id=device_id,
                    patient_id=patient_id,
                    start_ms=start_ms,
                    end_ms=None,
                    created_ms=epoch_ms(created),
                    created_by=actor,
                    created_by_role=role,
                )
            ).inserted_primary_key
            assert key is not None
            row = conn.execute(select(e).where(e.c.id == key[0])).one()
        return _enrollment_record(row)

    def enrollment(self, enrollment_id: int) -> EnrollmentRecord | None:
        e = schema.enrollments
        with self.engine.connect() as conn:
            row = conn.execute(select(e).where(e.c.id == enrollment_id)).one_or_none()
        return None if row is None else _enrollment_record(row)

    def device_enrollments(self, device_id: str) -> list[EnrollmentRecord]:
        """Every enrollment of the device, oldest first."""
        e = schema.enrollments
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(e).where(e.c.device_id == device_id).order_by(e.c.start_ms, e.c.id)
            ).all()
        return [_enrollment_record(row) for row in rows]

    def patient_enrollments(self, patient_id: str) -> list[EnrollmentRecord]:
        e = schema.enrollments
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(e).where(e.c.patient_id == patient_id).order_by(e.c.start_ms, e.c.id)
            ).all()
        return [_enrollment_record(row) for row in rows]

    def correct_enrollment(
        self,
        enrollment_id: int,
        *,
        patient_id: str | None = None,
        start: datetime | None = None,
        end: datetime | _Keep | None = KEEP,
    ) -> tuple[EnrollmentRecord, EnrollmentRecord]:
        """Change an enrollment's patient, start or end (``end=None``: open again); (before,
        after). Refused (:class:`EnrollmentConflict`) if the device would then belong to two
        patients at once, or the period would be empty."""
        e = schema.enrollments
        with self.engine.begin() as conn:
            row = conn.execute(select(e).where(e.c.id == enrollment_id)).one_or_none()
            if row is None:
                raise EnrollmentNotFound(f"no enrollment {enrollment_id}")
            before = _enrollment_record(row)
            start_ms = epoch_ms(start) if start is not None else row.start_ms
            end_ms = (
                row.end_ms if isinstance(end, _Keep) else (None if end is None else epoch_ms(end))
            )
            if end_ms is not None and end_ms <= start_ms:
                raise EnrollmentConflict("the enrollment would end before it starts")
            others = conn.execute(
                select(e).where(e.c.device_id == row.device_id, e.c.id != enrollment_id)
            ).all()
            for other in others:
                if _overlap(start_ms, end_ms, other.start_ms, other.end_ms):
                    raise EnrollmentConflict(
                        f"device {row.device_id} would belong to two patients at once "
                        f"(enrollment {other.id})"
                    )
            conn.execute(
                update(e)
                .where(e.c.id == enrollment_id)
                .values(patient_id=patient_id or row.patient_id, start_ms=start_ms, end_ms=end_ms)
            )
            after = _enrollment_record(conn.execute(select(e).where(e.c.id == enrollment_id)).one())
        return before, after

    def delete_enrollment(self, enrollment_id: int) -> EnrollmentRecord:
        """Remove a mistaken enrollment (its readings are attributed afresh by the caller)."""
        e = schema.enrollments
        with self.engine.begin() as conn:
            row = conn.execute(select(e).where(e.c.id == enrollment_id)).one_or_none()
            if row is None:
                raise EnrollmentNotFound(f"no enrollment {enrollment_id}")
            conn.execute(delete(e).where(e.c.id == enrollment_id))
        return _enrollment_record(row)

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
    ) -> KeptRejects:
        """Durably keep dead letters, quarantined readings and audit events, in one commit.

        Dead letters and quarantine are idempotent; audit events are appended (a batch retried
        after a store failure may append a refusal twice: an audit trail may over-report,
        never under-report). Dead letters stay within :class:`DeadLetterLimits`.
        """
        if not dead and not held and not audits:
            return KeptRejects()
        evicted = 0
        limits = self.dead_letter_limits
        with self.engine.begin() as conn:
            if audits:
                conn.execute(insert(schema.audit_events), [_audit_row(a) for a in audits])
            if dead:
                conn.execute(
                    self._insert_ignoring_duplicates(schema.dead_letters),
                    [_dead_letter_row(d, limits.max_item_bytes) for d in dead],
                )
                evicted = _evict_oldest_dead_letters(conn, limits.max_rows)
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
        return KeptRejects(evicted)

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

    def patient_id_by_ins(self, ins: str) -> str | None:
        """The pseudonymous id of the patient registered with this (validated) INS, if any
        (read-only: a provider's FHIR ``Observation.subject`` is checked with it)."""
        p = schema.patients
        with self.engine.connect() as conn:
            found = conn.execute(select(p.c.id).where(p.c.ins == ins)).scalar_one_or_none()
        return None if found is None else str(found)

    def set_document_visibility(self, patient_id: str, *, hidden_from_professionals: bool) -> bool:
        p = schema.patients
        with self.engine.begin() as conn:
            result = conn.execute(
                update(p)
                .where(p.c.id == patient_id)
                .values(hidden_from_professionals=hidden_from_professionals)
            )
        return result.rowcount == 1

    def patient_preferences(self, patient_id: str) -> PatientPreferences:
        """The patient's preferences; the defaults for a patient the registry does not know
        (readings may belong to a pseudonymous id that was never registered with an INS)."""
        p = schema.patients
        with self.engine.connect() as conn:
            row = conn.execute(
                select(p.c.zone, p.c.language, p.c.glucose_unit, p.c.program).where(
                    p.c.id == patient_id
                )
            ).one_or_none()
        if row is None:
            return PatientPreferences()
        return PatientPreferences(
            zone=row.zone,
            language=row.language or DEFAULT_LANGUAGE,
            glucose_unit=row.glucose_unit or DEFAULT_GLUCOSE_UNIT,
            program=row.program,
        )

    def set_patient_preferences(self, patient_id: str, preferences: PatientPreferences) -> bool:
        """Store the preferences of a registered patient; False if the patient is unknown."""
        p = schema.patients
        with self.engine.begin() as conn:
            result = conn.execute(
                update(p)
                .where(p.c.id == patient_id)
                .values(
                    zone=preferences.zone,
                    language=preferences.language,
                    glucose_unit=preferences.glucose_unit,
                    program=preferences.program,
                )
            )
        return result.rowcount == 1

    # --- monitoring programs ---------------------------------------------------------------

    def save_program(self, program: ProgramRecord, *, now: datetime) -> bool:
        """Create or update a program; True if it is new."""
        g = schema.programs
        values = {
            "name": program.name,
            "thresholds": json.dumps(program.thresholds, sort_keys=True),
            "report_periods": json.dumps(list(program.report_periods)),
        }
        with self.engine.begin() as conn:
            existing = conn.execute(select(g.c.id).where(g.c.id == program.id)).first()
            if existing is None:
                conn.execute(insert(g).values(id=program.id, created_ms=epoch_ms(now), **values))
                return True
            conn.execute(update(g).where(g.c.id == program.id).values(**values))
        return False

    def program(self, program_id: str) -> ProgramRecord | None:
        g = schema.programs
        with self.engine.connect() as conn:
            row = conn.execute(select(g).where(g.c.id == program_id)).one_or_none()
        return None if row is None else _program_record(row)

    def programs(self) -> list[ProgramRecord]:
        g = schema.programs
        with self.engine.connect() as conn:
            rows = conn.execute(select(g).order_by(g.c.id)).all()
        return [_program_record(row) for row in rows]

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

    def device_in_use(self, device_id: str) -> bool:
        """Whether the hub holds anything of this device id: an enrollment, or readings in
        quarantine (attributed readings imply an enrollment)."""
        e, q = schema.enrollments, schema.quarantine
        with self.engine.connect() as conn:
            for table in (e, q):
                found = conn.execute(
                    select(table.c.device_id).where(table.c.device_id == device_id).limit(1)
                ).first()
                if found is not None:
                    return True
        return False

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

    # --- gateways ------------------------------------------------------------------------------

    def register_gateway(
        self, gateway_id: str, *, owner: str, zone: str | None, now: datetime
    ) -> GatewayRecord:
        """Register a gateway (idempotent for the same owner); :class:`DeviceConflict` if
        another owner has it."""
        g = schema.gateways
        with self.engine.begin() as conn:
            row = conn.execute(select(g).where(g.c.id == gateway_id)).one_or_none()
            if row is not None:
                if row.owner != owner:
                    raise DeviceConflict(f"gateway {gateway_id} is registered already")
                if zone is not None and zone != row.zone:
                    conn.execute(update(g).where(g.c.id == gateway_id).values(zone=zone))
            else:
                conn.execute(
                    insert(g).values(
                        id=gateway_id, owner=owner, zone=zone, created_ms=epoch_ms(now)
                    )
                )
            row = conn.execute(select(g).where(g.c.id == gateway_id)).one()
            return _gateway_record(conn, row)

    def gateway(self, gateway_id: str) -> GatewayRecord | None:
        g = schema.gateways
        with self.engine.connect() as conn:
            row = conn.execute(select(g).where(g.c.id == gateway_id)).one_or_none()
            return None if row is None else _gateway_record(conn, row)

    def record_gateway_status(
        self, gateway_id: str, status: GatewayStatus, *, received: datetime
    ) -> bool:
        """Record a gateway's retained status; False for a gateway that is not registered.

        The state's ``since`` moves only when the state changes; a status with details (an
        ``online`` one) replaces the recorded details, a bare last will keeps them.
        """
        g = schema.gateways
        values: dict[str, Any] = {
            "status": status.status,
            "status_reported_ms": None if status.time is None else epoch_ms(status.time),
        }
        if status.outbox is not None or status.devices:
            values["health"] = encode_gateway_status(status).decode()
        with self.engine.begin() as conn:
            row = conn.execute(select(g.c.status).where(g.c.id == gateway_id)).one_or_none()
            if row is None:
                return False
            if row.status != status.status:
                values["status_since_ms"] = epoch_ms(received)
            conn.execute(update(g).where(g.c.id == gateway_id).values(**values))
        return True

    def revoke_gateway(self, gateway_id: str, *, now: datetime) -> bool:
        g = schema.gateways
        with self.engine.begin() as conn:
            result = conn.execute(
                update(g)
                .where(g.c.id == gateway_id, g.c.revoked_ms.is_(None))
                .values(revoked_ms=epoch_ms(now))
            )
        return result.rowcount == 1

    def pair_gateway_device(self, gateway_id: str, device_id: str, *, now: datetime) -> bool:
        """Let the gateway speak for the device from now on; False if it already may."""
        p = schema.gateway_devices
        with self.engine.begin() as conn:
            current = conn.execute(
                select(p.c.start_ms).where(
                    p.c.gateway_id == gateway_id, p.c.device_id == device_id, p.c.end_ms.is_(None)
                )
            ).first()
            if current is not None:
                return False
            conn.execute(
                insert(p).values(
                    gateway_id=gateway_id, device_id=device_id, start_ms=epoch_ms(now), end_ms=None
                )
            )
        return True

    def unpair_gateway_device(self, gateway_id: str, device_id: str, *, now: datetime) -> bool:
        p = schema.gateway_devices
        with self.engine.begin() as conn:
            result = conn.execute(
                update(p)
                .where(
                    p.c.gateway_id == gateway_id, p.c.device_id == device_id, p.c.end_ms.is_(None)
                )
                .values(end_ms=epoch_ms(now))
            )
        return result.rowcount == 1

    def gateway_pairings(self, gateway_ids: Iterable[str]) -> dict[str, GatewayPairings]:
        """For each known gateway: whether it is revoked, and the periods of its devices."""
        ids = sorted(set(gateway_ids))
        if not ids:
            return {}
        g, p = schema.gateways, schema.gateway_devices
        result: dict[str, GatewayPairings] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(select(g.c.id, g.c.revoked_ms).where(g.c.id.in_(ids))):
                revoked = None if row.revoked_ms is None else from_epoch_ms(row.revoked_ms)
                result[row.id] = GatewayPairings(row.id, revoked, {})
            for row in conn.execute(select(p).where(p.c.gateway_id.in_(list(result)))):
                end = None if row.end_ms is None else from_epoch_ms(row.end_ms)
                periods = result[row.gateway_id].devices.setdefault(row.device_id, [])
                periods.append((from_epoch_ms(row.start_ms), end))
        return result

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

    def end_care_relationship(self, relationship_id: int, *, at: datetime) -> str | None:
        """End an active relationship; the patient's id, or None if none was active."""
        c = schema.care_relationships
        with self.engine.begin() as conn:
            patient = conn.execute(
                select(c.c.patient_id).where(c.c.id == relationship_id, c.c.end_ms.is_(None))
            ).scalar_one_or_none()
            if patient is None:
                return None
            conn.execute(update(c).where(c.c.id == relationship_id).values(end_ms=epoch_ms(at)))
        return str(patient)

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
            "documents": select(schema.documents).where(
                schema.documents.c.patient_id == patient_id
            ),
            "document_filings": select(schema.document_filings).where(
                schema.document_filings.c.patient_id == patient_id
            ),
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
            "documents": delete(schema.documents).where(
                schema.documents.c.patient_id == patient_id
            ),
            "document_filings": delete(schema.document_filings).where(
                schema.document_filings.c.patient_id == patient_id
            ),
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


def _evict_oldest_dead_letters(conn: Any, max_rows: int) -> int:
    d = schema.dead_letters
    excess = int(conn.execute(select(func.count()).select_from(d)).scalar_one()) - max_rows
    if excess <= 0:
        return 0
    oldest = select(d.c.id).order_by(d.c.received_ms, d.c.id).limit(excess).scalar_subquery()
    return int(conn.execute(delete(d).where(d.c.id.in_(oldest))).rowcount)


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
