"""What the parsers produce: plain frozen dataclasses, shared with the rest of the service.

The shapes mirror the schema of the test corpus (``shared/corpus/README.md``):
``mail_parsers.jsonout.to_json`` turns a :class:`ParsedMessage` into exactly that schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

Kind = Literal[
    "request",
    "invalid_request",
    "issue",
    "minutes",
    "review",
    "plan",
    "reply",
    "auto_reply",
    "bounce",
    "list",
    "loop",
    "read_receipt",
    "calendar_reply",
    "hostile",
]

#: Kinds that are recorded but never answered and never change workflow state.
NOISE_KINDS: frozenset[str] = frozenset({"auto_reply", "bounce", "list", "loop", "read_receipt"})


@dataclass(frozen=True)
class ParseOptions:
    """The environment a message is read in (from the configuration)."""

    mailbox_address: str = "coord@example.com"
    #: Domain of the Message-IDs the daemon writes; replies naming it are ours.
    message_id_domain: str = "coord.example.com"
    #: ``authserv-id`` whose topmost Authentication-Results is trusted; "" trusts none
    #: and then no DMARC result is required.
    trusted_authserv_id: str = "mx.example.com"
    #: Time zone for relative dates (``3月31日``) and rendered header dates.
    timezone: str = "Asia/Shanghai"
    max_mime_depth: int = 20
    max_recipients: int = 500
    #: What finds a request number in a subject or body: the configured profile's
    #: numbering (``workflow.numbering.number_reader``). None: the default
    #: ``XT-2026-0015`` (a reply's subject also the other shipped shapes).
    request_number: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Address:
    email: str  # lower-case
    name: str | None = None


@dataclass(frozen=True)
class Headers:
    from_addr: str | None  # lower-case address of the single From, None when absent/unreadable
    from_name: str | None
    from_count: int  # number of addresses in From (a sign-off needs exactly one)
    subject: str  # fully decoded, line breaks preserved (their presence is hostile)
    message_id: str | None  # with angle brackets, as in the header
    in_reply_to: str | None
    references: tuple[str, ...]
    date: datetime | None  # aware
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    reply_to: tuple[Address, ...] = ()
    #: Addresses of any Delivered-To / envelope recipient headers (sub-address tokens live here).
    delivered_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class FieldError:
    field: str
    code: Literal["missing", "invalid_date", "invalid_urgency", "empty", "unknown"]
    raw: str | None = None


@dataclass(frozen=True)
class RequestFields:
    title: str | None
    requesting_department: str | None
    receiving_departments: tuple[str, ...]
    background: str | None
    due: date | None
    urgency: Literal["normal", "urgent", "critical"] | None
    resources: str | None
    acceptance_criteria: str | None


@dataclass(frozen=True)
class IssueFields:
    task: str | None  # "RW-0003" (upper-case as written)
    request: str | None  # "XT-2026-0012"
    description: str | None
    impact: str | None
    tried: str | None
    support: str | None
    urgency: Literal["normal", "urgent", "critical"] | None


@dataclass(frozen=True)
class Person:
    name: str | None
    email: str | None


@dataclass(frozen=True)
class ActionItem:
    title: str
    owner: Person
    due: date | None
    deliverable: str | None
    collaborators: tuple[Person, ...] = ()
    acceptance: str | None = None
    line: str = ""  # the raw line, quoted back when the owner does not resolve


@dataclass(frozen=True)
class MinutesFields:
    request: str | None
    attendees: tuple[str, ...]
    discussion: str | None
    decisions: str | None
    action_items: tuple[ActionItem, ...]


Fields = RequestFields | IssueFields | MinutesFields


@dataclass(frozen=True)
class ReplyReading:
    """How a reply to one of our mails reads (see the keyword rule)."""

    #: confirm|object|ack|reschedule|progress|risk|done|accept|return|evaluate_accept|reject|
    #: approve|approve_date|reject_date|reschedule_meeting|resolve|none
    action: str
    value: object  # None | str | {"date","reason"} | {"percent","note"} | {"lead","support"}
    context: str | None  # minutes|task|deliverable|evaluation|approval|...
    request: str | None  # "XT-2026-0012"
    task: str | None  # "RW-0003"
    in_reply_to: str | None  # the message's own In-Reply-To, as the corpus schema has it
    new_text: str = ""  # the text above the quote, for the record


@dataclass(frozen=True)
class CalendarReply:
    method: str  # REPLY | COUNTER
    uid: str
    attendee: str | None  # lower-case, mailto: dropped
    partstat: str | None
    sequence: int
    organizer: str | None
    dtstart: datetime | None
    comment: str | None
    ics_parts: int
    distinct_replies: int
    recurrence_id: datetime | None = None
    dtstamp: datetime | None = None
    proposed_start: datetime | None = None
    proposed_end: datetime | None = None


@dataclass(frozen=True)
class Bounce:
    recipient: str | None
    action: str | None
    status: str | None
    original_message_id: str | None


@dataclass(frozen=True)
class Mdn:
    original_message_id: str | None
    final_recipient: str | None
    disposition: str | None


@dataclass(frozen=True)
class Hostility:
    #: spoofed_sender | untrusted_authentication_results | header_injection |
    #: path_traversal | deep_nesting | recipient_flood
    type: str
    detail: str


@dataclass(frozen=True)
class Attachment:
    filename: str | None  # display name only, never used as a path
    content_type: str
    size: int
    sha256: str
    data: bytes = field(repr=False, default=b"")


@dataclass(frozen=True)
class ParsedMessage:
    kind: Kind
    headers: Headers
    fields: Fields | None
    errors: tuple[FieldError, ...]
    reply: ReplyReading | None
    calendar: CalendarReply | None
    attachments: tuple[Attachment, ...]
    bounce: Bounce | None = None
    mdn: Mdn | None = None
    list_id: str | None = None
    hostile: Hostility | None = None
    #: ``True`` when the topmost trusted Authentication-Results says DMARC (or aligned DKIM) passed.
    authenticated: bool = False
    #: Language of the sender's text, "zh" or "en", for choosing reply templates.
    language: Literal["zh", "en"] = "zh"
    #: The body text the fields were read from (after HTML conversion).
    text: str = ""
