"""Dates and times written inside reply values (``申请改期：2026/4/3 …``, ``改期：3月21日 14:00``).

The accepted date forms are those of ``shared/corpus/README.md``: ``2026-03-31``,
``2026/3/31``, ``2026年3月31日`` and ``3月31日`` (the next such date on or after the
message's local date). An impossible date gives ``None`` and never rolls over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

__all__ = ["FoundDate", "find_date", "find_time", "to_halfwidth"]

# Full-width ASCII (U+FF01..U+FF5E) to ASCII and the ideographic space to a space; every
# character maps to exactly one character, so positions are kept.
_HALFWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_HALFWIDTH[0x3000] = 0x20

_DATE = re.compile(
    r"(?<!\d)(?P<y1>\d{4})\s*年\s*(?P<m1>\d{1,2})\s*月\s*(?P<d1>\d{1,2})\s*日"
    r"|(?<!\d)(?P<y2>\d{4})(?P<sep>[-/])(?P<m2>\d{1,2})(?P=sep)(?P<d2>\d{1,2})(?!\d)"
    r"|(?<![\d年])(?P<m3>\d{1,2})\s*月\s*(?P<d3>\d{1,2})\s*日"
)
_TIME = re.compile(
    r"(?P<ampm>上午|早上|中午|下午|晚上)?\s*"
    r"(?:(?P<h1>\d{1,2})\s*[:：]\s*(?P<m1>\d{2})(?!\d)"
    r"|(?P<h2>\d{1,2})\s*[点點时時]\s*(?:(?P<m2>\d{1,2})\s*分|(?P<half>半))?)"
    r"\s*(?P<suffix>[ap]\.?m\.?)?",
    re.IGNORECASE,
)
# How many years ahead a relative 2月29日 may look for a leap year.
_RELATIVE_YEARS = 8


def to_halfwidth(text: str) -> str:
    """Full-width ASCII and U+3000 to their half-width forms (same length)."""
    return text.translate(_HALFWIDTH)


@dataclass(frozen=True)
class FoundDate:
    """A date written in a text: where it is and what it means (``None`` when impossible)."""

    value: date | None
    start: int
    end: int


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _relative(month: int, day: int, today: date | None) -> date | None:
    if today is None:
        return None
    for year in range(today.year, today.year + _RELATIVE_YEARS + 1):
        candidate = _make(year, month, day)
        if candidate is not None and candidate >= today:
            return candidate
        if candidate is None and not (month == 2 and day == 29):
            return None  # 4月31日 is impossible in every year
    return None


def find_date(text: str, *, today: date | None = None) -> FoundDate | None:
    """The first date in ``text``, or ``None`` when it holds none of the accepted forms."""
    match = _DATE.search(to_halfwidth(text))
    if match is None:
        return None
    groups = match.groupdict()
    if groups["y1"] is not None:
        value = _make(int(groups["y1"]), int(groups["m1"]), int(groups["d1"]))
    elif groups["y2"] is not None:
        value = _make(int(groups["y2"]), int(groups["m2"]), int(groups["d2"]))
    else:
        value = _relative(int(groups["m3"]), int(groups["d3"]), today)
    return FoundDate(value, match.start(), match.end())


def find_time(text: str) -> tuple[int, int] | None:
    """The first time of day in ``text`` as ``(hour, minute)``: ``14:00``, ``下午2点``, ``2pm``."""
    match = _TIME.search(to_halfwidth(text))
    if match is None:
        return None
    if match["h1"] is not None:
        hour, minute = int(match["h1"]), int(match["m1"])
    else:
        hour = int(match["h2"])
        minute = 30 if match["half"] else int(match["m2"] or 0)
    afternoon = match["ampm"] in ("下午", "晚上") or (
        match["suffix"] is not None and match["suffix"].lower().startswith("p")
    )
    if afternoon and hour < 12:
        hour += 12
    elif match["suffix"] is not None and match["suffix"].lower().startswith("a") and hour == 12:
        hour = 0  # 12am
    if match["ampm"] == "中午" and hour < 6:
        hour += 12
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return hour, minute
