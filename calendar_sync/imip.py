"""The mail-only calendar backend: iMIP invitations and nothing else.

With ``[calendar] backend = "imip"`` the invitations (REQUEST, CANCEL) are the whole
calendar: they go out by mail through the outbox, and each attendee's own calendar
client keeps the meeting. There is no shared calendar to write to, so this backend keeps
nothing, here or remotely:

* ``publish`` and ``cancel`` check the bytes as every backend does (a builder bug fails
  the same way whatever the backend) and store nothing;
* ``get`` returns None: the store (``store/``) is where Liaison remembers its meetings;
* ``busy`` returns None: without a calendar server nobody's free/busy time is known, so
  scheduling looks at working hours only.

A record kept in memory would look like a calendar but vanish at every restart and
differ between replicas; this backend declares instead that it stores nothing
(:attr:`ImipCalendar.capabilities`), and the contract suite checks it keeps its word.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from calendar_sync.port import CalendarCapabilities, StoredEvent, check_event, check_window

__all__ = ["ImipCalendar"]


class ImipCalendar:
    """Invitations by mail only: nothing is stored, nothing is known about busy time."""

    capabilities = CalendarCapabilities(stores_events=False, free_busy=False, remote=False)

    def publish(self, uid: str, ics: bytes, sequence: int) -> None:
        check_event(uid, ics, sequence, cancel=False)

    def cancel(self, uid: str, ics: bytes, sequence: int) -> None:
        check_event(uid, ics, sequence, cancel=True)

    def get(self, uid: str) -> StoredEvent | None:
        return None

    def busy(
        self, attendees: Sequence[str], start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]] | None:
        check_window(start, end)
        return None
