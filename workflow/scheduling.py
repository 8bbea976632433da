"""Scheduling meetings: the first free slot in working hours, and the windows the rules set.

Pure functions over data; the current instant is an argument. All instants go in aware
and come out in UTC.

The slot rule (:func:`find_slot`). A start ``s`` for a meeting of ``duration`` is taken
when:

* the whole meeting lies in working hours of one working day: the local date of ``s``
  is a working day of the :class:`~workflow.workdays.WorkingCalendar` (holidays and
  weekends excluded, make-up working days included) and
  ``start_of_work(day) <= s`` and ``s + duration <= end_of_work(day)``. Working hours are
  one interval without a lunch break, so a meeting may run over noon;
* ``s`` is not before ``now + min_notice`` (so never in the past) nor before
  ``earliest``, and the meeting *ends* by ``latest`` (a meeting "within 2 working days"
  is held, not merely begun, by then);
* it overlaps no busy interval (half-open: a meeting may start when another ends);
* ``s`` is on the day's grid: the start of work plus a whole number of ``granularity``
  steps (09:00, 09:30, ... for 30 minutes). Steps are elapsed time counted from that
  day's start of work, built per date from the wall clock, so a daylight-saving day
  simply has an hour more or less of working time and no local time is ever invented.

The first such start is returned, or None when the window has none (the caller then
tells someone or widens the window; nothing is scheduled outside the rules).

The windows (from the profile's clocks, :mod:`workflow.service_levels`):

* kickoff: from the acceptance to ``kickoff_meeting``'s due instant (standard: the end
  of working hours on the second working day after the acceptance's local date);
* problem meeting: from the report to ``problem_meeting``'s due instant (24 plain hours);
* the invitation carries the agenda, so a meeting may start no earlier than the
  ``agenda_before_meeting`` lead time after the invitation is sent
  (:func:`agenda_earliest_start`; standard: 24 hours, seed 001). The kickoff invitation
  also carries the background materials (the request's background and goals), so where
  the profile sets ``materials_before_meeting`` (cross-department: 2 working days, seed
  001) the kickoff waits for the longer of the two (:func:`lead_time_earliest_start`).

The agenda reminder (:func:`agenda_reminder_at`) goes out at the start of work on the
last working day before the meeting's local date: for a Monday meeting on the Friday
before (or on a make-up Saturday if that is worked). When that instant has already
passed when the meeting is scheduled, the invitation itself, which carries the agenda,
has done the reminding; the caller does not send a late reminder.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from workflow.profiles import Profile
from workflow.service_levels import ServiceLevel
from workflow.workdays import WorkingCalendar

__all__ = [
    "DEFAULT_GRANULARITY",
    "KICKOFF_LEAD_TIMES",
    "PROBLEM_MEETING_LIMIT",
    "agenda_earliest_start",
    "agenda_reminder_at",
    "find_slot",
    "kickoff_window",
    "lead_time_earliest_start",
    "problem_meeting_window",
]

DEFAULT_GRANULARITY = timedelta(minutes=30)
#: The lead times the kickoff invitation must meet: it carries the agenda and the
#: background materials.
KICKOFF_LEAD_TIMES: tuple[str, ...] = ("agenda_before_meeting", "materials_before_meeting")
#: The seeds' "24 小时内召开问题研讨会", used when no profile is given.
PROBLEM_MEETING_LIMIT = timedelta(hours=24)

Interval = tuple[datetime, datetime]


def find_slot(
    *,
    earliest: datetime,
    latest: datetime,
    duration: timedelta,
    calendar: WorkingCalendar,
    busy: Sequence[Interval] = (),
    min_notice: timedelta,
    now: datetime,
    granularity: timedelta = DEFAULT_GRANULARITY,
) -> datetime | None:
    """The first start, in UTC, of a meeting that follows the slot rule (module docstring).

    ``busy`` intervals are ``(start, end)`` pairs of aware datetimes, in any order, may
    overlap; empty ones are ignored. Raises ValueError for naive datetimes, a duration or
    granularity that is not positive, or a negative notice.
    """
    for name, value in (("earliest", earliest), ("latest", latest), ("now", now)):
        _require_aware(value, name)
    if duration <= timedelta(0):
        raise ValueError(f"meeting duration must be positive, got {duration}")
    if granularity <= timedelta(0):
        raise ValueError(f"granularity must be positive, got {granularity}")
    if min_notice < timedelta(0):
        raise ValueError(f"minimum notice must not be negative, got {min_notice}")
    taken = _normalise_busy(busy)

    lower = max(earliest.astimezone(UTC), (now + min_notice).astimezone(UTC))
    upper = latest.astimezone(UTC)
    if lower + duration > upper:
        return None
    day: date | None = calendar.local(lower).date()
    last_day = calendar.local(upper).date()
    while day is not None and day <= last_day:
        if calendar.is_working_day(day):
            found = _first_in_day(day, lower, upper, duration, granularity, calendar, taken)
            if found is not None:
                return found
        day = _next_date(day)
    return None


def kickoff_window(
    accepted_at: datetime, *, profile: Profile, calendar: WorkingCalendar
) -> tuple[datetime, datetime]:
    """``(earliest, latest)`` for the kickoff of a request accepted at ``accepted_at``.

    ``latest`` is the due instant of the profile's ``kickoff_meeting`` clock.
    """
    _require_aware(accepted_at, "accepted_at")
    level = profile.service_level("kickoff_meeting")
    return accepted_at.astimezone(UTC), level.due(accepted_at, calendar)


def problem_meeting_window(
    reported_at: datetime,
    *,
    profile: Profile | None = None,
    calendar: WorkingCalendar | None = None,
) -> tuple[datetime, datetime]:
    """``(earliest, latest)`` for the meeting about a problem reported at ``reported_at``.

    ``latest`` is the due instant of the profile's ``problem_meeting`` clock, or 24 hours
    after the report without a profile. A profile whose clock counts working days or
    working hours needs the ``calendar`` too.
    """
    _require_aware(reported_at, "reported_at")
    start = reported_at.astimezone(UTC)
    if profile is None:
        return start, start + PROBLEM_MEETING_LIMIT
    level = profile.service_level("problem_meeting")
    if calendar is None:
        if level.unit != "hours":
            raise ValueError(f"problem_meeting counts {level.unit}: a calendar is needed")
        return start, start + timedelta(hours=level.limit)
    return start, level.due(reported_at, calendar)


def agenda_earliest_start(
    now: datetime, *, profile: Profile, calendar: WorkingCalendar
) -> datetime:
    """The earliest meeting start, in UTC, for which an agenda sent at ``now`` is on time.

    Follows the profile's ``agenda_before_meeting`` lead time: in hours, ``now`` plus
    that many hours; in working days (n), the start of work on the n-th working day after
    the first working day that has not ended by ``now`` (an agenda sent on Monday at
    10:00 with one working day of lead time allows a meeting from Tuesday 09:00).
    """
    _require_aware(now, "now")
    return _lead_time_start(profile.service_level("agenda_before_meeting"), now, calendar)


def lead_time_earliest_start(
    now: datetime,
    *,
    profile: Profile,
    calendar: WorkingCalendar,
    names: Sequence[str] = KICKOFF_LEAD_TIMES,
) -> datetime:
    """The earliest meeting start, in UTC, for which everything sent at ``now`` under the
    lead times ``names`` is on time: the latest of the starts each one allows (counted as
    in :func:`agenda_earliest_start`). Lead times the profile does not set are left out;
    with none of them set, ``now``.

    The cross-department profile's 2 working days of ``materials_before_meeting`` outweigh
    its 24 hours of ``agenda_before_meeting``: materials sent on Thursday at 10:00 allow a
    meeting from Monday 09:00.
    """
    _require_aware(now, "now")
    starts = [
        _lead_time_start(profile.service_level(name), now, calendar)
        for name in names
        if profile.has_service_level(name)
    ]
    return max(starts, default=now.astimezone(UTC))


def agenda_reminder_at(start: datetime, calendar: WorkingCalendar) -> datetime:
    """When to remind the attendees of a meeting at ``start``, in UTC.

    The start of work on the last working day strictly before the meeting's local date.
    """
    _require_aware(start, "start")
    day = calendar.local(start).date()
    return calendar.start_of_work(calendar.previous_working_day(day))


# --- internals ------------------------------------------------------------------------


def _first_in_day(
    day: date,
    lower: datetime,
    upper: datetime,
    duration: timedelta,
    granularity: timedelta,
    calendar: WorkingCalendar,
    taken: list[Interval],
) -> datetime | None:
    opens = calendar.start_of_work(day)
    closes = min(calendar.end_of_work(day), upper)
    candidate = _on_grid(opens, max(lower, opens), granularity)
    while candidate + duration <= closes:
        finish = candidate + duration
        clash_end = _clash(candidate, finish, taken)
        if clash_end is None:
            return candidate
        candidate = _on_grid(opens, max(clash_end, candidate + granularity), granularity)
    return None


def _on_grid(origin: datetime, at_least: datetime, step: timedelta) -> datetime:
    """The first ``origin + k * step`` (k >= 0) not before ``at_least``."""
    if at_least <= origin:
        return origin
    steps = -(-(at_least - origin) // step)  # ceiling division of timedeltas
    return origin + steps * step


def _clash(start: datetime, end: datetime, taken: list[Interval]) -> datetime | None:
    """The latest end among busy intervals overlapping ``[start, end)``, or None."""
    ends = [b_end for b_start, b_end in taken if b_start < end and b_end > start]
    return max(ends) if ends else None


def _normalise_busy(busy: Sequence[Interval]) -> list[Interval]:
    result: list[Interval] = []
    for index, (first, last) in enumerate(busy):
        _require_aware(first, f"busy[{index}] start")
        _require_aware(last, f"busy[{index}] end")
        first_utc, last_utc = first.astimezone(UTC), last.astimezone(UTC)
        if last_utc > first_utc:
            result.append((first_utc, last_utc))
    result.sort()
    return result


def _lead_time_start(level: ServiceLevel, now: datetime, calendar: WorkingCalendar) -> datetime:
    if level.unit == "hours":
        return (now + timedelta(hours=level.limit)).astimezone(UTC)
    if level.unit == "working_days":
        local = calendar.local(now)
        first = local.date()
        if not (calendar.is_working_day(first) and now <= calendar.end_of_work(first)):
            first = calendar.next_working_day(first)
        day = first
        for _ in range(level.limit):
            day = calendar.next_working_day(day)
        return calendar.start_of_work(day)
    raise ValueError(f"{level.name}: a lead time in {level.unit} is not supported")


def _next_date(day: date) -> date | None:
    return None if day == date.max else day + timedelta(days=1)


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"timezone-naive {name} refused: {value!r}")
