"""The relational registry: enrollments, dead letters, quarantine and the audit trail.

SQLAlchemy 2 Core over SQLite by default (PostgreSQL in production). Everything the bridge
writes here before acknowledging a message (dead letters, quarantine) is idempotent, so a
batch retried after a failure never doubles a row.
"""

from hub.adapters.registry.repo import DeadLetter, Registry

__all__ = ["DeadLetter", "Registry"]
