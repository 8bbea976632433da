"""An index for the per-sender daily rate limit: communications by lower(from_addr), at.

Without it every intake counted the sender's recent mail by scanning the whole
communication log, so intake slowed down as the log grew.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_communications_sender_at",
        "communications",
        [sa.text("lower(from_addr)"), "at"],
    )


def downgrade() -> None:
    op.drop_index("ix_communications_sender_at", table_name="communications")
