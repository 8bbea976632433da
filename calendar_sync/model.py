"""The meeting as plain frozen data: what an invitation is built from.

Datetimes are aware (a naive one is refused); ``timezone`` is the IANA name the meeting
is shown in, and the zone its ``DTSTART``/``DTEND`` are written in. An all-day meeting
starts and ends at local midnight in that zone, the end exclusive (a one-day meeting on
21 March runs from 21 March 00:00 to 22 March 00:00).

Validation here covers what is wrong whatever the calendar: shape, awareness, order,
known zone, writable addresses. Whether a local time exists in its zone (spring-forward
gaps) is checked where the time is written, by the builders in
:mod:`calendar_sync.itip`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calendar_sync.errors import InvalidMeetingError, UnknownTimezoneError

__all__ = [
    "Attendee",
    "Meeting",
    "Organizer",
    "PartStat",
    "Role",
    "Status",
    "zone_for",
]

Role = Literal["REQ-PARTICIPANT", "OPT-PARTICIPANT", "CHAIR"]
PartStat = Literal["NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE", "DELEGATED"]
Status = Literal["CONFIRMED", "CANCELLED"]

# Deliberately plain: an address that goes into ``mailto:`` without any quoting.
_EMAIL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:[\x21-\x7e]+")
_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def zone_for(name: str) -> ZoneInfo:
    """The zoneinfo zone of an IANA name, or :class:`UnknownTimezoneError`."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimezoneError(name) from exc


def _check_email(value: str, what: str) -> None:
    if not _EMAIL.fullmatch(value):
        raise InvalidMeetingError(f"{what}: not an address that can be written: {value!r}")


def _check_aware(value: datetime, what: str) -> None:
    if not isinstance(value, datetime):
        raise InvalidMeetingError(f"{what} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidMeetingError(f"{what} must be an aware datetime, got {value.isoformat()}")


@dataclass(frozen=True)
class Organizer:
    """The coordination mailbox the invitation comes from (it equals the mail's From)."""

    email: str
    name: str

    def __post_init__(self) -> None:
        _check_email(self.email, "organizer")


@dataclass(frozen=True)
class Attendee:
    email: str
    name: str
    role: Role = "REQ-PARTICIPANT"
    partstat: PartStat = "NEEDS-ACTION"
    rsvp: bool = True

    def __post_init__(self) -> None:
        _check_email(self.email, "attendee")
        if self.role not in get_args(Role):
            raise InvalidMeetingError(f"attendee {self.email}: unknown role {self.role!r}")
        if self.partstat not in get_args(PartStat):
            raise InvalidMeetingError(f"attendee {self.email}: unknown partstat {self.partstat!r}")


@dataclass(frozen=True, kw_only=True)
class Meeting:
    uid: str
    sequence: int = 0
    summary: str
    description: str = ""  # the agenda
    location: str = ""
    online_url: str | None = None
    start: datetime
    end: datetime
    all_day: bool = False
    timezone: str  # IANA name, e.g. "Asia/Shanghai"
    organizer: Organizer
    attendees: tuple[Attendee, ...] = field(default=())
    status: Status = "CONFIRMED"

    def __post_init__(self) -> None:
        if not self.uid or self.uid != self.uid.strip() or _CONTROLS.search(self.uid):
            raise InvalidMeetingError(f"unusable UID {self.uid!r}")
        if isinstance(self.sequence, bool) or not isinstance(self.sequence, int):
            raise InvalidMeetingError(f"SEQUENCE must be an int, got {self.sequence!r}")
        if self.sequence < 0:
            raise InvalidMeetingError(f"SEQUENCE must not be negative, got {self.sequence}")
        if self.status not in get_args(Status):
            raise InvalidMeetingError(f"unknown status {self.status!r}")
        if self.online_url is not None and not _URL.fullmatch(self.online_url):
            raise InvalidMeetingError(f"online meeting link is not a URI: {self.online_url!r}")
        _check_aware(self.start, "start")
        _check_aware(self.end, "end")
        # In UTC: aware datetimes sharing a tzinfo compare (and subtract) by wall time.
        if self.end.astimezone(UTC) <= self.start.astimezone(UTC):
            raise InvalidMeetingError(
                f"end {self.end.isoformat()} is not after start {self.start.isoformat()}"
            )
        zone = zone_for(self.timezone)
        if self.all_day:
            for what, value in (("start", self.start), ("end", self.end)):
                if value.astimezone(zone).timetz().replace(tzinfo=None) != time(0):
                    raise InvalidMeetingError(
                        f"all-day meeting: {what} {value.isoformat()} is not midnight "
                        f"in {self.timezone}"
                    )
        if not isinstance(self.attendees, tuple):
            object.__setattr__(self, "attendees", tuple(self.attendees))
        seen: set[str] = set()
        for attendee in self.attendees:
            if not isinstance(attendee, Attendee):
                raise InvalidMeetingError(f"not an Attendee: {attendee!r}")
            key = attendee.email.casefold()
            if key in seen:
                raise InvalidMeetingError(f"attendee {attendee.email} listed twice")
            seen.add(key)

    @property
    def duration(self) -> timedelta:
        """Elapsed time (a meeting across a DST change is an hour shorter or longer than
        its wall clock says)."""
        return self.end.astimezone(UTC) - self.start.astimezone(UTC)
