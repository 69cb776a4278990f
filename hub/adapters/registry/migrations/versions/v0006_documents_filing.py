"""Documents filed into the health space and the filing outbox (IHE MHD ITI-65).

Revision ID: 0006
Revises: 0005
Created: 2026-11-30

* ``documents``: one row per version of each filed document (a report's PDF and its FHIR
  document): deterministic identifiers, content hash, visibility at filing.
* ``document_filings``: the outbox — one ITI-65 bundle per report version, its delivery state,
  attempts and next attempt.
* ``outbox`` (revision 0002, never written by any release) is dropped: ``document_filings``
  replaces it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.drop_index("outbox_patient", table_name="outbox")
    op.drop_table("outbox")
    op.create_table(
        "documents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("set_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("doc_type", sa.String(8), nullable=False),
        sa.Column("unique_id", sa.String(64), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("title", sa.String(256), nullable=False),
        sa.Column("hidden_from_professionals", sa.Boolean, nullable=False),
        sa.Column("filing_id", sa.Integer, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("set_id", "version", name="documents_set_version"),
    )
    op.create_index("documents_patient", "documents", ["patient_id", "period"])
    op.create_table(
        "document_filings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("report", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("bundle", sa.LargeBinary, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_ms", sa.BigInteger, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("delivered_ms", sa.BigInteger, nullable=True),
    )
    op.create_index("document_filings_due", "document_filings", ["state", "next_attempt_ms"])
    op.create_index("document_filings_patient", "document_filings", ["patient_id"])
    op.create_index("document_filings_report", "document_filings", ["report", "version"])


def downgrade() -> None:
    op.drop_table("document_filings")
    op.drop_table("documents")
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
