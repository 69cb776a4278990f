"""SQLite time-series backend: the embedded default (zero setup).

Schema: one ``WITHOUT ROWID`` table clustered on ``(patient_id, metric, t_ms, reading_id)`` so
a patient's range scan for a metric reads contiguous pages; a unique index on ``reading_id``
makes every write an idempotent upsert (``INSERT OR IGNORE``: a reading's identity fixes its
content, so the first copy is the copy).

Durability: WAL journal with ``synchronous=FULL``. In WAL mode ``NORMAL`` survives a process
crash but may lose the last transactions on power loss; since the bridge acknowledges a batch
as soon as ``write_batch`` returns, the commit must reach the disk first. Batching commits
(hundreds of readings per transaction) keeps ``FULL`` affordable (docs/performance.md).

Concurrency: one connection per thread (SQLite connections are not shared across threads);
WAL lets API readers run while the bridge writes; ``busy_timeout`` absorbs short write locks.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from hub.model import Reading, Source, TimeSource, epoch_ms, from_epoch_ms
from hub.store.base import Series, StoreError, StoreUnavailable, WriteResult, validate_for_store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    patient_id  TEXT    NOT NULL,
    metric      TEXT    NOT NULL,
    t_ms        INTEGER NOT NULL,
    reading_id  TEXT    NOT NULL,
    device_id   TEXT    NOT NULL,
    value       REAL    NOT NULL,
    unit        TEXT    NOT NULL,
    receive_ms  INTEGER NOT NULL,
    device_time TEXT,
    time_source TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    seq         INTEGER,
    flags       TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (patient_id, metric, t_ms, reading_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS readings_identity ON readings (reading_id);
"""

_INSERT = (
    "INSERT OR IGNORE INTO readings (patient_id, metric, t_ms, reading_id, device_id, value,"
    " unit, receive_ms, device_time, time_source, source, seq, flags)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_COLUMNS = (
    "patient_id, metric, t_ms, reading_id, device_id, value, unit, receive_ms, device_time,"
    " time_source, source, seq, flags"
)


def _row(reading: Reading) -> tuple[object, ...]:
    return (
        reading.patient_id,
        reading.metric,
        epoch_ms(reading.effective_time),
        reading.reading_id,
        reading.device_id,
        reading.value,
        reading.unit,
        epoch_ms(reading.receive_time),
        reading.device_time,
        reading.time_source.value,
        reading.source.value,
        reading.seq,
        ",".join(reading.flags),
    )


def _reading(row: tuple[Any, ...]) -> Reading:
    (
        patient_id,
        metric,
        t_ms,
        reading_id,
        device_id,
        value,
        unit,
        receive_ms,
        device_time,
        time_source,
        source,
        seq,
        flags,
    ) = row
    return Reading(
        reading_id=str(reading_id),
        patient_id=str(patient_id),
        device_id=str(device_id),
        metric=str(metric),
        value=float(value),
        unit=str(unit),
        effective_time=from_epoch_ms(int(t_ms)),
        receive_time=from_epoch_ms(int(receive_ms)),
        device_time=None if device_time is None else str(device_time),
        time_source=TimeSource(time_source),
        source=Source(source),
        seq=None if seq is None else int(seq),
        flags=tuple(str(flags).split(",")) if flags else (),
    )


@contextmanager
def _translate(what: str) -> Iterator[None]:
    """Turn sqlite3 errors into store errors: locked, busy, IO and disk-full are retryable."""
    try:
        yield
    except sqlite3.OperationalError as err:
        raise StoreUnavailable(f"sqlite {what}: {err}") from err
    except sqlite3.Error as err:
        raise StoreError(f"sqlite {what}: {err}") from err


class SqliteReadingStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        with _translate("open"):
            self._conn().executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def write_batch(self, readings: Sequence[Reading]) -> WriteResult:
        for reading in readings:
            validate_for_store(reading)
        if not readings:
            return WriteResult(0, 0)
        rows = [_row(r) for r in readings]
        conn = self._conn()
        with _translate("write"):
            conn.execute("BEGIN IMMEDIATE")
            try:
                cursor = conn.executemany(_INSERT, rows)
                written = cursor.rowcount
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return WriteResult(written=written, duplicates=len(rows) - written)

    def series(self, patient_id: str, metric: str, start: datetime, end: datetime) -> Series:
        with _translate("read"):
            rows = (
                self._conn()
                .execute(
                    "SELECT t_ms, value FROM readings WHERE patient_id = ? AND metric = ?"
                    " AND t_ms >= ? AND t_ms < ? ORDER BY t_ms, reading_id",
                    (patient_id, metric, epoch_ms(start), epoch_ms(end)),
                )
                .fetchall()
            )
        if not rows:
            return Series(np.empty(0, np.int64), np.empty(0, np.float64))
        array = np.array(rows, dtype=np.float64)
        return Series(array[:, 0].astype(np.int64), array[:, 1])

    def readings(
        self,
        patient_id: str,
        metrics: Sequence[str] | None,
        start: datetime,
        end: datetime,
        *,
        after: tuple[int, str] | None = None,
        limit: int = 500,
    ) -> list[Reading]:
        sql = f"SELECT {_COLUMNS} FROM readings WHERE patient_id = ?"  # noqa: S608 - constants
        params: list[object] = [patient_id]
        if metrics:
            sql += f" AND metric IN ({','.join('?' * len(metrics))})"
            params.extend(metrics)
        sql += " AND t_ms >= ? AND t_ms < ?"
        params += [epoch_ms(start), epoch_ms(end)]
        if after is not None:
            sql += " AND (t_ms > ? OR (t_ms = ? AND reading_id > ?))"
            params += [after[0], after[0], after[1]]
        sql += " ORDER BY t_ms, reading_id LIMIT ?"
        params.append(limit)
        with _translate("read"):
            rows = self._conn().execute(sql, params).fetchall()
        return [_reading(row) for row in rows]

    def erase_patient(self, patient_id: str) -> int:
        with _translate("erase"):
            cursor = self._conn().execute(
                "DELETE FROM readings WHERE patient_id = ?", (patient_id,)
            )
        return cursor.rowcount

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()
