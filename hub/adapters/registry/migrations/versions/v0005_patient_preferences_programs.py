"""Patient preferences (glucose unit, language) and monitoring programs with alert thresholds.

Revision ID: 0005
Revises: 0004
Created: 2026-11-30

* ``patients.language`` (``fr`` or ``en``: documents and the patient page), ``patients.
  glucose_unit`` (``mg/dL`` or ``mmol/L``: how glucose is shown) and ``patients.program``
  (the monitoring program the patient follows; NULL: none).
* ``programs``: a remote-monitoring program (diabetes, heart failure, hypertension...) with the
  alert thresholds of its patients (JSON, the fields of ``hub.core.summaries.AlertThresholds``)
  and the periods its reports cover (JSON list: ``week``, ``month``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.add_column(sa.Column("language", sa.String(8), nullable=True))
        batch.add_column(sa.Column("glucose_unit", sa.String(16), nullable=True))
        batch.add_column(sa.Column("program", sa.String(64), nullable=True))
    op.create_table(
        "programs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("thresholds", sa.Text, nullable=False),
        sa.Column("report_periods", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("programs")
    with op.batch_alter_table("patients") as batch:
        batch.drop_column("program")
        batch.drop_column("glucose_unit")
        batch.drop_column("language")
