"""Schema migrations of the registry (Alembic, driven from code: no ``alembic.ini``).

Public API::

    upgrade(engine)            bring any registry database to the newest revision (head)
    current_revision(engine)   the revision a database is at; None if unversioned or empty
    head_revision()            the newest revision this code knows
    schema_differences(engine) how a database differs from ``schema`` (empty = none)
    downgrade(engine, to=...)  step back (development only: drops the newer tables' data)
    MigrationError             raised when a database cannot be brought to head

Revisions live in ``versions/``, one file each, numbered ``0001``, ``0002``, … and written out
explicitly (``op.create_table``, ``op.batch_alter_table``), never from ``schema.py``: a
released revision is never edited (docs/registry.md). ``python -m hub.adapters.registry.migrations``
writes the next one.

:func:`upgrade` is safe to call from every process at start: it runs in one transaction that
holds a lock (``_transaction.py``), so concurrent callers wait and then find nothing to do,
and a failed step leaves the database as it was. A database made by the first release's
``create_all`` (tables, no ``alembic_version``) is recognised and stamped first
(``_legacy.py``). Database errors propagate as SQLAlchemy exceptions; what Alembic refuses
becomes :class:`MigrationError`.

A real upgrade is one INFO line of this module's ("registry database upgraded to revision
0006 (from 0004)"); the hub's processes keep Alembic's own INFO chatter out of their logs
(``hub/runtime/logs.py``).
"""

from __future__ import annotations

import logging
import threading
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import Connection, Engine

from hub.adapters.registry import schema
from hub.adapters.registry.migrations._legacy import UnrecognisedSchema, recognise
from hub.adapters.registry.migrations._transaction import migration_transaction

__all__ = [
    "MigrationError",
    "current_revision",
    "downgrade",
    "head_revision",
    "schema_differences",
    "upgrade",
]

log = logging.getLogger(__name__)

SCRIPT_LOCATION = Path(__file__).resolve().parent

# Alembic's `op` and `context` are process-wide proxies: one migration run at a time per
# process. Between processes, the database's own lock serialises runs (_transaction.py).
_RUNNING = threading.Lock()


class MigrationError(Exception):
    """The registry database cannot be migrated; the message says why and what to do."""


def config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the registry, without any ini file.

    ``connection`` is handed to ``env.py``, which runs every command on it.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    cfg.set_main_option("path_separator", "os")
    # v0003_add_something.py: a module name mypy and ruff accept.
    cfg.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    cfg.attributes["connection"] = connection
    return cfg


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(config())


def head_revision() -> str:
    head = _script().get_current_head()
    if head is None:  # pragma: no cover - versions/ always holds 0001
        raise MigrationError(f"no revisions in {SCRIPT_LOCATION / 'versions'}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's revision; None for an empty or unversioned (first-release) database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_differences(engine: Engine) -> list[Any]:
    """Alembic's autogenerate diff between the database and ``schema.metadata``.

    Types and server defaults are compared too. An empty list means the database has exactly
    the tables, columns and indexes of ``hub/adapters/registry/schema.py``.
    """
    with engine.connect() as conn:
        return _differences(conn)


def _differences(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, schema.metadata))


def upgrade(engine: Engine, *, to: str = "head") -> None:
    """Bring the registry database to revision ``to`` (default: head), keeping every row."""
    if to == "head" and current_revision(engine) == head_revision():
        return  # the usual case at start: a plain read, no write lock taken
    with _RUNNING, migration_transaction(engine) as conn:
        _check_known(conn)
        context = MigrationContext.configure(conn)
        before = context.get_current_heads()  # under the lock: another process may be done
        if not before:
            try:
                legacy = recognise(conn, head=head_revision(), differences=_differences)
            except UnrecognisedSchema as err:
                raise MigrationError(str(err)) from err
            if legacy is not None:
                context.stamp(_script(), legacy)
        try:
            command.upgrade(config(conn), to)
        except (CommandError, RevisionError) as err:
            raise MigrationError(f"cannot upgrade the registry to {to}: {err}") from err
        after = MigrationContext.configure(conn).get_current_heads()
    if after != before:
        log.info(
            "registry database upgraded to revision %s (from %s)",
            ", ".join(after),
            ", ".join(before) or "none",
        )


def downgrade(engine: Engine, *, to: str) -> None:
    """Step the database back to revision ``to`` ("base": nothing). Loses the newer data."""
    with _RUNNING, migration_transaction(engine) as conn:
        _check_known(conn)
        try:
            command.downgrade(config(conn), to)
        except (CommandError, RevisionError) as err:
            raise MigrationError(f"cannot downgrade the registry to {to}: {err}") from err


def _check_known(conn: Connection) -> None:
    script = _script()
    for revision in MigrationContext.configure(conn).get_current_heads():
        try:
            script.get_revision(revision)
        except (CommandError, RevisionError) as err:
            raise MigrationError(
                f"the registry database is at revision {revision}, which this version of the "
                f"hub does not know (newest known: {head_revision()}): it was upgraded by a "
                f"newer hub. Run that version, or restore the backup taken before the upgrade."
            ) from err
