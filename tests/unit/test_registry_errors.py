"""The registry's one translation point for driver errors (hub/adapters/registry/database.py),
on real SQLAlchemy engines: what means "cannot answer now" is RegistryUnavailable, the rest
RegistryError, and neither quotes a statement's values."""

from __future__ import annotations

import sqlite3
import traceback
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, text
from sqlalchemy.pool import QueuePool

from hub.adapters.registry import Registry, RegistryError, RegistryUnavailable, schema
from hub.adapters.registry.database import Database
from hub.core.ins import ins_key

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
INS = f"2550814168025{ins_key('2550814168025'):02d}"


def test_a_refused_write_is_a_registry_error_that_quotes_no_value(tmp_path: Path) -> None:
    registry = Registry(f"sqlite:///{tmp_path / 'registry.sqlite3'}")
    try:
        registry.patients.register(INS, now=NOW)
        with pytest.raises(RegistryError) as refused, registry.db.write("test") as conn:
            conn.execute(insert(schema.patients).values(id="pat-x", ins=INS, created_ms=1))
        assert not isinstance(refused.value, RegistryUnavailable)  # the input's fault
        logged = "".join(traceback.format_exception(refused.value))  # what a log would print
        assert "IntegrityError" in logged
        assert INS not in logged and "pat-x" not in logged
    finally:
        registry.close()


def test_a_locked_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite3"
    registry = Registry(f"sqlite:///{path}", busy_timeout_s=0.05)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        assert registry.programs.all() == []  # reads go on (WAL)...
        with pytest.raises(RegistryUnavailable, match="database is locked"):
            registry.patients.register(INS, now=NOW)  # ...writes wait, then give up
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        registry.close()


def test_a_pool_with_no_connection_to_give_is_unavailable(tmp_path: Path) -> None:
    engine = create_engine(
        f"sqlite:///{tmp_path / 'x.sqlite3'}",
        poolclass=QueuePool,
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.05,
    )
    db = Database(engine)
    try:
        with db.read("first") as conn:
            conn.execute(text("SELECT 1"))
            with pytest.raises(RegistryUnavailable, match="TimeoutError"), db.read("second"):
                pass
    finally:
        engine.dispose()


def test_other_exceptions_pass_unchanged(tmp_path: Path) -> None:
    db = Database(create_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}"))
    try:
        with pytest.raises(KeyError), db.write("test"):
            raise KeyError("not the database's")
    finally:
        db.engine.dispose()
