"""Errors raised by ``calendar_sync``.

Two families, as everywhere in Liaison: a :class:`TransientCalendarError` may succeed
when retried with backoff (a calendar server that is down); a
:class:`PermanentCalendarError` fails the same way every time (a meeting that cannot be
written), so the caller records it and tells someone instead of retrying.
"""

from __future__ import annotations

from datetime import datetime


class CalendarError(Exception):
    """Base class of every error raised by ``calendar_sync``."""


class TransientCalendarError(CalendarError):
    """Worth retrying later: the calendar backend could not be reached or timed out."""


class PermanentCalendarError(CalendarError):
    """Retrying the same input fails the same way."""


class InvalidMeetingError(PermanentCalendarError, ValueError):
    """A meeting (or an argument of a builder) that cannot become an iCalendar object:
    a naive datetime, an end before the start, an unknown time zone, an empty UID, an
    address or URL that cannot be written safely."""


class UnknownTimezoneError(InvalidMeetingError):
    """The meeting names a time zone that zoneinfo does not know."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown time zone {name!r}")
        self.name = name


class NonexistentLocalTimeError(InvalidMeetingError):
    """A local time that does not exist in the meeting's zone: it falls inside a
    spring-forward gap (e.g. 02:30 on the last Sunday of March in Europe/Berlin).

    The builders raise it rather than guess; a scheduler that prefers to move such a
    time forward calls :func:`calendar_sync.vtimezone.normalise_local` first.
    """

    def __init__(self, local: datetime, zone: str) -> None:
        super().__init__(
            f"{local.replace(tzinfo=None).isoformat()} does not exist in {zone} "
            "(it falls inside a daylight-saving gap)"
        )
        self.local = local
        self.zone = zone
