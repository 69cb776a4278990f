"""Patients, devices, pairing, care relationships, consent, idempotency keys and the outbox.

Revision ID: 0002
Revises: 0001
Created: 2026-11-28

Adds ``enrollments.created_by_role``: enrollments made before it were all made by operators,
hence the server default ``'admin'``, which also fills the existing rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # SQLite adds a NOT NULL column with a default in place; batch mode copies the table only
    # for the changes SQLite's ALTER TABLE cannot make, so this is one statement on both.
    with op.batch_alter_table("enrollments") as batch:
        batch.add_column(
            sa.Column("created_by_role", sa.String(32), nullable=False, server_default="admin")
        )

    op.create_table(
        "patients",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("ins", sa.String(15), nullable=False, unique=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column(
            "hidden_from_professionals", sa.Boolean, nullable=False, server_default=sa.false()
        ),
    )

    op.create_table(
        "devices",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("profile", sa.String(64), nullable=False),
        sa.Column("maker", sa.String(128), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("devices_maker", "devices", ["maker"])

    op.create_table(
        "pairing_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("device_id", sa.String(128), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
        sa.Column("used_ms", sa.BigInteger, nullable=True),
    )

    op.create_table(
        "care_relationships",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("practitioner_id", sa.String(128), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("organization", sa.String(128), nullable=True),
        sa.Column("start_ms", sa.BigInteger, nullable=False),
        sa.Column("end_ms", sa.BigInteger, nullable=True),
    )
    op.create_index(
        "care_practitioner_patient", "care_relationships", ["practitioner_id", "patient_id"]
    )

    op.create_table(
        "objections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("source_id", sa.String(128), nullable=False),
        sa.Column("start_ms", sa.BigInteger, nullable=False),
        sa.Column("end_ms", sa.BigInteger, nullable=True),
    )
    op.create_index("objections_patient", "objections", ["patient_id"])

    op.create_table(
        "idempotency_keys",
        sa.Column("principal", sa.String(128), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("sent_ms", sa.BigInteger, nullable=True),
    )
    op.create_index("outbox_patient", "outbox", ["patient_id"])


def downgrade() -> None:
    for table in (
        "outbox",
        "idempotency_keys",
        "objections",
        "care_relationships",
        "pairing_codes",
        "devices",
        "patients",
    ):
        op.drop_table(table)
    with op.batch_alter_table("enrollments") as batch:
        batch.drop_column("created_by_role")
