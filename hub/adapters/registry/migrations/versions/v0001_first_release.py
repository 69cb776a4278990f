"""First release: enrollments, dead letters, quarantine and the audit trail.

Revision ID: 0001
Revises:
Created: 2026-11-28

The tables exactly as the first release's ``metadata.create_all`` made them (commit 7d06351):
databases made that way, which have no ``alembic_version`` table, are stamped at this revision
and upgraded from here. Never edit this file: a change to the schema is a new revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "enrollments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(128), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("start_ms", sa.BigInteger, nullable=False),
        sa.Column("end_ms", sa.BigInteger, nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
    )
    op.create_index("enrollments_device", "enrollments", ["device_id", "start_ms"])
    op.create_index("enrollments_patient", "enrollments", ["patient_id"])

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("received_ms", sa.BigInteger, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("topic", sa.String(512), nullable=False),
        sa.Column("sender_id", sa.String(128), nullable=True),
        sa.Column("item_index", sa.Integer, nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("field", sa.String(256), nullable=True),
        sa.Column("payload", sa.LargeBinary, nullable=False),
    )
    op.create_index("dead_letters_received", "dead_letters", ["received_ms"])

    op.create_table(
        "quarantine",
        sa.Column("reading_id", sa.String(32), primary_key=True),
        sa.Column("device_id", sa.String(128), nullable=False),
        sa.Column("t_ms", sa.BigInteger, nullable=False),
        sa.Column("received_ms", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("reading", sa.Text, nullable=False),
    )
    op.create_index("quarantine_device", "quarantine", ["device_id", "t_ms"])

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_index("audit_patient", "audit_events", ["patient_id", "at_ms"])


def downgrade() -> None:
    for table in ("audit_events", "quarantine", "dead_letters", "enrollments"):
        op.drop_table(table)
