"""Documents filed into the health space and the filing outbox (IHE MHD ITI-65).

Revision ID: 0006
Revises: 0005
Created: 2026-11-30
"""

from __future__ import annotations

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
