"""SQLite time-series backend: the embedded default (zero setup).

Schema: one ``WITHOUT ROWID`` table clustered on ``(patient_id, metric, t_ms, reading_id)``:
a patient's range scan of a metric reads contiguous pages in time order, and the latest reading
of a metric is one index seek from the end. The reading order (``base.ReadingCursor``: time,
then ``seq``, then identity) differs from the key only inside one millisecond, so for one
metric SQLite still walks the key range and sorts only the ties (query plans in
:meth:`SqliteReadingStore.readings`). A unique
index on ``reading_id`` makes every write an idempotent upsert (``INSERT OR IGNORE``: a
reading's identity fixes its content, so the first copy is the copy) — wherever the resend
lands in time. Flags are stored as a JSON list (a flag may contain any character).

``device_readings`` (re-attribution, rare) scans the table: an index on ``(device_id, t_ms)``
made it 2-70x faster but cost every write 16 % (measured with ``bench.store``, 100 patients x
30 days, 880k rows: 52k -> 44k rows/s; a device's month 155 -> 67 ms, a scale's 100 -> 1.4 ms).
Like retention, it is a full scan by choice.

Provenance (``value_sent``, ``unit_sent``, ``utc_offset_min``, ``clock_offset_ms``,
``time_zone``) is five typed nullable columns rather than one JSON column: a row without
provenance (every row written before it existed) costs one header byte per NULL column; the
read path builds readings from columns without parsing JSON per row; the integers stay
integers; and ``ALTER TABLE ... ADD COLUMN`` adds a nullable column without rewriting a row,
so the upgrade of an existing file is instant. (JSON's advantage, one key per new field with
no schema change, is what InfluxDB's ``meta`` field needs — not SQLite.)

Schema versions (``PRAGMA user_version``), upgraded in place when a store opens, in one
transaction (all or nothing; a second process opening the file at the same moment waits for
it, then finds it done):

* 0 — the first release: the table without provenance, the identity index;
* 1 — the provenance columns.

A file of a newer version than this code knows is refused (:class:`StoreError`).

Durability: WAL journal with ``synchronous=FULL``. In WAL mode ``NORMAL`` survives a process
crash but may lose the last transactions on power loss (the WAL is only synced at checkpoints);
since the bridge acknowledges a batch as soon as ``write_batch`` returns, the commit must be on
the disk first, so each commit syncs the WAL. One commit per batch keeps that affordable:
about 6,000 commits/s with ``FULL`` were measured on the development machine; at hundreds or
thousands of readings per commit the sync is noise (docs/performance.md).

Concurrency: one connection per thread (SQLite connections are not shared across threads);
WAL lets API readers run while the bridge writes (a reader sees whole batches, never half of
one); ``busy_timeout`` absorbs short write locks, after which :class:`StoreUnavailable`.

Erasure runs with ``secure_delete`` on (freed pages are zeroed) and truncates the WAL after,
so an erased patient's values do not linger in free pages or in the log.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from device_profiles.vocabulary import METRICS
from hub.adapters.store.base import (
    NO_SEQ,
    Downsampled,
    ReadingCursor,
    Series,
    StoreError,
    StoreUnavailable,
    WriteResult,
    validate_for_store,
    validate_moves,
)
from hub.adapters.store.buckets import bucket_for_range
from hub.core.model import Reading, Source, TimeSource, epoch_ms, from_epoch_ms

# Version 0, as the first release created it (a new file is created at 0, then upgraded).
_SCHEMA_V0 = """
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
) WITHOUT ROWID
"""
_IDENTITY_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS readings_identity ON readings (reading_id)"

_PROVENANCE_COLUMNS = (
    ("value_sent", "TEXT"),
    ("unit_sent", "TEXT"),
    ("utc_offset_min", "INTEGER"),
    ("clock_offset_ms", "INTEGER"),
    ("time_zone", "TEXT"),
)


def _to_v1(conn: sqlite3.Connection) -> None:
    """The provenance columns (NULL in every existing row). Adds only what is missing, so it
    also completes a file some other tool half-upgraded."""
    present = {str(row[1]) for row in conn.execute("PRAGMA table_info(readings)")}
    for name, kind in _PROVENANCE_COLUMNS:
        if name not in present:
            conn.execute(f"ALTER TABLE readings ADD COLUMN {name} {kind}")


# _UPGRADES[n] takes a file from version n to n + 1.
_UPGRADES: tuple[Callable[[sqlite3.Connection], None], ...] = (_to_v1,)
SCHEMA_VERSION = len(_UPGRADES)

_COLUMNS = (
    "patient_id, metric, t_ms, reading_id, device_id, value, unit, receive_ms, device_time,"
    " time_source, source, seq, flags, value_sent, unit_sent, utc_offset_min, clock_offset_ms,"
    " time_zone"
)
_INSERT = (
    f"INSERT OR IGNORE INTO readings ({_COLUMNS})"  # noqa: S608 - constants
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_ORDER = "t_ms, COALESCE(seq, -1), reading_id"  # base.ReadingCursor; -1 is base.NO_SEQ
_ORDER_DESC = "t_ms DESC, COALESCE(seq, -1) DESC, reading_id DESC"
_TRUSTED = f"time_source != '{TimeSource.UNTRUSTED.value}'"
assert NO_SEQ == -1, "_ORDER spells NO_SEQ out"

# SQLite primary result codes that mean "not now" (retry) rather than "never".
_TRANSIENT = {
    5: "busy",
    6: "locked",
    7: "out of memory",
    8: "read-only",
    10: "I/O error",
    13: "disk full",
    14: "cannot open",
    15: "locking protocol",
}


def _flags_text(flags: tuple[str, ...]) -> str:
    return json.dumps(list(flags), ensure_ascii=False) if flags else ""


def _flags(text: str) -> tuple[str, ...]:
    if not text:
        return ()
    if text.startswith("["):
        return tuple(json.loads(text))
    return tuple(text.split(","))  # written before flags were JSON


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
        _flags_text(reading.flags),
        reading.value_sent,
        reading.unit_sent,
        reading.utc_offset_min,
        reading.clock_offset_ms,
        reading.time_zone,
    )


def _readings(rows: list[Any]) -> list[Reading]:
    try:
        return [_reading(row) for row in rows]
    except (ValueError, TypeError) as err:
        raise StoreError(f"sqlite: a stored row is not a valid reading: {err}") from err


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


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
        value_sent,
        unit_sent,
        utc_offset_min,
        clock_offset_ms,
        time_zone,
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
        device_time=_text(device_time),
        time_source=TimeSource(time_source),
        source=Source(source),
        seq=_int(seq),
        flags=_flags(str(flags)),
        value_sent=_text(value_sent),
        unit_sent=_text(unit_sent),
        utc_offset_min=_int(utc_offset_min),
        clock_offset_ms=_int(clock_offset_ms),
        time_zone=_text(time_zone),
    )


@contextmanager
def _translate(what: str, path: Path) -> Iterator[None]:
    """sqlite3 errors -> store errors: busy, locked, I/O, disk full... are retryable; the rest
    (corruption, a closed store, a bug) is a plain :class:`StoreError`."""
    try:
        yield
    except sqlite3.Error as err:
        code = getattr(err, "sqlite_errorcode", None)
        kind = _TRANSIENT.get(code & 0xFF) if isinstance(code, int) else None
        if kind is None and isinstance(err, sqlite3.OperationalError) and code is None:
            kind = "operational error"
        if kind is not None:
            raise StoreUnavailable(f"sqlite {what} on {path}: {kind}: {err}") from err
        raise StoreError(f"sqlite {what} on {path}: {err}") from err
    except OSError as err:
        raise StoreUnavailable(f"sqlite {what} on {path}: {err}") from err


class SqliteReadingStore:
    def __init__(self, path: Path | str, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        with _translate("open", self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._upgrade()

    def _upgrade(self) -> None:
        """Bring the file to :data:`SCHEMA_VERSION` (see the module docstring)."""
        if self._version() == SCHEMA_VERSION:
            return  # the usual open: no write lock taken
        with self._transaction("upgrade") as conn:
            # Read again under the write lock: another process may have upgraded meanwhile.
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"sqlite {self.path}: schema version {version} was written by a newer hub"
                    f" (this one knows up to {SCHEMA_VERSION}); refusing to open it"
                )
            conn.execute(_SCHEMA_V0)
            conn.execute(_IDENTITY_INDEX)
            for upgrade in _UPGRADES[version:]:
                upgrade(conn)
            # user_version lives in the file header: it commits with the upgrade, or not at all.
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _version(self) -> int:
        return int(self._query("open", "PRAGMA user_version", ())[0][0])

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout_s,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # see the module docstring
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
            # Inserts into the identity index land on random pages: a larger cache and fewer
            # checkpoints (every ~40 MB of WAL, not 4 MB) gave +20 % rows/s at 1M rows.
            conn.execute("PRAGMA cache_size=-65536")  # KiB: 64 MiB per connection
            conn.execute("PRAGMA wal_autocheckpoint=10000")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        with _translate(what, self.path):
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _query(self, what: str, sql: str, params: Sequence[object]) -> list[Any]:
        with _translate(what, self.path):
            return self._conn().execute(sql, params).fetchall()

    # -- writes ----------------------------------------------------------------------------

    def write_batch(
        self, readings: Sequence[Reading], *, prevalidated: bool = False
    ) -> WriteResult:
        if not prevalidated:
            for reading in readings:
                validate_for_store(reading)
        if not readings:
            return WriteResult(0, 0)
        rows = [_row(r) for r in readings]
        with self._transaction("write") as conn:
            written = conn.executemany(_INSERT, rows).rowcount
        return WriteResult(written=written, duplicates=len(rows) - written)

    def reassign(self, moves: Sequence[tuple[Reading, str]]) -> int:
        # Identity and current patient: a reading already moved (or moved elsewhere since)
        # matches nothing, which is what makes a second run a no-op.
        updates = [(new, r.reading_id, r.patient_id) for r, new in validate_moves(moves).values()]
        if not updates:
            return 0
        with self._transaction("reassign") as conn:
            moved = conn.executemany(
                "UPDATE readings SET patient_id = ? WHERE reading_id = ? AND patient_id = ?",
                updates,
            ).rowcount
        return int(moved)

    def delete_readings(self, readings: Sequence[Reading]) -> int:
        if not readings:
            return 0
        with self._transaction("delete") as conn:
            deleted = conn.executemany(
                "DELETE FROM readings WHERE reading_id = ? AND patient_id = ?",
                [(r.reading_id, r.patient_id) for r in readings],
            ).rowcount
        return int(deleted)

    # -- reads -----------------------------------------------------------------------------

    def series(self, patient_id: str, metric: str, start: datetime, end: datetime) -> Series:
        sql = (
            "SELECT t_ms, value FROM readings WHERE patient_id = ? AND metric = ?"  # noqa: S608
            f" AND t_ms >= ? AND t_ms < ? AND {_TRUSTED} ORDER BY "
        )
        params = (patient_id, metric, epoch_ms(start), epoch_ms(end))
        # The primary key's own order first: sorting by seq costs every row (measured: 0.09 ->
        # 0.17 ms for a day of CGM), and readings sharing a millisecond are rare.
        rows = self._query("series", sql + "t_ms, reading_id", params)
        if not rows:
            return Series(np.empty(0, np.int64), np.empty(0, np.float64))
        times = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        if len(rows) > 1 and not bool(np.all(np.diff(times) > 0)):
            rows = self._query("series", sql + _ORDER, params)
            times = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        values = np.fromiter((r[1] for r in rows), np.float64, len(rows))
        return Series(times, values)

    def readings(
        self,
        patient_id: str,
        metrics: Sequence[str] | None,
        start: datetime,
        end: datetime,
        *,
        after: ReadingCursor | None = None,
        limit: int = 500,
        include_untrusted: bool = False,
    ) -> list[Reading]:
        if limit <= 0:
            return []
        sql = f"SELECT {_COLUMNS} FROM readings WHERE patient_id = ?"  # noqa: S608 - constants
        params: list[object] = [patient_id]
        if metrics:
            sql += f" AND metric IN ({','.join('?' * len(metrics))})"
            params.extend(metrics)
        # Query plans measured (SQLite 3.40, EXPLAIN QUERY PLAN):
        #   one metric:   SEARCH readings USING PRIMARY KEY (patient_id=? AND metric=? AND
        #                 t_ms>? AND t_ms<?) + USE TEMP B-TREE FOR RIGHT PART OF ORDER BY
        #                 (a sort of each millisecond's ties only; LIMIT stops the walk);
        #   some metrics: the same range per metric + USE TEMP B-TREE FOR ORDER BY;
        #   all metrics:  SEARCH ... USING PRIMARY KEY (patient_id=?) + a sort — unchanged
        #                 from the (time, identity) order, which sorted the same way.
        lower = epoch_ms(start)
        if after is not None:
            after = after.checked()
            # The cursor's time as a plain bound as well: the row value below alone is not a
            # range SQLite can seek the primary key with (its middle term is an expression).
            lower = max(lower, after.t_ms)
        sql += " AND t_ms >= ? AND t_ms < ?"
        params += [lower, epoch_ms(end)]
        if after is not None:
            sql += " AND (t_ms, COALESCE(seq, -1), reading_id) > (?, ?, ?)"
            params += [after.t_ms, after.seq, after.reading_id]
        if not include_untrusted:
            sql += f" AND {_TRUSTED}"
        sql += f" ORDER BY {_ORDER} LIMIT ?"
        params.append(limit)
        return _readings(self._query("readings", sql, params))

    def device_readings(self, device_id: str, start: datetime, end: datetime) -> list[Reading]:
        sql = (
            f"SELECT {_COLUMNS} FROM readings WHERE device_id = ?"  # noqa: S608 - constants
            f" AND t_ms >= ? AND t_ms < ? ORDER BY {_ORDER}"
        )
        return _readings(
            self._query("device readings", sql, (device_id, epoch_ms(start), epoch_ms(end)))
        )

    def downsample(
        self,
        patient_id: str,
        metric: str,
        start: datetime,
        end: datetime,
        bucket: timedelta | None = None,
    ) -> Downsampled:
        start_ms, end_ms = epoch_ms(start), epoch_ms(end)
        bucket_ms = bucket_for_range(start_ms, end_ms, bucket)
        rows = self._query(
            "downsample",
            "SELECT t_ms - t_ms % ?1 AS b, avg(value), min(value), max(value), count(*)"  # noqa: S608
            " FROM readings WHERE patient_id = ?2 AND metric = ?3 AND t_ms >= ?4 AND t_ms < ?5"
            f" AND {_TRUSTED} GROUP BY b ORDER BY b",
            (bucket_ms, patient_id, metric, start_ms, end_ms),
        )
        if not rows:
            return Downsampled.empty(bucket_ms)
        columns = list(zip(*rows, strict=True))
        return Downsampled(
            bucket_ms=bucket_ms,
            starts_ms=np.array(columns[0], np.int64),
            mean=np.array(columns[1], np.float64),
            min=np.array(columns[2], np.float64),
            max=np.array(columns[3], np.float64),
            count=np.array(columns[4], np.int64),
        )

    def latest(self, patient_id: str, metrics: Sequence[str] | None = None) -> dict[str, Reading]:
        # One index seek per metric of the vocabulary (a DISTINCT over the patient's metrics
        # would scan all their rows), walking back past untrusted times (usually none).
        sql = (
            f"SELECT {_COLUMNS} FROM readings WHERE patient_id = ? AND metric = ?"  # noqa: S608
            f" AND {_TRUSTED} ORDER BY {_ORDER_DESC} LIMIT 1"
        )
        latest: dict[str, Reading] = {}
        with _translate("latest", self.path):
            conn = self._conn()
            rows = [conn.execute(sql, (patient_id, m)).fetchone() for m in metrics or METRICS]
        for reading in _readings([row for row in rows if row is not None]):
            latest[reading.metric] = reading
        return latest

    def count(
        self,
        patient_id: str | None = None,
        metrics: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        include_untrusted: bool = True,
    ) -> int:
        clauses: list[str] = []
        params: list[object] = []
        if patient_id is not None:
            clauses.append("patient_id = ?")
            params.append(patient_id)
        if metrics:
            clauses.append(f"metric IN ({','.join('?' * len(metrics))})")
            params.extend(metrics)
        if start is not None:
            clauses.append("t_ms >= ?")
            params.append(epoch_ms(start))
        if end is not None:
            clauses.append("t_ms < ?")
            params.append(epoch_ms(end))
        if not include_untrusted:
            clauses.append(_TRUSTED)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT count(*) FROM readings{where}"  # noqa: S608 - constant clauses
        return int(self._query("count", sql, params)[0][0])

    # -- deletion --------------------------------------------------------------------------

    def erase_patient(self, patient_id: str) -> int:
        with _translate("erase", self.path):
            conn = self._conn()
            conn.execute("PRAGMA secure_delete=ON")
            try:
                with self._transaction("erase") as tx:
                    erased = tx.execute(
                        "DELETE FROM readings WHERE patient_id = ?", (patient_id,)
                    ).rowcount
                    left = tx.execute(
                        "SELECT count(*) FROM readings WHERE patient_id = ?", (patient_id,)
                    ).fetchone()[0]
                    if left:  # cannot happen inside one transaction; refuse to report success
                        raise StoreError(f"erase: {left} readings of the patient remain")
            finally:
                conn.execute("PRAGMA secure_delete=OFF")
            # Move the zeroed pages into the database and empty the log; a reader holding an
            # old snapshot can delay this (the next checkpoint finishes it).
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(erased)

    def apply_retention(self, older_than: datetime) -> int:
        with self._transaction("retention") as conn:
            deleted = conn.execute(
                "DELETE FROM readings WHERE t_ms < ?", (epoch_ms(older_than),)
            ).rowcount
        return int(deleted)

    # -- lifecycle -------------------------------------------------------------------------

    def ping(self) -> None:
        self._query("ping", "SELECT 1 FROM readings LIMIT 1", ())

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()
