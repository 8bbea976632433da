"""Scheduling: the first slot in working hours, the rule windows, the agenda reminder.

Table-driven across working hours, weekends, the 2026 Spring Festival block and its
make-up Saturdays (2026-02-14 and 2026-02-28 are worked), busy intervals and the Europe/
Berlin daylight-saving days; then checked against a brute-force search on random input.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.profiles import Profile, load_profile
from workflow.scheduling import (
    agenda_earliest_start,
    agenda_reminder_at,
    find_slot,
    kickoff_window,
    lead_time_earliest_start,
    problem_meeting_window,
)
from workflow.workdays import WorkingCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")

CN = WorkingCalendar.for_country("CN")  # Asia/Shanghai, 09:00-18:00
DE = WorkingCalendar.for_country("DE", timezone="Europe/Berlin")
# The two daylight-saving Sundays of 2026 declared worked, 01:00-05:00 local: the spring
# day has three hours of working time, the autumn day five.
DE_NIGHT = WorkingCalendar.for_country(
    "DE",
    timezone="Europe/Berlin",
    working_hours=(time(1), time(5)),
    extra_workdays=[date(2026, 3, 29), date(2026, 10, 25)],
)
STANDARD = load_profile("standard")
CROSS_DEPARTMENT = load_profile("cross-department")  # materials 2 working days ahead

H = timedelta(hours=1)
M = timedelta(minutes=1)


def sh(m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(2026, m, d, hh, mm, tzinfo=SHANGHAI)


def be(m: int, d: int, hh: int = 0, mm: int = 0, fold: int = 0) -> datetime:
    return datetime(2026, m, d, hh, mm, tzinfo=BERLIN, fold=fold)


def utc(m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(2026, m, d, hh, mm, tzinfo=UTC)


# Each row: id, calendar, now, earliest (None: now), latest, duration, busy, notice, expected.
SLOTS = [
    # --- working hours --------------------------------------------------------------
    ("before working hours", CN, sh(3, 10, 7, 15), None, sh(3, 13, 18), H, [], 0 * H, sh(3, 10, 9)),
    (
        "inside hours: next grid step",
        CN,
        sh(3, 10, 10, 10),
        None,
        sh(3, 13, 18),
        H,
        [],
        0 * H,
        sh(3, 10, 10, 30),
    ),
    (
        "exactly on the grid",
        CN,
        sh(3, 10, 10, 30),
        None,
        sh(3, 13, 18),
        H,
        [],
        0 * H,
        sh(3, 10, 10, 30),
    ),
    (
        "after working hours: next morning",
        CN,
        sh(3, 10, 18, 30),
        None,
        sh(3, 13, 18),
        H,
        [],
        0 * H,
        sh(3, 11, 9),
    ),
    (
        "must end by the end of work",
        CN,
        sh(3, 10, 17, 10),
        None,
        sh(3, 13, 18),
        H,
        [],
        0 * H,
        sh(3, 11, 9),
    ),
    (
        "a short one still fits at 17:30",
        CN,
        sh(3, 10, 17, 10),
        None,
        sh(3, 13, 18),
        30 * M,
        [],
        0 * H,
        sh(3, 10, 17, 30),
    ),
    (
        "no lunch break: may run over noon",
        CN,
        sh(3, 10, 8),
        None,
        sh(3, 13, 18),
        2 * H,
        [(sh(3, 10, 9), sh(3, 10, 11, 30))],
        0 * H,
        sh(3, 10, 11, 30),
    ),
    (
        "longer than a working day: none",
        CN,
        sh(3, 10, 8),
        None,
        sh(3, 20, 18),
        10 * H,
        [],
        0 * H,
        None,
    ),
    # --- weekends and holidays ----------------------------------------------------------
    (
        "Friday afternoon -> Monday",
        CN,
        sh(3, 13, 17, 30),
        None,
        sh(3, 20, 18),
        H,
        [],
        0 * H,
        sh(3, 16, 9),
    ),
    ("Saturday -> Monday", CN, sh(3, 14, 10), None, sh(3, 20, 18), H, [], 0 * H, sh(3, 16, 9)),
    (
        "Spring Festival block -> Tuesday 24th",
        CN,
        sh(2, 15, 10),
        None,
        sh(3, 6, 18),
        H,
        [],
        0 * H,
        sh(2, 24, 9),
    ),
    (
        "make-up Saturday 2026-02-14 is worked",
        CN,
        sh(2, 13, 17, 45),
        None,
        sh(2, 28, 18),
        H,
        [],
        0 * H,
        sh(2, 14, 9),
    ),
    (
        "make-up Saturday 2026-02-28 is worked",
        CN,
        sh(2, 27, 18),
        None,
        sh(3, 6, 18),
        H,
        [],
        0 * H,
        sh(2, 28, 9),
    ),
    (
        "the Sunday after it is not",
        CN,
        sh(2, 28, 17, 30),
        None,
        sh(3, 6, 18),
        H,
        [],
        0 * H,
        sh(3, 2, 9),
    ),
    (
        "window inside the holiday block: none",
        CN,
        sh(2, 16, 8),
        None,
        sh(2, 23, 23),
        H,
        [],
        0 * H,
        None,
    ),
    # --- busy time ----------------------------------------------------------------------
    (
        "busy intervals push the slot",
        CN,
        sh(3, 10, 8),
        None,
        sh(3, 13, 18),
        H,
        [(sh(3, 10, 9, 30), sh(3, 10, 11, 15)), (sh(3, 10, 9), sh(3, 10, 10))],
        0 * H,
        sh(3, 10, 11, 30),
    ),
    (
        "may start when a busy interval ends",
        CN,
        sh(3, 10, 8),
        None,
        sh(3, 13, 18),
        H,
        [(sh(3, 10, 9), sh(3, 10, 10))],
        0 * H,
        sh(3, 10, 10),
    ),
    (
        "may end when a busy interval starts",
        CN,
        sh(3, 10, 8),
        None,
        sh(3, 13, 18),
        H,
        [(sh(3, 10, 10), sh(3, 10, 18))],
        0 * H,
        sh(3, 10, 9),
    ),
    (
        "busy given in UTC counts the same",
        CN,
        sh(3, 10, 8),
        None,
        sh(3, 13, 18),
        H,
        [(utc(3, 10, 1), utc(3, 10, 2))],
        0 * H,
        sh(3, 10, 10),
    ),
    (
        "a gap too short is skipped",
        CN,
        sh(3, 10, 8),
        None,
        sh(3, 13, 18),
        H,
        [(sh(3, 10, 9), sh(3, 10, 10)), (sh(3, 10, 10, 30), sh(3, 10, 18))],
        0 * H,
        sh(3, 11, 9),
    ),
    (
        "busy all window: none",
        CN,
        sh(3, 10, 8),
        None,
        sh(3, 10, 12),
        H,
        [(sh(3, 10, 9), sh(3, 10, 12))],
        0 * H,
        None,
    ),
    (
        "an empty busy interval is ignored",
        CN,
        sh(3, 10, 8),
        None,
        sh(3, 13, 18),
        H,
        [(sh(3, 10, 9), sh(3, 10, 9))],
        0 * H,
        sh(3, 10, 9),
    ),
    # --- notice and window --------------------------------------------------------------
    ("24 hours notice", CN, sh(3, 10, 10), None, sh(3, 13, 18), H, [], 24 * H, sh(3, 11, 10)),
    (
        "notice ending late in the day",
        CN,
        sh(3, 10, 17, 20),
        None,
        sh(3, 13, 18),
        H,
        [],
        24 * H,
        sh(3, 12, 9),
    ),
    (
        "earliest later than now",
        CN,
        sh(3, 10, 8),
        sh(3, 12, 14),
        sh(3, 13, 18),
        H,
        [],
        0 * H,
        sh(3, 12, 14),
    ),
    (
        "never in the past",
        CN,
        sh(3, 11, 11),
        sh(3, 9, 9),
        sh(3, 13, 18),
        H,
        [],
        0 * H,
        sh(3, 11, 11),
    ),
    (
        "window ends before the meeting fits",
        CN,
        sh(3, 10, 9),
        None,
        sh(3, 10, 9, 30),
        H,
        [],
        0 * H,
        None,
    ),
    (
        "the meeting must end by latest",
        CN,
        sh(3, 10, 16),
        None,
        sh(3, 10, 17, 30),
        H,
        [(sh(3, 10, 16), sh(3, 10, 16, 45))],
        0 * H,
        None,
    ),
    # --- Europe/Berlin daylight saving ----------------------------------------------------
    (
        "Berlin: Friday CET -> Monday CEST",
        DE,
        be(3, 27, 16),
        None,
        be(4, 10, 18),
        H,
        [(be(3, 27, 16), be(3, 27, 18))],
        0 * H,
        be(3, 30, 9),
    ),
    (
        "Berlin: Sunday of the change is not worked",
        DE,
        be(3, 28, 10),
        None,
        be(4, 10, 18),
        H,
        [],
        0 * H,
        be(3, 30, 9),
    ),
    (
        "Berlin: spring day steps over the gap",
        DE_NIGHT,
        be(3, 29, 0),
        None,
        be(3, 31, 5),
        H,
        [(utc(3, 29, 0), utc(3, 29, 1))],
        0 * H,
        be(3, 29, 3),
    ),
    (
        "Berlin: spring day has 3 working hours",
        DE_NIGHT,
        be(3, 29, 0),
        None,
        be(3, 31, 5),
        3 * H,
        [],
        0 * H,
        be(3, 29, 1),
    ),
    (
        "Berlin: 3.5 hours do not fit that day",
        DE_NIGHT,
        be(3, 29, 0),
        None,
        be(3, 31, 5),
        210 * M,
        [],
        0 * H,
        be(3, 30, 1),
    ),
    (
        "Berlin: autumn day has 5 working hours",
        DE_NIGHT,
        be(10, 25, 0),
        None,
        be(10, 27, 5),
        5 * H,
        [],
        0 * H,
        be(10, 25, 1),
    ),
    (
        "Berlin: autumn grid in elapsed time",
        DE_NIGHT,
        be(10, 25, 0),
        None,
        be(10, 27, 5),
        H,
        [(be(10, 25, 1), be(10, 25, 2, 30, fold=1))],
        0 * H,
        be(10, 25, 2, 30, fold=1),
    ),
    (
        "Berlin: the first 02:30 comes before the second",
        DE_NIGHT,
        be(10, 25, 0),
        None,
        be(10, 27, 5),
        H,
        [(be(10, 25, 1), be(10, 25, 2, 30))],
        0 * H,
        utc(10, 25, 0, 30),
    ),
]


@pytest.mark.parametrize(
    ("calendar", "now", "earliest", "latest", "duration", "busy", "notice", "expected"),
    [row[1:] for row in SLOTS],
    ids=[row[0] for row in SLOTS],
)
def test_find_slot(
    calendar: WorkingCalendar,
    now: datetime,
    earliest: datetime | None,
    latest: datetime,
    duration: timedelta,
    busy: list[tuple[datetime, datetime]],
    notice: timedelta,
    expected: datetime | None,
) -> None:
    found = find_slot(
        earliest=earliest or now,
        latest=latest,
        duration=duration,
        calendar=calendar,
        busy=busy,
        min_notice=notice,
        now=now,
    )
    if expected is None:
        assert found is None
        return
    # Compared in UTC: PEP 495 makes == across zones False for a repeated (fold) time.
    assert found == expected.astimezone(UTC)
    assert found is not None and found.tzinfo is UTC
    assert calendar.in_working_hours(found)


def test_find_slot_honours_the_granularity() -> None:
    common = dict(latest=sh(3, 13, 18), duration=H, calendar=CN, min_notice=0 * H)
    now = sh(3, 10, 9, 5)
    assert find_slot(earliest=now, now=now, granularity=15 * M, **common) == sh(3, 10, 9, 15)  # type: ignore[arg-type]
    assert find_slot(earliest=now, now=now, granularity=H, **common) == sh(3, 10, 10)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"now": datetime(2026, 3, 10, 9)}, "naive"),
        ({"earliest": datetime(2026, 3, 10, 9)}, "naive"),
        ({"busy": [(datetime(2026, 3, 10, 9), sh(3, 10, 10))]}, "naive"),
        ({"duration": 0 * H}, "positive"),
        ({"granularity": -M}, "positive"),
        ({"min_notice": -M}, "negative"),
    ],
)
def test_find_slot_refuses_bad_input(change: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = dict(
        earliest=sh(3, 10, 9),
        latest=sh(3, 13, 18),
        duration=H,
        calendar=CN,
        min_notice=0 * H,
        now=sh(3, 10, 9),
    )
    arguments.update(change)
    with pytest.raises(ValueError, match=message):
        find_slot(**arguments)  # type: ignore[arg-type]


# --- the rule windows ---------------------------------------------------------------------

KICKOFF = [
    ("Monday morning -> Wednesday evening", sh(3, 9, 10), sh(3, 11, 18)),
    ("Monday before work: the day itself never counts", sh(3, 9, 8), sh(3, 11, 18)),
    ("Friday -> Tuesday", sh(3, 13, 15), sh(3, 17, 18)),
    ("before Spring Festival: make-up Saturday then the 24th", sh(2, 13, 15), sh(2, 24, 18)),
    ("on the make-up Saturday -> 24th and 25th", sh(2, 14, 20), sh(2, 25, 18)),
]


@pytest.mark.parametrize(
    ("accepted", "latest"), [row[1:] for row in KICKOFF], ids=[row[0] for row in KICKOFF]
)
def test_kickoff_window_is_two_working_days(accepted: datetime, latest: datetime) -> None:
    assert kickoff_window(accepted, profile=STANDARD, calendar=CN) == (accepted, latest)


def test_problem_meeting_window_is_24_plain_hours() -> None:
    reported = sh(3, 13, 17)  # a Friday: the window runs into the weekend
    assert problem_meeting_window(reported) == (reported, sh(3, 14, 17))
    assert problem_meeting_window(reported, profile=STANDARD) == (reported, sh(3, 14, 17))
    assert problem_meeting_window(reported, profile=STANDARD, calendar=CN) == (
        reported,
        sh(3, 14, 17),
    )


def test_kickoff_scheduled_after_a_friday_acceptance() -> None:
    accepted = sh(3, 13, 17)
    earliest, latest = kickoff_window(accepted, profile=STANDARD, calendar=CN)
    notice_start = agenda_earliest_start(accepted, profile=STANDARD, calendar=CN)
    assert notice_start == sh(3, 14, 17)  # the agenda goes out 24 hours ahead
    slot = find_slot(
        earliest=max(earliest, notice_start),
        latest=latest,
        duration=H,
        calendar=CN,
        busy=[(sh(3, 16, 9), sh(3, 16, 11))],
        min_notice=0 * H,
        now=accepted,
    )
    assert slot == sh(3, 16, 11)


PROBLEM = [
    ("Tuesday morning: same day, after an hour", sh(3, 10, 10), sh(3, 10, 11)),
    ("Tuesday evening: Wednesday morning", sh(3, 10, 19), sh(3, 11, 9)),
    ("Friday evening: nothing within 24 hours", sh(3, 13, 17, 30), None),
]


@pytest.mark.parametrize(
    ("reported", "expected"), [row[1:] for row in PROBLEM], ids=[row[0] for row in PROBLEM]
)
def test_problem_meeting_slot(reported: datetime, expected: datetime | None) -> None:
    earliest, latest = problem_meeting_window(reported, profile=STANDARD, calendar=CN)
    slot = find_slot(
        earliest=earliest,
        latest=latest,
        duration=H,
        calendar=CN,
        min_notice=H,
        now=reported,
    )
    assert slot == expected


def _with_agenda_lead(profile: Profile, days: int) -> Profile:
    levels = tuple(
        dataclasses.replace(level, unit="working_days", limit=days)
        if level.name == "agenda_before_meeting"
        else level
        for level in profile.service_levels
    )
    return dataclasses.replace(profile, service_levels=levels)


AGENDA_LEAD = [
    ("24 hours (standard)", STANDARD, sh(3, 10, 10), sh(3, 11, 10)),
    (
        "1 working day, sent Monday morning",
        _with_agenda_lead(STANDARD, 1),
        sh(3, 9, 10),
        sh(3, 10, 9),
    ),
    (
        "1 working day, sent Monday evening",
        _with_agenda_lead(STANDARD, 1),
        sh(3, 9, 19),
        sh(3, 11, 9),
    ),
    ("2 working days, sent Thursday", _with_agenda_lead(STANDARD, 2), sh(3, 12, 11), sh(3, 16, 9)),
    (
        "1 working day before the festival",
        _with_agenda_lead(STANDARD, 1),
        sh(2, 13, 10),
        sh(2, 14, 9),
    ),
    (
        "1 working day, sent on the make-up Saturday",
        _with_agenda_lead(STANDARD, 1),
        sh(2, 14, 10),
        sh(2, 24, 9),
    ),
]


@pytest.mark.parametrize(
    ("profile", "now", "expected"),
    [row[1:] for row in AGENDA_LEAD],
    ids=[row[0] for row in AGENDA_LEAD],
)
def test_agenda_earliest_start(profile: Profile, now: datetime, expected: datetime) -> None:
    start = agenda_earliest_start(now, profile=profile, calendar=CN)
    assert start == expected
    # The lead-time clock agrees: the agenda, sent now, is on time for that start ...
    lead = profile.service_level("agenda_before_meeting")
    assert lead.due(start, CN) >= now
    # ... and not for a working-hours start a grid step earlier.
    if lead.unit == "working_days":
        earlier = CN.start_of_work(CN.previous_working_day(CN.local(start).date()))
        assert lead.due(earlier + 8 * H, CN) < now


def _with_lead(
    profile: Profile, name: str, unit: Literal["working_days", "hours"], limit: int
) -> Profile:
    levels = tuple(
        dataclasses.replace(level, unit=unit, limit=limit) if level.name == name else level
        for level in profile.service_levels
    )
    return dataclasses.replace(profile, service_levels=levels)


LEAD_TIMES = [
    # The profile has no materials lead time: the agenda's 24 hours alone.
    ("standard: the agenda's 24 hours", STANDARD, sh(3, 19, 10), sh(3, 20, 10)),
    # Seed 001: materials 2 working days ahead outweigh the agenda's 24 hours.
    ("cross-department, Thursday morning: Monday", CROSS_DEPARTMENT, sh(3, 19, 10), sh(3, 23, 9)),
    ("cross-department, Monday morning: Wednesday", CROSS_DEPARTMENT, sh(3, 16, 9), sh(3, 18, 9)),
    ("cross-department, Monday evening: Thursday", CROSS_DEPARTMENT, sh(3, 16, 19), sh(3, 19, 9)),
    ("cross-department, Saturday: Wednesday", CROSS_DEPARTMENT, sh(3, 21, 10), sh(3, 25, 9)),
    (
        "cross-department, Friday before the festival: the make-up Saturday and the 24th",
        CROSS_DEPARTMENT,
        sh(2, 13, 10),
        sh(2, 24, 9),
    ),
    # The agenda may be the longer one: 3 working days against the materials' 2.
    (
        "agenda 3 working days against materials 2",
        _with_lead(CROSS_DEPARTMENT, "agenda_before_meeting", "working_days", 3),
        sh(3, 16, 10),
        sh(3, 19, 9),
    ),
    # Materials in hours: 72 hours against the agenda's 24.
    (
        "materials 72 hours",
        _with_lead(CROSS_DEPARTMENT, "materials_before_meeting", "hours", 72),
        sh(3, 16, 10),
        sh(3, 19, 10),
    ),
]


@pytest.mark.parametrize(
    ("profile", "now", "expected"),
    [row[1:] for row in LEAD_TIMES],
    ids=[row[0] for row in LEAD_TIMES],
)
def test_the_longest_lead_time_sets_the_earliest_start(
    profile: Profile, now: datetime, expected: datetime
) -> None:
    start = lead_time_earliest_start(now, profile=profile, calendar=CN)
    assert start == expected and start.tzinfo is UTC
    # Every lead time the profile sets agrees: what is sent now is on time for that start.
    for name in ("agenda_before_meeting", "materials_before_meeting"):
        if profile.has_service_level(name):
            assert profile.service_level(name).due(start, CN) >= now, name
    # And the longest of them (the one due first) is not for a start a working day earlier.
    longest = min(
        (
            profile.service_level(name)
            for name in ("agenda_before_meeting", "materials_before_meeting")
            if profile.has_service_level(name)
        ),
        key=lambda level: level.due(start, CN),
    )
    if longest.unit == "working_days":
        earlier = CN.start_of_work(CN.previous_working_day(CN.local(start).date()))
        assert longest.due(earlier + 8 * H, CN) < now


def test_lead_times_the_profile_does_not_set_are_left_out() -> None:
    now = sh(3, 19, 10)
    assert not STANDARD.has_service_level("materials_before_meeting")
    # Only the materials named, and the profile has none: nothing holds the meeting back.
    only_materials = ("materials_before_meeting",)
    assert lead_time_earliest_start(
        now, profile=STANDARD, calendar=CN, names=only_materials
    ) == now.astimezone(UTC)
    assert lead_time_earliest_start(
        now, profile=CROSS_DEPARTMENT, calendar=CN, names=only_materials
    ) == sh(3, 23, 9)
    with pytest.raises(ValueError, match="naive"):
        lead_time_earliest_start(now.replace(tzinfo=None), profile=STANDARD, calendar=CN)


REMINDERS = [
    ("Tuesday meeting: Monday at 09:00", CN, sh(3, 10, 10), sh(3, 9, 9)),
    ("Monday meeting: the Friday before", CN, sh(3, 16, 14), sh(3, 13, 9)),
    ("first day after Spring Festival: make-up Saturday", CN, sh(2, 24, 10), sh(2, 14, 9)),
    ("Monday after make-up Saturday 2026-02-28", CN, sh(3, 2, 10), sh(2, 28, 9)),
    ("Berlin Monday after the spring change: Friday CET", DE, be(3, 30, 10), utc(3, 27, 8)),
    ("Berlin Tuesday after Easter Monday: Thursday", DE, be(4, 7, 10), be(4, 2, 9)),
]


@pytest.mark.parametrize(
    ("calendar", "start", "expected"),
    [row[1:] for row in REMINDERS],
    ids=[row[0] for row in REMINDERS],
)
def test_agenda_reminder_is_at_start_of_work_the_working_day_before(
    calendar: WorkingCalendar, start: datetime, expected: datetime
) -> None:
    reminder = agenda_reminder_at(start, calendar)
    assert reminder == expected
    assert reminder.tzinfo is UTC
    assert calendar.in_working_hours(reminder)


# --- against a brute-force search ----------------------------------------------------------


def _brute_force(
    *,
    earliest: datetime,
    latest: datetime,
    duration: timedelta,
    calendar: WorkingCalendar,
    busy: list[tuple[datetime, datetime]],
    min_notice: timedelta,
    now: datetime,
    granularity: timedelta,
) -> datetime | None:
    lower = max(earliest, now + min_notice)
    day = calendar.local(min(lower, latest)).date() - timedelta(days=1)
    while day <= calendar.local(latest).date() + timedelta(days=1):
        opens, closes = calendar.start_of_work(day), calendar.end_of_work(day)
        slot = opens
        while calendar.is_working_day(day) and slot + duration <= closes:
            free = all(not (a < slot + duration and b > slot) for a, b in busy if a < b)
            if free and slot >= lower and slot + duration <= latest:
                return slot
            slot += granularity
        day += timedelta(days=1)
    return None


@settings(max_examples=300, deadline=None)
@given(
    start_minutes=st.integers(min_value=0, max_value=60 * 24 * 40),
    window_hours=st.integers(min_value=0, max_value=24 * 12),
    duration_minutes=st.sampled_from([15, 30, 45, 60, 90, 120, 240]),
    notice_hours=st.integers(min_value=0, max_value=48),
    busy=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=60 * 24 * 40),
            st.integers(min_value=0, max_value=60 * 6),
        ),
        max_size=8,
    ),
    granularity=st.sampled_from([15, 30, 60]),
)
def test_find_slot_agrees_with_brute_force(
    start_minutes: int,
    window_hours: int,
    duration_minutes: int,
    notice_hours: int,
    busy: list[tuple[int, int]],
    granularity: int,
) -> None:
    base = sh(2, 5)  # the search runs across the Spring Festival block
    now = base + timedelta(minutes=start_minutes)
    arguments = dict(
        earliest=now,
        latest=now + timedelta(hours=window_hours),
        duration=timedelta(minutes=duration_minutes),
        calendar=CN,
        busy=[
            (base + timedelta(minutes=s), base + timedelta(minutes=s + length))
            for s, length in busy
        ],
        min_notice=timedelta(hours=notice_hours),
        now=now,
        granularity=timedelta(minutes=granularity),
    )
    assert find_slot(**arguments) == _brute_force(**arguments)  # type: ignore[arg-type]
