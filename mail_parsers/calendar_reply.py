"""Attendee answers to invitations: iTIP ``REPLY`` and ``COUNTER`` objects in a message.

``read_calendar_reply`` walks every ``text/calendar`` and ``application/ics`` part (any
transfer encoding), keeps those whose ``METHOD`` is ``REPLY`` or ``COUNTER``, and reads
the properties of the ``VEVENT`` (never those of ``VTIMEZONE`` or ``VALARM``). Gmail and
Thunderbird carry the same reply twice (inline and as ``invite.ics``); it counts once.

The iCalendar text is read by :mod:`mail_parsers._ical`; times become aware datetimes in
the configured zone (``ParseOptions.timezone``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage, Message
from typing import Final

from mail_parsers._ical import (
    Component,
    Property,
    Zones,
    parse_calendar,
    read_datetime,
    unescape,
    zone_named,
)
from mail_parsers.model import CalendarReply, ParseOptions

__all__ = ["read_calendar_reply"]

_CALENDAR_TYPES: Final = frozenset({"text/calendar", "application/ics", "text/x-vcalendar"})
_METHODS: Final = frozenset({"REPLY", "COUNTER"})

_EMAIL: Final = re.compile(r"[^\s<>:;,\"']+@[^\s<>:;,\"']+")


def _address(value: str | None) -> str | None:
    """``mailto:X`` / ``MAILTO:X`` / ``X`` → lower-case address."""
    if value is None:
        return None
    text = value.strip()
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:") :]
    text = text.strip().strip("<>").strip().lower()
    return text or None


def _sender_addresses(msg: Message) -> set[str]:
    found: set[str] = set()
    for header in ("From", "Sender", "Reply-To"):
        try:
            raw = msg.get(header)
        except (ValueError, TypeError, IndexError):  # unreadable header: not the sender
            continue
        if raw is not None:
            found.update(a.lower() for a in _EMAIL.findall(str(raw)))
    return found


def _attendee(event: Component, senders: set[str]) -> Property | None:
    attendees = event.all("ATTENDEE")
    for prop in attendees:
        if _address(prop.value) in senders:
            return prop
    for prop in attendees:
        if "PARTSTAT" in prop.params:
            return prop
    return attendees[0] if attendees else None


def _sequence(event: Component) -> int:
    prop = event.first("SEQUENCE")
    try:
        return int(prop.value.strip()) if prop else 0
    except ValueError:
        return 0


@dataclass(frozen=True)
class _Reply:
    method: str
    uid: str
    attendee: str | None
    partstat: str | None
    sequence: int
    organizer: str | None
    dtstart: datetime | None
    comment: str | None
    recurrence_id: datetime | None
    dtstamp: datetime | None
    proposed_start: datetime | None
    proposed_end: datetime | None

    def key(self) -> tuple[object, ...]:
        """What makes two replies the same reply."""
        return (
            self.uid,
            self.attendee,
            self.sequence,
            self.dtstamp,
            self.partstat,
            self.recurrence_id,
        )


def _read_event(event: Component, method: str, zones: Zones, senders: set[str]) -> _Reply:
    uid = event.first("UID")
    attendee = _attendee(event, senders)
    organizer = event.first("ORGANIZER")
    comment_prop = event.first("COMMENT")
    comment = unescape(comment_prop.value).strip() if comment_prop else ""
    start = read_datetime(event.first("DTSTART"), zones)
    end = read_datetime(event.first("DTEND"), zones)
    dtstart, proposed_start, proposed_end = start, None, None
    if method == "COUNTER":
        # DTSTART/DTEND hold the proposal; Outlook keeps the original slot aside.
        proposed_start, proposed_end = start, end
        dtstart = read_datetime(event.first("X-MS-OLK-ORIGINALSTART"), zones)
    partstat = attendee.params.get("PARTSTAT") if attendee else None
    return _Reply(
        method=method,
        uid=unescape(uid.value).strip() if uid else "",
        attendee=_address(attendee.value) if attendee else None,
        partstat=partstat.strip().upper() if partstat else None,
        sequence=_sequence(event),
        organizer=_address(organizer.value) if organizer else None,
        dtstart=dtstart,
        comment=comment or None,
        recurrence_id=read_datetime(event.first("RECURRENCE-ID"), zones),
        dtstamp=read_datetime(event.first("DTSTAMP"), zones),
        proposed_start=proposed_start,
        proposed_end=proposed_end,
    )


def _calendar_parts(msg: Message, max_depth: int) -> Iterator[Message]:
    """Calendar parts of the message's own MIME tree (attached messages are not entered)."""
    stack: list[tuple[Message, int]] = [(msg, 0)]
    while stack:
        part, depth = stack.pop()
        if part.get_content_maintype() == "message":
            continue  # an attached message's invitation answers someone else
        if part.is_multipart():
            if depth >= max_depth:
                continue
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(
                    (child, depth + 1) for child in reversed(payload) if isinstance(child, Message)
                )
            continue
        content_type = part.get_content_type()
        filename = (
            (part.get_filename() or "").lower() if content_type.startswith("application/") else ""
        )
        if content_type in _CALENDAR_TYPES or filename.endswith(".ics"):
            yield part


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = (part.get_content_charset() or "utf-8").lower()
    if charset in ("gb2312", "gbk", "x-gbk"):
        charset = "gb18030"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _method(roots: list[Component], part: Message) -> str:
    for root in roots:
        if root.name == "VCALENDAR" and (prop := root.first("METHOD")) is not None:
            return prop.value.strip().upper()
    return str(part.get_param("method") or "").strip().upper()


def read_calendar_reply(msg: EmailMessage, options: ParseOptions) -> CalendarReply | None:
    """The first ``REPLY``/``COUNTER`` in ``msg``, with how many calendar parts and distinct
    replies it carries; ``None`` when it has none."""
    local = zone_named(options.timezone) or timezone(timedelta(hours=8))
    senders = _sender_addresses(msg)
    parts = 0
    replies: list[_Reply] = []
    for part in _calendar_parts(msg, options.max_mime_depth):
        parts += 1
        roots = parse_calendar(_part_text(part))
        method = _method(roots, part)
        if method not in _METHODS:
            continue
        zones = Zones(roots, local)
        for root in roots:
            replies.extend(
                _read_event(event, method, zones, senders)
                for event in root.children
                if event.name == "VEVENT"
            )
    if not replies:
        return None
    first = replies[0]
    return CalendarReply(
        method=first.method,
        uid=first.uid,
        attendee=first.attendee,
        partstat=first.partstat,
        sequence=first.sequence,
        organizer=first.organizer,
        dtstart=first.dtstart,
        comment=first.comment,
        ics_parts=parts,
        distinct_replies=len({reply.key() for reply in replies}),
        recurrence_id=first.recurrence_id,
        dtstamp=first.dtstamp,
        proposed_start=first.proposed_start,
        proposed_end=first.proposed_end,
    )
