"""Registry tables (SQLAlchemy Core). Times are epoch milliseconds UTC (BIGINT).

Patients are known by a pseudonymous internal id everywhere; the national health identifier
(INS) appears in exactly one column, ``patients.ins``, needed to match provider pushes and to
file documents into the patient's health space. Every other table, and the time-series store,
holds the pseudonymous id only.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
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
    Column("created_by_role", String(32), nullable=False, server_default="admin"),
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
    # The item as received, at most dead_letters.max_item_bytes (docs/registry.md); the size
    # and digest of the whole item when it was cut.
    Column("payload", LargeBinary, nullable=False),
    # The device the item belonged to (export and erasure: device + the patient's period).
    Column("device_id", String(128), nullable=True),
    Column("payload_size", Integer, nullable=True),
    Column("payload_sha256", String(64), nullable=True),
    Index("dead_letters_received", "received_ms"),
    Index("dead_letters_device", "device_id", "received_ms"),
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


patients = Table(
    "patients",
    metadata,
    Column("id", String(64), primary_key=True),  # pseudonymous
    Column("ins", String(15), nullable=False, unique=True),  # NIR (13) + key (2)
    Column("created_ms", BigInteger, nullable=False),
    # Document visibility chosen by the patient, passed on with every filing to the vault.
    Column("hidden_from_professionals", Boolean, nullable=False, server_default=false()),
    Column("zone", String(64), nullable=True),  # IANA; NULL: the hub's default zone
    Column("language", String(8), nullable=True),  # fr | en; NULL: fr
    Column("glucose_unit", String(16), nullable=True),  # mg/dL | mmol/L; NULL: mg/dL
    Column("program", String(64), nullable=True),  # the monitoring program followed
)

# A remote-monitoring program: its patients' alert thresholds and report periods.
programs = Table(
    "programs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("thresholds", Text, nullable=False),  # JSON: AlertThresholds fields
    Column("report_periods", Text, nullable=False),  # JSON list: "week", "month"
    Column("created_ms", BigInteger, nullable=False),
)

devices = Table(
    "devices",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("profile", String(64), nullable=False),  # catalog profile id (the device model)
    Column("maker", String(128), nullable=False),  # the device maker's principal id
    Column("created_ms", BigInteger, nullable=False),
    Column("zone", String(64), nullable=True),  # IANA zone of a local device clock
    Index("devices_maker", "maker"),
)

# A BLE gateway at a patient's home: registered, owned, with the devices it may speak for.
gateways = Table(
    "gateways",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("owner", String(128), nullable=False),  # the principal that registered it
    Column("zone", String(64), nullable=True),  # IANA zone of the home
    Column("created_ms", BigInteger, nullable=False),
    Column("revoked_ms", BigInteger, nullable=True),
    # Its retained status (docs/wire.md): online | offline, since when (hub time), its own
    # time in the last status, and the last detailed status as received (strict JSON).
    Column("status", String(16), nullable=True),
    Column("status_since_ms", BigInteger, nullable=True),
    Column("status_reported_ms", BigInteger, nullable=True),
    Column("health", Text, nullable=True),
    Index("gateways_owner", "owner"),
)

gateway_devices = Table(
    "gateway_devices",
    metadata,
    Column("gateway_id", String(128), primary_key=True),
    Column("device_id", String(128), primary_key=True),
    Column("start_ms", BigInteger, primary_key=True),
    Column("end_ms", BigInteger, nullable=True),
    Index("gateway_devices_device", "device_id"),
)

pairing_codes = Table(
    "pairing_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),  # SHA-256 of the one-time code
    Column("device_id", String(128), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("used_ms", BigInteger, nullable=True),
)

care_relationships = Table(
    "care_relationships",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("practitioner_id", String(128), nullable=False),
    Column("patient_id", String(64), nullable=False),
    Column("organization", String(128), nullable=True),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger, nullable=True),
    Index("care_practitioner_patient", "practitioner_id", "patient_id"),
)

objections = Table(
    "objections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("patient_id", String(64), nullable=False),
    Column("source_kind", String(16), nullable=False),  # device | provider
    Column("source_id", String(128), nullable=False),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger, nullable=True),  # withdrawn at
    Index("objections_patient", "patient_id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("principal", String(128), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

# Documents filed into patients' health spaces (docs/documents.md): one row per version of each
# document (a report's PDF and its FHIR document), decided in the same transaction as the
# filing that carries it. No INS here: it is put into the ITI-65 bundle when it is sent.
documents = Table(
    "documents",
    metadata,
    Column("id", String(36), primary_key=True),  # the version's entryUUID (vault resource id)
    Column("set_id", String(36), nullable=False),  # patient + program + period + type
    Column("version", Integer, nullable=False),
    Column("patient_id", String(64), nullable=False),
    Column("program_id", String(64), nullable=False),
    Column("period", String(16), nullable=False),  # 2026-W47 | 2026-11
    Column("doc_type", String(8), nullable=False),  # pdf | fhir
    Column("unique_id", String(64), nullable=False),  # XDS uniqueId (masterIdentifier)
    Column("content_hash", String(64), nullable=False),  # of the report and its metadata
    Column("title", String(256), nullable=False),
    Column("hidden_from_professionals", Boolean, nullable=False),
    Column("filing_id", Integer, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    UniqueConstraint("set_id", "version", name="documents_set_version"),
    Index("documents_patient", "patient_id", "period"),
)

# The filing outbox: one ITI-65 bundle (without the INS) per report version, delivered to the
# vault with retries; versions of one report go in order.
document_filings = Table(
    "document_filings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("patient_id", String(64), nullable=False),
    Column("report", String(256), nullable=False),  # patient|program|period
    Column("version", Integer, nullable=False),
    Column("bundle", LargeBinary, nullable=False),
    Column("state", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_ms", BigInteger, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("delivered_ms", BigInteger, nullable=True),
    Index("document_filings_due", "state", "next_attempt_ms"),
    Index("document_filings_patient", "patient_id"),
    Index("document_filings_report", "report", "version"),
)
