"""Sign-offs and the review queue of held replies.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("inbound_message_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("signer", sa.String(length=320), nullable=False),
        sa.Column("on_behalf_of", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbound_message_id"],
            ["inbound_messages.id"],
            name=op.f("fk_signoffs_inbound_message_id_inbound_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_signoffs_outbox_id_outbox")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_signoffs_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signoffs")),
        sa.UniqueConstraint("outbox_id", name=op.f("uq_signoffs_outbox_id")),
    )
    op.create_index(op.f("ix_signoffs_request_id"), "signoffs", ["request_id"], unique=False)
    op.create_table(
        "held_signoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inbound_message_id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=320), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'approved', 'rejected')", name=op.f("ck_held_signoffs_state")
        ),
        sa.ForeignKeyConstraint(
            ["inbound_message_id"],
            ["inbound_messages.id"],
            name=op.f("fk_held_signoffs_inbound_message_id_inbound_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_held_signoffs_outbox_id_outbox")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_held_signoffs_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_signoffs")),
    )
    op.create_index(
        op.f("ix_held_signoffs_request_id"), "held_signoffs", ["request_id"], unique=False
    )
    op.create_index(op.f("ix_held_signoffs_state"), "held_signoffs", ["state"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_held_signoffs_state"), table_name="held_signoffs")
    op.drop_index(op.f("ix_held_signoffs_request_id"), table_name="held_signoffs")
    op.drop_table("held_signoffs")
    op.drop_index(op.f("ix_signoffs_request_id"), table_name="signoffs")
    op.drop_table("signoffs")
