"""SQLite backend specifics the conformance suite does not cover: error classes, old rows and
files, query plans."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import hub.adapters.store.sqlite as sqlite_store
from hub.adapters.store.base import ReadingCursor, StoreError, StoreUnavailable, cursor_of
from hub.adapters.store.sqlite import SqliteReadingStore
from hub.core.model import Reading, Source, TimeSource, epoch_ms

T0 = datetime(2024, 3, 1, tzinfo=UTC)

# What the first release created (schema version 0), copied here as it was: the upgrade must
# keep working on such files whatever the store's own DDL becomes.
RELEASE_1_DDL = """
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
PROVENANCE = ["value_sent", "unit_sent", "utc_offset_min", "clock_offset_ms", "time_zone"]
T0_MS = epoch_ms(T0)


def release_1_file(path: Path) -> list[Reading]:
    """A file as the first release left it, with two rows; the readings they hold."""
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(RELEASE_1_DDL)
        conn.executemany(
            "INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    "p",
                    "glucose",
                    T0_MS,
                    "r1",
                    "m",
                    104.0,
                    "mg/dL",
                    T0_MS + 5,
                    "08:00",
                    "device",
                    "gateway",
                    7,
                    '["HI"]',
                ),
                (
                    "p",
                    "weight",
                    T0_MS + 1,
                    "r2",
                    "s",
                    70.5,
                    "kg",
                    T0_MS + 9,
                    None,
                    "receive",
                    "mqtt",
                    None,
                    "",
                ),
            ],
        )
        conn.commit()
    base = Reading(
        reading_id="r1",
        patient_id="p",
        device_id="m",
        metric="glucose",
        value=104.0,
        unit="mg/dL",
        effective_time=T0,
        receive_time=T0 + timedelta(milliseconds=5),
        device_time="08:00",
        time_source=TimeSource.DEVICE,
        source=Source.GATEWAY,
        seq=7,
        flags=("HI",),
    )
    second = replace(
        base,
        reading_id="r2",
        device_id="s",
        metric="weight",
        value=70.5,
        unit="kg",
        effective_time=T0 + timedelta(milliseconds=1),
        receive_time=T0 + timedelta(milliseconds=9),
        device_time=None,
        time_source=TimeSource.RECEIVE,
        source=Source.MQTT,
        seq=None,
        flags=(),
    )
    return [base, second]


def test_a_corrupt_file_is_a_store_error_not_a_retry(tmp_path: Path) -> None:
    path = tmp_path / "readings.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a database") as caught:
        SqliteReadingStore(path)
    assert not caught.value.retryable


def test_an_unopenable_path_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "readings.sqlite3"
    path.mkdir()  # a directory where the file should be
    with pytest.raises(StoreUnavailable, match="open"):
        SqliteReadingStore(path)


def test_the_durability_settings_are_in_force(tmp_path: Path) -> None:
    store = SqliteReadingStore(tmp_path / "r.sqlite3")
    conn = store._conn()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    store.close()


def test_rows_written_with_comma_joined_flags_still_read(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    with closing(sqlite3.connect(path)) as conn:  # a row as the first version of the store wrote it
        conn.executescript(RELEASE_1_DDL)
        conn.execute(
            "INSERT INTO readings VALUES ('p', 'weight', ?, 'id1', 'scale', 70.5, 'kg', ?, NULL,"
            " 'receive', 'mqtt', NULL, 'clock-skew,time-corrected')",
            (1_709_251_200_000, 1_709_251_200_000),
        )
        conn.commit()
    store = SqliteReadingStore(path)
    (reading,) = store.readings("p", None, T0, T0 + timedelta(days=1))
    assert reading == Reading(
        reading_id="id1",
        patient_id="p",
        device_id="scale",
        metric="weight",
        value=70.5,
        unit="kg",
        effective_time=T0,
        receive_time=T0,
        device_time=None,
        time_source=TimeSource.RECEIVE,
        source=Source.MQTT,
        flags=("clock-skew", "time-corrected"),
    )
    store.close()


def test_a_closed_store_reopens_when_used_again(tmp_path: Path) -> None:
    store = SqliteReadingStore(tmp_path / "r.sqlite3")
    store.close()
    store.ping()  # a fresh connection per thread after close
    store.close()


def test_erased_values_do_not_linger_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    store = SqliteReadingStore(path)
    secret = "erase-me-device-7f3a"
    readings = [
        Reading(
            reading_id=f"id-{i}",
            patient_id="pt-erase",
            device_id=secret,
            metric="glucose",
            value=100.0 + i,
            unit="mg/dL",
            effective_time=T0 + timedelta(minutes=i),
            receive_time=T0,
            device_time=None,
            time_source=TimeSource.DEVICE,
            source=Source.MQTT,
        )
        for i in range(200)
    ]
    store.write_batch(readings)
    store.close()
    store = SqliteReadingStore(path)
    assert store.erase_patient("pt-erase") == 200
    store.close()
    for file in tmp_path.iterdir():
        assert secret.encode() not in file.read_bytes(), file.name


def columns_and_version(path: Path) -> tuple[list[str], int]:
    with closing(sqlite3.connect(path)) as conn:
        columns = [str(row[1]) for row in conn.execute("PRAGMA table_info(readings)")]
        return columns, int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_a_release_1_file_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    old = release_1_file(path)
    assert columns_and_version(path)[1] == 0
    store = SqliteReadingStore(path)
    columns, version = columns_and_version(path)
    assert version == sqlite_store.SCHEMA_VERSION == 1
    assert columns[-5:] == PROVENANCE
    every = (T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert store.readings("p", None, *every) == old  # old rows: None provenance
    new = replace(
        old[0],
        reading_id="r3",
        effective_time=T0 + timedelta(milliseconds=2),
        value_sent="5.8",
        unit_sent="mmol/L",
        utc_offset_min=120,
        clock_offset_ms=-1500,
        time_zone="Europe/Paris",
    )
    assert store.write_batch([new]).written == 1
    store.close()
    again = SqliteReadingStore(path)  # opening an upgraded file changes nothing
    assert columns_and_version(path) == (columns, 1)
    assert again.readings("p", None, *every) == [*old, new]
    again.close()


def test_a_failed_upgrade_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "r.sqlite3"
    old = release_1_file(path)
    before = columns_and_version(path)

    def add_one_column_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE readings ADD COLUMN value_sent TEXT")
        raise sqlite3.OperationalError("disk I/O error")  # e.g. the disk went away

    monkeypatch.setattr(sqlite_store, "_UPGRADES", (add_one_column_then_fail,))
    with pytest.raises(StoreUnavailable, match="upgrade"):
        SqliteReadingStore(path)
    assert columns_and_version(path) == before
    monkeypatch.undo()
    store = SqliteReadingStore(path)  # the next open upgrades it
    assert columns_and_version(path)[1] == 1
    assert store.readings("p", None, T0, T0 + timedelta(days=1)) == old
    store.close()


def test_a_half_upgraded_file_is_completed(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    release_1_file(path)
    with closing(sqlite3.connect(path)) as conn:  # some tool added one column, not the version
        conn.execute("ALTER TABLE readings ADD COLUMN value_sent TEXT")
        conn.commit()
    SqliteReadingStore(path).close()
    columns, version = columns_and_version(path)
    assert (columns[-5:], version) == (PROVENANCE, 1)


def test_stores_opened_together_upgrade_once(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    old = release_1_file(path)
    errors: list[BaseException] = []
    opened: list[SqliteReadingStore] = []

    def open_one() -> None:
        try:
            opened.append(SqliteReadingStore(path))
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert columns_and_version(path)[1] == 1
    assert opened[0].readings("p", None, T0, T0 + timedelta(days=1)) == old
    for store in opened:
        store.close()


def test_a_file_from_a_newer_hub_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    SqliteReadingStore(path).close()
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA user_version = 2")
        conn.commit()
    with pytest.raises(StoreError, match="newer hub") as caught:
        SqliteReadingStore(path)
    assert not caught.value.retryable


def test_a_page_of_one_metric_seeks_the_primary_key_range(tmp_path: Path) -> None:
    store = SqliteReadingStore(tmp_path / "r.sqlite3")
    one = Reading(
        reading_id="r1",
        patient_id="p",
        device_id="m",
        metric="glucose",
        value=104.0,
        unit="mg/dL",
        effective_time=T0,
        receive_time=T0,
        device_time=None,
        time_source=TimeSource.DEVICE,
        source=Source.MQTT,
    )
    store.write_batch([one])
    statements: list[str] = []
    conn = store._conn()
    conn.set_trace_callback(statements.append)
    after = cursor_of(one)
    store.readings("p", ["glucose"], T0, T0 + timedelta(days=1), after=after)
    store.readings("p", ["glucose"], T0, T0 + timedelta(days=1), after=ReadingCursor(0, -1, "x"))
    conn.set_trace_callback(None)
    for statement in statements:
        plan = [str(row[3]) for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}")]
        # The (time, seq, identity) order sorts only each millisecond's ties, and the cursor
        # narrows the key range instead of filtering a scan.
        assert plan == [
            "SEARCH readings USING PRIMARY KEY (patient_id=? AND metric=? AND t_ms>? AND t_ms<?)",
            "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY",
        ], statement
    assert len(statements) == 2
    store.close()
