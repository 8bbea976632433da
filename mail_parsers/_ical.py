"""A small iCalendar (RFC 5545) reader: components, properties, time zones and times.

Enough for reading iTIP replies: unfolding, quoted parameters, TEXT unescaping, and
``DATE``/``DATE-TIME`` values turned into aware datetimes. ``TZID`` may be an IANA name, a
Windows zone id such as ``China Standard Time`` (quoted or not), an Outlook display name
such as ``(UTC+08:00) Beijing, …``, or an id defined by a ``VTIMEZONE`` of the same object
(read as its standard-time offset); UTC times end in ``Z``; floating times are local.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "Component",
    "Property",
    "Zones",
    "parse_calendar",
    "read_datetime",
    "unescape",
    "windows_zone_to_iana",
    "zone_named",
]

# The Windows zone ids met most often, to IANA; the full CLDR table of the icalendar
# package backs this up.
_WINDOWS_ZONES: Final = {
    "China Standard Time": "Asia/Shanghai",
    "Taipei Standard Time": "Asia/Taipei",
    "Tokyo Standard Time": "Asia/Tokyo",
    "Korea Standard Time": "Asia/Seoul",
    "Singapore Standard Time": "Asia/Singapore",
    "Malay Peninsula Standard Time": "Asia/Kuala_Lumpur",
    "SE Asia Standard Time": "Asia/Bangkok",
    "India Standard Time": "Asia/Kolkata",
    "Arabian Standard Time": "Asia/Dubai",
    "Russian Standard Time": "Europe/Moscow",
    "UTC": "UTC",
    "Coordinated Universal Time": "UTC",
    "GMT Standard Time": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "W. Europe Standard Time": "Europe/Berlin",
    "Central Europe Standard Time": "Europe/Budapest",
    "Central European Standard Time": "Europe/Warsaw",
    "Romance Standard Time": "Europe/Paris",
    "E. Europe Standard Time": "Europe/Chisinau",
    "FLE Standard Time": "Europe/Kiev",
    "GTB Standard Time": "Europe/Bucharest",
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver",
    "US Mountain Standard Time": "America/Phoenix",
    "Pacific Standard Time": "America/Los_Angeles",
    "Alaskan Standard Time": "America/Anchorage",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "E. Australia Standard Time": "Australia/Brisbane",
    "W. Australia Standard Time": "Australia/Perth",
    "New Zealand Standard Time": "Pacific/Auckland",
}
_IANA_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+){0,2}")
_IANA_SUFFIX: Final = re.compile(r"((?:[A-Z][A-Za-z_\-]+)/[A-Za-z_\-]+(?:/[A-Za-z_\-]+)?)$")
_UTC_LABEL: Final = re.compile(r"\((?:UTC|GMT)\s*(?:([+-])(\d{1,2})[:.]?(\d{2})?)?\)")
_DATE_TIME: Final = re.compile(
    r"(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})?(?:\.\d+)?(Z)?)?", re.IGNORECASE
)
_OFFSET: Final = re.compile(r"([+-])(\d{2})(\d{2})(\d{2})?")
_UNFOLD: Final = re.compile(r"\r?\n[ \t]")
_NAME: Final = re.compile(r"[A-Za-z0-9-]+")
_PARAM_NAME: Final = re.compile(r"([A-Za-z0-9-]+)=")
_UNQUOTED_PARAM: Final = re.compile(r'[^;:,"]*')
_TEXT_ESCAPE: Final = re.compile(r"\\([nN,;\\])")


def windows_zone_to_iana(zone_id: str) -> str | None:
    """IANA name for a Windows zone id (``China Standard Time`` → ``Asia/Shanghai``)."""
    name = zone_id.strip().strip('"')
    if name in _WINDOWS_ZONES:
        return _WINDOWS_ZONES[name]
    try:
        from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
    except ImportError:  # pragma: no cover - icalendar is a dependency
        return None
    found = WINDOWS_TO_OLSON.get(name)
    return found if isinstance(found, str) else None


# -- a small iCalendar reader ----------------------------------------------------------


@dataclass(frozen=True)
class Property:
    name: str  # upper case
    params: dict[str, str]  # upper-case names, unquoted values
    value: str  # raw (escaped) value


@dataclass
class Component:
    name: str
    properties: list[Property] = field(default_factory=list)
    children: list[Component] = field(default_factory=list)

    def first(self, name: str) -> Property | None:
        for prop in self.properties:
            if prop.name == name:
                return prop
        return None

    def all(self, name: str) -> list[Property]:
        return [prop for prop in self.properties if prop.name == name]

    def walk(self, name: str) -> Iterator[Component]:
        for child in self.children:
            if child.name == name:
                yield child
            yield from child.walk(name)


def _parse_line(line: str) -> Property | None:
    match = _NAME.match(line)
    if match is None:
        return None
    name = match.group(0).upper()
    pos = match.end()
    params: dict[str, str] = {}
    while pos < len(line) and line[pos] == ";":
        pmatch = _PARAM_NAME.match(line, pos + 1)
        if pmatch is None:
            return None
        pos = pmatch.end()
        values: list[str] = []
        while True:
            if pos < len(line) and line[pos] == '"':
                close = line.find('"', pos + 1)
                if close < 0:
                    return None
                values.append(line[pos + 1 : close])
                pos = close + 1
            else:
                vmatch = _UNQUOTED_PARAM.match(line, pos)
                assert vmatch is not None  # the pattern matches the empty string
                values.append(vmatch.group(0))
                pos = vmatch.end()
            if pos < len(line) and line[pos] == ",":
                pos += 1
                continue
            break
        # A multi-valued parameter keeps its values comma-joined; this also mends an
        # unquoted TZID=(UTC+08:00) Beijing, Chongqing, Hong Kong, Urumqi.
        params.setdefault(pmatch.group(1).upper(), ",".join(values))
    if pos >= len(line) or line[pos] != ":":
        return None
    return Property(name, params, line[pos + 1 :])


def parse_calendar(text: str) -> list[Component]:
    """The top-level components (normally one ``VCALENDAR``) of an iCalendar text."""
    roots: list[Component] = []
    stack: list[Component] = []
    for line in _UNFOLD.sub("", text).splitlines():
        prop = _parse_line(line.rstrip("\r"))
        if prop is None:
            continue
        if prop.name == "BEGIN":
            component = Component(prop.value.strip().upper())
            (stack[-1].children if stack else roots).append(component)
            stack.append(component)
        elif prop.name == "END":
            name = prop.value.strip().upper()
            # Close up to the matching BEGIN; an END without one is ignored.
            for depth in range(len(stack) - 1, -1, -1):
                if stack[depth].name == name:
                    del stack[depth:]
                    break
        elif stack:
            stack[-1].properties.append(prop)
    return roots


def unescape(value: str) -> str:
    return _TEXT_ESCAPE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


# -- time zones and times --------------------------------------------------------------


def _fixed_offset(sign: str, hours: str, minutes: str | None) -> tzinfo:
    delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
    return timezone(-delta if sign == "-" else delta)


def zone_named(name: str) -> tzinfo | None:
    if not _IANA_NAME.fullmatch(name):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _vtimezone_offsets(roots: list[Component]) -> dict[str, tzinfo]:
    """A fixed offset per ``VTIMEZONE`` (its standard time), for ids nothing else knows."""
    zones: dict[str, tzinfo] = {}
    for root in roots:
        for vtz in root.walk("VTIMEZONE"):
            tzid = vtz.first("TZID")
            if tzid is None:
                continue
            rules = [c for c in vtz.children if c.name == "STANDARD"] or vtz.children
            for rule in rules:
                offset = rule.first("TZOFFSETTO")
                match = _OFFSET.fullmatch(offset.value.strip()) if offset else None
                if match:
                    zones[tzid.value.strip().strip('"')] = _fixed_offset(
                        match.group(1), match.group(2), match.group(3)
                    )
                    break
    return zones


class Zones:
    """Resolves ``TZID`` values; unknown and absent ids are local time."""

    def __init__(self, roots: list[Component], local: tzinfo) -> None:
        self._vtimezones = _vtimezone_offsets(roots)
        self.local = local

    def get(self, tzid: str | None) -> tzinfo:
        if not tzid:
            return self.local
        name = tzid.strip().strip('"').strip()
        iana = windows_zone_to_iana(name)
        if iana is not None and (zone := zone_named(iana)) is not None:
            return zone
        if (zone := zone_named(name)) is not None:
            return zone
        suffix = _IANA_SUFFIX.search(name)  # /mozilla.org/20050126_1/Asia/Shanghai
        if suffix and (zone := zone_named(suffix.group(1))) is not None:
            return zone
        label = _UTC_LABEL.match(name)  # (UTC+08:00) Beijing, Chongqing, Hong Kong, Urumqi
        if label:
            if label.group(1) is None:
                return UTC
            return _fixed_offset(label.group(1), label.group(2), label.group(3))
        return self._vtimezones.get(name, self.local)


def read_datetime(prop: Property | None, zones: Zones) -> datetime | None:
    if prop is None:
        return None
    match = _DATE_TIME.fullmatch(prop.value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, utc = match.groups()
    try:
        if hour is None:  # VALUE=DATE: midnight, local
            day_start = date(int(year), int(month), int(day))
            value = datetime(day_start.year, day_start.month, day_start.day, tzinfo=zones.local)
        else:
            zone = UTC if utc else zones.get(prop.params.get("TZID"))
            value = datetime(
                int(year),
                int(month),
                int(day),
                int(hour),
                int(minute),
                int(second or 0),
                tzinfo=zone,
            )
    except ValueError:
        return None
    return value.astimezone(zones.local)
