"""The registry: one database, its migrations, and its concerns as attributes.

``Registry(url)`` opens the database (SQLite or PostgreSQL), brings it to the newest
revision, and exposes one small object per concern, all over the same engine::

    registry.enrollments   which device feeds which patient, when
    registry.rejects       dead letters and quarantine
    registry.audit         the audit trail
    registry.patients      patients (pseudonymous id, INS) and their preferences
    registry.programs      monitoring programmes
    registry.devices       devices and pairing codes
    registry.gateways      BLE gateways, their status and paired devices
    registry.care          care relationships
    registry.consent       objections
    registry.idempotency   stored answers to retried POSTs
    registry.filings       documents filed into health spaces, and their outbox
    registry.gdpr          export and erasure of a patient

Each returns frozen dataclasses and raises only
:class:`~hub.adapters.registry.errors.RegistryError` and its subclasses: driver errors are
translated in one place (:mod:`hub.adapters.registry.database`), a database that cannot be
reached being :class:`~hub.adapters.registry.errors.RegistryUnavailable`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

from hub.adapters.registry import migrations
from hub.adapters.registry.audit import Audit
from hub.adapters.registry.care import Care
from hub.adapters.registry.consent import Consent
from hub.adapters.registry.database import Database, translated
from hub.adapters.registry.devices import Devices
from hub.adapters.registry.enrollments import Enrollments
from hub.adapters.registry.errors import RegistryError
from hub.adapters.registry.filings import FilingStore
from hub.adapters.registry.gateways import Gateways
from hub.adapters.registry.gdpr import Gdpr
from hub.adapters.registry.idempotency import Idempotency
from hub.adapters.registry.patients import Patients
from hub.adapters.registry.programs import Programs
from hub.adapters.registry.rejects import DeadLetterLimits, Rejects


def _sqlite_pragmas(busy_timeout_ms: int, dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # rows written before an ack must survive
    # Past this wait for another writer's lock: "database is locked", RegistryUnavailable.
    cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    # Deleted rows are overwritten with zeros, not left in free space (erasure: nothing of
    # an erased patient lingers in the file; the log is truncated after, Gdpr.erase).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


# The API's thread pool: AnyIO runs up to 40 synchronous handlers at once.
SQLITE_POOL_SIZE = 40


def _pool(url: str) -> dict[str, Any]:
    """The engine's pool. PostgreSQL: SQLAlchemy's default pool, each connection pinged
    before use (a server restart or a dropped connection is found before a query fails).
    SQLite: no ping — a file has no connection to lose, and the ping was a ``SELECT 1`` per
    checkout, two or three per API request — and up to :data:`SQLITE_POOL_SIZE` connections
    kept, not 5: with more concurrent requests than that, the pool closed each extra
    connection on return and opened a new one (with its pragmas) on the next request."""
    if url.startswith("sqlite"):
        return {"pool_size": SQLITE_POOL_SIZE}
    return {"pool_pre_ping": True}


class Registry:
    """``busy_timeout_s``: on SQLite, how long a write waits for another writer's lock
    before the registry is unavailable."""

    def __init__(
        self,
        url: str,
        *,
        dead_letter_limits: DeadLetterLimits | None = None,
        busy_timeout_s: float = 30.0,
    ) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: SQLAlchemy's messages never quote values (patient ids, the INS).
        engine = create_engine(url, hide_parameters=True, **_pool(url))
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", partial(_sqlite_pragmas, int(busy_timeout_s * 1000)))
        try:
            with translated("open"):
                migrations.upgrade(engine)  # an upgrade never loses data (docs/registry.md)
        except migrations.MigrationError as err:
            engine.dispose()
            raise RegistryError(str(err)) from err
        except RegistryError:
            engine.dispose()
            raise
        self.db = Database(engine)
        self.enrollments = Enrollments(self.db)
        self.rejects = Rejects(self.db, dead_letter_limits or DeadLetterLimits())
        self.audit = Audit(self.db)
        self.patients = Patients(self.db)
        self.programs = Programs(self.db)
        self.devices = Devices(self.db)
        self.gateways = Gateways(self.db)
        self.care = Care(self.db)
        self.consent = Consent(self.db)
        self.idempotency = Idempotency(self.db)
        self.filings = FilingStore(self.db)
        self.gdpr = Gdpr(self.db)

    @property
    def engine(self) -> Engine:
        return self.db.engine

    def close(self) -> None:
        self.db.engine.dispose()
