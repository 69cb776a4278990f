"""The one transaction a migration runs in, holding the registry's migration lock.

Several hub processes (``hub api``, ``hub bridge``, replicas) open the registry at start and
each brings it to head, possibly at the same moment. The first takes the lock and migrates;
the others wait, then find nothing left to do. Everything a run does — stamping an unversioned
database, every step, the new ``alembic_version`` — commits together or not at all.

- PostgreSQL: DDL is transactional; the lock is a transaction-scoped advisory lock.
- SQLite: Python's sqlite3 module (3.11) never opens a transaction before DDL, so each
  statement would commit on its own. The driver is put in autocommit mode for the run and the
  transaction is opened by hand with ``BEGIN IMMEDIATE``, which also takes the write lock.
- Other databases: one plain transaction, no lock (not supported, not tested).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text

# An arbitrary 64-bit key, the same in every hub process: pg_advisory_xact_lock(key).
PG_LOCK_KEY = 0x6875_6272_6567_6D67  # "hubregmg"


@contextmanager
def migration_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that holds the migration lock until it ends."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            with _sqlite_immediate(conn):
                yield conn
            return
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
            yield conn


@contextmanager
def _sqlite_immediate(conn: Connection) -> Iterator[None]:
    conn.execution_options(isolation_level="AUTOCOMMIT")  # restored when the connection closes
    raw = conn.connection.dbapi_connection
    # The SQLAlchemy-level transaction tells Alembic the caller owns the transaction; the
    # database-level one is the BEGIN IMMEDIATE ... COMMIT below.
    with conn.begin():
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if getattr(raw, "in_transaction", True):
                conn.exec_driver_sql("ROLLBACK")
            raise
        conn.exec_driver_sql("COMMIT")
