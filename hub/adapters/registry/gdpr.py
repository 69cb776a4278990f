"""GDPR: everything the registry holds about a patient — exported, or erased — from one map.

:data:`TABLES` says, for every table of the registry, how its rows relate to a patient:

* :class:`ByPatient` — rows whose column is the patient's pseudonymous id: exported, erased;
* :class:`ByDevice` — rows of a device *while the patient held it*: the device's enrollments
  to the patient give periods ``[start, end)``, and a row belongs to the patient when its
  instant falls in a period of its device (an interval row: when it overlaps one). Erased, or
  exported only when the row is about the device, which lives on with its next holder;
* :class:`NoPatientData` — nothing in it relates to a patient, and the reason why.

:meth:`Gdpr.export` and :meth:`Gdpr.erase` both walk the map with the same matching, so they
cannot drift apart; :func:`map_problems` (run by the tests) finds a table the map misses and
a column named like a patient, device or sender in a table said to hold no patient data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Connection,
    MetaData,
    RowMapping,
    Table,
    and_,
    delete,
    false,
    or_,
    select,
    true,
    tuple_,
)

from hub.adapters.registry import schema
from hub.adapters.registry.database import Database
from hub.core.model import epoch_ms, reading_from_json
from hub.core.pipeline import attribution_time

Cell = str | int | float | bool | bytes | None


@dataclass(frozen=True, slots=True)
class ByPatient:
    """Rows whose ``column`` is the patient's pseudonymous id: exported and erased."""

    column: str = "patient_id"

    @property
    def erased(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class ByDevice:
    """Rows of a device (``device`` names it) while the patient held it.

    The row's instant is the column ``at`` (epoch ms), or — when it cannot be read from a
    column — ``instant(row)``; with ``until``, the row covers ``[at, until)`` (NULL: still)
    and belongs to every holder whose period it overlaps. Neither: every row of a device the
    patient ever held. ``erased`` False: exported, never erased (``kept``: why).
    """

    device: str
    at: str | None = None
    until: str | None = None
    instant: Callable[[RowMapping], int] | None = None
    erased: bool = True
    kept: str | None = None


@dataclass(frozen=True, slots=True)
class NoPatientData:
    """No row of the table relates to a patient (``why``)."""

    why: str

    @property
    def erased(self) -> bool:
        return False


Relation = ByPatient | ByDevice | NoPatientData


def _attribution_ms(row: RowMapping) -> int:
    """A quarantined reading's instant as attribution sees it: its own time, or when the hub
    received it if that time cannot be trusted (``hub.core.pipeline.attribution_time``)."""
    return epoch_ms(attribution_time(reading_from_json(json.loads(row["reading"]))))


# Every table of schema.metadata, and how its rows relate to a patient (export order).
TABLES: dict[str, Relation] = {
    "patients": ByPatient("id"),
    "enrollments": ByPatient(),
    "devices": ByDevice(
        "id", erased=False, kept="a device lives on: its next holder uses the same row"
    ),
    "care_relationships": ByPatient(),
    "objections": ByPatient(),
    "audit_events": ByPatient(),
    "documents": ByPatient(),
    "document_filings": ByPatient(),
    "quarantine": ByDevice("device_id", instant=_attribution_ms),
    "dead_letters": ByDevice("device_id", at="received_ms"),
    "pairing_codes": ByDevice(
        "device_id",
        at="used_ms",
        erased=False,
        kept="the code of a device its maker issued, spent; who redeemed it is the enrollment",
    ),
    "gateway_devices": ByDevice(
        "device_id",
        at="start_ms",
        until="end_ms",
        erased=False,
        kept="which gateway may speak for a device: the gateway's and the device's, not theirs",
    ),
    "programs": NoPatientData("monitoring programmes: names, thresholds and report periods"),
    "gateways": NoPatientData(
        "a gateway registered by its maker (owner), its zone and last status; which patient"
        " it served is known through its devices' enrollments only"
    ),
    "idempotency_keys": NoPatientData(
        "a provider's stored answers to its retried pushes (counts and per-item reasons),"
        " keyed by the provider; no column names a patient or a device"
    ),
}

# A column that would tie a row to a patient, by its name.
_IDENTIFYING = re.compile(r"patient|device|sender|subject|(^|_)ins($|_)")


def map_problems(
    metadata: MetaData = schema.metadata, tables: Mapping[str, Relation] = TABLES
) -> list[str]:
    """What is wrong with a table map for ``metadata`` (empty: nothing): tables it misses or
    does not know, columns it names that do not exist, and columns named like a patient,
    device or sender in a table said to hold no patient data."""
    problems = [f"{name}: not in the map" for name in metadata.tables if name not in tables]
    problems += [f"{name}: no such table" for name in tables if name not in metadata.tables]
    for name, relation in tables.items():
        table = metadata.tables.get(name)
        if table is None:
            continue
        if isinstance(relation, NoPatientData):
            problems += [
                f"{name}.{column.name}: named like an identifier in a table said to hold no"
                " patient data"
                for column in table.columns
                if _IDENTIFYING.search(column.name)
            ]
            continue
        named = (
            [relation.column]
            if isinstance(relation, ByPatient)
            else [relation.device, relation.at, relation.until]
        )
        problems += [
            f"{name}.{column}: no such column"
            for column in named
            if column is not None and column not in table.columns
        ]
    return problems


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
    """Every registry row about one patient, table by table (every table of the map that
    relates to patients, in its order; empty ones too)."""

    patient_id: str
    tables: tuple[TableRows, ...]

    def table(self, name: str) -> TableRows:
        for found in self.tables:
            if found.table == name:
                return found
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class _Period:
    device_id: str
    start_ms: int
    end_ms: int | None

    def holds(self, device_id: str, at_ms: int) -> bool:
        return (
            device_id == self.device_id
            and self.start_ms <= at_ms
            and (self.end_ms is None or at_ms < self.end_ms)
        )


def _periods(conn: Connection, patient_id: str) -> list[_Period]:
    enrollments = schema.enrollments
    rows = conn.execute(
        select(enrollments.c.device_id, enrollments.c.start_ms, enrollments.c.end_ms).where(
            enrollments.c.patient_id == patient_id
        )
    )
    return [_Period(str(r.device_id), int(r.start_ms), r.end_ms) for r in rows]


def _where(
    table: Table, relation: ByPatient | ByDevice, patient_id: str, periods: Sequence[_Period]
) -> ColumnElement[bool]:
    """The rows the relation gives the patient (before ``ByDevice.instant``, if any)."""
    if isinstance(relation, ByPatient):
        return table.c[relation.column] == patient_id
    if not periods:
        return false()
    device = table.c[relation.device]
    if relation.at is None:  # every row of a device they held (or ``instant`` decides)
        return device.in_(sorted({p.device_id for p in periods}))
    at = table.c[relation.at]
    clauses = []
    for period in periods:
        before_end = true() if period.end_ms is None else at < period.end_ms
        if relation.until is None:
            after_start = at >= period.start_ms
        else:
            until = table.c[relation.until]
            after_start = until.is_(None) | (until > period.start_ms)
        clauses.append(and_(device == period.device_id, after_start, before_end))
    return or_(*clauses)


def _rows(
    conn: Connection,
    table: Table,
    relation: ByPatient | ByDevice,
    patient_id: str,
    periods: Sequence[_Period],
) -> list[RowMapping]:
    query = select(table).where(_where(table, relation, patient_id, periods))
    rows: Iterable[RowMapping] = conn.execute(query).mappings()
    if isinstance(relation, ByDevice) and relation.instant is not None:
        instant = relation.instant
        device = relation.device
        rows = (r for r in rows if any(p.holds(r[device], instant(r)) for p in periods))
    return list(rows)


def _cell(value: object) -> Cell:
    if value is None or isinstance(value, str | int | float | bool | bytes):
        return value
    raise TypeError(f"a registry column holds a {type(value).__name__}")


_CHUNK = 500  # rows deleted by key per statement (bound parameters stay few)


def _delete(
    conn: Connection,
    table: Table,
    relation: ByPatient | ByDevice,
    patient_id: str,
    periods: Sequence[_Period],
) -> int:
    if not (isinstance(relation, ByDevice) and relation.instant is not None):
        return int(
            conn.execute(delete(table).where(_where(table, relation, patient_id, periods))).rowcount
        )
    # The instant is computed in Python: delete exactly the rows export gives, by key.
    key = list(table.primary_key.columns)
    keys = [
        tuple(row[c.name] for c in key) for row in _rows(conn, table, relation, patient_id, periods)
    ]
    deleted = 0
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        where = key[0].in_([k[0] for k in chunk]) if len(key) == 1 else tuple_(*key).in_(chunk)
        deleted += int(conn.execute(delete(table).where(where)).rowcount)
    return deleted


class Gdpr:
    def __init__(self, db: Database) -> None:
        self.db = db

    def export(self, patient_id: str) -> PatientExport:
        """Every registry row about the patient, by table (:data:`TABLES`)."""
        tables = []
        with self.db.read("export") as conn:
            periods = _periods(conn, patient_id)
            for name, relation in TABLES.items():
                if isinstance(relation, NoPatientData):
                    continue
                table = schema.metadata.tables[name]
                found = _rows(conn, table, relation, patient_id, periods)
                columns = tuple(c.name for c in table.columns)
                rows = tuple(tuple(_cell(r[c]) for c in columns) for r in found)
                tables.append(TableRows(name, columns, rows))
        return PatientExport(patient_id, tuple(tables))

    def erase(self, patient_id: str) -> dict[str, int]:
        """Delete every registry row about the patient (:data:`TABLES`: those it erases), in
        one transaction; rows deleted, by table.

        Dead letters and quarantined readings of the patient's devices go when they fall in
        the periods the patient held the device (they may hold the patient's readings); the
        periods are read in the same transaction, before the enrollments go. On SQLite the
        deleted rows are overwritten (``secure_delete``) and the log is truncated after the
        commit. The caller records the erasure itself in the audit trail.
        """
        counts: dict[str, int] = {}
        with self.db.write("erase") as conn:
            periods = _periods(conn, patient_id)
            for name, relation in TABLES.items():
                if isinstance(relation, NoPatientData) or not relation.erased:
                    continue
                table = schema.metadata.tables[name]
                counts[name] = _delete(conn, table, relation, patient_id, periods)
        self.db.truncate_log()
        return counts
