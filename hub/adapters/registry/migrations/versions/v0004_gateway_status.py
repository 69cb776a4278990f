"""Gateway status (online, devices last seen, battery) as the hub reads it.

Revision ID: 0004
Revises: 0003
Created: 2026-11-30
"""

from __future__ import annotations

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
