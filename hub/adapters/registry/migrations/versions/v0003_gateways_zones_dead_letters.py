"""Gateways and their paired devices; time zones; dead letters that name their device.

Revision ID: 0003
Revises: 0002
Created: 2026-11-30

* ``gateways``: a BLE gateway is a registered object with an owner and an IANA zone, and
  ``gateway_devices`` says which devices it may speak for, over which period: the hub refuses
  frames for a device not paired to the gateway that sent them.
* ``patients.zone`` and ``devices.zone``: the IANA zone of a patient (days, meal times and the
  AGP's time of day) and of a device's local clock; NULL means the hub's default zone.
* ``dead_letters.device_id``: the device an item belonged to, so that export and erasure
  match dead letters by device *and* the period the device belonged to the patient; existing
  rows get their ``sender_id`` (device topics and item-level rejects named the device there).
  ``payload_size`` and ``payload_sha256`` keep the size and digest of what was received when
  the stored payload is truncated (dead letters keep the item, bounded).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "gateways",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("zone", sa.String(64), nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("revoked_ms", sa.BigInteger, nullable=True),
    )
    op.create_index("gateways_owner", "gateways", ["owner"])
    op.create_table(
        "gateway_devices",
        sa.Column("gateway_id", sa.String(128), primary_key=True),
        sa.Column("device_id", sa.String(128), primary_key=True),
        sa.Column("start_ms", sa.BigInteger, primary_key=True),
        sa.Column("end_ms", sa.BigInteger, nullable=True),
    )
    op.create_index("gateway_devices_device", "gateway_devices", ["device_id"])
    with op.batch_alter_table("patients") as batch:
        batch.add_column(sa.Column("zone", sa.String(64), nullable=True))
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("zone", sa.String(64), nullable=True))
    with op.batch_alter_table("dead_letters") as batch:
        batch.add_column(sa.Column("device_id", sa.String(128), nullable=True))
        batch.add_column(sa.Column("payload_size", sa.Integer, nullable=True))
        batch.add_column(sa.Column("payload_sha256", sa.String(64), nullable=True))
    op.execute("UPDATE dead_letters SET device_id = sender_id")
    op.create_index("dead_letters_device", "dead_letters", ["device_id", "received_ms"])


def downgrade() -> None:
    op.drop_index("dead_letters_device", "dead_letters")
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_column("payload_sha256")
        batch.drop_column("payload_size")
        batch.drop_column("device_id")
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("zone")
    with op.batch_alter_table("patients") as batch:
        batch.drop_column("zone")
    op.drop_table("gateway_devices")
    op.drop_table("gateways")
