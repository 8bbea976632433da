"""Minutes with their versions and heads' confirmations; tasks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON_LIST = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "minutes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("author", sa.String(length=320), nullable=False),
        sa.Column("inbound_message_id", sa.Integer(), nullable=False),
        sa.Column("attendees", JSON_LIST, nullable=False),
        sa.Column("discussion", sa.Text(), nullable=False),
        sa.Column("decisions", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("final_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["inbound_message_id"],
            ["inbound_messages.id"],
            name=op.f("fk_minutes_inbound_message_id_inbound_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_minutes_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_minutes")),
        sa.UniqueConstraint("request_id", "version", name=op.f("uq_minutes_request_id_version")),
    )
    op.create_index(op.f("ix_minutes_request_id"), "minutes", ["request_id"], unique=False)
    op.create_table(
        "minutes_confirmations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("minutes_id", sa.Integer(), nullable=False),
        sa.Column("head", sa.String(length=320), nullable=False),
        sa.Column("department", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["minutes_id"], ["minutes.id"], name=op.f("fk_minutes_confirmations_minutes_id_minutes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_minutes_confirmations")),
        sa.UniqueConstraint(
            "minutes_id", "head", name=op.f("uq_minutes_confirmations_minutes_id_head")
        ),
    )
    op.create_index(
        op.f("ix_minutes_confirmations_minutes_id"),
        "minutes_confirmations",
        ["minutes_id"],
        unique=False,
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("minutes_id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("owner_email", sa.String(length=320), nullable=False),
        sa.Column("owner_name", sa.String(length=255), nullable=True),
        sa.Column("collaborators", JSON_LIST, nullable=False),
        sa.Column("deliverable", sa.Text(), nullable=False),
        sa.Column("acceptance", sa.Text(), nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["minutes_id"], ["minutes.id"], name=op.f("fk_tasks_minutes_id_minutes")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_tasks_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("request_id", "ref", name=op.f("uq_tasks_request_id_ref")),
    )
    op.create_index(op.f("ix_tasks_request_id"), "tasks", ["request_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_tasks_request_id"), table_name="tasks")
    op.drop_table("tasks")
    op.drop_index(op.f("ix_minutes_confirmations_minutes_id"), table_name="minutes_confirmations")
    op.drop_table("minutes_confirmations")
    op.drop_index(op.f("ix_minutes_request_id"), table_name="minutes")
    op.drop_table("minutes")
