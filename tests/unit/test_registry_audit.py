"""The audit trail's group commit (``Audit.record``) on a real SQLite registry: concurrent
callers share transactions, each returns only once its own event is readable from another
connection, ids follow the order of the calls, and a failed shared write fails every caller of
its group with nothing of it stored."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, event

from hub.adapters.registry import Registry, RegistryUnavailable
from hub.adapters.registry.audit import AuditEvent
from tests.fixtures.audit import AT, ids_by_detail, order_problems, record_concurrently


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "registry.sqlite3"


@pytest.fixture
def observer(path: Path) -> Iterator[Engine]:
    """An engine of its own on the registry's file: another connection than the registry's."""
    engine = create_engine(f"sqlite:///{path}")
    try:
        yield engine
    finally:
        engine.dispose()


def _event(detail: str) -> AuditEvent:
    return AuditEvent(AT, "pt-a", "patient", "trends.read", "pt-a", "allowed", detail)


def _commits(registry: Registry) -> list[int]:
    """A list that grows by one at each commit of the registry's engine."""
    seen: list[int] = []
    event.listen(registry.engine, "commit", lambda _conn: seen.append(1))
    return seen


def _wait_for_queue(registry: Registry, waiting: int) -> None:
    """Until ``waiting`` callers queue behind the one writing (a wait, not a timing check)."""
    deadline = time.monotonic() + 30
    while len(registry.audit._queue) < waiting:
        assert time.monotonic() < deadline, "the callers never queued"
        time.sleep(0.01)


def _blocked(path: Path) -> sqlite3.Connection:
    """Another connection holding the write lock (``BEGIN IMMEDIATE``) until rolled back."""
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    return blocker


def test_concurrent_calls_each_return_once_their_event_is_stored_in_call_order(
    path: Path, observer: Engine
) -> None:
    registry = Registry(f"sqlite:///{path}")
    try:
        calls, problems = record_concurrently(registry, observer, threads=16, per_thread=25)
    finally:
        registry.close()
    assert problems == []
    ids = ids_by_detail(observer)
    assert len(calls) == 16 * 25
    assert sorted(ids) == sorted(c.detail for c in calls)  # every event...
    assert all(len(found) == 1 for found in ids.values())  # ...once
    assert order_problems(calls, ids) == []
    for thread in range(16):  # one caller's events in the order it made them
        mine = [ids[f"t{thread}-e{n}"][0] for n in range(25)]
        assert mine == sorted(mine)


def test_callers_arriving_during_a_commit_share_the_next_one(path: Path, observer: Engine) -> None:
    registry = Registry(f"sqlite:///{path}")
    commits = _commits(registry)
    blocker = _blocked(path)  # the first caller's commit waits for the lock...
    threads = [
        threading.Thread(target=registry.audit.record, args=(_event(f"e{n}"),)) for n in range(8)
    ]
    try:
        for thread in threads:
            thread.start()
        _wait_for_queue(registry, 7)  # ...while the seven others queue behind it
        blocker.rollback()
        for thread in threads:
            thread.join()
    finally:
        blocker.close()
        registry.close()
    assert len(commits) == 2  # the first caller's event, then the seven others' together
    assert sorted(ids_by_detail(observer)) == [f"e{n}" for n in range(8)]


def test_a_failed_shared_write_fails_every_caller_of_its_group_and_stores_none(
    path: Path, observer: Engine
) -> None:
    registry = Registry(f"sqlite:///{path}", busy_timeout_s=1.0)
    commits = _commits(registry)
    errors: dict[str, BaseException | None] = {}

    def record(detail: str) -> None:
        try:
            registry.audit.record(_event(detail))
            errors[detail] = None
        except Exception as err:
            errors[detail] = err

    blocker = _blocked(path)  # held past the busy timeout: "database is locked"
    threads = [threading.Thread(target=record, args=(f"e{n}",)) for n in range(8)]
    try:
        for thread in threads:
            thread.start()
        _wait_for_queue(registry, 7)  # one group of seven behind the first caller's
        for thread in threads:
            thread.join()
        blocker.rollback()
        assert ids_by_detail(observer) == {}  # nothing half-written
        assert commits == []
        registry.audit.record(_event("after"))  # the next group writes again
    finally:
        blocker.close()
        registry.close()
    assert sorted(errors) == [f"e{n}" for n in range(8)]
    for detail, error in errors.items():
        assert isinstance(error, RegistryUnavailable), detail
        assert str(error) == "registry audit: OperationalError: database is locked"
        assert error.__traceback__ is not None
    assert len({id(e) for e in errors.values()}) == 8  # one exception per caller
    assert list(ids_by_detail(observer)) == ["after"]
