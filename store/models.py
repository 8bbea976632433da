"""The tables, as SQLAlchemy 2 typed mappings.

Every datetime column is a :class:`~store.types.UtcDateTime` (aware, UTC); every list
column is a :class:`~store.types.JsonList` tracked for in-place changes. States are
plain strings checked by the database; the ``*State`` enums name the allowed values.
Constraint and index names follow :data:`NAMING_CONVENTION`, so migrations can refer
to them by name on both backends.

``requests.inbound_message_id`` and ``inbound_messages.request_id`` refer to each other:
the request remembers the mail it came from, the mail the request it belongs to. The
second of these is created after both tables (``use_alter``).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.ext.mutable import MutableList
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from store.types import JsonList, UtcDateTime

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Lengths: RFC 5321 address limit, RFC 5322 line limit for header values.
EMAIL = 320
HEADER = 998
SHA256_HEX = 64

# A JSON array column that notices ``append``/``remove`` on the loaded list.
_JSON_LIST: Any = MutableList.as_mutable(JsonList())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _one_of(column: str, values: type[StrEnum]) -> str:
    """SQL for a CHECK constraint that ``column`` holds one of the enum's values."""
    listed = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({listed})"


class InboundState(StrEnum):
    RECEIVED = "received"
    PROCESSED = "processed"
    NOISE = "noise"
    DUPLICATE = "duplicate"
    QUARANTINED = "quarantined"
    HELD = "held"


class IssueState(StrEnum):
    OPEN = "open"
    MEETING_SCHEDULED = "meeting_scheduled"
    RESOLVED = "resolved"
    ESCALATED = "escalated"


class OutboxState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class Language(StrEnum):
    ZH = "zh"
    EN = "en"


class InboundMessage(Base):
    """One message as it arrived, raw bytes included, and what became of it."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("source", "source_uidvalidity", "source_uid"),
        CheckConstraint(_one_of("state", InboundState), name="state"),
        Index("ix_inbound_messages_state_received_at", "state", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Where it came from: "imap:coord@127.0.0.1/INBOX", "ews:...", "listener", "file".
    source: Mapped[str] = mapped_column(String(255))
    source_uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    # IMAP UID or EWS item id; None for sources without an identity of their own.
    source_uid: Mapped[str | None] = mapped_column(String(1024))
    message_id: Mapped[str | None] = mapped_column(String(HEADER), index=True)
    content_sha256: Mapped[str] = mapped_column(String(SHA256_HEX), index=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=InboundState.RECEIVED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("requests.id", use_alter=True), index=True
    )
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Request(Base):
    """A coordination request (沟通协调需求表), one row per number."""

    __tablename__ = "requests"
    __table_args__ = (CheckConstraint(_one_of("language", Language), name="language"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(32), index=True)
    profile: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    requesting_department: Mapped[str] = mapped_column(String(255))
    receiving_departments: Mapped[list[str]] = mapped_column(_JSON_LIST, default=list)
    background: Mapped[str] = mapped_column(Text)
    due: Mapped[date | None] = mapped_column(Date)
    urgency: Mapped[str] = mapped_column(String(32))
    resources: Mapped[str | None] = mapped_column(Text)
    acceptance_criteria: Mapped[str | None] = mapped_column(Text)
    requester_email: Mapped[str] = mapped_column(String(EMAIL))
    requester_name: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(2), default=Language.ZH)
    lead_department: Mapped[str | None] = mapped_column(String(255))
    supporting_departments: Mapped[list[str]] = mapped_column(_JSON_LIST, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    inbound_message_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"))


class NumberSequence(Base):
    """The next request number of one scope (e.g. ``XT-2026``)."""

    __tablename__ = "number_sequences"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_value: Mapped[int] = mapped_column(Integer)


class Issue(Base):
    """A problem raised by an issue email (问题反馈与处理记录表)."""

    __tablename__ = "issues"
    __table_args__ = (CheckConstraint(_one_of("state", IssueState), name="state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"), index=True)
    task_ref: Mapped[str | None] = mapped_column(String(64))
    request_ref: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    impact: Mapped[str | None] = mapped_column(Text)
    tried: Mapped[str | None] = mapped_column(Text)
    support: Mapped[str | None] = mapped_column(Text)
    urgency: Mapped[str] = mapped_column(String(32))
    reporter_email: Mapped[str] = mapped_column(String(EMAIL))
    state: Mapped[str] = mapped_column(String(32), default=IssueState.OPEN, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    inbound_message_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"))
    #: The lead's resolution (问题与解决措施): the measures, a new deadline and a new
    #: owner where it set them, when and by whom it was given.
    resolution: Mapped[str | None] = mapped_column(Text)
    resolution_due: Mapped[date | None] = mapped_column(Date)
    resolution_owner: Mapped[str | None] = mapped_column(String(EMAIL))
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(EMAIL))


class Review(Base):
    """The lead's review of a delivered request (协作复盘报告 / 任务总结), one per request.

    Its attachments are those of the inbound message it came from.
    """

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), unique=True)
    inbound_message_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"))
    author: Mapped[str] = mapped_column(String(EMAIL))
    goals: Mapped[str | None] = mapped_column(Text)
    successes: Mapped[str] = mapped_column(Text)
    shortcomings: Mapped[str] = mapped_column(Text)
    improvements: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: When the dossier was archived and mailed (归档日期).
    archived_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Attachment(Base):
    """An attachment of an inbound message; the bytes live in the blob store by hash."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inbound_message_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(SHA256_HEX), index=True)
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(255))
    # The sender's file name, for display only: never used as a path.
    filename: Mapped[str | None] = mapped_column(Text)


class Communication(Base):
    """One entry of a request's communication log (沟通记录), in or out."""

    __tablename__ = "communications"
    __table_args__ = (
        CheckConstraint(_one_of("direction", Direction), name="direction"),
        Index("ix_communications_request_id_at", "request_id", "at"),
        # The per-sender daily rate limit counts one sender's recent mail on every intake.
        Index("ix_communications_sender_at", func.lower(text("from_addr")), "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    direction: Mapped[str] = mapped_column(String(3))
    from_addr: Mapped[str] = mapped_column(String(EMAIL))
    to_addrs: Mapped[list[str]] = mapped_column(_JSON_LIST, default=list)
    subject: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str | None] = mapped_column(Text)
    inbound_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))


class OutboxMessage(Base):
    """A rendered outbound mail waiting to be sent, written with the state it reports.

    ``message_id`` is fixed when the row is written, so a resend after a crash carries
    the same Message-ID. ``reply_context``/``reply_recipient``/``task_ref`` say what a
    reply to it answers; ``token_hash`` is the hash of its per-recipient reply token.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_one_of("state", OutboxState), name="state"),
        Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(HEADER), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"), index=True)
    envelope_from: Mapped[str] = mapped_column(String(EMAIL))
    recipients: Mapped[list[str]] = mapped_column(_JSON_LIST)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16), default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reply_context: Mapped[str | None] = mapped_column(String(32))
    reply_recipient: Mapped[str | None] = mapped_column(String(EMAIL))
    task_ref: Mapped[str | None] = mapped_column(String(64))
    token_hash: Mapped[str | None] = mapped_column(String(128), index=True)


class Lease(Base):
    """Who holds a named lease (e.g. the right to read one mailbox) until when."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class HeldState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Signoff(Base):
    """A sign-off that changed state. One decision per asking mail: an answer to a mail
    that already carried one (a replay, a forwarded copy) changes nothing. Only a task
    mail takes several distinct answers (收到, later 完成), each once; the unique key is
    therefore (mail, action), and ``workflow.replies`` enforces one decision per mail."""

    __tablename__ = "signoffs"
    __table_args__ = (UniqueConstraint("outbox_id", "action"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    inbound_message_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"), index=True)
    signer: Mapped[str] = mapped_column(String(EMAIL))
    on_behalf_of: Mapped[str] = mapped_column(String(EMAIL))
    action: Mapped[str] = mapped_column(String(32))
    value: Mapped[str | None] = mapped_column(Text)  # JSON of the keyword's value
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: "trusted" when every rule held, "review" when the office approved a held reply.
    via: Mapped[str] = mapped_column(String(16))


class HeldSignoff(Base):
    """A reply that would have changed state but was not trusted: waits for the office."""

    __tablename__ = "held_signoffs"
    __table_args__ = (CheckConstraint(_one_of("state", HeldState), name="state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inbound_message_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"), index=True)
    sender: Mapped[str] = mapped_column(String(EMAIL))
    reason: Mapped[str] = mapped_column(String(64))  # machine-readable code
    detail: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(32))
    value: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=HeldState.PENDING, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(EMAIL))


class Meeting(Base):
    """A meeting we organise: its invitation's UID never changes, SEQUENCE counts changes."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("issues.id"))
    kind: Mapped[str] = mapped_column(String(16))  # kickoff | problem | review
    uid: Mapped[str] = mapped_column(String(255), unique=True)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))  # CONFIRMED | CANCELLED
    start: Mapped[datetime] = mapped_column(UtcDateTime)
    end: Mapped[datetime] = mapped_column(UtcDateTime)
    timezone: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(Text)
    online_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class MeetingAttendee(Base):
    """One invitee and the last answer applied for them (by ``(sequence, dtstamp)``)."""

    __tablename__ = "meeting_attendees"
    __table_args__ = (UniqueConstraint("meeting_id", "email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    email: Mapped[str] = mapped_column(String(EMAIL))
    name: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))  # REQ-PARTICIPANT | OPT-PARTICIPANT | CHAIR
    partstat: Mapped[str] = mapped_column(String(32), default="NEEDS-ACTION")
    comment: Mapped[str | None] = mapped_column(Text)
    reply_sequence: Mapped[int | None] = mapped_column(Integer)
    reply_dtstamp: Mapped[datetime | None] = mapped_column(UtcDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    removed: Mapped[bool] = mapped_column(default=False)


class MeetingProposal(Base):
    """A new time proposed by an attendee (iTIP COUNTER), for the lead to decide."""

    __tablename__ = "meeting_proposals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    attendee: Mapped[str] = mapped_column(String(EMAIL))
    proposed_start: Mapped[datetime] = mapped_column(UtcDateTime)
    proposed_end: Mapped[datetime] = mapped_column(UtcDateTime)
    comment: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|accepted|declined
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    inbound_message_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"))


class Minutes(Base):
    """One version of the minutes of a request's meeting, and where its confirmation stands."""

    __tablename__ = "minutes"
    __table_args__ = (UniqueConstraint("request_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # confirming | objected | final | superseded
    author: Mapped[str] = mapped_column(String(EMAIL))
    inbound_message_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"))
    attendees: Mapped[list[str]] = mapped_column(_JSON_LIST)
    discussion: Mapped[str] = mapped_column(Text)
    decisions: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    final_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class MinutesConfirmation(Base):
    """A department head's sign-off of one version of the minutes."""

    __tablename__ = "minutes_confirmations"
    __table_args__ = (UniqueConstraint("minutes_id", "head"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("minutes.id"), index=True)
    head: Mapped[str] = mapped_column(String(EMAIL))
    department: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16))  # pending | confirmed | objected
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Task(Base):
    """One action item of the minutes: exactly one owner, a deadline, a deliverable."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("request_id", "ref"),
        # The execution sweep reads open tasks by due date (workflow/execution.py).
        Index("ix_tasks_state_due", "state", "due"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("minutes.id"))
    ref: Mapped[str] = mapped_column(String(32))  # RW-0001
    title: Mapped[str] = mapped_column(Text)
    owner_email: Mapped[str] = mapped_column(String(EMAIL))
    owner_name: Mapped[str | None] = mapped_column(String(255))
    collaborators: Mapped[list[str]] = mapped_column(_JSON_LIST)
    deliverable: Mapped[str] = mapped_column(Text)
    acceptance: Mapped[str | None] = mapped_column(Text)
    due: Mapped[date | None] = mapped_column(Date)
    #: draft (minutes not final) | assigned | acknowledged | done | accepted | returned
    state: Mapped[str] = mapped_column(String(16))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: A new deadline the owner asked for, waiting for the lead's decision.
    requested_due: Mapped[date | None] = mapped_column(Date)
    requested_reason: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[int | None] = mapped_column(Integer)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: The inbound message that reported the task done (its attachments are the deliverable).
    done_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ClockItem(Base):
    """One running service level: who is awaited, since when, when to remind and escalate.

    ``level`` counts what fired (0 nothing, 1 reminded, 2 escalated) so each fires once;
    ``next_at`` is when the next one is due (indexed: the sweep reads only due rows).
    """

    __tablename__ = "clocks"
    __table_args__ = (Index("ix_clocks_state_next_at", "state", "next_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))  # the profile's service level
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    subject: Mapped[str] = mapped_column(String(64))  # "request", "minutes:3", "task:RW-0001"
    awaited: Mapped[str] = mapped_column(String(EMAIL))
    what: Mapped[str] = mapped_column(Text)  # what is awaited, for the mails
    original_subject: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    escalate_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    level: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | stopped
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Plan(Base):
    """A plan sent by ``[方案]`` mail (方案审批, seed 004): one supporting department's own
    plan (``kind`` department), or one version of the lead's consolidated plan (``kind``
    consolidated, 跨部门协作总体方案) that goes to the approvers in order.

    Its text is the mail's body; its attachments are those of the inbound message.
    """

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("request_id", "kind", "department", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # department | consolidated
    department: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    #: department: submitted | superseded;
    #: consolidated: pending | approved | rejected | superseded
    state: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(EMAIL))
    text: Mapped[str] = mapped_column(Text)
    inbound_message_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PlanApproval(Base):
    """One approver's step on one version of the consolidated plan, in the directory's
    order: asked one after the other, each approves or rejects by reply."""

    __tablename__ = "plan_approvals"
    __table_args__ = (UniqueConstraint("plan_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1 = asked first
    approver: Mapped[str] = mapped_column(String(EMAIL))
    #: waiting | asked | approved | rejected | skipped (an earlier approver rejected)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    asked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: Who signed: the approver or a delegate.
    decided_by: Mapped[str | None] = mapped_column(String(EMAIL))


class AcceptanceRecord(Base):
    """One deliverable submitted on the explicit acceptance form (成果验收表 / 任务验收确认单,
    seed 002) and the acceptor's decision on it: the form's fields as they stood when it
    was sent, so the record reads the same after the task changes."""

    __tablename__ = "acceptance_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    task_ref: Mapped[str] = mapped_column(String(32))
    task_title: Mapped[str] = mapped_column(Text)
    deliverable: Mapped[str] = mapped_column(Text)
    acceptance: Mapped[str | None] = mapped_column(Text)  # the acceptance standard
    owner: Mapped[str] = mapped_column(String(EMAIL))
    acceptor: Mapped[str] = mapped_column(String(EMAIL))
    assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    due: Mapped[date | None] = mapped_column(Date)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    review_due: Mapped[datetime] = mapped_column(UtcDateTime)
    #: The owner's 完成 mail: its attachments are the deliverable.
    inbound_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    result: Mapped[str] = mapped_column(String(16))  # pending | accepted | returned
    comments: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(EMAIL))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ProgressKind(StrEnum):
    PROGRESS = "progress"  # 进度：60% 说明
    RISK = "risk"  # 风险：说明
    DONE = "done"  # 完成


class ProgressRecord(Base):
    """One report of an owner on their task (进度跟踪记录 / 周进度报告): a 进度, 风险 or 完成
    reply, kept as it came besides the task's latest ``progress``."""

    __tablename__ = "progress_records"
    __table_args__ = (
        CheckConstraint(_one_of("kind", ProgressKind), name="kind"),
        Index("ix_progress_records_task_id_at", "task_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(16))
    #: The percentage a 进度 reply gave (0..100), None when it gave none.
    percent: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(EMAIL))
    inbound_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))


class ProgressRequest(Base):
    """The weekly progress request of one task for one week (keyed by the local date of
    the week's deadline): sent once, answered by the owner's next 进度/风险/完成, or the
    owner reminded once after the deadline. ``remind_at`` is set while a reminder may
    still be due (indexed: the sweep reads only due rows)."""

    __tablename__ = "progress_requests"
    __table_args__ = (
        UniqueConstraint("task_id", "week"),
        Index("ix_progress_requests_remind_at", "remind_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    week: Mapped[date] = mapped_column(Date)
    owner: Mapped[str] = mapped_column(String(EMAIL))  # who was asked
    deadline: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    remind_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WeeklyDigest(Base):
    """The weekly digest of one request for one week, sent once."""

    __tablename__ = "weekly_digests"
    __table_args__ = (UniqueConstraint("request_id", "week"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"))
    week: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TaskAlertKind(StrEnum):
    RISK = "risk"  # warned before the deadline (截止前风险预警)
    OVERDUE = "overdue"  # marked overdue (延期) after it


class TaskAlert(Base):
    """A risk warning or an overdue mark of one task for one due date: once per task and
    due date, so a new due date re-arms both. A task is overdue while it is open and
    has an overdue alert for its current due date; done later, the alert stays as
    history."""

    __tablename__ = "task_alerts"
    __table_args__ = (
        UniqueConstraint("task_id", "kind", "due"),
        CheckConstraint(_one_of("kind", TaskAlertKind), name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    kind: Mapped[str] = mapped_column(String(16))
    due: Mapped[date] = mapped_column(Date)
    #: The task's deadline for that due date (end of working hours on it).
    deadline: Mapped[datetime] = mapped_column(UtcDateTime)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class ExecutionSweep(Base):
    """A weekly or daily pass of the execution stage that has nothing left to do (e.g.
    every progress request of a week is out): later ticks skip it with one lookup."""

    __tablename__ = "execution_sweeps"

    job: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    done_at: Mapped[datetime] = mapped_column(UtcDateTime)
