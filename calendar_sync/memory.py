"""An in-memory :class:`~calendar_sync.port.Calendar`: the reference backend.

It keeps the copies in a dict and follows the port's contract exactly (the contract
suite runs against it as against the real ones), so workflow tests can use it instead
of a server. Like vdirsyncer's memory storage it raises the same errors as the remote
backends: set :attr:`InMemoryCalendar.outage` to make every call fail with
:class:`~calendar_sync.port_errors.CalendarUnavailableError`, as a server that is down.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from calendar_sync.port import (
    CalendarCapabilities,
    EventFacts,
    StoredEvent,
    busy_intervals,
    check_event,
    check_window,
)
from calendar_sync.port_errors import CalendarUnavailableError

__all__ = ["InMemoryCalendar"]


class InMemoryCalendar:
    """Copies of meetings in a dict; thread-safe.

    ``timezone`` is the zone all-day dates are read in (the organisation's).
    """

    capabilities = CalendarCapabilities(stores_events=True, free_busy=True, remote=False)

    def __init__(self, *, timezone: str = "UTC") -> None:
        self._zone = ZoneInfo(timezone)
        self._events: dict[str, tuple[EventFacts, bytes]] = {}
        self._lock = threading.Lock()
        #: While true, every call raises CalendarUnavailableError (a server outage).
        self.outage = False

    def publish(self, uid: str, ics: bytes, sequence: int) -> None:
        self._store(check_event(uid, ics, sequence, cancel=False, zone=self._zone), ics)

    def cancel(self, uid: str, ics: bytes, sequence: int) -> None:
        self._store(check_event(uid, ics, sequence, cancel=True, zone=self._zone), ics)

    def get(self, uid: str) -> StoredEvent | None:
        self._check_up()
        with self._lock:
            found = self._events.get(uid)
        if found is None:
            return None
        facts, raw = found
        return StoredEvent(uid=uid, sequence=facts.sequence, status=facts.status, raw=raw)

    def busy(
        self, attendees: Sequence[str], start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]] | None:
        check_window(start, end)
        self._check_up()
        with self._lock:
            events = [facts for facts, _raw in self._events.values()]
        return busy_intervals(events, attendees, start, end)

    def uids(self) -> list[str]:
        """Every UID held, sorted (for tests that look at the whole calendar)."""
        with self._lock:
            return sorted(self._events)

    def _store(self, facts: EventFacts, ics: bytes) -> None:
        self._check_up()
        with self._lock:
            held = self._events.get(facts.uid)
            if held is not None and held[0].sequence > facts.sequence:
                return  # an older update: ignored, as an iTIP client would
            self._events[facts.uid] = (facts, bytes(ics))

    def _check_up(self) -> None:
        if self.outage:
            raise CalendarUnavailableError("in-memory calendar: simulated outage")
