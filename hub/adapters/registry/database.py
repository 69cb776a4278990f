"""The registry's engine as every concern uses it, and the one place driver errors are
translated.

Each concern (``enrollments``, ``rejects``, ``audit``...) reads through :meth:`Database.read`
and writes through :meth:`Database.write`; both translate what SQLAlchemy raises:

* the database cannot be reached now — ``OperationalError`` (connection refused, database
  locked past the busy timeout, server gone), ``InterfaceError``, ``DisconnectionError``, the
  pool's ``TimeoutError``, or any driver error that invalidated its connection — becomes
  :class:`~hub.adapters.registry.errors.RegistryUnavailable` (retry later: the API answers 503,
  ingestion acknowledges nothing and retries);
* anything else becomes :class:`~hub.adapters.registry.errors.RegistryError`.

Messages name the operation and the driver's first line, never the statement's values
(they may hold patient identifiers: PostgreSQL's ``DETAIL: Key (ins)=(...)`` is on a second
line). The driver's exception is not chained for printing either — a logged traceback would
quote it — but stays reachable as ``__context__``; the engine hides parameters in its own
messages too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from hub.adapters.registry.errors import RegistryError, RegistryUnavailable

_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)

log = logging.getLogger(__name__)


def _describe(err: SQLAlchemyError) -> str:
    """SQLAlchemy's kind of error and the driver's first line, without the statement or its
    values."""
    cause: BaseException = err
    if isinstance(err, DBAPIError) and err.orig is not None:
        cause = err.orig
    lines = str(cause).strip().splitlines()
    return f"{type(err).__name__}: {lines[0] if lines else ''}"


@contextmanager
def translated(what: str) -> Iterator[None]:
    """SQLAlchemy errors raised inside -> :class:`RegistryUnavailable` or
    :class:`RegistryError` (see the module docstring); other exceptions pass unchanged."""
    try:
        yield
    except SQLAlchemyError as err:
        transient = isinstance(err, _UNAVAILABLE) or (
            isinstance(err, DBAPIError) and err.connection_invalidated
        )
        kind = RegistryUnavailable if transient else RegistryError
        raise kind(f"registry {what}: {_describe(err)}") from None


class Database:
    """The engine every concern of one :class:`~hub.adapters.registry.Registry` shares."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"

    @contextmanager
    def read(self, what: str) -> Iterator[Connection]:
        """A connection for reads; errors translated."""
        with translated(what), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self, what: str) -> Iterator[Connection]:
        """A transaction, committed when the block ends (rolled back if it raises); errors
        translated."""
        with translated(what), self.engine.begin() as conn:
            yield conn

    def truncate_log(self) -> None:
        """SQLite: copy the write-ahead log into the database file and empty it, so that pages
        as they were before a deletion (an erasure) are not left in ``-wal``; PostgreSQL:
        nothing (docs/registry.md, "What an erasure leaves behind"). A reader holding an old
        snapshot can keep the log from being emptied (logged): its old frames then stay until
        a later truncation or until new writes overwrite them."""
        if not self.is_sqlite:
            return
        with self.read("checkpoint") as conn:
            busy, _, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        if busy:
            log.warning("registry: a reader kept the SQLite log from being truncated")

    def insert_ignoring_duplicates(self, table: Table) -> Any:
        """``INSERT ... ON CONFLICT DO NOTHING`` in this database's dialect."""
        dialect = sqlite if self.is_sqlite else postgresql
        return dialect.insert(table).on_conflict_do_nothing()
