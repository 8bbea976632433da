"""The working-day calendar: which days are worked, and deadline arithmetic over them.

Pure functions over data. The public holidays and the Chinese make-up working days
(调休, weekend days that are worked to bridge a holiday block) come from the
``holidays`` package; the admin's ``extra_holidays`` and ``extra_workdays`` override it.

Rules, in one place:

* A *working day* is a date that is not a weekend day of the country and not a public
  holiday, or that is a make-up working day; then ``extra_holidays`` removes days and
  ``extra_workdays`` adds days (a date may not be in both).
* *Working hours* are a wall-clock interval ``[start, end)`` in the calendar's time zone
  on every working day: 09:00 is inside, 18:00 is not.
* ``add_working_days(start, n)``: the deadline is the **end of working hours on the n-th
  working day strictly after the local date of** ``start``. The start's own day never
  counts, whatever the hour: a request received on Monday at 08:00 (before working
  hours), at 10:00 or at 20:00 with a limit of one working day is due on Tuesday at the
  end of working hours ("1 个工作日内" = by the end of the next working day, as the seeds
  use it). A request received on a Saturday is due at the end of the first working day
  after it. Negative ``n`` counts backwards (for warnings "1 working day before a
  deadline").
* All instants go in aware and come out in UTC. Local wall times are built per date with
  ``zoneinfo`` and converted, never by adding a timedelta to a local time, so the
  arithmetic stays right across daylight-saving changes.

Lookups are cached per year, so a clock sweep over many items stays cheap.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = [
    "CalendarError",
    "WorkingCalendar",
    "parse_working_hours",
    "YEARLY_SCHEDULE_COUNTRIES",
]

#: Countries whose working days are fixed by a yearly government notice (for China the
#: State Council's 放假安排, published each November for the next year). For them a year
#: is covered only once the ``holidays`` package carries that notice; for every other
#: country the package's rules cover its whole supported range.
YEARLY_SCHEDULE_COUNTRIES = frozenset({"CN"})

# How far the day-stepping functions look before deciding the calendar has no working
# day at all (for instance every day was declared an extra holiday).
_MAX_EMPTY_YEARS = 5

_HOURS_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class CalendarError(ValueError):
    """The working calendar is misconfigured; the message lists every problem."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("; ".join(self.problems))


def parse_working_hours(text: str) -> tuple[time, time]:
    """Parse the configuration form ``"09:00-18:00"`` into a ``(start, end)`` pair."""
    match = _HOURS_RE.match(text)
    if match is None:
        raise CalendarError([f"working hours {text!r} are not in the form HH:MM-HH:MM"])
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    try:
        return time(h1, m1), time(h2, m2)
    except ValueError as exc:
        raise CalendarError([f"working hours {text!r}: {exc}"]) from None


# --- what the holidays package knows, cached per country and year ----------------------


@dataclass(frozen=True)
class _CountryFacts:
    code: str
    weekend: frozenset[int]
    covered: frozenset[int]


@dataclass(frozen=True)
class _PublicYear:
    holidays: frozenset[date]
    makeup_workdays: frozenset[date]


@functools.cache
def _country_facts(country: str) -> _CountryFacts:
    """Normalised code, weekend and covered years of a country; raises for unknown codes."""
    try:
        entity = holidays.country_holidays(country)
    except NotImplementedError:
        raise CalendarError([f"country {country!r} is not known to the holidays package"]) from None
    code = str(getattr(type(entity), "country", country)).upper()
    weekend = frozenset(int(day) for day in entity.weekend)
    if code in YEARLY_SCHEDULE_COUNTRIES:
        covered = _notice_years(entity)
    else:
        start = int(getattr(type(entity), "start_year", 1))
        end = int(getattr(type(entity), "end_year", 9999))
        covered = frozenset(range(start, end + 1))
    return _CountryFacts(code=code, weekend=weekend, covered=covered)


def _notice_years(entity: holidays.HolidayBase) -> frozenset[int]:
    """Years for which the package carries a government holiday notice.

    The package records each year's notice as substituted days (a weekday off in exchange
    for a weekend day worked) under ``special_public_holidays``; a year without any is a
    year whose notice the package does not have, and whose make-up working days it would
    silently miss. The tests check this agrees with the per-year make-up days.
    """
    special: dict[int, object] = getattr(entity, "special_public_holidays", {}) or {}
    years: set[int] = set()
    for year, entries in special.items():
        rows = entries if isinstance(entries, tuple) else (entries,)
        # A bare 3-tuple (month, day, name) is a one-off holiday; a row of one.
        if rows and not isinstance(rows[0], tuple):
            rows = (rows,)
        if any(isinstance(row, tuple) and len(row) >= 4 for row in rows):
            years.add(int(year))
    return frozenset(years)


@functools.lru_cache(maxsize=256)
def _public_year(country: str, year: int) -> _PublicYear:
    entity = holidays.country_holidays(country, years=year)
    days = frozenset(day for day in entity if day.year == year)
    # Make-up working days announced in the next year's notice (e.g. a Sunday in late
    # December) are loaded by the package up front, so filtering by year is enough.
    makeup = frozenset(day for day in entity.weekend_workdays if day.year == year)
    return _PublicYear(holidays=days, makeup_workdays=makeup)


@dataclass(frozen=True)
class _WorkYear:
    days: frozenset[date]
    ordinals: tuple[int, ...]  # the same days as sorted ordinals, for bisect


# --- the calendar ---------------------------------------------------------------------


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days and hours of one organisation; every method is pure.

    Build it with :meth:`for_country`. ``timezone`` is an IANA name; working hours are
    wall-clock times in that zone.
    """

    country: str
    timezone: str
    working_hours: tuple[time, time]
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False, hash=False)
    _weekend: frozenset[int] = field(init=False, repr=False, compare=False, hash=False)
    _years: dict[int, _WorkYear] = field(
        init=False, repr=False, compare=False, hash=False, default_factory=dict
    )

    @classmethod
    def for_country(
        cls,
        country: str = "CN",
        *,
        extra_holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
        working_hours: tuple[time, time] = (time(9), time(18)),
        timezone: str = "Asia/Shanghai",
    ) -> WorkingCalendar:
        """The calendar of ``country`` (ISO code), with the admin's additions."""
        return cls(
            country=country,
            timezone=timezone,
            working_hours=working_hours,
            extra_holidays=frozenset(extra_holidays),
            extra_workdays=frozenset(extra_workdays),
        )

    def __post_init__(self) -> None:
        problems: list[str] = []
        facts: _CountryFacts | None = None
        try:
            facts = _country_facts(self.country.upper())
        except CalendarError as exc:
            problems.extend(exc.problems)
        zone: ZoneInfo | None = None
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"time zone {self.timezone!r} is unknown")
        problems.extend(_check_hours(self.working_hours))
        for day in (*self.extra_holidays, *self.extra_workdays):
            if not isinstance(day, date) or isinstance(day, datetime):
                problems.append(f"extra day {day!r} is not a date")
        both = self.extra_holidays & self.extra_workdays
        if both:
            listed = ", ".join(d.isoformat() for d in sorted(both))
            problems.append(f"days both in extra_holidays and extra_workdays: {listed}")
        if problems or facts is None or zone is None:
            raise CalendarError(problems)
        object.__setattr__(self, "country", facts.code)
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "_weekend", facts.weekend)

    # -- days --------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        return d in self._year(d.year).days

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        return self._shift(d, 1)

    def previous_working_day(self, d: date) -> date:
        """The last working day strictly before ``d``."""
        return self._shift(d, -1)

    def working_days_in(self, year: int) -> tuple[date, ...]:
        """Every working day of ``year``, in order."""
        return tuple(date.fromordinal(o) for o in self._year(year).ordinals)

    def covered_years(self) -> frozenset[int]:
        """Years for which the country's holiday schedule is known to the package."""
        return _country_facts(self.country).covered

    def unpublished_years(self, years: Iterable[int]) -> list[int]:
        """Those of ``years`` (sorted, once each) for which no schedule is known.

        For China these are the years whose State Council notice is not in the installed
        ``holidays`` package: their make-up working days would be missing and their
        holiday blocks guessed. The service warns about them at start-up.
        """
        covered = self.covered_years()
        return sorted({y for y in years if y not in covered})

    # -- instants ------------------------------------------------------------------------

    def local(self, instant: datetime) -> datetime:
        """``instant`` as wall time in the calendar's zone (for rendering and reasoning)."""
        _require_aware(instant)
        return instant.astimezone(self._zone)

    def start_of_work(self, d: date) -> datetime:
        """The start of working hours on ``d``, in UTC (whether or not ``d`` is worked)."""
        return self._at(d, self.working_hours[0])

    def end_of_work(self, d: date) -> datetime:
        """The end of working hours on ``d``, in UTC (whether or not ``d`` is worked)."""
        return self._at(d, self.working_hours[1])

    def in_working_hours(self, instant: datetime) -> bool:
        local = self.local(instant)
        start, end = self.working_hours
        return self.is_working_day(local.date()) and start <= local.time() < end

    def next_working_instant(self, instant: datetime) -> datetime:
        """``instant`` itself (in UTC) if within working hours, else the next start of work."""
        local = self.local(instant)
        day, now = local.date(), local.time()
        start, end = self.working_hours
        if self.is_working_day(day):
            if now < start:
                return self._at(day, start)
            if now < end:
                return instant.astimezone(UTC)
        return self._at(self.next_working_day(day), start)

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """End of working hours on the n-th working day after ``start``'s local date, in UTC.

        The start's own day never counts (see the module docstring). ``n == 0`` gives the
        end of the working day in progress or, outside one, of the next working day.
        Negative ``n`` gives the end of work on the |n|-th working day before the local
        date of ``start``.
        """
        local = self.local(start)
        day = local.date()
        if n == 0:
            if not (self.is_working_day(day) and local.time() < self.working_hours[1]):
                day = self.next_working_day(day)
        else:
            day = self._shift(day, n)
        return self._at(day, self.working_hours[1])

    def working_days_between(self, a: datetime, b: datetime) -> int:
        """Working days after ``a``'s local date up to and including ``b``'s local date.

        The inverse of :meth:`add_working_days`: for ``n >= 1``,
        ``working_days_between(t, add_working_days(t, n)) == n``. Negative when ``b`` lies
        on an earlier local date than ``a``.
        """
        first, last = self.local(a).date(), self.local(b).date()
        if last < first:
            return -self._count_after(last, first)
        return self._count_after(first, last)

    def add_working_hours(self, start: datetime, hours: float | timedelta) -> datetime:
        """The instant after ``hours`` of working time counted from ``start``, in UTC.

        Time outside working hours does not count; elapsed time inside them is real time,
        so an hour is an hour even on a day with a daylight-saving change.
        """
        remaining = hours if isinstance(hours, timedelta) else timedelta(hours=hours)
        if remaining < timedelta(0):
            raise ValueError("add_working_hours needs a non-negative duration")
        cursor = self.next_working_instant(start)
        while True:
            day = cursor.astimezone(self._zone).date()
            available = self._at(day, self.working_hours[1]) - cursor
            if remaining <= available:
                return cursor + remaining
            remaining -= available
            cursor = self._at(self.next_working_day(day), self.working_hours[0])

    @staticmethod
    def add_plain_hours(start: datetime, hours: float | timedelta) -> datetime:
        """``start`` plus elapsed hours, ignoring the calendar (the seeds' "24 小时内"), in UTC."""
        _require_aware(start)
        delta = hours if isinstance(hours, timedelta) else timedelta(hours=hours)
        return (start.astimezone(UTC) + delta).astimezone(UTC)

    def next_weekly(self, after: datetime, weekday: int, at: time | None = None) -> datetime:
        """The first weekly deadline strictly after ``after``, in UTC.

        The deadline falls on ``weekday`` (0 = Monday) at local time ``at``, or at the end
        of working hours when ``at`` is None. When that day is not a working day (a
        holiday Friday) the deadline moves to the next working day, same time.
        """
        if not 0 <= weekday <= 6:
            raise ValueError(f"weekday {weekday} is not in 0..6")
        clock_time = self.working_hours[1] if at is None else at
        local = self.local(after)
        day = local.date() + timedelta(days=(weekday - local.weekday()) % 7)
        while True:
            due_day = day if self.is_working_day(day) else self.next_working_day(day)
            due = self._at(due_day, clock_time)
            if due > after:
                return due
            day += timedelta(days=7)

    # -- internals -------------------------------------------------------------------------

    def _at(self, d: date, t: time) -> datetime:
        # Built per date from the wall time, then converted: right across DST changes.
        return datetime.combine(d, t, tzinfo=self._zone).astimezone(UTC)

    def _year(self, year: int) -> _WorkYear:
        cached = self._years.get(year)
        if cached is None:
            cached = self._build_year(year)
            self._years[year] = cached
        return cached

    def _build_year(self, year: int) -> _WorkYear:
        public = _public_year(self.country, year)
        day = date(year, 1, 1)
        one = timedelta(days=1)
        worked: list[date] = []
        while day.year == year:
            if day in self.extra_workdays:
                working = True
            elif day in self.extra_holidays:
                working = False
            elif day in public.makeup_workdays:
                working = True
            else:
                working = day.weekday() not in self._weekend and day not in public.holidays
            if working:
                worked.append(day)
            if day == date.max:
                break
            day += one
        return _WorkYear(days=frozenset(worked), ordinals=tuple(d.toordinal() for d in worked))

    def _shift(self, d: date, n: int) -> date:
        """The n-th working day strictly after ``d`` (n > 0) or strictly before (n < 0)."""
        if n == 0:
            raise ValueError("_shift needs n != 0")
        year = d.year
        ordinals = self._year(year).ordinals
        empty_years = 0
        if n > 0:
            index = bisect_right(ordinals, d.toordinal())
            while index + n > len(ordinals):
                n -= len(ordinals) - index
                empty_years = empty_years + 1 if not ordinals else 0
                year += 1
                if year > date.max.year or empty_years > _MAX_EMPTY_YEARS:
                    raise CalendarError([f"no working day found after {d.isoformat()}"])
                ordinals = self._year(year).ordinals
                index = 0
            return date.fromordinal(ordinals[index + n - 1])
        back = -n
        index = bisect_left(ordinals, d.toordinal())  # working days before d: [0, index)
        while back > index:
            back -= index
            empty_years = empty_years + 1 if not ordinals else 0
            year -= 1
            if year < date.min.year or empty_years > _MAX_EMPTY_YEARS:
                raise CalendarError([f"no working day found before {d.isoformat()}"])
            ordinals = self._year(year).ordinals
            index = len(ordinals)
        return date.fromordinal(ordinals[index - back])

    def _count_after(self, first: date, last: date) -> int:
        """Working days d with first < d <= last (first <= last)."""
        total = 0
        for year in range(first.year, last.year + 1):
            ordinals = self._year(year).ordinals
            low = bisect_right(ordinals, first.toordinal()) if year == first.year else 0
            high = bisect_right(ordinals, last.toordinal()) if year == last.year else len(ordinals)
            total += high - low
        return total


def _check_hours(hours: tuple[time, time]) -> list[str]:
    if not (isinstance(hours, tuple) and len(hours) == 2):
        return [f"working hours {hours!r} must be a (start, end) pair of times"]
    start, end = hours
    if not (isinstance(start, time) and isinstance(end, time)):
        return [f"working hours {hours!r} must be a (start, end) pair of times"]
    problems: list[str] = []
    if start.tzinfo is not None or end.tzinfo is not None:
        problems.append("working hours are wall-clock times; give them without a time zone")
    if not start < end:
        problems.append(
            f"working hours end {end.isoformat('minutes')} is not after "
            f"start {start.isoformat('minutes')}"
        )
    return problems


def _require_aware(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"timezone-naive datetime refused: {instant!r}")
