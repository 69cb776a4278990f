"""Gateway status (online, devices last seen, battery) as the hub reads it.

Revision ID: 0004
Revises: 0003
Created: 2026-11-30

The retained ``hs/v1/gateways/{id}/status`` of each registered gateway (docs/wire.md,
"Gateway status"), recorded by the bridge:

* ``gateways.status`` — ``online`` or ``offline`` (NULL: never reported);
* ``gateways.status_since_ms`` — when the hub first received that state (a repeat of the same
  state, such as a retained status delivered again, keeps it);
* ``gateways.status_reported_ms`` — the gateway's own time in its last status (NULL: none,
  as in a last will);
* ``gateways.health`` — the last status that carried details, as received (strict JSON of the
  wire contract): outbox size and refusals, each device's connection, last-seen time, battery
  and clock offset. An ``offline`` last will keeps it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("gateways") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=True))
        batch.add_column(sa.Column("status_since_ms", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("status_reported_ms", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("health", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gateways") as batch:
        batch.drop_column("health")
        batch.drop_column("status_reported_ms")
        batch.drop_column("status_since_ms")
        batch.drop_column("status")
