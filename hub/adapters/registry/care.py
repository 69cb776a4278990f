"""Care relationships: which practitioner cares for which patient, over which period
(table ``care_relationships``). A practitioner reads a patient's data only during one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update

from hub.adapters.registry import schema
from hub.adapters.registry.database import Database
from hub.core.model import epoch_ms


class Care:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
        self,
        practitioner_id: str,
        patient_id: str,
        *,
        organization: str | None,
        start: datetime,
        end: datetime | None,
    ) -> int:
        """The new relationship's id."""
        with self.db.write("add care relationship") as conn:
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

    def end(self, relationship_id: int, *, at: datetime) -> str | None:
        """End an active relationship; the patient's id, or None if none was active."""
        care_relationships = schema.care_relationships
        with self.db.write("end care relationship") as conn:
            patient = conn.execute(
                select(care_relationships.c.patient_id).where(
                    care_relationships.c.id == relationship_id,
                    care_relationships.c.end_ms.is_(None),
                )
            ).scalar_one_or_none()
            if patient is None:
                return None
            conn.execute(
                update(care_relationships)
                .where(care_relationships.c.id == relationship_id)
                .values(end_ms=epoch_ms(at))
            )
        return str(patient)

    def in_care(self, practitioner_id: str, patient_id: str, *, at: datetime) -> bool:
        """Whether a relationship of the practitioner with the patient covers ``at``."""
        care_relationships = schema.care_relationships
        moment = epoch_ms(at)
        with self.db.read("care relationship") as conn:
            found = conn.execute(
                select(care_relationships.c.id)
                .where(
                    care_relationships.c.practitioner_id == practitioner_id,
                    care_relationships.c.patient_id == patient_id,
                    care_relationships.c.start_ms <= moment,
                    (care_relationships.c.end_ms.is_(None))
                    | (care_relationships.c.end_ms > moment),
                )
                .limit(1)
            ).first()
        return found is not None
