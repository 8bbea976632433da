"""The calendar port: where a meeting is put besides the invitations that are mailed.

The invitations themselves always travel by mail, through the outbox. A :class:`Calendar`
backend keeps (or not) a *copy* of each meeting somewhere people can look at it: a shared
team calendar on a CalDAV server, an Exchange calendar. The workflow hands it the very
iCalendar bytes it mailed (built by the pure builders), so the copy and the mail cannot
disagree: same UID, same SEQUENCE, same times.

The contract, which ``tests/test_calendar_contract.py`` runs against every backend:

``publish(uid, ics, sequence)``
    Create or replace the copy of meeting ``uid``. ``ics`` is one VCALENDAR with one
    non-recurring VEVENT whose UID is ``uid``, whose SEQUENCE is ``sequence`` (absent
    means 0) and whose STATUS is not CANCELLED; anything else raises
    :class:`~calendar_sync.port_errors.InvalidEventError` before anything is sent.
    The backend stores the event as given: it never bumps SEQUENCE or rewrites DTSTAMP
    (a backend may drop the VCALENDAR's ``METHOD``, which a calendar collection must not
    hold, and a server may re-serialise what it stores). Publishing the sequence already
    stored replaces it (a retry is harmless); publishing a *lower* sequence than the one
    stored does nothing, as an iTIP client ignores an older update.
``cancel(uid, ics, sequence)``
    The same with the CANCEL object (same UID, the next SEQUENCE, ``STATUS:CANCELLED``):
    the cancelled version is *stored*, not deleted, so the team calendar shows the meeting
    as cancelled and ``get(uid)`` answers ``status == "CANCELLED"`` with that sequence. A
    later publish with a higher sequence brings the meeting back. Cancelling for a single
    attendee is not a calendar change: the workflow publishes the new REQUEST without them.
``get(uid)``
    The stored copy, or None when the backend holds none.
``busy(attendees, start, end)``
    When any of ``attendees`` is taken in ``[start, end)``, as far as the backend can tell,
    or None when it cannot tell at all. Counted: events not CANCELLED and not
    ``TRANSP:TRANSPARENT``, in which one of the addresses is the ORGANIZER or an ATTENDEE
    that has not DECLINED. The intervals come back clipped to the window, merged where they
    overlap or touch, sorted, in UTC.

Backends differ in what they can do, and say so in :attr:`Calendar.capabilities`; the
contract suite checks each declared capability against what the backend does:

==================  ===============  ==========  ===========
backend             stores_events    free_busy   remote
==================  ===============  ==========  ===========
ImipCalendar        no: get → None   no: None    no
InMemoryCalendar    yes              yes         no
CaldavCalendar      yes              yes [1]_    yes
==================  ===============  ==========  ===========

.. [1] From the team calendar only: it knows the meetings Liaison (or anyone) put there,
   not the attendees' own calendars.

Errors are those of :mod:`calendar_sync.port_errors`; nothing else escapes a backend.
Datetimes are aware; floating times and all-day dates in stored events are read in the
backend's ``timezone``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Protocol, runtime_checkable

import icalendar

from calendar_sync.port_errors import InvalidEventError

__all__ = [
    "Calendar",
    "CalendarCapabilities",
    "EventFacts",
    "StoredEvent",
    "busy_intervals",
    "check_event",
    "check_window",
    "read_events",
]


@dataclass(frozen=True)
class CalendarCapabilities:
    """What a backend can do; the contract suite holds each backend to its word."""

    #: ``get`` returns what was published (else it always returns None).
    stores_events: bool
    #: ``busy`` answers (else it always returns None).
    free_busy: bool
    #: The backend talks to a server, so calls may raise ``CalendarUnavailableError``.
    remote: bool


@dataclass(frozen=True)
class StoredEvent:
    """The copy of one meeting a backend holds."""

    uid: str
    sequence: int
    #: STATUS of the VEVENT in upper case ("CONFIRMED", "CANCELLED", ...), None if absent.
    status: str | None
    #: The iCalendar object as the backend returns it (CRLF line ends).
    raw: bytes

    @property
    def cancelled(self) -> bool:
        return self.status == "CANCELLED"


@runtime_checkable
class Calendar(Protocol):
    """Where copies of meetings are kept; see the module docstring for the contract."""

    @property
    def capabilities(self) -> CalendarCapabilities: ...

    def publish(self, uid: str, ics: bytes, sequence: int) -> None: ...

    def cancel(self, uid: str, ics: bytes, sequence: int) -> None: ...

    def get(self, uid: str) -> StoredEvent | None: ...

    def busy(
        self, attendees: Sequence[str], start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]] | None: ...


# --- reading events: shared by every backend so they all judge the same way ------------


@dataclass(frozen=True)
class EventFacts:
    """What the port needs to know about one VEVENT, times in UTC."""

    uid: str
    sequence: int
    status: str | None
    start: datetime
    end: datetime
    transparent: bool
    organizer: str | None  # address, casefolded, without "mailto:"
    #: Attendee address (casefolded, without "mailto:") -> PARTSTAT (upper case).
    attendees: tuple[tuple[str, str], ...]
    #: RRULE or RDATE present (the instants above are then the first one only).
    recurring: bool
    recurrence_id: bool


def read_events(ics: bytes, zone: tzinfo) -> list[EventFacts]:
    """Every VEVENT of one or more concatenated VCALENDARs.

    Floating times and all-day dates are read in ``zone``. Raises
    :class:`InvalidEventError` when the bytes are not iCalendar.
    """
    try:
        calendars = icalendar.Calendar.from_ical(ics, multiple=True)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise InvalidEventError(f"not iCalendar data: {exc}") from None
    events: list[EventFacts] = []
    for calendar in calendars:
        for component in calendar.walk("VEVENT"):
            if isinstance(component, icalendar.Event):
                events.append(_facts(component, zone))
    return events


def check_event(
    uid: str, ics: bytes, sequence: int, *, cancel: bool, zone: tzinfo = UTC
) -> EventFacts:
    """The one event of ``ics``, after checking it is what ``publish``/``cancel`` expects.

    Floating times and all-day dates are read in ``zone``. Raises
    :class:`InvalidEventError` otherwise; see the module docstring.
    """
    if not isinstance(ics, bytes):
        raise InvalidEventError(f"iCalendar data must be bytes, not {type(ics).__name__}")
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 0:
        raise InvalidEventError(f"SEQUENCE must be a non-negative int, got {sequence!r}")
    try:
        calendars = icalendar.Calendar.from_ical(ics, multiple=True)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise InvalidEventError(f"{uid}: not iCalendar data: {exc}") from None
    if len(calendars) != 1 or calendars[0].name != "VCALENDAR":
        raise InvalidEventError(f"{uid}: expected one VCALENDAR, found {len(calendars)}")
    calendar = calendars[0]
    others = sorted(
        {str(c.name) for c in calendar.subcomponents if c.name not in ("VEVENT", "VTIMEZONE")}
    )
    if others:
        raise InvalidEventError(f"{uid}: unexpected components {', '.join(others)}")
    vevents = [c for c in calendar.subcomponents if isinstance(c, icalendar.Event)]
    if len(vevents) != 1:
        raise InvalidEventError(f"{uid}: expected one VEVENT, found {len(vevents)}")
    method = str(calendar.get("METHOD", "")).upper()
    allowed = ("CANCEL",) if cancel else ("REQUEST", "PUBLISH")
    if method and method not in allowed:
        raise InvalidEventError(f"{uid}: METHOD {method} where {' or '.join(allowed)} belongs")
    facts = _facts(vevents[0], zone)
    if facts.uid != uid:
        raise InvalidEventError(f"UID {facts.uid!r} in the data, {uid!r} in the call")
    if facts.sequence != sequence:
        raise InvalidEventError(
            f"{uid}: SEQUENCE {facts.sequence} in the data, {sequence} in the call"
        )
    if facts.recurring or facts.recurrence_id:
        raise InvalidEventError(f"{uid}: recurring events are not meetings Liaison publishes")
    if cancel and facts.status != "CANCELLED":
        raise InvalidEventError(f"{uid}: a cancellation needs STATUS:CANCELLED")
    if not cancel and facts.status == "CANCELLED":
        raise InvalidEventError(f"{uid}: STATUS:CANCELLED goes through cancel(), not publish()")
    return facts


def busy_intervals(
    events: Iterable[EventFacts], attendees: Sequence[str], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The busy time of ``attendees`` in ``[start, end)`` that ``events`` account for.

    Non-recurring events only (a backend that holds recurring ones expands them first).
    The rules are the module docstring's.
    """
    window_start, window_end = check_window(start, end)
    people = {_address(a) for a in attendees}
    people.discard("")
    spans: list[tuple[datetime, datetime]] = []
    for event in events:
        if event.status == "CANCELLED" or event.transparent:
            continue
        if not (event.start < window_end and event.end > window_start):
            continue
        involved = event.organizer in people or any(
            address in people and partstat != "DECLINED" for address, partstat in event.attendees
        )
        if involved:
            spans.append((max(event.start, window_start), min(event.end, window_end)))
    return _merge(spans)


def check_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """``(start, end)`` in UTC; ValueError when naive or not in order."""
    for name, value in (("start", start), ("end", end)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"timezone-naive {name} refused: {value!r}")
    start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    if not start_utc < end_utc:
        raise ValueError(f"busy window end {end.isoformat()} is not after {start.isoformat()}")
    return start_utc, end_utc


def _merge(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for first, last in sorted(spans):
        if first >= last:
            continue
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _facts(component: icalendar.Event, zone: tzinfo) -> EventFacts:
    uid = str(component.get("UID", "")).strip()
    if not uid:
        raise InvalidEventError("a VEVENT without UID")
    raw_sequence = component.get("SEQUENCE", 0)
    try:
        sequence = int(raw_sequence)
    except (TypeError, ValueError):
        raise InvalidEventError(f"{uid}: SEQUENCE {raw_sequence!r} is not a number") from None
    if "DTSTART" not in component:
        raise InvalidEventError(f"{uid}: a VEVENT without DTSTART")
    try:
        first = component.start
        last = component.end
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidEventError(f"{uid}: unreadable DTSTART/DTEND: {exc}") from None
    start_utc, end_utc = _instant(first, zone), _instant(last, zone)
    if end_utc < start_utc:
        raise InvalidEventError(f"{uid}: DTEND before DTSTART")
    status = component.get("STATUS")
    organizer = component.get("ORGANIZER")
    raw_attendees = component.get("ATTENDEE", [])
    if not isinstance(raw_attendees, list):
        raw_attendees = [raw_attendees]
    attendees = tuple(
        (_address(str(a)), str(getattr(a, "params", {}).get("PARTSTAT", "NEEDS-ACTION")).upper())
        for a in raw_attendees
    )
    return EventFacts(
        uid=uid,
        sequence=sequence,
        status=str(status).upper() if status is not None else None,
        start=start_utc,
        end=end_utc,
        transparent=str(component.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT",
        organizer=_address(str(organizer)) if organizer is not None else None,
        attendees=attendees,
        recurring="RRULE" in component or "RDATE" in component,
        recurrence_id="RECURRENCE-ID" in component,
    )


def _instant(value: date | datetime, zone: tzinfo) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            value = value.replace(tzinfo=zone)  # floating time: the backend's zone
        return value.astimezone(UTC)
    # An all-day date: local midnight in the backend's zone.
    return datetime(value.year, value.month, value.day, tzinfo=zone).astimezone(UTC)


def _address(value: str) -> str:
    text = value.strip()
    if text[:7].lower() == "mailto:":
        text = text[7:]
    return text.casefold()
