"""Plan approval (department plans, consolidated plan versions, each approver's step) and
the explicit acceptance form's records.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("department", sa.String(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("author", sa.String(length=320), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("inbound_message_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["inbound_message_id"],
            ["inbound_messages.id"],
            name=op.f("fk_plans_inbound_message_id_inbound_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_plans_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint(
            "request_id",
            "kind",
            "department",
            "version",
            name=op.f("uq_plans_request_id_kind_department_version"),
        ),
    )
    op.create_index(op.f("ix_plans_request_id"), "plans", ["request_id"], unique=False)

    op.create_table(
        "plan_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("approver", sa.String(length=320), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("asked_at", TS, nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decided_by", sa.String(length=320), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_plan_approvals_plan_id_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_approvals")),
        sa.UniqueConstraint("plan_id", "position", name=op.f("uq_plan_approvals_plan_id_position")),
    )
    op.create_index(op.f("ix_plan_approvals_plan_id"), "plan_approvals", ["plan_id"], unique=False)

    op.create_table(
        "acceptance_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("task_ref", sa.String(length=32), nullable=False),
        sa.Column("task_title", sa.Text(), nullable=False),
        sa.Column("deliverable", sa.Text(), nullable=False),
        sa.Column("acceptance", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(length=320), nullable=False),
        sa.Column("acceptor", sa.String(length=320), nullable=False),
        sa.Column("assigned_at", TS, nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("submitted_at", TS, nullable=False),
        sa.Column("review_due", TS, nullable=False),
        sa.Column("inbound_message_id", sa.Integer(), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("comments", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=320), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["inbound_message_id"],
            ["inbound_messages.id"],
            name=op.f("fk_acceptance_records_inbound_message_id_inbound_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_acceptance_records_request_id_requests")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_acceptance_records_task_id_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acceptance_records")),
    )
    op.create_index(
        op.f("ix_acceptance_records_request_id"),
        "acceptance_records",
        ["request_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_acceptance_records_request_id"), table_name="acceptance_records")
    op.drop_table("acceptance_records")
    op.drop_index(op.f("ix_plan_approvals_plan_id"), table_name="plan_approvals")
    op.drop_table("plan_approvals")
    op.drop_index(op.f("ix_plans_request_id"), table_name="plans")
    op.drop_table("plans")
