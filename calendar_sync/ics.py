"""RFC 5545 content lines, written by hand so every rule is ours to check.

- TEXT values escape ``\\ ; ,`` and turn any line break into ``\\n``; other control
  characters (never allowed in TEXT) are dropped.
- Parameter values (``CN``) use RFC 6868 for what RFC 5545 cannot carry: ``^`` is
  ``^^``, a line break ``^n``, a double quote ``^'`` (a DQUOTE may not appear inside a
  quoted parameter). Any value but a plain token (``REQ-PARTICIPANT``,
  ``Europe/Berlin``) is put in double quotes.
- Lines are folded at 75 octets, never inside a UTF-8 sequence; every line, the last
  included, ends in CRLF.

icalendar is not used on this path: its folding and parameter quoting are exactly what
has to be right here, and building through it is far slower than the throughput
target (see ``bench/invitations.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from calendar_sync.errors import InvalidMeetingError

__all__ = [
    "MAX_LINE_OCTETS",
    "content_line",
    "escape_text",
    "fold_line",
    "format_date",
    "format_local",
    "format_offset",
    "format_utc",
    "param_value",
    "require_aware",
    "serialize",
]

MAX_LINE_OCTETS = 75

_TEXT_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PARAM_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")
_TEXT_SPECIALS = re.compile(r"[\\;,]")
# Written without quotes: tokens such as REQ-PARTICIPANT; anything else is quoted.
_BARE = re.compile(r"[A-Za-z0-9._@+/-]*")
_NAME = re.compile(r"[A-Z][A-Z0-9-]*")
# Anything the slow paths below would touch.
_TEXT_ANY = re.compile("[\\\\;,\x00-\x08\x0a-\x1f\x7f]")
_PARAM_ANY = re.compile('[\\^";:,\x00-\x1f\x7f]')


def _clean(value: str) -> str:
    # Lone surrogates (undecodable input) would not encode: make them "?".
    if value.isascii():
        return value
    return value.encode("utf-8", "replace").decode("utf-8")


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon and comma escaped, line
    breaks as ``\\n``, control characters other than tab removed."""
    value = _clean(value)
    if not _TEXT_ANY.search(value):
        return value
    value = _TEXT_CONTROLS.sub("", value)
    value = _TEXT_SPECIALS.sub(lambda m: "\\" + m.group(0), value)
    return _LINE_BREAKS.sub(r"\\n", value)


def param_value(value: str) -> str:
    """A parameter value: RFC 6868 caret encoding, then double quotes around anything
    but a plain token. RFC 5545 needs them only around ``, ; :``, but parsers differ on
    bare values with spaces, ``=`` or non-ASCII text (icalendar reads ``CN=0 =`` as
    ``0=``); quoted, every one reads the same."""
    value = _clean(value)
    if _PARAM_ANY.search(value):
        value = value.replace("^", "^^")
        value = _LINE_BREAKS.sub("^n", value)
        value = _PARAM_CONTROLS.sub("", value.replace("\t", " ")).replace('"', "^'")
    if _BARE.fullmatch(value):
        return value
    return f'"{value}"'


def content_line(name: str, value: str, params: Iterable[tuple[str, str]] = ()) -> str:
    """One unfolded content line. ``value`` is written as given (escape TEXT first);
    parameter values are encoded here."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a property name: {name!r}")
    if "\r" in value or "\n" in value:
        raise ValueError(f"{name}: a raw line break in a value")
    head = name + "".join(f";{key}={param_value(val)}" for key, val in params)
    return f"{head}:{value}"


def _fold(data: bytes) -> bytes:
    """Fold one UTF-8 encoded content line. A cut never lands before a continuation
    byte (``10xxxxxx``), so no character's encoding is split."""
    if len(data) <= MAX_LINE_OCTETS:
        return data
    pieces: list[bytes] = []
    start = 0
    limit = MAX_LINE_OCTETS
    while len(data) - start > limit:
        cut = start + limit
        while data[cut] & 0xC0 == 0x80:
            cut -= 1
        pieces.append(data[start:cut])
        start = cut
        limit = MAX_LINE_OCTETS - 1  # the leading space of a continuation line
    pieces.append(data[start:])
    return b"\r\n ".join(pieces)


def fold_line(line: str) -> str:
    """``line`` folded (RFC 5545 3.1): no physical line longer than 75 octets without
    its CRLF, continuation lines start with one space, and a fold never falls inside
    the UTF-8 encoding of a character. The folds are joined with CRLF + space."""
    return _fold(line.encode("utf-8")).decode("utf-8")


def serialize(lines: Iterable[str]) -> bytes:
    """Unfolded content lines to the bytes of an iCalendar stream: folded, CRLF after
    every line, UTF-8."""
    return b"".join(_fold(line.encode("utf-8")) + b"\r\n" for line in lines)


def require_aware(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidMeetingError(f"{what} must be an aware datetime, got {value!r}")
    return value


def format_utc(value: datetime) -> str:
    """``20260316T090014Z`` (seconds; anything finer is dropped)."""
    return require_aware(value, "a UTC time").astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def format_local(value: datetime) -> str:
    """A wall time as written after ``TZID=``: ``20260329T100000``."""
    return value.strftime("%Y%m%dT%H%M%S")


def format_date(value: date) -> str:
    return value.strftime("%Y%m%d")


def format_offset(offset: timedelta) -> str:
    """A UTC offset as ``+0800`` / ``-0500`` (``+053045`` when it has seconds)."""
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours:02d}{minutes:02d}" + (f"{secs:02d}" if secs else "")
