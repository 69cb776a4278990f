"""What every connection of a SQLite registry is set to, whatever SQLite's build defaults.

Debian builds SQLite with SECURE_DELETE on by default, other builds (macOS, many wheels) off:
the registry sets it on each connection itself, so that an erased patient's rows are
overwritten in the file wherever the hub runs (tests/unit/test_api_security.py greps the
files after an erasure). And how the registry's pool uses them: no ping before each use, and
enough connections kept for the API's concurrent requests."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from sqlalchemy import event

from hub.adapters.registry import Registry
from hub.adapters.registry.registry import _sqlite_pragmas


def test_the_registry_sets_its_pragmas_on_a_connection_that_had_them_off(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "registry.sqlite3")
    try:
        conn.execute("PRAGMA secure_delete=OFF")
        assert conn.execute("PRAGMA secure_delete").fetchone() == (0,)
        _sqlite_pragmas(1500, conn, None)
        assert conn.execute("PRAGMA secure_delete").fetchone() == (1,)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert conn.execute("PRAGMA busy_timeout").fetchone() == (1500,)
    finally:
        conn.close()


def test_every_pooled_connection_has_them(tmp_path: Path) -> None:
    registry = Registry(f"sqlite:///{tmp_path / 'registry.sqlite3'}", busy_timeout_s=2.5)
    try:
        with registry.engine.connect() as first, registry.engine.connect() as second:
            for conn in (first, second):
                assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
                assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2500
    finally:
        registry.close()


def test_concurrent_readers_reuse_connections_and_send_no_ping(tmp_path: Path) -> None:
    # A file has no connection to lose: no `SELECT 1` before each use; and sixteen concurrent
    # requests keep their connections rather than open (and set up) new ones each time.
    registry = Registry(f"sqlite:///{tmp_path / 'registry.sqlite3'}")
    opened: list[int] = []
    statements: list[str] = []

    def traced(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        opened.append(1)
        dbapi_connection.set_trace_callback(statements.append)

    event.listen(registry.engine, "connect", traced)
    registry.engine.dispose()  # the connection the migrations used: reopened, traced
    start = threading.Barrier(16)

    def read() -> None:
        start.wait()
        for _ in range(50):
            registry.patients.preferences("pt-a")

    threads = [threading.Thread(target=read) for _ in range(16)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        registry.close()
    assert sum("FROM patients" in s for s in statements) == 16 * 50  # the trace sees them
    assert [s for s in statements if s.strip().upper() == "SELECT 1"] == []
    assert len(opened) <= 16
