"""The working-day calendar: Chinese holidays and make-up days, deadlines, hours, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from workflow.workdays import CalendarError, WorkingCalendar, parse_working_hours

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

CN = WorkingCalendar.for_country("CN")
DE = WorkingCalendar.for_country("DE", timezone="Europe/Berlin")
US = WorkingCalendar.for_country("US", timezone="America/New_York")


def sh(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


def days_of(*years: int) -> list[date]:
    first, last = date(min(years), 1, 1), date(max(years), 12, 31)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# --- which days are worked -----------------------------------------------------------

CHINESE_DAYS = [
    # Spring Festival 2025: 1-28 .. 2-4 off, make-up Sunday 1-26 and Saturday 2-8.
    (date(2025, 1, 1), False, "元旦"),
    (date(2025, 1, 25), False, "ordinary Saturday"),
    (date(2025, 1, 26), True, "调休 Sunday before Spring Festival"),
    (date(2025, 1, 27), True, "last day before the block"),
    (date(2025, 1, 28), False, "除夕"),
    (date(2025, 1, 29), False, "春节"),
    (date(2025, 2, 3), False, "weekday off, substituted"),
    (date(2025, 2, 4), False, "weekday off, substituted"),
    (date(2025, 2, 5), True, "first day after the block"),
    (date(2025, 2, 8), True, "调休 Saturday after Spring Festival"),
    (date(2025, 2, 9), False, "ordinary Sunday"),
    (date(2025, 4, 27), True, "调休 Sunday before Labour Day"),
    # National Day 2025: 10-1 .. 10-8 off, make-up Sunday 9-28 and Saturday 10-11.
    (date(2025, 9, 27), False, "ordinary Saturday"),
    (date(2025, 9, 28), True, "调休 Sunday before National Day"),
    (date(2025, 9, 30), True, "last day before the block"),
    (date(2025, 10, 1), False, "国庆节"),
    (date(2025, 10, 6), False, "中秋节"),
    (date(2025, 10, 8), False, "weekday off, substituted"),
    (date(2025, 10, 9), True, "first day after the block"),
    (date(2025, 10, 11), True, "调休 Saturday after National Day"),
    (date(2025, 10, 12), False, "ordinary Sunday"),
    # 2026, from the State Council notice as carried by the package.
    (date(2026, 1, 2), False, "元旦 bridge"),
    (date(2026, 1, 4), True, "调休 Sunday after New Year"),
    (date(2026, 2, 13), True, "last day before Spring Festival"),
    (date(2026, 2, 14), True, "调休 Saturday before Spring Festival"),
    (date(2026, 2, 15), False, "春节 block"),
    (date(2026, 2, 23), False, "春节 block, Monday"),
    (date(2026, 2, 24), True, "first day after the block"),
    (date(2026, 2, 28), True, "调休 Saturday after Spring Festival"),
    (date(2026, 5, 9), True, "调休 Saturday after Labour Day"),
    (date(2026, 9, 20), True, "调休 Sunday before National Day"),
    (date(2026, 10, 1), False, "国庆节"),
    (date(2026, 10, 7), False, "国庆 block, Wednesday"),
    (date(2026, 10, 8), True, "first day after the block"),
    (date(2026, 10, 10), True, "调休 Saturday after National Day"),
    (date(2026, 10, 11), False, "ordinary Sunday"),
]


@pytest.mark.parametrize(("day", "working", "why"), CHINESE_DAYS)
def test_chinese_holidays_and_make_up_days(day: date, working: bool, why: str) -> None:
    assert CN.is_working_day(day) is working, why
    assert chinese_calendar.is_workday(day) is working, f"reference disagrees: {why}"


def test_every_day_of_2025_and_2026_agrees_with_chinesecalendar() -> None:
    disagreements = [
        d for d in days_of(2025, 2026) if CN.is_working_day(d) != chinese_calendar.is_workday(d)
    ]
    assert disagreements == []


@pytest.mark.parametrize(
    ("year", "make_up_days"),
    [
        (
            2025,
            {
                date(2025, 1, 26),
                date(2025, 2, 8),
                date(2025, 4, 27),
                date(2025, 9, 28),
                date(2025, 10, 11),
            },
        ),
        (
            2026,
            {
                date(2026, 1, 4),
                date(2026, 2, 14),
                date(2026, 2, 28),
                date(2026, 5, 9),
                date(2026, 9, 20),
                date(2026, 10, 10),
            },
        ),
    ],
)
def test_make_up_weekend_days_are_exactly_the_published_ones(
    year: int, make_up_days: set[date]
) -> None:
    weekend_worked = {d for d in CN.working_days_in(year) if d.weekday() >= 5}
    reference = {d for d in days_of(year) if d.weekday() >= 5 and chinese_calendar.is_workday(d)}
    assert weekend_worked == make_up_days == reference


def test_working_days_in_a_year_match_the_reference_count() -> None:
    for year in (2025, 2026):
        expected = [d for d in days_of(year) if chinese_calendar.is_workday(d)]
        assert list(CN.working_days_in(year)) == expected


@pytest.mark.parametrize(
    ("day", "following", "preceding"),
    [
        (date(2025, 1, 27), date(2025, 2, 5), date(2025, 1, 26)),
        (date(2025, 1, 24), date(2025, 1, 26), date(2025, 1, 23)),
        (date(2025, 2, 7), date(2025, 2, 8), date(2025, 2, 6)),
        (date(2025, 9, 30), date(2025, 10, 9), date(2025, 9, 29)),
        (date(2025, 12, 31), date(2026, 1, 4), date(2025, 12, 30)),
        (date(2026, 1, 4), date(2026, 1, 5), date(2025, 12, 31)),
    ],
)
def test_next_and_previous_working_day(day: date, following: date, preceding: date) -> None:
    assert CN.next_working_day(day) == following
    assert CN.previous_working_day(day) == preceding


# --- admin overrides -------------------------------------------------------------------

OVERRIDDEN = WorkingCalendar.for_country(
    "CN",
    extra_holidays=[date(2025, 3, 3), date(2025, 2, 8)],
    extra_workdays=[date(2025, 3, 8), date(2025, 10, 2)],
)


@pytest.mark.parametrize(
    ("day", "working", "why"),
    [
        (date(2025, 3, 3), False, "extra holiday on a Monday"),
        (date(2025, 2, 8), False, "extra holiday beats a make-up Saturday"),
        (date(2025, 3, 8), True, "extra workday on a Saturday"),
        (date(2025, 10, 2), True, "extra workday beats National Day"),
        (date(2025, 3, 4), True, "untouched Tuesday"),
        (date(2025, 1, 26), True, "untouched make-up Sunday"),
    ],
)
def test_extra_days_override_the_country_calendar(day: date, working: bool, why: str) -> None:
    assert OVERRIDDEN.is_working_day(day) is working, why


def test_overrides_change_deadlines() -> None:
    # Friday 2025-02-07 + 1: the make-up Saturday is now a holiday, so Monday.
    assert OVERRIDDEN.add_working_days(sh(2025, 2, 7, 10), 1) == sh(2025, 2, 10, 18)
    # Friday 2025-03-07 + 1: the extra Saturday is worked.
    assert OVERRIDDEN.add_working_days(sh(2025, 3, 7, 10), 1) == sh(2025, 3, 8, 18)


# --- working-day deadlines ---------------------------------------------------------------

ADD_WORKING_DAYS = [
    # (start, n, due, why) - all Shanghai wall times.
    (sh(2025, 3, 3, 10), 1, sh(2025, 3, 4, 18), "ordinary Monday"),
    (sh(2025, 3, 3, 8), 1, sh(2025, 3, 4, 18), "before working hours: the day does not count"),
    (sh(2025, 3, 3, 20), 1, sh(2025, 3, 4, 18), "after working hours"),
    (sh(2025, 3, 7, 10), 1, sh(2025, 3, 10, 18), "Friday to Monday"),
    (sh(2025, 3, 8, 15), 1, sh(2025, 3, 10, 18), "received on a Saturday"),
    (sh(2025, 3, 3, 10), 2, sh(2025, 3, 5, 18), "two days"),
    (sh(2025, 1, 27, 10), 1, sh(2025, 2, 5, 18), "across the Spring Festival block"),
    (sh(2025, 1, 27, 10), 2, sh(2025, 2, 6, 18), "across the block, two days"),
    (sh(2025, 1, 24, 10), 1, sh(2025, 1, 26, 18), "onto the make-up Sunday"),
    (sh(2025, 1, 25, 15), 1, sh(2025, 1, 26, 18), "Saturday to the make-up Sunday"),
    (sh(2025, 1, 26, 10), 1, sh(2025, 1, 27, 18), "from the make-up Sunday"),
    (sh(2025, 2, 7, 10), 1, sh(2025, 2, 8, 18), "onto the make-up Saturday"),
    (sh(2025, 2, 7, 10), 2, sh(2025, 2, 10, 18), "over the make-up weekend"),
    (sh(2025, 9, 26, 10), 1, sh(2025, 9, 28, 18), "onto the National Day make-up Sunday"),
    (sh(2025, 9, 28, 10), 3, sh(2025, 10, 9, 18), "across the National Day block"),
    (sh(2025, 12, 30, 10), 2, sh(2026, 1, 4, 18), "across New Year onto a make-up Sunday"),
    (sh(2026, 2, 13, 10), 2, sh(2026, 2, 24, 18), "across Spring Festival 2026"),
    (sh(2026, 9, 30, 10), 1, sh(2026, 10, 8, 18), "across National Day 2026"),
    (utc(2025, 3, 2, 17), 1, sh(2025, 3, 4, 18), "Sunday in UTC is Monday 01:00 in Shanghai"),
    # n == 0: end of the working day in progress, else of the next one.
    (sh(2025, 3, 3, 10), 0, sh(2025, 3, 3, 18), "zero, inside working hours"),
    (sh(2025, 3, 3, 19), 0, sh(2025, 3, 4, 18), "zero, after working hours"),
    (sh(2025, 3, 8, 10), 0, sh(2025, 3, 10, 18), "zero, on a Saturday"),
    # Negative: counting back from a deadline (risk warnings).
    (sh(2025, 2, 5, 18), -1, sh(2025, 1, 27, 18), "one working day before, over the block"),
    (sh(2025, 10, 9, 18), -2, sh(2025, 9, 29, 18), "two before, over National Day"),
    (sh(2026, 1, 5, 18), -1, sh(2026, 1, 4, 18), "back onto the make-up Sunday"),
]


@pytest.mark.parametrize(("start", "n", "due", "why"), ADD_WORKING_DAYS)
def test_add_working_days(start: datetime, n: int, due: datetime, why: str) -> None:
    result = CN.add_working_days(start, n)
    assert result == due, why
    assert result.tzinfo is UTC


def test_add_working_days_returns_the_utc_instant() -> None:
    assert CN.add_working_days(sh(2025, 1, 27, 10), 1) == datetime(2025, 2, 5, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("a", "b", "count"),
    [
        (sh(2025, 3, 3, 10), sh(2025, 3, 3, 17), 0),
        (sh(2025, 3, 3, 10), sh(2025, 3, 4, 9), 1),
        (sh(2025, 3, 7, 10), sh(2025, 3, 10, 10), 1),
        (sh(2025, 1, 27, 10), sh(2025, 2, 8, 10), 4),
        (sh(2025, 1, 24, 10), sh(2025, 1, 27, 10), 2),
        (sh(2025, 12, 30, 10), sh(2026, 1, 5, 10), 3),
        (sh(2025, 3, 10, 10), sh(2025, 3, 7, 10), -1),
        (sh(2025, 1, 1, 0), sh(2025, 12, 31, 23), 248),  # 2025 has 248 working days
    ],
)
def test_working_days_between(a: datetime, b: datetime, count: int) -> None:
    assert CN.working_days_between(a, b) == count
    assert CN.working_days_between(b, a) == -count


def test_working_days_between_inverts_add_working_days_over_two_years() -> None:
    mismatches = []
    for day in days_of(2025, 2026):
        for hour in (8, 12, 20):
            start = sh(day.year, day.month, day.day, hour)
            for n in range(1, 6):
                due = CN.add_working_days(start, n)
                if CN.working_days_between(start, due) != n or not CN.is_working_day(
                    due.astimezone(SHANGHAI).date()
                ):
                    mismatches.append((start, n, due))
    assert mismatches == []


# --- working hours --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "inside"),
    [
        (sh(2025, 3, 3, 8, 59), False),
        (sh(2025, 3, 3, 9, 0), True),
        (sh(2025, 3, 3, 17, 59), True),
        (sh(2025, 3, 3, 18, 0), False),
        (sh(2025, 3, 8, 10), False),  # Saturday
        (sh(2025, 2, 8, 10), True),  # make-up Saturday
        (sh(2025, 10, 2, 10), False),  # National Day
        (utc(2025, 3, 3, 1), True),  # 09:00 in Shanghai
        (utc(2025, 3, 3, 0, 59), False),  # 08:59 in Shanghai
    ],
)
def test_in_working_hours(instant: datetime, inside: bool) -> None:
    assert CN.in_working_hours(instant) is inside


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (sh(2025, 3, 3, 8, 59), sh(2025, 3, 3, 9)),
        (sh(2025, 3, 3, 9), sh(2025, 3, 3, 9)),
        (sh(2025, 3, 3, 17, 59), sh(2025, 3, 3, 17, 59)),
        (sh(2025, 3, 3, 18), sh(2025, 3, 4, 9)),
        (sh(2025, 1, 24, 18), sh(2025, 1, 26, 9)),  # onto the make-up Sunday
        (sh(2025, 1, 27, 18), sh(2025, 2, 5, 9)),  # over Spring Festival
    ],
)
def test_next_working_instant(instant: datetime, expected: datetime) -> None:
    result = CN.next_working_instant(instant)
    assert result == expected
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (sh(2025, 3, 3, 10), 2, sh(2025, 3, 3, 12)),
        (sh(2025, 3, 3, 8), 9, sh(2025, 3, 3, 18)),
        (sh(2025, 3, 3, 17), 2, sh(2025, 3, 4, 10)),
        (sh(2025, 3, 8, 10), 1, sh(2025, 3, 10, 10)),  # Saturday: counts from Monday 09:00
        (sh(2025, 1, 27, 17), 2, sh(2025, 2, 5, 10)),  # over Spring Festival
        (sh(2025, 3, 3, 10), 24, sh(2025, 3, 5, 16)),  # 8 + 9 + 7
        (sh(2025, 3, 3, 10, 30), timedelta(minutes=45), sh(2025, 3, 3, 11, 15)),
        (sh(2025, 3, 3, 19), 0, sh(2025, 3, 4, 9)),
    ],
)
def test_add_working_hours(start: datetime, hours: float | timedelta, expected: datetime) -> None:
    assert CN.add_working_hours(start, hours) == expected


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (sh(2025, 1, 27, 17), 24, sh(2025, 1, 28, 17)),  # plain hours ignore the holiday
        (datetime(2026, 3, 28, 12, tzinfo=BERLIN), 24, datetime(2026, 3, 29, 13, tzinfo=BERLIN)),
    ],
)
def test_add_plain_hours(start: datetime, hours: float, expected: datetime) -> None:
    result = CN.add_plain_hours(start, hours)
    assert result == expected
    assert result.tzinfo is UTC


# --- daylight-saving changes --------------------------------------------------------------

DST_DEADLINES = [
    # Berlin springs forward on Sunday 2026-03-29 (CET +1 -> CEST +2).
    (DE, utc(2026, 3, 27, 9), 1, utc(2026, 3, 30, 16), "Berlin: Friday CET to Monday CEST"),
    # Berlin falls back on Sunday 2026-10-25 (CEST +2 -> CET +1).
    (DE, utc(2026, 10, 23, 8), 1, utc(2026, 10, 26, 17), "Berlin: Friday CEST to Monday CET"),
    # New York springs forward on Sunday 2026-03-08 (EST -5 -> EDT -4).
    (US, utc(2026, 3, 6, 15), 1, utc(2026, 3, 9, 22), "New York: Friday EST to Monday EDT"),
    # New York falls back on Sunday 2026-11-01 (EDT -4 -> EST -5).
    (US, utc(2026, 10, 30, 14), 1, utc(2026, 11, 2, 23), "New York: Friday EDT to Monday EST"),
    # 23:00 Monday in New York is already Tuesday in UTC: the local date counts.
    (US, utc(2026, 3, 10, 3), 1, utc(2026, 3, 10, 22), "New York: local Monday night"),
]


@pytest.mark.parametrize(("calendar", "start", "n", "due", "why"), DST_DEADLINES)
def test_add_working_days_across_dst(
    calendar: WorkingCalendar, start: datetime, n: int, due: datetime, why: str
) -> None:
    assert calendar.add_working_days(start, n) == due, why
    assert calendar.working_days_between(start, due) == n, why


DST_HOURS = [
    # Before the change: CET / EST.
    (DE, utc(2026, 3, 27, 7, 59), False),
    (DE, utc(2026, 3, 27, 8, 0), True),
    (DE, utc(2026, 3, 27, 16, 59), True),
    (DE, utc(2026, 3, 27, 17, 0), False),
    # After the spring change: CEST, an hour earlier in UTC.
    (DE, utc(2026, 3, 30, 6, 59), False),
    (DE, utc(2026, 3, 30, 7, 0), True),
    (DE, utc(2026, 3, 30, 15, 59), True),
    (DE, utc(2026, 3, 30, 16, 0), False),
    # After the autumn change: CET again.
    (DE, utc(2026, 10, 26, 7, 59), False),
    (DE, utc(2026, 10, 26, 8, 0), True),
    (DE, utc(2026, 10, 26, 16, 59), True),
    (DE, utc(2026, 10, 26, 17, 0), False),
    (US, utc(2026, 3, 6, 13, 59), False),
    (US, utc(2026, 3, 6, 14, 0), True),
    (US, utc(2026, 3, 9, 12, 59), False),
    (US, utc(2026, 3, 9, 13, 0), True),
    (US, utc(2026, 3, 9, 21, 59), True),
    (US, utc(2026, 3, 9, 22, 0), False),
    (US, utc(2026, 11, 2, 13, 59), False),
    (US, utc(2026, 11, 2, 14, 0), True),
    (US, utc(2026, 11, 2, 22, 59), True),
    (US, utc(2026, 11, 2, 23, 0), False),
]


@pytest.mark.parametrize(("calendar", "instant", "inside"), DST_HOURS)
def test_working_hours_across_dst(
    calendar: WorkingCalendar, instant: datetime, inside: bool
) -> None:
    assert calendar.in_working_hours(instant) is inside


@pytest.mark.parametrize(
    ("calendar", "start", "hours", "expected"),
    [
        # Friday 17:00 CET + 2 working hours = Monday 10:00 CEST.
        (DE, utc(2026, 3, 27, 16), 2, utc(2026, 3, 30, 8)),
        # Friday 17:00 EDT + 2 working hours = Monday 10:00 EST.
        (US, utc(2026, 10, 30, 21), 2, utc(2026, 11, 2, 15)),
    ],
)
def test_add_working_hours_across_dst(
    calendar: WorkingCalendar, start: datetime, hours: float, expected: datetime
) -> None:
    assert calendar.add_working_hours(start, hours) == expected


@pytest.mark.parametrize(
    ("calendar", "instant", "expected"),
    [
        (DE, utc(2026, 3, 27, 17, 30), utc(2026, 3, 30, 7)),  # Friday 18:30 CET -> 09:00 CEST
        (US, utc(2026, 10, 30, 22, 30), utc(2026, 11, 2, 14)),  # Friday 18:30 EDT -> 09:00 EST
    ],
)
def test_next_working_instant_across_dst(
    calendar: WorkingCalendar, instant: datetime, expected: datetime
) -> None:
    assert calendar.next_working_instant(instant) == expected


# --- weekly deadlines ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("calendar", "after", "weekday", "at", "expected"),
    [
        (CN, sh(2025, 3, 3, 10), 4, None, sh(2025, 3, 7, 18)),  # Friday end of day
        (CN, sh(2025, 3, 7, 18), 4, None, sh(2025, 3, 14, 18)),  # strictly after
        (CN, sh(2025, 3, 7, 10), 0, time(12), sh(2025, 3, 10, 12)),  # Monday 12:00 (seed 003)
        (CN, sh(2025, 9, 29, 10), 4, None, sh(2025, 10, 9, 18)),  # holiday Friday moves on
        (DE, utc(2026, 3, 23, 8), 4, None, utc(2026, 3, 27, 17)),  # Friday 18:00 CET
        (DE, utc(2026, 3, 27, 17), 4, None, utc(2026, 4, 7, 16)),  # Good Friday, Easter Monday
    ],
)
def test_next_weekly(
    calendar: WorkingCalendar, after: datetime, weekday: int, at: time | None, expected: datetime
) -> None:
    assert calendar.next_weekly(after, weekday, at) == expected


# --- coverage of the package's data --------------------------------------------------------


def test_unpublished_years_flags_the_far_future_only() -> None:
    assert CN.unpublished_years([2031, 2025, 2026, 2031]) == [2031]
    assert {2025, 2026} <= CN.covered_years()
    assert 2031 not in CN.covered_years()


def test_covered_years_are_the_years_with_make_up_days() -> None:
    # The two ways of telling a published Chinese year agree: the notices the package
    # carries, and the make-up weekend days the calendar actually knows.
    with_make_up = {
        year
        for year in range(2001, 2032)
        if any(d.weekday() >= 5 for d in CN.working_days_in(year))
    }
    assert with_make_up == {y for y in CN.covered_years() if 2001 <= y <= 2031}
    assert min(CN.covered_years()) == 2001


def test_rule_based_countries_are_covered_for_their_whole_range() -> None:
    assert DE.unpublished_years([2025, 2031]) == []
    assert US.unpublished_years([2031]) == []


# --- configuration ----------------------------------------------------------------------


def test_bad_configuration_lists_every_problem() -> None:
    with pytest.raises(CalendarError) as caught:
        WorkingCalendar.for_country(
            "XX",
            timezone="Mars/Olympus",
            working_hours=(time(18), time(9)),
            extra_holidays=[date(2025, 3, 3)],
            extra_workdays=[date(2025, 3, 3)],
        )
    problems = caught.value.problems
    assert len(problems) == 4
    assert any("XX" in p for p in problems)
    assert any("Mars/Olympus" in p for p in problems)
    assert any("not after" in p for p in problems)
    assert any("2025-03-03" in p for p in problems)


def test_country_codes_are_normalised() -> None:
    assert WorkingCalendar.for_country("chn").country == "CN"
    assert WorkingCalendar.for_country("cn") == CN


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2025, 3, 3, 10)
    for call in (
        lambda: CN.add_working_days(naive, 1),
        lambda: CN.in_working_hours(naive),
        lambda: CN.next_working_instant(naive),
        lambda: CN.working_days_between(naive, naive),
        lambda: CN.add_plain_hours(naive, 1),
    ):
        with pytest.raises(ValueError, match="naive"):
            call()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09:00-18:00", (time(9), time(18))),
        (" 8:30 - 17:30 ", (time(8, 30), time(17, 30))),
    ],
)
def test_parse_working_hours(text: str, expected: tuple[time, time]) -> None:
    assert parse_working_hours(text) == expected


@pytest.mark.parametrize("text", ["9-18", "09:00", "25:00-26:00", "09:60-18:00"])
def test_parse_working_hours_rejects(text: str) -> None:
    with pytest.raises(CalendarError):
        parse_working_hours(text)


def test_calendar_is_a_hashable_value() -> None:
    same = WorkingCalendar.for_country("CN", timezone="Asia/Shanghai")
    assert same == CN and hash(same) == hash(CN)
    assert WorkingCalendar.for_country("CN", extra_holidays=[date(2025, 3, 3)]) != CN
