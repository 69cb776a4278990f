"""SQLite backend specifics the conformance suite does not cover: error classes, old rows."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.adapters.store.base import StoreError, StoreUnavailable
from hub.adapters.store.sqlite import SqliteReadingStore
from hub.core.model import Reading, Source, TimeSource

T0 = datetime(2024, 3, 1, tzinfo=UTC)


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
    store = SqliteReadingStore(path)
    with sqlite3.connect(path) as conn:  # a row as the first version of the store wrote it
        conn.execute(
            "INSERT INTO readings VALUES ('p', 'weight', ?, 'id1', 'scale', 70.5, 'kg', ?, NULL,"
            " 'receive', 'mqtt', NULL, 'clock-skew,time-corrected')",
            (1_709_251_200_000, 1_709_251_200_000),
        )
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
