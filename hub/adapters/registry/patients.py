"""Patients: the pseudonymous id, the INS (its only column in the hub), document visibility
and the patient's preferences (table ``patients``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update

from hub.adapters.registry import schema
from hub.adapters.registry.database import Database
from hub.core.model import epoch_ms, from_epoch_ms

DEFAULT_LANGUAGE = "fr"
DEFAULT_GLUCOSE_UNIT = "mg/dL"


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """A registered patient: the pseudonymous ``id`` used everywhere, the INS (needed only to
    match provider pushes and to file documents), and the document visibility they chose."""

    id: str
    ins: str
    created: datetime
    hidden_from_professionals: bool


@dataclass(frozen=True, slots=True)
class PatientPreferences:
    """What a patient chose: zone (None: the hub's default), language of documents and of
    the page, glucose unit, and the monitoring program they follow (None: none)."""

    zone: str | None = None
    language: str = DEFAULT_LANGUAGE
    glucose_unit: str = DEFAULT_GLUCOSE_UNIT
    program: str | None = None


class Patients:
    def __init__(self, db: Database) -> None:
        self.db = db

    def register(self, ins: str, *, now: datetime) -> tuple[str, bool]:
        """(pseudonymous id, created) of the patient with this (validated) INS, created if
        new."""
        patients = schema.patients
        with self.db.write("register patient") as conn:
            existing = conn.execute(
                select(patients.c.id).where(patients.c.ins == ins)
            ).scalar_one_or_none()
            if existing is not None:
                return str(existing), False
            patient_id = f"pat-{secrets.token_hex(8)}"  # random: nothing derives it from the INS
            conn.execute(insert(patients).values(id=patient_id, ins=ins, created_ms=epoch_ms(now)))
        return patient_id, True

    def get(self, patient_id: str) -> PatientRecord | None:
        patients = schema.patients
        with self.db.read("patient") as conn:
            row = conn.execute(
                select(
                    patients.c.id,
                    patients.c.ins,
                    patients.c.created_ms,
                    patients.c.hidden_from_professionals,
                ).where(patients.c.id == patient_id)
            ).one_or_none()
        if row is None:
            return None
        return PatientRecord(
            id=str(row.id),
            ins=str(row.ins),
            created=from_epoch_ms(row.created_ms),
            hidden_from_professionals=bool(row.hidden_from_professionals),
        )

    def id_by_ins(self, ins: str) -> str | None:
        """The pseudonymous id of the patient registered with this (validated) INS, if any
        (read-only: a provider's FHIR ``Observation.subject`` is checked with it)."""
        patients = schema.patients
        with self.db.read("patient by INS") as conn:
            found = conn.execute(
                select(patients.c.id).where(patients.c.ins == ins)
            ).scalar_one_or_none()
        return None if found is None else str(found)

    def set_document_visibility(self, patient_id: str, *, hidden_from_professionals: bool) -> bool:
        """False if the patient is not registered."""
        patients = schema.patients
        with self.db.write("document visibility") as conn:
            result = conn.execute(
                update(patients)
                .where(patients.c.id == patient_id)
                .values(hidden_from_professionals=hidden_from_professionals)
            )
        return result.rowcount == 1

    def preferences(self, patient_id: str) -> PatientPreferences:
        """The patient's preferences; the defaults for a patient the registry does not know
        (readings may belong to a pseudonymous id that was never registered with an INS)."""
        patients = schema.patients
        with self.db.read("preferences") as conn:
            row = conn.execute(
                select(
                    patients.c.zone,
                    patients.c.language,
                    patients.c.glucose_unit,
                    patients.c.program,
                ).where(patients.c.id == patient_id)
            ).one_or_none()
        if row is None:
            return PatientPreferences()
        return PatientPreferences(
            zone=row.zone,
            language=row.language or DEFAULT_LANGUAGE,
            glucose_unit=row.glucose_unit or DEFAULT_GLUCOSE_UNIT,
            program=row.program,
        )

    def set_preferences(self, patient_id: str, preferences: PatientPreferences) -> bool:
        """Store the preferences of a registered patient; False if the patient is unknown."""
        patients = schema.patients
        with self.db.write("set preferences") as conn:
            result = conn.execute(
                update(patients)
                .where(patients.c.id == patient_id)
                .values(
                    zone=preferences.zone,
                    language=preferences.language,
                    glucose_unit=preferences.glucose_unit,
                    program=preferences.program,
                )
            )
        return result.rowcount == 1
