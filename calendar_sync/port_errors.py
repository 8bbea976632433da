"""What a :class:`~calendar_sync.port.Calendar` backend raises.

Every backend raises these and nothing else (no ``caldav``, ``niquests`` or
``exchangelib`` exception leaves ``calendar_sync``)::

    CalendarError                        (calendar_sync.errors)
    ├── TransientCalendarError           retry later, with backoff
    │   ├── CalendarUnavailableError     connection refused or reset, timeout, 5xx, 429
    │   └── CalendarAuthError            401, or 403 without a CalDAV precondition: the
    │                                    credentials or the account's rights are wrong;
    │                                    retrying is right, but an operator must act
    └── PermanentCalendarError           the same call fails the same way every time
        └── CalendarRejectedError        any other 4xx: the server refuses this event
            │                            (UID already used by another resource, data it
            │                            cannot store, the team calendar does not exist)
            └── InvalidEventError        refused before anything was sent: the bytes are
                                         not one VEVENT whose UID and SEQUENCE are the
                                         ones given, or a cancel that is not CANCELLED

Authentication is transient on purpose, as for the SMTP transport
(``daemon.transport_errors.TransportSetupError``): a wrong password is fixed by an
operator, after which the same call succeeds.
"""

from __future__ import annotations

from calendar_sync.errors import PermanentCalendarError, TransientCalendarError

__all__ = [
    "CalendarAuthError",
    "CalendarRejectedError",
    "CalendarUnavailableError",
    "InvalidEventError",
]


class CalendarUnavailableError(TransientCalendarError):
    """The calendar server could not be reached or answered 5xx/429; try again later."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class CalendarAuthError(TransientCalendarError):
    """The server refused our credentials (401) or our rights (403); an operator must act."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class CalendarRejectedError(PermanentCalendarError):
    """The server refused this request for good (4xx other than authentication)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class InvalidEventError(CalendarRejectedError, ValueError):
    """The iCalendar bytes handed to the port do not match what the call says."""
