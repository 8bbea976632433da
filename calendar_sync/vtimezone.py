"""VTIMEZONE blocks as Outlook reads them, and the local-time rules of the builders.

A block describes one zone for the year of a meeting, derived from zoneinfo's own
transitions for that year:

- a zone with one change to summer time and one back (Europe/Berlin,
  America/New_York) gets one ``STANDARD`` and one ``DAYLIGHT`` block, each with a
  yearly ``RRULE`` (``BYMONTH`` and an ordinal weekday such as ``-1SU`` or ``2SU``) and
  no ``RDATE``. Outlook only understands this shape; icalendar's generated blocks list
  every past change as ``RDATE`` instead. The blocks start in 1970 on the rule's date,
  as Google Calendar writes them, so every time of the meeting's year follows a change
  (ical.js reads a time before a zone's first change as UTC: blocks starting in the
  meeting's own year would move a January meeting by the zone's offset);
- a zone without changes that year (Asia/Shanghai) gets a single ``STANDARD`` block;
- anything else (a zone that moves its standard offset, or changes more than twice in
  the year) gets one block per period, each with a single onset and still no ``RDATE``.

Blocks are built once per ``(zone, year)`` and cached: :func:`vtimezone` returns the
identical object for the same arguments.

Local times, as the builders treat them (:func:`local_in_zone`):

- a wall time that does not exist in its zone (inside a spring-forward gap) is refused
  with :class:`~calendar_sync.errors.NonexistentLocalTimeError`; a caller that prefers
  to move it forward by the length of the gap uses :func:`normalise_local` first;
- an ambiguous wall time (the repeated hour in autumn) is resolved by its ``fold``
  (PEP 495): ``fold=0`` is the first occurrence, ``fold=1`` the second. Either is then
  written in UTC, not with its TZID (see :func:`needs_utc`): RFC 5545 reads a TZID time
  in the repeated hour as the first occurrence, but libical and ical.js both read it as
  the second, so only UTC means the same instant to every client.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from calendar_sync.errors import NonexistentLocalTimeError
from calendar_sync.ics import content_line, format_local, format_offset, serialize
from calendar_sync.model import zone_for

__all__ = [
    "ANCHOR_YEAR",
    "Transition",
    "VTimezone",
    "is_ambiguous",
    "local_in_zone",
    "needs_utc",
    "normalise_local",
    "transitions",
    "vtimezone",
]

#: The year the recurring blocks start in.
ANCHOR_YEAR = 1970
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_CACHE_SIZE = 1024


@dataclass(frozen=True)
class Transition:
    """One change of UTC offset, as zoneinfo knows it."""

    at: datetime  # the instant, UTC
    offset_from: timedelta
    offset_to: timedelta
    name: str  # the zone's abbreviation after the change ("CEST")
    dst: bool  # summer time after the change

    @property
    def onset(self) -> datetime:
        """The wall time of the change on the clock before it, as VTIMEZONE's DTSTART
        says it (02:00 for Berlin in March, 03:00 in October)."""
        return (self.at + self.offset_from).replace(tzinfo=None)


@dataclass(frozen=True)
class VTimezone:
    tzid: str
    year: int
    lines: tuple[str, ...]  # unfolded, BEGIN:VTIMEZONE .. END:VTIMEZONE
    data: bytes  # the same, folded, CRLF, UTF-8


def _offset_at(zone: tzinfo, seconds: int) -> timedelta:
    offset = datetime.fromtimestamp(seconds, UTC).astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def transitions(zone: ZoneInfo, year: int) -> tuple[Transition, ...]:
    """Every change of UTC offset whose local onset falls in ``year``, in order."""
    day = 86_400
    first = int(datetime(year - 1, 12, 30, tzinfo=UTC).timestamp())
    last = int(datetime(year + 1, 1, 2, tzinfo=UTC).timestamp())
    found: list[Transition] = []
    before = _offset_at(zone, first)
    probe = first
    while probe < last:
        after = _offset_at(zone, probe + day)
        if after != before:
            low, high = probe, probe + day  # offset(low) == before, offset(high) != before
            while high - low > 1:
                mid = (low + high) // 2
                if _offset_at(zone, mid) == before:
                    low = mid
                else:
                    high = mid
            at = datetime.fromtimestamp(high, UTC)
            local = at.astimezone(zone)
            change = Transition(
                at=at,
                offset_from=before,
                offset_to=_offset_at(zone, high),
                name=local.tzname() or format_offset(after),
                dst=bool(local.dst()),
            )
            if change.onset.year == year:
                found.append(change)
            before = change.offset_to
            probe = high
            continue
        probe += day
    return tuple(found)


def _ordinal_weekday(onset: datetime) -> str:
    """``2SU`` (second Sunday) or ``-1SU`` (last Sunday) for the onset's date."""
    month_days = calendar.monthrange(onset.year, onset.month)[1]
    ordinal = -1 if onset.day + 7 > month_days else (onset.day - 1) // 7 + 1
    return f"{ordinal}{_WEEKDAYS[onset.weekday()]}"


def _anchor(onset: datetime, rule: str) -> datetime:
    """The first date the yearly rule gives in ANCHOR_YEAR, at the onset's time."""
    ordinal, weekday = int(rule[:-2]), _WEEKDAYS.index(rule[-2:])
    weeks = calendar.Calendar().monthdatescalendar(ANCHOR_YEAR, onset.month)
    days = [d for week in weeks for d in week if d.month == onset.month and d.weekday() == weekday]
    chosen = days[ordinal - 1] if ordinal > 0 else days[ordinal]
    return datetime.combine(chosen, onset.time())


def _block(
    kind: str,
    start: datetime,
    offset_from: timedelta,
    offset_to: timedelta,
    name: str,
    rrule: str | None,
) -> list[str]:
    lines = [
        f"BEGIN:{kind}",
        f"DTSTART:{format_local(start)}",
        f"TZOFFSETFROM:{format_offset(offset_from)}",
        f"TZOFFSETTO:{format_offset(offset_to)}",
    ]
    if rrule is not None:
        lines.append(f"RRULE:{rrule}")
    lines += [content_line("TZNAME", name), f"END:{kind}"]
    return lines


def _is_summer_winter_pair(changes: tuple[Transition, ...]) -> bool:
    if len(changes) != 2:
        return False
    one, two = changes
    return one.offset_to == two.offset_from and two.offset_to == one.offset_from


def _blocks(zone: ZoneInfo, year: int) -> list[str]:
    changes = transitions(zone, year)
    if _is_summer_winter_pair(changes):
        lines: list[str] = []
        # The larger offset is summer time, whatever the tz database's flag says
        # (Europe/Dublin marks winter as its "daylight" period).
        for change in sorted(changes, key=lambda c: c.offset_to):
            kind = "DAYLIGHT" if change.offset_to > change.offset_from else "STANDARD"
            rule = _ordinal_weekday(change.onset)
            lines += _block(
                kind,
                _anchor(change.onset, rule),
                change.offset_from,
                change.offset_to,
                change.name,
                f"FREQ=YEARLY;BYMONTH={change.onset.month};BYDAY={rule}",
            )
        return lines
    new_year = datetime(year, 1, 1, tzinfo=UTC).astimezone(zone)
    offset = new_year.utcoffset()
    assert offset is not None
    lines = _block(
        "DAYLIGHT" if (changes and new_year.dst()) else "STANDARD",
        datetime(ANCHOR_YEAR, 1, 1),
        offset,
        offset,
        new_year.tzname() or format_offset(offset),
        None,
    )
    for change in changes:
        kind = "DAYLIGHT" if change.dst else "STANDARD"
        lines += _block(kind, change.onset, change.offset_from, change.offset_to, change.name, None)
    return lines


@lru_cache(maxsize=_CACHE_SIZE)
def vtimezone(tzid: str, year: int) -> VTimezone:
    """The VTIMEZONE for IANA zone ``tzid`` as it stands in ``year``; cached."""
    zone = zone_for(tzid)
    lines = (
        "BEGIN:VTIMEZONE",
        content_line("TZID", tzid),
        *_blocks(zone, year),
        "END:VTIMEZONE",
    )
    return VTimezone(tzid=tzid, year=year, lines=lines, data=serialize(lines))


# --- local times ----------------------------------------------------------------------


def _zone_name(zone: tzinfo | None) -> str:
    return str(getattr(zone, "key", None) or zone)


def _exists(value: datetime) -> bool:
    back = value.astimezone(UTC).astimezone(value.tzinfo)
    return back.replace(tzinfo=None) == value.replace(tzinfo=None)


def normalise_local(value: datetime) -> datetime:
    """``value`` unchanged when its wall time exists in its zone; a wall time inside a
    spring-forward gap moved forward by the length of the gap (Berlin 02:30 on the
    last Sunday of March becomes 03:30 CEST). Ambiguous times keep their ``fold``."""
    if _exists(value):
        return value
    zone = value.tzinfo
    return value.replace(fold=0).astimezone(UTC).astimezone(zone)


def is_ambiguous(value: datetime) -> bool:
    """True for a wall time that occurs twice in its zone (the autumn repeated hour)."""
    return value.replace(fold=1 - value.fold).utcoffset() != value.utcoffset()


def local_in_zone(value: datetime, zone: ZoneInfo) -> datetime:
    """The instant ``value`` as a wall time in ``zone`` (``fold`` set for the second
    occurrence of a repeated hour). A wall time given in a zone where it does not exist
    raises :class:`NonexistentLocalTimeError`, never silently shifted."""
    if not _exists(value):
        raise NonexistentLocalTimeError(value, _zone_name(value.tzinfo))
    return value.astimezone(zone)


def needs_utc(local: datetime) -> bool:
    """True when ``local`` (a wall time from :func:`local_in_zone`) falls in a repeated
    hour: with its TZID, clients disagree on which occurrence it is, so it is written in
    UTC, the instant its ``fold`` chose."""
    return is_ambiguous(local)
