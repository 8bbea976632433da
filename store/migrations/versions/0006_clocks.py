"""Clocks: one row per running service level.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "clocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("awaited", sa.String(length=320), nullable=False),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("original_subject", sa.Text(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("escalate_at", TS, nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("next_at", TS, nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("stopped_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_clocks_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clocks")),
    )
    op.create_index(op.f("ix_clocks_request_id"), "clocks", ["request_id"], unique=False)
    op.create_index("ix_clocks_state_next_at", "clocks", ["state", "next_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_clocks_state_next_at", table_name="clocks")
    op.drop_index(op.f("ix_clocks_request_id"), table_name="clocks")
    op.drop_table("clocks")
