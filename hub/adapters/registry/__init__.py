"""The relational registry: patients, devices, enrollments, consent, the audit trail, dead
letters and quarantine, filed documents (docs/registry.md).

SQLAlchemy 2 Core over SQLite by default (PostgreSQL in production). :class:`Registry` owns
the engine and the migrations and exposes one object per concern (``registry.enrollments``,
``registry.rejects``, ``registry.audit``...). Everything the bridge writes here before
acknowledging a message (dead letters, quarantine) is idempotent, so a batch retried after a
failure never doubles a row.
"""

from hub.adapters.registry.errors import RegistryError, RegistryUnavailable
from hub.adapters.registry.registry import Registry
from hub.adapters.registry.rejects import DeadLetter

__all__ = ["DeadLetter", "Registry", "RegistryError", "RegistryUnavailable"]
