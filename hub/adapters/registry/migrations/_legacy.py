"""Registry databases made before migrations existed: recognised, then stamped.

The first release made its tables with ``metadata.create_all`` and no ``alembic_version``
table. Such a database is stamped at the revision whose schema it has, then upgraded like any
other: current users' ``var/registry.sqlite3`` files upgrade in place, without loss.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, inspect

from hub.adapters.registry import schema

FIRST_RELEASE = "0001"
FIRST_RELEASE_TABLES = frozenset({"enrollments", "dead_letters", "quarantine", "audit_events"})


class UnrecognisedSchema(Exception):
    """An unversioned database whose tables match no known revision."""


def recognise(
    conn: Connection, *, head: str, differences: Callable[[Connection], list[object]]
) -> str | None:
    """The revision an unversioned database's tables correspond to; None if it has none of them.

    ``differences`` compares the database with ``schema.metadata`` (the head's schema): a
    database made by ``create_all`` from a later version of the code is at ``head``.
    """
    inspector = inspect(conn)
    tables = set(inspector.get_table_names())
    ours = tables & set(schema.metadata.tables)
    if not ours:
        return None
    if ours == FIRST_RELEASE_TABLES:
        columns = {column["name"] for column in inspector.get_columns("enrollments")}
        if "created_by_role" not in columns:
            return FIRST_RELEASE
    found = differences(conn)
    if not found:
        return head
    raise UnrecognisedSchema(
        f"the registry database has the tables {sorted(ours)} but no alembic_version table, "
        f"and they match neither the first release's schema nor the current one "
        f"({len(found)} differences, first: {found[0]!r}); restore it from a backup, or "
        f"repair it by hand and record its revision (docs/registry.md, 'Migrations')"
    )
