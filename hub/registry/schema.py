"""Registry tables (SQLAlchemy Core). Times are epoch milliseconds UTC (BIGINT)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

enrollments = Table(
    "enrollments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(128), nullable=False),
    Column("patient_id", String(64), nullable=False),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("created_by", String(128), nullable=False),
    Index("enrollments_device", "device_id", "start_ms"),
    Index("enrollments_patient", "patient_id"),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    # Deterministic id (source, topic, payload, item index): a retried batch adds no copy.
    Column("id", String(32), primary_key=True),
    Column("received_ms", BigInteger, nullable=False),
    Column("source", String(16), nullable=False),
    Column("topic", String(512), nullable=False),
    Column("sender_id", String(128), nullable=True),
    Column("item_index", Integer, nullable=True),
    Column("kind", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("field", String(256), nullable=True),
    Column("payload", LargeBinary, nullable=False),
    Index("dead_letters_received", "received_ms"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("reading_id", String(32), primary_key=True),
    Column("device_id", String(128), nullable=False),
    Column("t_ms", BigInteger, nullable=False),
    Column("received_ms", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("reading", Text, nullable=False),  # the reading as JSON, without a patient
    Index("quarantine_device", "device_id", "t_ms"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at_ms", BigInteger, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(64), nullable=False),
    Column("patient_id", String(64), nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("detail", Text, nullable=True),
    Index("audit_patient", "patient_id", "at_ms"),
)
