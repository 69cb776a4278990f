"""The registry's engine as every concern uses it: connections for reads, transactions for
writes, and what differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite


class Database:
    """The engine every concern of one :class:`~hub.adapters.registry.Registry` shares."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"

    @contextmanager
    def read(self, what: str) -> Iterator[Connection]:
        """A connection for reads (``what`` names the operation)."""
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self, what: str) -> Iterator[Connection]:
        """A transaction, committed when the block ends (rolled back if it raises)."""
        with self.engine.begin() as conn:
            yield conn

    def insert_ignoring_duplicates(self, table: Table) -> Any:
        """``INSERT ... ON CONFLICT DO NOTHING`` in this database's dialect."""
        dialect = sqlite if self.is_sqlite else postgresql
        return dialect.insert(table).on_conflict_do_nothing()
