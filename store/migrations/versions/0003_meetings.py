"""Meetings, their attendees' answers and proposed new times.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("uid", sa.String(length=255), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("start", TS, nullable=False),
        sa.Column("end", TS, nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("online_url", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("reminded_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["issues.id"], name=op.f("fk_meetings_issue_id_issues")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_meetings_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
        sa.UniqueConstraint("uid", name=op.f("uq_meetings_uid")),
    )
    op.create_index(op.f("ix_meetings_request_id"), "meetings", ["request_id"], unique=False)
    op.create_table(
        "meeting_attendees",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("partstat", sa.String(length=32), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("reply_sequence", sa.Integer(), nullable=True),
        sa.Column("reply_dtstamp", TS, nullable=True),
        sa.Column("responded_at", TS, nullable=True),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meetings.id"], name=op.f("fk_meeting_attendees_meeting_id_meetings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_attendees")),
        sa.UniqueConstraint(
            "meeting_id", "email", name=op.f("uq_meeting_attendees_meeting_id_email")
        ),
    )
    op.create_index(
        op.f("ix_meeting_attendees_meeting_id"), "meeting_attendees", ["meeting_id"], unique=False
    )
    op.create_table(
        "meeting_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("attendee", sa.String(length=320), nullable=False),
        sa.Column("proposed_start", TS, nullable=False),
        sa.Column("proposed_end", TS, nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("inbound_message_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbound_message_id"],
            ["inbound_messages.id"],
            name=op.f("fk_meeting_proposals_inbound_message_id_inbound_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meetings.id"], name=op.f("fk_meeting_proposals_meeting_id_meetings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_proposals")),
    )
    op.create_index(
        op.f("ix_meeting_proposals_meeting_id"), "meeting_proposals", ["meeting_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_meeting_proposals_meeting_id"), table_name="meeting_proposals")
    op.drop_table("meeting_proposals")
    op.drop_index(op.f("ix_meeting_attendees_meeting_id"), table_name="meeting_attendees")
    op.drop_table("meeting_attendees")
    op.drop_index(op.f("ix_meetings_request_id"), table_name="meetings")
    op.drop_table("meetings")
