"""Tasks: a requested new deadline, progress, delivery and acceptance; sign-offs are
single use per asking mail and action.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("requested_due", sa.Date(), nullable=True))
        batch.add_column(sa.Column("requested_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("progress", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("done_at", TS, nullable=True))
        batch.add_column(sa.Column("done_message_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("accepted_at", TS, nullable=True))
        batch.create_foreign_key(
            op.f("fk_tasks_done_message_id_inbound_messages"),
            "inbound_messages",
            ["done_message_id"],
            ["id"],
        )

    with op.batch_alter_table("signoffs") as batch:
        batch.drop_constraint(op.f("uq_signoffs_outbox_id"), type_="unique")
        batch.create_unique_constraint(
            op.f("uq_signoffs_outbox_id_action"), ["outbox_id", "action"]
        )


def downgrade() -> None:
    with op.batch_alter_table("signoffs") as batch:
        batch.drop_constraint(op.f("uq_signoffs_outbox_id_action"), type_="unique")
        batch.create_unique_constraint(op.f("uq_signoffs_outbox_id"), ["outbox_id"])
    with op.batch_alter_table("tasks") as batch:
        batch.drop_constraint(op.f("fk_tasks_done_message_id_inbound_messages"), type_="foreignkey")
        for column in (
            "accepted_at",
            "done_message_id",
            "done_at",
            "progress",
            "requested_reason",
            "requested_due",
        ):
            batch.drop_column(column)
