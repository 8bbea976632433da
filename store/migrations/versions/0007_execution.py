"""Execution stage: progress history, weekly progress requests and digests, risk warnings
and overdue marks, and the sweeps that have nothing left to do.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
EMAIL = 320


def upgrade() -> None:
    op.create_index("ix_tasks_state_due", "tasks", ["state", "due"], unique=False)

    op.create_table(
        "progress_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=EMAIL), nullable=False),
        sa.Column("inbound_message_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('progress', 'risk', 'done')", name=op.f("ck_progress_records_kind")
        ),
        sa.ForeignKeyConstraint(
            ["inbound_message_id"],
            ["inbound_messages.id"],
            name=op.f("fk_progress_records_inbound_message_id_inbound_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_progress_records_request_id_requests")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_progress_records_task_id_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_records")),
    )
    op.create_index(
        op.f("ix_progress_records_request_id"), "progress_records", ["request_id"], unique=False
    )
    op.create_index(
        "ix_progress_records_task_id_at", "progress_records", ["task_id", "at"], unique=False
    )

    op.create_table(
        "progress_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("owner", sa.String(length=EMAIL), nullable=False),
        sa.Column("deadline", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=False),
        sa.Column("answered_at", TS, nullable=True),
        sa.Column("remind_at", TS, nullable=True),
        sa.Column("reminded_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_progress_requests_request_id_requests")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_progress_requests_task_id_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_requests")),
        sa.UniqueConstraint("task_id", "week", name=op.f("uq_progress_requests_task_id_week")),
    )
    op.create_index(
        op.f("ix_progress_requests_request_id"), "progress_requests", ["request_id"], unique=False
    )
    op.create_index(
        "ix_progress_requests_remind_at", "progress_requests", ["remind_at"], unique=False
    )

    op.create_table(
        "weekly_digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("sent_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_weekly_digests_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weekly_digests")),
        sa.UniqueConstraint("request_id", "week", name=op.f("uq_weekly_digests_request_id_week")),
    )

    op.create_table(
        "task_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("deadline", TS, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.CheckConstraint("kind IN ('risk', 'overdue')", name=op.f("ck_task_alerts_kind")),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_task_alerts_request_id_requests")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_task_alerts_task_id_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_alerts")),
        sa.UniqueConstraint("task_id", "kind", "due", name=op.f("uq_task_alerts_task_id_kind_due")),
    )
    op.create_index(op.f("ix_task_alerts_request_id"), "task_alerts", ["request_id"], unique=False)

    op.create_table(
        "execution_sweeps",
        sa.Column("job", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("done_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("job", "day", name=op.f("pk_execution_sweeps")),
    )


def downgrade() -> None:
    op.drop_table("execution_sweeps")
    op.drop_index(op.f("ix_task_alerts_request_id"), table_name="task_alerts")
    op.drop_table("task_alerts")
    op.drop_table("weekly_digests")
    op.drop_index("ix_progress_requests_remind_at", table_name="progress_requests")
    op.drop_index(op.f("ix_progress_requests_request_id"), table_name="progress_requests")
    op.drop_table("progress_requests")
    op.drop_index("ix_progress_records_task_id_at", table_name="progress_records")
    op.drop_index(op.f("ix_progress_records_request_id"), table_name="progress_records")
    op.drop_table("progress_records")
    op.drop_index("ix_tasks_state_due", table_name="tasks")
