"""Consent: a patient's objections to sources (a device, a provider) feeding their space,
each over a period (table ``objections``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update

from hub.adapters.registry import schema
from hub.adapters.registry.database import Database
from hub.core.model import epoch_ms, from_epoch_ms


@dataclass(frozen=True, slots=True)
class ObjectionRecord:
    """An objection: in force from ``start``, until ``end`` (None: in force)."""

    id: int
    patient_id: str
    source_kind: str  # device | provider
    source_id: str
    start: datetime
    end: datetime | None


class Consent:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add_objection(
        self, patient_id: str, source_kind: str, source_id: str, *, now: datetime
    ) -> tuple[int, bool]:
        """Object to a source feeding the patient's space; (id, created). Idempotent."""
        objections = schema.objections
        with self.db.write("add objection") as conn:
            existing = conn.execute(
                select(objections.c.id).where(
                    objections.c.patient_id == patient_id,
                    objections.c.source_kind == source_kind,
                    objections.c.source_id == source_id,
                    objections.c.end_ms.is_(None),
                )
            ).scalar_one_or_none()
            if existing is not None:
                return int(existing), False
            result = conn.execute(
                insert(objections).values(
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
        """False unless this objection of this patient was in force."""
        objections = schema.objections
        with self.db.write("withdraw objection") as conn:
            result = conn.execute(
                update(objections)
                .where(
                    objections.c.id == objection_id,
                    objections.c.patient_id == patient_id,
                    objections.c.end_ms.is_(None),
                )
                .values(end_ms=epoch_ms(now))
            )
        return result.rowcount == 1

    def objections(self, patient_id: str) -> list[ObjectionRecord]:
        """The patient's objections, in force and withdrawn, oldest first."""
        objections = schema.objections
        with self.db.read("objections") as conn:
            rows = conn.execute(
                select(objections)
                .where(objections.c.patient_id == patient_id)
                .order_by(objections.c.start_ms, objections.c.id)
            ).all()
        return [
            ObjectionRecord(
                id=int(row.id),
                patient_id=str(row.patient_id),
                source_kind=str(row.source_kind),
                source_id=str(row.source_id),
                start=from_epoch_ms(row.start_ms),
                end=None if row.end_ms is None else from_epoch_ms(row.end_ms),
            )
            for row in rows
        ]

    def active_objections(self, patient_ids: Iterable[str]) -> set[tuple[str, str, str]]:
        """``(patient_id, source_kind, source_id)`` of every objection in force."""
        ids = sorted(set(patient_ids))
        if not ids:
            return set()
        objections = schema.objections
        with self.db.read("active objections") as conn:
            rows = conn.execute(
                select(
                    objections.c.patient_id, objections.c.source_kind, objections.c.source_id
                ).where(objections.c.patient_id.in_(ids), objections.c.end_ms.is_(None))
            )
            return {(r.patient_id, r.source_kind, r.source_id) for r in rows}
