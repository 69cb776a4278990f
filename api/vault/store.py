"""The reference vault's storage: document bytes as files, an index in SQLite.

A submission is stored in two steps that make it durable and all-or-nothing: the documents'
bytes are written to ``files/<binary id>`` (temporary file, ``fsync``, rename — rewriting the
same bytes is harmless), then one SQLite transaction inserts the SubmissionSet and every
DocumentReference and marks the documents they replace ``superseded``. A crash between the
two leaves only unreferenced files, which a resend rewrites.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JSON = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    unique_id TEXT NOT NULL UNIQUE,
    patient_ins TEXT NOT NULL,
    source_patient_id TEXT,
    status TEXT NOT NULL,
    type_code TEXT NOT NULL,
    class_code TEXT NOT NULL,
    date TEXT NOT NULL,
    hidden INTEGER NOT NULL,
    binary_id TEXT NOT NULL UNIQUE,
    content_type TEXT NOT NULL,
    sha1 TEXT NOT NULL,
    submission_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    received_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_patient ON documents (patient_ins, date);
CREATE INDEX IF NOT EXISTS documents_source_patient ON documents (source_patient_id);
CREATE TABLE IF NOT EXISTS submissions (
    id TEXT PRIMARY KEY,
    unique_id TEXT NOT NULL UNIQUE,
    source_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    received_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    patient TEXT,
    outcome TEXT NOT NULL,
    detail TEXT
);
"""


@dataclass(frozen=True, slots=True)
class StoredDocument:
    id: str
    unique_id: str
    patient_ins: str
    source_patient_id: str | None
    status: str
    type_code: str  # system|code
    class_code: str  # system|code
    date: str
    hidden: bool
    binary_id: str
    content_type: str
    sha1: str
    resource: JSON


@dataclass(frozen=True, slots=True)
class NewDocument:
    document: StoredDocument
    data: bytes
    replaces: tuple[str, ...]  # ids of the documents it supersedes


def _document(row: sqlite3.Row) -> StoredDocument:
    return StoredDocument(
        id=row["id"],
        unique_id=row["unique_id"],
        patient_ins=row["patient_ins"],
        source_patient_id=row["source_patient_id"],
        status=row["status"],
        type_code=row["type_code"],
        class_code=row["class_code"],
        date=row["date"],
        hidden=bool(row["hidden"]),
        binary_id=row["binary_id"],
        content_type=row["content_type"],
        sha1=row["sha1"],
        resource=json.loads(row["resource"]),
    )


@dataclass(frozen=True, slots=True)
class Query:
    """An ITI-67 search, already resolved to the patient's INS."""

    patient_ins: frozenset[str]
    statuses: frozenset[str] = frozenset()
    type_codes: frozenset[str] = frozenset()
    class_codes: frozenset[str] = frozenset()
    dates: tuple[tuple[str, str], ...] = ()  # (SQL operator, RFC 3339 UTC) on date
    include_hidden: bool = True


class VaultStore:
    def __init__(self, data_dir: Path) -> None:
        self.files = data_dir / "files"
        self.files.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "vault.sqlite3"
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            yield conn
        finally:
            conn.close()

    def _write_file(self, name: str, data: bytes) -> None:
        target = self.files / name
        partial = target.with_suffix(".part")
        with partial.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(target)

    def store(
        self,
        submission_id: str,
        submission_unique_id: str,
        source_id: str,
        submission: JSON,
        documents: Sequence[NewDocument],
        *,
        now_ms: int,
    ) -> None:
        """Store a submission and its documents; supersede what they replace."""
        for new in documents:
            self._write_file(new.document.binary_id, new.data)
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT INTO submissions VALUES (?, ?, ?, ?, ?)",
                    (
                        submission_id,
                        submission_unique_id,
                        source_id,
                        json.dumps(submission),
                        now_ms,
                    ),
                )
                for new in documents:
                    document = new.document
                    conn.execute(
                        f"INSERT INTO documents VALUES ({', '.join('?' * 15)})",  # noqa: S608
                        (
                            document.id,
                            document.unique_id,
                            document.patient_ins,
                            document.source_patient_id,
                            document.status,
                            document.type_code,
                            document.class_code,
                            document.date,
                            int(document.hidden),
                            document.binary_id,
                            document.content_type,
                            document.sha1,
                            submission_id,
                            json.dumps(document.resource),
                            now_ms,
                        ),
                    )
                    for replaced in new.replaces:
                        conn.execute(
                            "UPDATE documents SET status = 'superseded' WHERE id = ?", (replaced,)
                        )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def by_unique_ids(self, unique_ids: Sequence[str]) -> list[StoredDocument]:
        marks = ",".join("?" * len(unique_ids))
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT * FROM documents WHERE unique_id IN ({marks})",  # noqa: S608 - placeholders only
                list(unique_ids),
            ).fetchall()
        return [_document(r) for r in rows]

    def document(self, document_id: str) -> StoredDocument | None:
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM documents WHERE id = ?", (document_id,)).fetchone()
        return None if row is None else _document(row)

    def by_binary(self, binary_id: str) -> StoredDocument | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT * FROM documents WHERE binary_id = ?", (binary_id,)
            ).fetchone()
        return None if row is None else _document(row)

    def read_file(self, binary_id: str) -> bytes:
        return (self.files / binary_id).read_bytes()

    def ins_of_source_patient(self, source_patient_id: str) -> frozenset[str]:
        """The INS a source's patient id was filed under (how a patient token finds its own)."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT DISTINCT patient_ins FROM documents WHERE source_patient_id = ?",
                (source_patient_id,),
            ).fetchall()
        return frozenset(str(r["patient_ins"]) for r in rows)

    def search(self, query: Query) -> list[StoredDocument]:
        """Documents matching an ITI-67 query, newest first."""
        clauses = [f"patient_ins IN ({','.join('?' * len(query.patient_ins))})"]
        values: list[Any] = sorted(query.patient_ins)
        for column, wanted in (
            ("status", query.statuses),
            ("type_code", query.type_codes),
            ("class_code", query.class_codes),
        ):
            if wanted:
                clauses.append(f"{column} IN ({','.join('?' * len(wanted))})")
                values += sorted(wanted)
        for operator, moment in query.dates:
            clauses.append(f"date {operator} ?")
            values.append(moment)
        if not query.include_hidden:
            clauses.append("hidden = 0")
        sql = f"SELECT * FROM documents WHERE {' AND '.join(clauses)} ORDER BY date DESC, id"  # noqa: S608 - placeholders only
        with self._connect() as conn:
            return [_document(r) for r in conn.execute(sql, values).fetchall()]

    def audit(
        self,
        *,
        at_ms: int,
        actor: str,
        role: str,
        action: str,
        patient: str | None,
        outcome: str,
        detail: str | None = None,
    ) -> None:
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO audit (at_ms, actor, role, action, patient, outcome, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (at_ms, actor, role, action, patient, outcome, detail),
            )

    def audit_trail(self) -> list[JSON]:
        with self._connect() as conn:
            return [dict(r) for r in conn.execute("SELECT * FROM audit ORDER BY id").fetchall()]
