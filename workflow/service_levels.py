"""Service levels: the clocks of the workflow, what each one means, and its limit.

What a clock *means* (what it waits for, what event it counts from, whether it is a
deadline or a scheduling rule) is fixed here in :data:`CLOCKS`, because the workflow
code implements it. How *long* it runs and *who* hears about a breach is data from a
profile file, parsed by :func:`parse_service_level` into a :class:`ServiceLevel`.

Kinds of clock:

``deadline``
    The awaited reply or action is due ``limit`` after the anchor event. At the limit
    the ``remind`` roles are reminded; at ``escalate_after`` (counted from the same
    anchor, in the same unit) the ``escalate_to`` roles hear of it.
``schedule``
    A scheduling target: the daemon places the event within ``limit`` after the anchor.
``lead_time``
    A scheduling rule: something must go out at least ``limit`` before the anchor event.
``warning``
    ``limit`` before the anchor (a task deadline) the ``remind`` roles are warned.
``overdue``
    The anchor is a task's own deadline (the end of working hours on its due date), so
    the level has no ``limit``: once it passes, the task is marked overdue (延期) and the
    ``remind`` roles get the overdue notice; ``escalate_after`` later (``0``: with the
    notice) the ``escalate_to`` roles hear of it. It counts in ``working_days``.

Units: ``working_days`` (see :meth:`WorkingCalendar.add_working_days`),
``working_hours``, ``hours`` (plain elapsed hours: the seeds' "24 小时内"), and
``weekly`` (on ``weekday`` at ``at`` local time; ``at`` absent means end of working
hours).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from types import MappingProxyType
from typing import Literal, cast

from workflow.workdays import WorkingCalendar

__all__ = [
    "CLOCKS",
    "OVERDUE_ESCALATION_ROLES",
    "ROLES",
    "TASK_ROLES",
    "UNITS",
    "WEEKDAYS",
    "ClockDefinition",
    "ServiceLevel",
    "parse_service_level",
]

Kind = Literal["deadline", "schedule", "lead_time", "warning", "overdue"]
Unit = Literal["working_days", "working_hours", "hours", "weekly"]

UNITS: tuple[Unit, ...] = ("working_days", "working_hours", "hours", "weekly")
WEEKDAYS: tuple[str, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)


@dataclass(frozen=True)
class ClockDefinition:
    """What a named clock means; fixed by the workflow, not by the profile."""

    kind: Kind
    anchor: str  # the event the limit is measured from (before it for lead_time/warning)
    title: str  # Chinese name, as the seeds put it


CLOCKS: Mapping[str, ClockDefinition] = MappingProxyType(
    {
        "evaluate_request": ClockDefinition(
            "deadline", "request_received", "登记并初步评估协调需求"
        ),
        "name_departments": ClockDefinition(
            "deadline", "request_accepted", "明确牵头部门及配合部门"
        ),
        "kickoff_meeting": ClockDefinition("schedule", "request_accepted", "召开协调会议"),
        "agenda_before_meeting": ClockDefinition("lead_time", "meeting_start", "会前发送会议议程"),
        "materials_before_meeting": ClockDefinition(
            "lead_time", "meeting_start", "会前发送背景材料"
        ),
        "minutes_sent": ClockDefinition("deadline", "meeting_end", "整理并发送会议纪要"),
        "minutes_confirmed": ClockDefinition(
            "deadline", "minutes_sent", "各部门负责人确认会议纪要"
        ),
        "task_acknowledged": ClockDefinition("deadline", "task_assigned", "责任人确认任务期限"),
        "department_plans": ClockDefinition("deadline", "minutes_final", "各配合部门制定实施方案"),
        "consolidated_plan": ClockDefinition(
            "deadline", "department_plans_submitted", "牵头部门汇总总体方案"
        ),
        "weekly_progress": ClockDefinition("deadline", "progress_requested", "提交周进度"),
        "risk_warning": ClockDefinition("warning", "task_deadline", "截止前风险预警"),
        "task_overdue": ClockDefinition("overdue", "task_deadline", "逾期标记延期并上报"),
        "problem_meeting": ClockDefinition("deadline", "problem_raised", "召开问题协调会"),
        "problem_escalation": ClockDefinition(
            "deadline", "problem_raised", "问题上报发起部门负责人及上级管理者"
        ),
        "resource_request": ClockDefinition(
            "deadline", "resource_requested", "资源方反馈支持可行性"
        ),
        "acceptance_review": ClockDefinition("deadline", "deliverable_submitted", "审核交付成果"),
        "review_meeting": ClockDefinition("deadline", "last_acceptance", "组织复盘会"),
        "communication_record": ClockDefinition("deadline", "meeting_end", "记录沟通内容"),
    }
)

#: Who can be reminded or escalated to; the daemon resolves them from the directory.
ROLES: Mapping[str, str] = MappingProxyType(
    {
        "coordination_office": "the coordination office addresses ([workflow] coordinators)",
        "office_head": "the coordination office's head ([roles] office_head)",
        "requester": "who sent the request",
        "requester_head": "head of the requester's department",
        "requester_superior": "superior of the requester's department",
        "lead_head": "head of the lead department",
        "lead_superior": "superior of the lead department",
        "supporting_heads": "heads of the supporting departments",
        "pending_heads": "department heads whose reply is still missing",
        "pending_superiors": "superiors of the departments whose reply is still missing",
        "owner": "the task owner",
        "owner_head": "head of the task owner's department",
        "owner_superior": "superior of the task owner's department",
        "acceptor": "who reviews a deliverable (the requester, or the lead)",
        "acceptor_superior": "superior of the acceptor's department",
        "approver": "the approver whose decision is awaited",
        "reporter": "who raised a problem",
        "resource_provider": "who was asked for resources",
    }
)

#: The roles that stand for somebody about one task: the only ones the clocks about a
#: task's deadline (``risk_warning``, ``task_overdue``) can name.
TASK_ROLES: frozenset[str] = frozenset(
    {
        "owner",
        "owner_head",
        "owner_superior",
        "lead_head",
        "lead_superior",
        "requester",
        "requester_head",
        "requester_superior",
        "acceptor",
        "supporting_heads",
        "coordination_office",
        "office_head",
    }
)
#: Who a late task can be escalated to: an escalation after a delay is sent by the
#: stored clock sweep (``workflow.clocks``), which places these roles relative to the
#: owner the clock awaits, as the inline escalation with the notice does.
OVERDUE_ESCALATION_ROLES: frozenset[str] = frozenset(
    {
        "owner_head",
        "owner_superior",
        "lead_head",
        "lead_superior",
        "requester_head",
        "coordination_office",
        "office_head",
    }
)
_REMIND_ROLES: Mapping[str, frozenset[str]] = MappingProxyType(
    {"risk_warning": TASK_ROLES, "task_overdue": TASK_ROLES}
)
_ESCALATION_ROLES: Mapping[str, frozenset[str]] = MappingProxyType(
    {"task_overdue": OVERDUE_ESCALATION_ROLES}
)

_KEYS = frozenset({"limit", "unit", "weekday", "at", "remind", "escalate_to", "escalate_after"})
_BACKWARD_UNITS = ("working_days", "hours")


@dataclass(frozen=True)
class ServiceLevel:
    """One clock of a profile: its meaning (from :data:`CLOCKS`) and its values."""

    name: str
    kind: Kind
    anchor: str
    title: str
    limit: int
    unit: Unit
    remind: tuple[str, ...] = ()
    escalate_to: tuple[str, ...] = ()
    escalate_after: int | None = None
    weekday: int | None = None  # weekly only: 0 = Monday
    at: time | None = None  # weekly only: None = end of working hours

    def due(self, anchor: datetime, calendar: WorkingCalendar) -> datetime:
        """When the clock runs out, for an anchor event at ``anchor`` (UTC).

        For ``lead_time`` and ``warning`` clocks this lies before the anchor; for a weekly
        clock it is the first weekly deadline after the anchor.
        """
        return self._offset(anchor, self.limit, calendar)

    def escalation_due(self, anchor: datetime, calendar: WorkingCalendar) -> datetime | None:
        """When the breach is escalated, or None when this clock does not escalate."""
        if self.escalate_after is None:
            return None
        return self._offset(anchor, self.escalate_after, calendar)

    def _offset(self, anchor: datetime, amount: int, calendar: WorkingCalendar) -> datetime:
        if amount == 0:  # an overdue clock: at its anchor (the task's deadline)
            return anchor
        sign = -1 if self.kind in ("lead_time", "warning") else 1
        if self.unit == "weekly":
            assert self.weekday is not None
            return calendar.next_weekly(anchor, self.weekday, self.at)
        if self.unit == "working_days":
            return calendar.add_working_days(anchor, sign * amount)
        if self.unit == "working_hours":
            return calendar.add_working_hours(anchor, amount)  # forward only (validated)
        return calendar.add_plain_hours(anchor, timedelta(hours=sign * amount))


def parse_service_level(name: str, table: object) -> tuple[ServiceLevel | None, list[str]]:
    """A :class:`ServiceLevel` from a profile's ``[service_levels.NAME]`` table.

    Returns the value and every problem found (then the value is None).
    """
    where = f"service_levels.{name}"
    definition = CLOCKS.get(name)
    if definition is None:
        known = ", ".join(sorted(CLOCKS))
        return None, [f"{where}: unknown clock {name!r} (known: {known})"]
    if not isinstance(table, Mapping):
        return None, [f"{where}: must be a table"]
    problems = [f"{where}.{key}: unknown key" for key in sorted(set(table) - _KEYS)]

    unit = table.get("unit")
    if unit not in UNITS:
        problems.append(f"{where}.unit: must be one of {', '.join(UNITS)}, got {unit!r}")
        unit = None
    weekly = unit == "weekly"
    backward = definition.kind in ("lead_time", "warning")
    overdue = definition.kind == "overdue"
    if overdue and unit is not None and unit != "working_days":
        problems.append(f"{where}.unit: an overdue clock counts in working_days, not {unit}")
    elif weekly and definition.kind != "deadline":
        problems.append(f"{where}.unit: a {definition.kind} clock cannot be weekly")
    if backward and unit is not None and unit not in _BACKWARD_UNITS:
        problems.append(
            f"{where}.unit: a {definition.kind} clock counts back in "
            f"{' or '.join(_BACKWARD_UNITS)}, not {unit}"
        )

    limit: int | None = 1 if weekly and "limit" not in table else None
    raw_limit = table.get("limit")
    if overdue:
        limit = 0  # the task's own deadline
        if raw_limit is not None:
            problems.append(
                f"{where}.limit: an overdue clock runs out at the task's own deadline; "
                "leave limit out"
            )
    elif weekly:
        if raw_limit not in (None, 1):
            problems.append(f"{where}.limit: a weekly clock runs every week; leave limit out")
    elif _is_count(raw_limit):
        limit = cast(int, raw_limit)
    else:
        problems.append(f"{where}.limit: must be a whole number of at least 1, got {raw_limit!r}")

    weekday: int | None = None
    at: time | None = None
    if weekly:
        weekday, at, more = _weekly_fields(where, table)
        problems.extend(more)
    else:
        problems.extend(
            f"{where}.{key}: only for weekly clocks" for key in ("weekday", "at") if key in table
        )

    remind, more = _roles(f"{where}.remind", table.get("remind", []), _REMIND_ROLES.get(name))
    problems.extend(more)
    escalate_to, more = _roles(
        f"{where}.escalate_to", table.get("escalate_to", []), _ESCALATION_ROLES.get(name)
    )
    problems.extend(more)

    escalate_after: int | None = None
    raw_after = table.get("escalate_after")
    if raw_after is not None:
        if overdue and type(raw_after) is int and raw_after == 0:
            escalate_after = 0  # with the overdue notice
        elif not _is_count(raw_after):
            least = "0 (with the overdue notice)" if overdue else "1"
            problems.append(f"{where}.escalate_after: must be a whole number of at least {least}")
        elif limit is not None and cast(int, raw_after) < limit:
            problems.append(f"{where}.escalate_after: {raw_after} is before the limit {limit}")
        else:
            escalate_after = cast(int, raw_after)
    if escalate_to and raw_after is None and not weekly:
        problems.append(f"{where}.escalate_after: needed with escalate_to")
    if raw_after is not None and not escalate_to:
        problems.append(f"{where}.escalate_to: needed with escalate_after")

    if definition.kind in ("schedule", "lead_time") and (remind or escalate_to):
        problems.append(f"{where}: a {definition.kind} clock reminds and escalates nobody")
    if weekly and (escalate_to or raw_after is not None):
        problems.append(f"{where}: a weekly clock does not escalate (the digest marks it missing)")
    if definition.kind == "warning" and not remind:
        problems.append(f"{where}.remind: a warning needs someone to warn")
    if definition.kind == "warning" and escalate_to:
        problems.append(f"{where}.escalate_to: a warning does not escalate")
    if definition.kind in ("deadline", "overdue") and not (remind or escalate_to):
        problems.append(f"{where}: a {definition.kind} clock must remind or escalate someone")

    if problems or limit is None or unit is None:
        return None, problems
    return ServiceLevel(
        name=name,
        kind=definition.kind,
        anchor=definition.anchor,
        title=definition.title,
        limit=limit,
        unit=cast(Unit, unit),
        remind=remind,
        escalate_to=escalate_to,
        escalate_after=escalate_after,
        weekday=weekday,
        at=at,
    ), []


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _weekly_fields(
    where: str, table: Mapping[str, object]
) -> tuple[int | None, time | None, list[str]]:
    problems: list[str] = []
    weekday: int | None = None
    raw_day = table.get("weekday")
    if isinstance(raw_day, str) and raw_day.lower() in WEEKDAYS:
        weekday = WEEKDAYS.index(raw_day.lower())
    else:
        problems.append(f"{where}.weekday: must be one of {', '.join(WEEKDAYS)}, got {raw_day!r}")
    at: time | None = None
    raw_at = table.get("at", "end_of_day")
    if raw_at != "end_of_day":
        try:
            if not isinstance(raw_at, str) or len(raw_at) != 5:
                raise ValueError
            at = time.fromisoformat(raw_at)
        except ValueError:
            problems.append(f'{where}.at: must be "HH:MM" or "end_of_day", got {raw_at!r}')
    return weekday, at, problems


def _roles(
    where: str, raw: object, allowed: frozenset[str] | None = None
) -> tuple[tuple[str, ...], list[str]]:
    """The roles of a ``remind`` or ``escalate_to`` list; ``allowed``: the roles that
    mean somebody for this clock (None: any role)."""
    if not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
        return (), [f"{where}: must be a list of role names"]
    unknown = [r for r in raw if r not in ROLES]
    if unknown:
        known = ", ".join(sorted(ROLES))
        return (), [f"{where}: unknown role {r!r} (known: {known})" for r in unknown]
    if allowed is not None and not set(raw) <= allowed:
        usable = ", ".join(sorted(allowed))
        return (), [
            f"{where}: role {r!r} names nobody for this clock (usable: {usable})"
            for r in raw
            if r not in allowed
        ]
    if len(set(raw)) != len(raw):
        return (), [f"{where}: a role is listed twice"]
    return tuple(raw), []
