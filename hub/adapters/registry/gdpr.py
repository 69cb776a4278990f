"""GDPR: everything the registry holds about a patient — exported, or erased."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, delete, select

from hub.adapters.registry import schema
from hub.adapters.registry.database import Database

Cell = str | int | float | bool | bytes | None


def _cell(value: object) -> Cell:
    if value is None or isinstance(value, str | int | float | bool | bytes):
        return value
    raise TypeError(f"a registry column holds a {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class TableRows:
    """The rows of one table about the patient, in the table's column order."""

    table: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]

    def records(self) -> list[dict[str, Cell]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True, slots=True)
class PatientExport:
    """Every registry row about one patient, table by table."""

    patient_id: str
    tables: tuple[TableRows, ...]

    def table(self, name: str) -> TableRows:
        for found in self.tables:
            if found.table == name:
                return found
        raise KeyError(name)


class Gdpr:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _devices(self, patient_id: str) -> list[str]:
        e = schema.enrollments
        with self.db.read("patient devices") as conn:
            rows = conn.execute(
                select(e.c.device_id).where(e.c.patient_id == patient_id).distinct()
            )
            return sorted(str(r.device_id) for r in rows)

    def export(self, patient_id: str) -> PatientExport:
        """Every registry row about the patient, by table."""
        devices = self._devices(patient_id)
        queries: dict[str, Select[tuple[object, ...]]] = {
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
        tables = []
        with self.db.read("export") as conn:
            for name, query in queries.items():
                result = conn.execute(query)
                rows = tuple(tuple(_cell(v) for v in row) for row in result)
                tables.append(TableRows(name, tuple(result.keys()), rows))
        return PatientExport(patient_id, tuple(tables))

    def erase(self, patient_id: str) -> dict[str, int]:
        """Delete every registry row about the patient, in one transaction; counts by table.

        Quarantined readings and dead letters of the patient's devices go too (they may hold
        the patient's readings). The caller records the erasure itself in the audit trail.
        """
        devices = self._devices(patient_id)
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
        with self.db.write("erase") as conn:
            return {
                name: conn.execute(statement).rowcount for name, statement in statements.items()
            }
