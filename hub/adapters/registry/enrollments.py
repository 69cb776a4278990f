"""Enrollments: which device feeds which patient, over which period (table ``enrollments``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from hub.adapters.registry import schema
from hub.adapters.registry.database import Database
from hub.adapters.registry.errors import EnrollmentConflict, EnrollmentNotFound
from hub.core.model import epoch_ms, from_epoch_ms
from hub.core.pipeline import Enrollment


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


def _record(row: Any) -> EnrollmentRecord:
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


class Enrollments:
    def __init__(self, db: Database) -> None:
        self.db = db

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
        enrollments = schema.enrollments
        with self.db.write("enroll") as conn:
            current = conn.execute(
                select(enrollments.c.id, enrollments.c.start_ms).where(
                    enrollments.c.device_id == device_id, enrollments.c.end_ms.is_(None)
                )
            ).all()
            for row in current:
                if row.start_ms >= start_ms:
                    raise EnrollmentConflict(
                        f"device {device_id} has an enrollment starting at or after "
                        f"{start.isoformat()}"
                    )
                conn.execute(
                    update(enrollments).where(enrollments.c.id == row.id).values(end_ms=start_ms)
                )
            key = conn.execute(
                insert(enrollments).values(
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
            row = conn.execute(select(enrollments).where(enrollments.c.id == key[0])).one()
        return _record(row)

    def get(self, enrollment_id: int) -> EnrollmentRecord | None:
        enrollments = schema.enrollments
        with self.db.read("enrollment") as conn:
            row = conn.execute(
                select(enrollments).where(enrollments.c.id == enrollment_id)
            ).one_or_none()
        return None if row is None else _record(row)

    def of_device(self, device_id: str) -> list[EnrollmentRecord]:
        """Every enrollment of the device, oldest first."""
        enrollments = schema.enrollments
        with self.db.read("device enrollments") as conn:
            rows = conn.execute(
                select(enrollments)
                .where(enrollments.c.device_id == device_id)
                .order_by(enrollments.c.start_ms, enrollments.c.id)
            ).all()
        return [_record(row) for row in rows]

    def of_patient(self, patient_id: str) -> list[EnrollmentRecord]:
        """Every enrollment of the patient, oldest first."""
        enrollments = schema.enrollments
        with self.db.read("patient enrollments") as conn:
            rows = conn.execute(
                select(enrollments)
                .where(enrollments.c.patient_id == patient_id)
                .order_by(enrollments.c.start_ms, enrollments.c.id)
            ).all()
        return [_record(row) for row in rows]

    def correct(
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
        enrollments = schema.enrollments
        with self.db.write("correct enrollment") as conn:
            row = conn.execute(
                select(enrollments).where(enrollments.c.id == enrollment_id)
            ).one_or_none()
            if row is None:
                raise EnrollmentNotFound(f"no enrollment {enrollment_id}")
            before = _record(row)
            start_ms = epoch_ms(start) if start is not None else row.start_ms
            end_ms = (
                row.end_ms if isinstance(end, _Keep) else (None if end is None else epoch_ms(end))
            )
            if end_ms is not None and end_ms <= start_ms:
                raise EnrollmentConflict("the enrollment would end before it starts")
            others = conn.execute(
                select(enrollments).where(
                    enrollments.c.device_id == row.device_id, enrollments.c.id != enrollment_id
                )
            ).all()
            for other in others:
                if _overlap(start_ms, end_ms, other.start_ms, other.end_ms):
                    raise EnrollmentConflict(
                        f"device {row.device_id} would belong to two patients at once "
                        f"(enrollment {other.id})"
                    )
            conn.execute(
                update(enrollments)
                .where(enrollments.c.id == enrollment_id)
                .values(patient_id=patient_id or row.patient_id, start_ms=start_ms, end_ms=end_ms)
            )
            after = _record(
                conn.execute(select(enrollments).where(enrollments.c.id == enrollment_id)).one()
            )
        return before, after

    def delete(self, enrollment_id: int) -> EnrollmentRecord:
        """Remove a mistaken enrollment (its readings are attributed afresh by the caller)."""
        enrollments = schema.enrollments
        with self.db.write("delete enrollment") as conn:
            row = conn.execute(
                select(enrollments).where(enrollments.c.id == enrollment_id)
            ).one_or_none()
            if row is None:
                raise EnrollmentNotFound(f"no enrollment {enrollment_id}")
            conn.execute(delete(enrollments).where(enrollments.c.id == enrollment_id))
        return _record(row)

    def for_devices(self, device_ids: Iterable[str]) -> dict[str, list[Enrollment]]:
        """The periods of each device (every id asked for is a key; [] for none)."""
        ids = sorted(set(device_ids))
        result: dict[str, list[Enrollment]] = {d: [] for d in ids}
        if not ids:
            return result
        enrollments = schema.enrollments
        # Runs for every ingested batch: only the four columns, read as plain tuples.
        query = select(
            enrollments.c.device_id,
            enrollments.c.patient_id,
            enrollments.c.start_ms,
            enrollments.c.end_ms,
        )
        with self.db.read("enrollments") as conn:
            rows = conn.execute(query.where(enrollments.c.device_id.in_(ids))).all()
        for device_id, patient_id, start_ms, end_ms in rows:
            result[device_id].append(
                Enrollment(
                    device_id,
                    patient_id,
                    from_epoch_ms(start_ms),
                    None if end_ms is None else from_epoch_ms(end_ms),
                )
            )
        return result
