"""Initial schema: messages, requests, issues, attachments, log, outbox, numbers, leases.

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Written to match ``store/models.py`` exactly (tests compare the two). The foreign keys
``requests.inbound_message_id`` and ``inbound_messages.request_id`` form a cycle: SQLite
accepts the second inline (it resolves references lazily and cannot ``ALTER TABLE ...
ADD CONSTRAINT``), PostgreSQL gets it once both tables exist.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What store.types.JsonList stores: JSONB on PostgreSQL, JSON text on SQLite.
JSON_LIST = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _inline_request_fk() -> list[sa.ForeignKeyConstraint]:
    if not _sqlite():
        return []
    return [
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_inbound_messages_request_id_requests")
        )
    ]


def upgrade() -> None:
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("source_uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("source_uid", sa.String(length=1024), nullable=True),
        sa.Column("message_id", sa.String(length=998), nullable=True),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('received', 'processed', 'noise', 'duplicate', 'quarantined', 'held')",
            name=op.f("ck_inbound_messages_state"),
        ),
        *_inline_request_fk(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
        sa.UniqueConstraint(
            "source",
            "source_uidvalidity",
            "source_uid",
            name=op.f("uq_inbound_messages_source_source_uidvalidity_source_uid"),
        ),
    )
    op.create_index(
        op.f("ix_inbound_messages_content_sha256"),
        "inbound_messages",
        ["content_sha256"],
        unique=False,
    )
    op.create_index(
        op.f("ix_inbound_messages_message_id"), "inbound_messages", ["message_id"], unique=False
    )
    op.create_index(
        op.f("ix_inbound_messages_request_id"), "inbound_messages", ["request_id"], unique=False
    )
    op.create_index(
        "ix_inbound_messages_state_received_at",
        "inbound_messages",
        ["state", "received_at"],
        unique=False,
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    op.create_table(
        "number_sequences",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("next_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_number_sequences")),
    )
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inbound_message_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("filename", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["inbound_message_id"],
            ["inbound_messages.id"],
            name=op.f("fk_attachments_inbound_message_id_inbound_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    op.create_index(
        op.f("ix_attachments_inbound_message_id"),
        "attachments",
        ["inbound_message_id"],
        unique=False,
    )
    op.create_index(op.f("ix_attachments_sha256"), "attachments", ["sha256"], unique=False)
    op.create_table(
        "requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("profile", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("requesting_department", sa.String(length=255), nullable=False),
        sa.Column("receiving_departments", JSON_LIST, nullable=False),
        sa.Column("background", sa.Text(), nullable=False),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("urgency", sa.String(length=32), nullable=False),
        sa.Column("resources", sa.Text(), nullable=True),
        sa.Column("acceptance_criteria", sa.Text(), nullable=True),
        sa.Column("requester_email", sa.String(length=320), nullable=False),
        sa.Column("requester_name", sa.String(length=255), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("lead_department", sa.String(length=255), nullable=True),
        sa.Column("supporting_departments", JSON_LIST, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("inbound_message_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("language IN ('zh', 'en')", name=op.f("ck_requests_language")),
        sa.ForeignKeyConstraint(
            ["inbound_message_id"],
            ["inbound_messages.id"],
            name=op.f("fk_requests_inbound_message_id_inbound_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requests")),
        sa.UniqueConstraint("number", name=op.f("uq_requests_number")),
    )
    op.create_index(op.f("ix_requests_state"), "requests", ["state"], unique=False)
    op.create_table(
        "issues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("task_ref", sa.String(length=64), nullable=True),
        sa.Column("request_ref", sa.String(length=64), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("impact", sa.Text(), nullable=True),
        sa.Column("tried", sa.Text(), nullable=True),
        sa.Column("support", sa.Text(), nullable=True),
        sa.Column("urgency", sa.String(length=32), nullable=False),
        sa.Column("reporter_email", sa.String(length=320), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("inbound_message_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "state IN ('open', 'meeting_scheduled', 'resolved', 'escalated')",
            name=op.f("ck_issues_state"),
        ),
        sa.ForeignKeyConstraint(
            ["inbound_message_id"],
            ["inbound_messages.id"],
            name=op.f("fk_issues_inbound_message_id_inbound_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_issues_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issues")),
    )
    op.create_index(op.f("ix_issues_request_id"), "issues", ["request_id"], unique=False)
    op.create_index(op.f("ix_issues_state"), "issues", ["state"], unique=False)
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=128), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("envelope_from", sa.String(length=320), nullable=False),
        sa.Column("recipients", JSON_LIST, nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply_context", sa.String(length=32), nullable=True),
        sa.Column("reply_recipient", sa.String(length=320), nullable=True),
        sa.Column("task_ref", sa.String(length=64), nullable=True),
        sa.Column("token_hash", sa.String(length=128), nullable=True),
        sa.CheckConstraint("state IN ('pending', 'sent', 'failed')", name=op.f("ck_outbox_state")),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_outbox_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_message_id")),
    )
    op.create_index(op.f("ix_outbox_request_id"), "outbox", ["request_id"], unique=False)
    op.create_index(
        "ix_outbox_state_next_attempt_at", "outbox", ["state", "next_attempt_at"], unique=False
    )
    op.create_index(op.f("ix_outbox_token_hash"), "outbox", ["token_hash"], unique=False)
    op.create_table(
        "communications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("from_addr", sa.String(length=320), nullable=False),
        sa.Column("to_addrs", JSON_LIST, nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("inbound_message_id", sa.Integer(), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("direction IN ('in', 'out')", name=op.f("ck_communications_direction")),
        sa.ForeignKeyConstraint(
            ["inbound_message_id"],
            ["inbound_messages.id"],
            name=op.f("fk_communications_inbound_message_id_inbound_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_communications_outbox_id_outbox")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_communications_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_communications")),
    )
    op.create_index(
        "ix_communications_request_id_at", "communications", ["request_id", "at"], unique=False
    )
    if not _sqlite():
        # PostgreSQL checks the referenced table at once: add the cycle's second half now.
        op.create_foreign_key(
            op.f("fk_inbound_messages_request_id_requests"),
            "inbound_messages",
            "requests",
            ["request_id"],
            ["id"],
        )


def downgrade() -> None:
    op.drop_index("ix_communications_request_id_at", table_name="communications")
    op.drop_table("communications")
    op.drop_index(op.f("ix_outbox_token_hash"), table_name="outbox")
    op.drop_index("ix_outbox_state_next_attempt_at", table_name="outbox")
    op.drop_index(op.f("ix_outbox_request_id"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(op.f("ix_issues_state"), table_name="issues")
    op.drop_index(op.f("ix_issues_request_id"), table_name="issues")
    op.drop_table("issues")
    # Break the cycle before dropping either side of it.
    op.execute(sa.text("UPDATE inbound_messages SET request_id = NULL"))
    if not _sqlite():
        op.drop_constraint(
            op.f("fk_inbound_messages_request_id_requests"), "inbound_messages", type_="foreignkey"
        )
    op.drop_index(op.f("ix_requests_state"), table_name="requests")
    op.drop_table("requests")
    op.drop_index(op.f("ix_attachments_sha256"), table_name="attachments")
    op.drop_index(op.f("ix_attachments_inbound_message_id"), table_name="attachments")
    op.drop_table("attachments")
    op.drop_table("number_sequences")
    op.drop_table("leases")
    op.drop_index("ix_inbound_messages_state_received_at", table_name="inbound_messages")
    op.drop_index(op.f("ix_inbound_messages_request_id"), table_name="inbound_messages")
    op.drop_index(op.f("ix_inbound_messages_message_id"), table_name="inbound_messages")
    op.drop_index(op.f("ix_inbound_messages_content_sha256"), table_name="inbound_messages")
    op.drop_table("inbound_messages")
