"""Due dates as people write them.

Accepted forms, found anywhere in the value (``2026年4月30日前`` reads as 2026-04-30):
``2026-03-31``, ``2026/3/31``, ``2026年3月31日`` and ``3月31日``. The last has no year and
means the next such date on or after ``today`` (the local date of the message's Date
header). Anything else, or an impossible date such as ``2026-06-31``, is not a date:
the caller reports ``invalid_date``. Impossible dates never roll over.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_FULL = re.compile(
    r"(?<!\d)(\d{4})\s*(?:([-/])\s*(\d{1,2})\s*\2\s*(\d{1,2})|年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日)(?!\d)"
)
_MONTH_DAY = re.compile(r"(?<!\d)(\d{1,2})\s*月\s*(\d{1,2})\s*日")
#: How many years ahead a year-less date may land (Feb 29 needs up to 8).
_YEAR_SEARCH = 9


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_date(value: str, today: date | None) -> date | None:
    """The date written in ``value``, or ``None`` when there is no valid one.

    The first date-like text decides: ``2026-06-31, 2026-07-01`` is invalid, not July 1st.
    """
    text = unicodedata.normalize("NFKC", value)
    full = _FULL.search(text)
    short = _MONTH_DAY.search(text)
    if full is not None and (short is None or full.start() <= short.start()):
        year = int(full.group(1))
        if full.group(2):
            return _make(year, int(full.group(3)), int(full.group(4)))
        return _make(year, int(full.group(5)), int(full.group(6)))
    if short is None or today is None:
        return None
    month, day = int(short.group(1)), int(short.group(2))
    if _make(2000, month, day) is None:  # 2000 is a leap year: the day exists in no year
        return None
    for year in range(today.year, today.year + _YEAR_SEARCH):
        candidate = _make(year, month, day)
        if candidate is not None and candidate >= today:
            return candidate
    return None  # pragma: no cover - unreachable for valid month/day


@lru_cache(maxsize=16)
def local_zone(name: str) -> ZoneInfo:
    """The configured time zone (UTC when the name is unknown)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_date(when: datetime | None, zone_name: str) -> date | None:
    """The calendar date of ``when`` in the named zone: "today" for year-less dates."""
    if when is None:
        return None
    return when.astimezone(local_zone(zone_name)).date()
