"""iTIP messages (RFC 5546) for one meeting, carried by mail (iMIP, RFC 6047).

Pure functions: the meeting, its UID and SEQUENCE, and ``dtstamp`` (the moment the
message is made, from the caller's clock) are all arguments; nothing here reads the
clock. Each call returns the bytes of exactly one VCALENDAR: UTF-8, CRLF, folded at 75
octets, every TZID used described by a VTIMEZONE (:mod:`calendar_sync.vtimezone`).

- :func:`build_request` — ``METHOD:REQUEST``: a new meeting or an update of one.
- :func:`build_cancel` — ``METHOD:CANCEL``: the whole meeting, or for the attendees
  given only (an attendee removed from the meeting).
- :func:`build_declinecounter` — ``METHOD:DECLINECOUNTER``: the organizer turns down
  an attendee's ``COUNTER`` proposal (mailed to that attendee).
- :func:`next_sequence` — the SEQUENCE an updated meeting is sent with.

The organizer is the coordination mailbox, named with ``CN``; every attendee is
written with ``CUTYPE=INDIVIDUAL``, ``ROLE``, ``PARTSTAT`` (``NEEDS-ACTION`` unless the
meeting says otherwise), ``RSVP`` and ``CN``. The agenda is the DESCRIPTION. The
online-meeting link is the URL, and the LOCATION too when the meeting has no room.

Local times (see :mod:`calendar_sync.vtimezone`): a wall time inside a spring-forward
gap raises :class:`~calendar_sync.errors.NonexistentLocalTimeError` — it is never
written; a time in a repeated autumn hour is the occurrence its ``fold`` names and is
written in UTC, the one form every client reads as that instant.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal

from calendar_sync.errors import InvalidMeetingError
from calendar_sync.ics import (
    content_line,
    escape_text,
    format_date,
    format_local,
    format_utc,
    require_aware,
    serialize,
)
from calendar_sync.model import Attendee, Meeting, Organizer, zone_for
from calendar_sync.vtimezone import local_in_zone, needs_utc, vtimezone

__all__ = [
    "PRODID",
    "build_cancel",
    "build_declinecounter",
    "build_request",
    "next_sequence",
]

PRODID = "-//Liaison//Coordination Mailbox 1.0//ZH"
Method = Literal["REQUEST", "CANCEL", "DECLINECOUNTER"]


def build_request(meeting: Meeting, *, dtstamp: datetime) -> bytes:
    """``METHOD:REQUEST`` inviting every attendee of ``meeting`` (a new meeting, or an
    update sent with the SEQUENCE from :func:`next_sequence`)."""
    if meeting.status != "CONFIRMED":
        raise InvalidMeetingError(f"{meeting.uid}: a cancelled meeting is sent with build_cancel")
    if not meeting.attendees:
        raise InvalidMeetingError(f"{meeting.uid}: an invitation needs at least one attendee")
    return _calendar("REQUEST", meeting, dtstamp, meeting.attendees)


def build_cancel(
    meeting: Meeting,
    *,
    dtstamp: datetime,
    attendees: tuple[Attendee, ...] | None = None,
) -> bytes:
    """``METHOD:CANCEL`` with ``STATUS:CANCELLED`` and the SEQUENCE of ``meeting`` as
    given (the caller raises it, normally by :func:`next_sequence`).

    ``attendees=None`` cancels the meeting for everyone it lists. A tuple (usually the
    attendees just removed) cancels it for those only: the message lists only them, so
    each is told the meeting is off for them while the others keep it.
    """
    chosen = meeting.attendees if attendees is None else tuple(attendees)
    if not chosen:
        raise InvalidMeetingError(f"{meeting.uid}: a cancellation needs at least one attendee")
    return _calendar("CANCEL", meeting, dtstamp, chosen)


def build_declinecounter(meeting: Meeting, *, dtstamp: datetime, comment: str = "") -> bytes:
    """``METHOD:DECLINECOUNTER``, sent to the attendee whose ``COUNTER`` was turned
    down: the meeting's UID, the organizer, DTSTAMP and an optional COMMENT with the
    reason, nothing else.

    That is the property set libical's iTIP restriction check accepts for this method
    (its table is RFC 2446's, which allows no ATTENDEE, SEQUENCE, DTSTART or SUMMARY
    here; RFC 5546 later allowed them). The proposer is the mail's recipient, and the
    mail's text says which proposal was declined and when the meeting stays."""
    event = [
        "BEGIN:VEVENT",
        content_line("UID", escape_text(meeting.uid)),
        f"DTSTAMP:{format_utc(require_aware(dtstamp, 'DTSTAMP'))}",
        _organizer(meeting.organizer),
    ]
    if comment:
        event.append(content_line("COMMENT", escape_text(comment)))
    return serialize([*_head("DECLINECOUNTER"), *event, "END:VEVENT", "END:VCALENDAR"])


def next_sequence(old: Meeting, new: Meeting) -> int:
    """The SEQUENCE to send ``new`` with, ``old`` being the version last sent: one more
    than ``old.sequence`` exactly when the start, the end (so the duration) or the
    status changed, else ``old.sequence``. Instants are compared, not wall times: the
    same meeting shown in another zone is not a change; all day or not is one."""
    if old.uid != new.uid:
        raise InvalidMeetingError(f"not the same meeting: {old.uid!r} and {new.uid!r}")
    changed = (
        old.start.astimezone(UTC) != new.start.astimezone(UTC)
        or old.end.astimezone(UTC) != new.end.astimezone(UTC)
        or old.all_day != new.all_day
        or old.status != new.status
    )
    return old.sequence + 1 if changed else old.sequence


# --- writing --------------------------------------------------------------------------


def _mailto(address: str) -> str:
    return f"mailto:{address}"


# People recur from meeting to meeting: their lines are worked out once.
@lru_cache(maxsize=4096)
def _organizer(organizer: Organizer) -> str:
    params = (("CN", organizer.name),) if organizer.name.strip() else ()
    return content_line("ORGANIZER", _mailto(organizer.email), params)


@lru_cache(maxsize=4096)
def _attendee(attendee: Attendee) -> str:
    params = [
        ("CUTYPE", "INDIVIDUAL"),
        ("ROLE", attendee.role),
        ("PARTSTAT", attendee.partstat),
        ("RSVP", "TRUE" if attendee.rsvp else "FALSE"),
    ]
    if attendee.name.strip():
        params.append(("CN", attendee.name))
    return content_line("ATTENDEE", _mailto(attendee.email), params)


def _times(meeting: Meeting) -> tuple[list[str], set[tuple[str, int]]]:
    """DTSTART and DTEND lines, and the (TZID, year) blocks they need."""
    zone = zone_for(meeting.timezone)
    if meeting.all_day:
        first = meeting.start.astimezone(zone).date()
        after = meeting.end.astimezone(zone).date()
        return [
            content_line("DTSTART", format_date(first), (("VALUE", "DATE"),)),
            content_line("DTEND", format_date(after), (("VALUE", "DATE"),)),
        ], set()
    lines: list[str] = []
    zones: set[tuple[str, int]] = set()
    start_year = None
    for name, value in (("DTSTART", meeting.start), ("DTEND", meeting.end)):
        local = local_in_zone(value, zone)
        if needs_utc(local):
            lines.append(content_line(name, format_utc(local)))
            continue
        lines.append(content_line(name, format_local(local), (("TZID", meeting.timezone),)))
        # One block for the meeting, from the year it starts in; its yearly rules
        # carry over into the next year for a meeting across New Year.
        start_year = local.year if start_year is None else start_year
        zones.add((meeting.timezone, start_year))
    return lines, zones


def _head(method: Method) -> list[str]:
    return [
        "BEGIN:VCALENDAR",
        content_line("PRODID", PRODID),
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        f"METHOD:{method}",
    ]


def _calendar(
    method: Literal["REQUEST", "CANCEL"],
    meeting: Meeting,
    dtstamp: datetime,
    attendees: Iterable[Attendee],
) -> bytes:
    stamp = format_utc(require_aware(dtstamp, "DTSTAMP"))
    times, zones = _times(meeting)
    event = [
        "BEGIN:VEVENT",
        content_line("UID", escape_text(meeting.uid)),
        f"SEQUENCE:{meeting.sequence}",
        f"DTSTAMP:{stamp}",
        *times,
        content_line("SUMMARY", escape_text(meeting.summary)),
    ]
    if meeting.description:
        event.append(content_line("DESCRIPTION", escape_text(meeting.description)))
    location = meeting.location or meeting.online_url or ""
    if location:
        event.append(content_line("LOCATION", escape_text(location)))
    if meeting.online_url:
        event.append(content_line("URL", meeting.online_url))
    event.append(_organizer(meeting.organizer))
    event += [_attendee(attendee) for attendee in attendees]
    event += [
        f"STATUS:{'CONFIRMED' if method == 'REQUEST' else 'CANCELLED'}",
        "TRANSP:OPAQUE",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    blocks = b"".join(vtimezone(tzid, year).data for tzid, year in sorted(zones))
    return serialize(_head(method)) + blocks + serialize(event)
