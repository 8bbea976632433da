"""Profiles as data: the five shipped files, copies from a path, validation, numbering."""

from __future__ import annotations

import tomllib
from datetime import datetime, time
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from workflow.numbering import check_number_pattern
from workflow.profiles import (
    SHIPPED_PROFILES,
    Profile,
    ProfileError,
    ServiceLevel,
    Stages,
    format_number,
    load_profile,
    number_scope,
    parse_profile,
)
from workflow.service_levels import CLOCKS, parse_service_level
from workflow.workdays import WorkingCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
CN = WorkingCalendar.for_country("CN")


def sh(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def standard_text() -> str:
    return (resources.files("workflow") / "profiles" / "standard.toml").read_text("utf-8")


# --- the shipped profiles ----------------------------------------------------------------


def test_shipped_profiles_are_package_data() -> None:
    folder = resources.files("workflow") / "profiles"
    shipped = sorted(item.name for item in folder.iterdir() if item.name.endswith(".toml"))
    assert shipped == sorted(f"{name}.toml" for name in SHIPPED_PROFILES)


@pytest.mark.parametrize(
    ("name", "seed", "title", "numbering", "stages"),
    [
        (
            "standard",
            "004",
            "部门间工作协调流程标准",
            "XT-{year}-{seq:04d}",
            Stages(evaluation_by_office=True, plan_approval=True, explicit_acceptance_form=False),
        ),
        (
            "intra-department",
            "000",
            "部门内部沟通与协调",
            "XZ-{year}-{seq:03d}",
            Stages(evaluation_by_office=False, plan_approval=True, explicit_acceptance_form=False),
        ),
        (
            "cross-department",
            "001",
            "跨部门沟通协作流程",
            "XT-{year}-{seq:04d}",
            Stages(evaluation_by_office=True, plan_approval=False, explicit_acceptance_form=False),
        ),
        (
            "enterprise",
            "002",
            "企业内部沟通及协作流程",
            "XT-{year}-{seq:04d}",
            Stages(evaluation_by_office=True, plan_approval=True, explicit_acceptance_form=True),
        ),
        (
            "task-record",
            "003",
            "跨部门协作任务分配与沟通记录表",
            "{year}-{department}-{seq:03d}",
            Stages(evaluation_by_office=True, plan_approval=True, explicit_acceptance_form=False),
        ),
    ],
)
def test_every_shipped_profile_loads(
    name: str, seed: str, title: str, numbering: str, stages: Stages
) -> None:
    profile = load_profile(name)
    assert (profile.name, profile.seed, profile.title) == (name, seed, title)
    assert profile.numbering == numbering
    assert profile.stages == stages
    assert profile.source == f"{name} (shipped)"


# The service-level table of workflow.md, as the standard profile must carry it:
# (clock, limit, unit, remind, escalate_to, escalate_after)
STANDARD_TABLE = [
    ("evaluate_request", 1, "working_days", ("coordination_office",), ("office_head",), 2),
    ("name_departments", 2, "working_days", ("coordination_office",), ("office_head",), 3),
    ("kickoff_meeting", 2, "working_days", (), (), None),
    ("agenda_before_meeting", 24, "hours", (), (), None),
    ("minutes_sent", 1, "working_days", ("lead_head",), ("lead_superior",), 2),
    ("minutes_confirmed", 1, "working_days", ("pending_heads",), ("pending_superiors",), 2),
    ("task_acknowledged", 1, "working_days", ("owner",), ("owner_head",), 2),
    ("department_plans", 3, "working_days", ("pending_heads",), ("pending_superiors",), 4),
    ("consolidated_plan", 2, "working_days", ("lead_head",), ("lead_superior",), 3),
    ("weekly_progress", 1, "weekly", ("owner",), (), None),
    ("risk_warning", 1, "working_days", ("owner", "lead_head"), (), None),
    # mail.md "Outbound": the overdue notice to owner and lead head; their escalation
    # (owner's head and superior) with it. No limit: the task's own deadline.
    (
        "task_overdue",
        0,
        "working_days",
        ("owner", "lead_head"),
        ("owner_head", "owner_superior"),
        0,
    ),
    ("problem_meeting", 24, "hours", (), ("lead_head", "lead_superior"), 24),
    ("acceptance_review", 1, "working_days", ("acceptor",), ("acceptor_superior",), 2),
    ("review_meeting", 5, "working_days", ("lead_head",), (), None),
    ("communication_record", 24, "hours", ("lead_head",), (), None),
]


@pytest.mark.parametrize(
    ("clock", "limit", "unit", "remind", "escalate_to", "escalate_after"), STANDARD_TABLE
)
def test_standard_profile_carries_the_service_level_table(
    clock: str,
    limit: int,
    unit: str,
    remind: tuple[str, ...],
    escalate_to: tuple[str, ...],
    escalate_after: int | None,
) -> None:
    level = load_profile("standard").service_level(clock)
    assert (level.limit, level.unit, level.remind, level.escalate_to, level.escalate_after) == (
        limit,
        unit,
        remind,
        escalate_to,
        escalate_after,
    )


def test_standard_profile_has_exactly_the_table_clocks() -> None:
    names = {level.name for level in load_profile("standard").service_levels}
    assert names == {row[0] for row in STANDARD_TABLE}


def _levels(profile: Profile) -> dict[str, ServiceLevel]:
    return {level.name: level for level in profile.service_levels}


# Each profile's clock differences from the standard: (changed or added clocks, removed).
DIFFERENCES: list[tuple[str, dict[str, dict[str, Any]], set[str]]] = [
    ("standard", {}, set()),
    (
        "intra-department",
        {
            "evaluate_request": {
                "limit": 1,
                "remind": ("requester_head",),
                "escalate_to": ("requester_superior",),
            },
            "name_departments": {
                "limit": 2,
                "remind": ("requester_head",),
                "escalate_to": ("requester_superior",),
            },
            "resource_request": {
                "limit": 1,
                "unit": "working_days",
                "remind": ("resource_provider",),
            },
        },
        set(),
    ),
    (
        "cross-department",
        {
            "materials_before_meeting": {"limit": 2, "unit": "working_days", "kind": "lead_time"},
            "minutes_sent": {"limit": 2, "unit": "working_days", "escalate_after": 3},
        },
        {"department_plans", "consolidated_plan"},
    ),
    ("enterprise", {}, set()),
    (
        "task-record",
        {
            "weekly_progress": {"unit": "weekly", "weekday": 0, "at": time(12)},
            "problem_escalation": {
                "limit": 24,
                "unit": "hours",
                "escalate_to": ("requester_head", "requester_superior"),
            },
        },
        set(),
    ),
]


@pytest.mark.parametrize(("name", "changed", "removed"), DIFFERENCES)
def test_profiles_differ_from_standard_exactly_as_specified(
    name: str, changed: dict[str, dict[str, Any]], removed: set[str]
) -> None:
    standard, profile = _levels(load_profile("standard")), _levels(load_profile(name))
    assert set(standard) - set(profile) == removed
    differing = {n for n, level in profile.items() if standard.get(n) != level}
    assert differing == set(changed)
    for clock, expected in changed.items():
        level = profile[clock]
        assert {key: getattr(level, key) for key in expected} == expected


def test_standard_weekly_progress_is_friday_end_of_day() -> None:
    level = load_profile("standard").service_level("weekly_progress")
    assert (level.weekday, level.at) == (4, None)


# --- clocks against the calendar ----------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "clock", "anchor", "due", "escalation"),
    [
        (
            "standard",
            "evaluate_request",
            sh(2025, 1, 27, 10),
            sh(2025, 2, 5, 18),
            sh(2025, 2, 6, 18),
        ),
        (
            "standard",
            "problem_meeting",
            sh(2025, 1, 27, 10),
            sh(2025, 1, 28, 10),
            sh(2025, 1, 28, 10),
        ),
        ("standard", "risk_warning", sh(2025, 2, 5, 18), sh(2025, 1, 27, 18), None),
        # At the task's deadline, and the escalation with it.
        ("standard", "task_overdue", sh(2025, 2, 7, 18), sh(2025, 2, 7, 18), sh(2025, 2, 7, 18)),
        ("standard", "agenda_before_meeting", sh(2025, 3, 5, 10), sh(2025, 3, 4, 10), None),
        ("standard", "weekly_progress", sh(2025, 3, 3, 10), sh(2025, 3, 7, 18), None),
        ("task-record", "weekly_progress", sh(2025, 3, 7, 10), sh(2025, 3, 10, 12), None),
        (
            "cross-department",
            "minutes_sent",
            sh(2025, 2, 7, 16),
            sh(2025, 2, 10, 18),
            sh(2025, 2, 11, 18),
        ),
        (
            "cross-department",
            "materials_before_meeting",
            sh(2025, 3, 5, 10),
            sh(2025, 3, 3, 18),
            None,
        ),
    ],
)
def test_service_level_deadlines(
    profile: str, clock: str, anchor: datetime, due: datetime, escalation: datetime | None
) -> None:
    level = load_profile(profile).service_level(clock)
    assert level.due(anchor, CN) == due
    assert level.escalation_due(anchor, CN) == escalation


# --- a copied and edited profile -----------------------------------------------------------


def test_a_copied_profile_loads_from_a_path_and_its_values_are_used(tmp_path: Path) -> None:
    text = standard_text()
    text = text.replace('name = "standard"', 'name = "our-office"')
    text = text.replace(
        'numbering = "XT-{year}-{seq:04d}"', 'numbering = "HR-{department}-{year}-{seq:05d}"'
    )
    old_clock = (
        '[service_levels.evaluate_request]\nlimit = 1\nunit = "working_days"\n'
        'remind = ["coordination_office"]\nescalate_to = ["office_head"]\nescalate_after = 2\n'
    )
    assert old_clock in text
    text = text.replace(
        old_clock,
        (
            '[service_levels.evaluate_request]\nlimit = 8\nunit = "working_hours"\n'
            'remind = ["coordination_office"]\nescalate_to = ["office_head", "requester"]\n'
            "escalate_after = 16\n"
        ),
    )
    path = tmp_path / "our-office.toml"
    path.write_text(text, encoding="utf-8")

    profile = load_profile(str(path))

    assert profile.name == "our-office"
    assert profile.source == str(path)
    assert profile.numbering == "HR-{department}-{year}-{seq:05d}"
    level = profile.service_level("evaluate_request")
    assert (level.limit, level.unit, level.escalate_to, level.escalate_after) == (
        8,
        "working_hours",
        ("office_head", "requester"),
        16,
    )
    # Monday 17:00 + 8 working hours = Tuesday 16:00; + 16 = Wednesday 15:00.
    assert level.due(sh(2025, 3, 3, 17), CN) == sh(2025, 3, 4, 16)
    assert level.escalation_due(sh(2025, 3, 3, 17), CN) == sh(2025, 3, 5, 15)
    assert format_number(profile.numbering, year=2026, seq=12, department="人事") == (
        "HR-人事-2026-00012"
    )
    assert number_scope(profile.numbering, year=2026, department="人事") == "HR-人事-2026"
    # Everything untouched is still the standard's.
    assert profile.service_level("minutes_sent") == load_profile("standard").service_level(
        "minutes_sent"
    )


def test_a_copied_task_overdue_level_escalates_working_days_after_the_deadline() -> None:
    level, problems = parse_service_level(
        "task_overdue",
        {
            "unit": "working_days",
            "remind": ["owner"],
            "escalate_to": ["lead_superior", "office_head"],
            "escalate_after": 2,
        },
    )
    assert problems == [] and level is not None
    assert (level.kind, level.limit, level.remind, level.escalate_to) == (
        "overdue",
        0,
        ("owner",),
        ("lead_superior", "office_head"),
    )
    # Due Friday 18:00: overdue then; escalated at the end of the second working day after.
    assert level.due(sh(2025, 3, 7, 18), CN) == sh(2025, 3, 7, 18)
    assert level.escalation_due(sh(2025, 3, 7, 18), CN) == sh(2025, 3, 11, 18)
    # Over the Spring Festival: Saturday 2025-02-08 is a make-up working day (调休).
    assert level.escalation_due(sh(2025, 2, 7, 18), CN) == sh(2025, 2, 10, 18)


def test_a_profile_without_task_overdue_is_named() -> None:
    data = tomllib.loads(standard_text())
    del data["service_levels"]["task_overdue"]
    with pytest.raises(ProfileError) as caught:
        parse_profile(data, source="copy.toml")
    assert caught.value.problems == ("service_levels.task_overdue: missing",)


# --- validation -----------------------------------------------------------------------------

BAD_PROFILE = """
name = "Bad Name"
colour = "blue"
title = ""
seed = 4
numbering = "XT-{yr}-{seq:04d}"

[stages]
evaluation_by_office = "yes"
plan_approval = true
teleport = false

[service_levels.evaluate_request]
limit = 0
unit = "fortnights"
remind = ["coordination_office", "the_boss"]

[service_levels.minutes_sent]
limit = 2
unit = "working_days"
remind = ["lead_head"]
escalate_to = ["lead_superior"]
escalate_after = 1

[service_levels.coffee_break]
limit = 1
unit = "hours"
"""


def test_a_bad_profile_reports_every_problem_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(BAD_PROFILE, encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        load_profile(str(path))
    problems = caught.value.problems
    expected_fragments = [
        "name: must be lower-case",
        "colour: unknown key",
        "title: must be a non-empty string",
        "seed: must be a string",
        "unknown placeholder {yr}",
        "must contain {year}",
        "stages.evaluation_by_office: must be true or false",
        "stages.explicit_acceptance_form: must be true or false",
        "stages.teleport: unknown stage",
        "service_levels.evaluate_request.unit: must be one of",
        "service_levels.evaluate_request.limit: must be a whole number",
        "service_levels.evaluate_request.remind: unknown role 'the_boss'",
        "service_levels.minutes_sent.escalate_after: 1 is before the limit 2",
        "service_levels.coffee_break: unknown clock",
        "service_levels.kickoff_meeting: missing",
        "service_levels.communication_record: missing",
        "service_levels.department_plans: missing",  # plan approval is on
    ]
    for fragment in expected_fragments:
        assert any(fragment in p for p in problems), f"{fragment!r} not in {problems}"
    # 14 required clocks + 2 of plan approval, 2 of which are given.
    assert sum(p.endswith(": missing") for p in problems) == 14
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("name", "table", "fragment"),
    [
        (
            "weekly_progress",
            {
                "unit": "weekly",
                "weekday": "friday",
                "remind": ["owner"],
                "escalate_to": ["owner_head"],
                "escalate_after": 2,
            },
            "weekly clock does not escalate",
        ),
        (
            "weekly_progress",
            {"unit": "weekly", "weekday": "funday", "remind": ["owner"]},
            "weekday: must be one of",
        ),
        (
            "weekly_progress",
            {"unit": "weekly", "weekday": "monday", "at": "noon", "remind": ["owner"]},
            'at: must be "HH:MM"',
        ),
        (
            "weekly_progress",
            {"unit": "weekly", "weekday": "monday", "limit": 2, "remind": ["owner"]},
            "leave limit out",
        ),
        (
            "minutes_sent",
            {"limit": 1, "unit": "working_days", "weekday": "monday", "remind": ["lead_head"]},
            "only for weekly clocks",
        ),
        (
            "kickoff_meeting",
            {"limit": 2, "unit": "working_days", "remind": ["lead_head"]},
            "reminds and escalates nobody",
        ),
        (
            "kickoff_meeting",
            {"limit": 2, "unit": "weekly", "weekday": "monday"},
            "cannot be weekly",
        ),
        ("risk_warning", {"limit": 1, "unit": "working_days"}, "needs someone to warn"),
        (
            "risk_warning",
            {"limit": 1, "unit": "working_days", "remind": ["owner", "approver"]},
            "role 'approver' names nobody for this clock",
        ),
        (
            "task_overdue",
            {"limit": 1, "unit": "working_days", "remind": ["owner"]},
            "task_overdue.limit: an overdue clock runs out at the task's own deadline",
        ),
        (
            "task_overdue",
            {"unit": "hours", "remind": ["owner"]},
            "task_overdue.unit: an overdue clock counts in working_days, not hours",
        ),
        (
            "task_overdue",
            {"unit": "working_days", "remind": ["pending_heads"]},
            "task_overdue.remind: role 'pending_heads' names nobody for this clock",
        ),
        (
            "task_overdue",
            {
                "unit": "working_days",
                "remind": ["owner"],
                "escalate_to": ["requester"],
                "escalate_after": 1,
            },
            "task_overdue.escalate_to: role 'requester' names nobody for this clock",
        ),
        (
            "task_overdue",
            {
                "unit": "working_days",
                "remind": ["owner"],
                "escalate_to": ["owner_head"],
                "escalate_after": -1,
            },
            "task_overdue.escalate_after: must be a whole number of at least 0",
        ),
        (
            "task_overdue",
            {"unit": "working_days", "remind": ["owner"], "escalate_to": ["owner_head"]},
            "task_overdue.escalate_after: needed with escalate_to",
        ),
        ("task_overdue", {"unit": "working_days"}, "must remind or escalate someone"),
        (
            "risk_warning",
            {"limit": 4, "unit": "working_hours", "remind": ["owner"]},
            "counts back in",
        ),
        ("minutes_sent", {"limit": 1, "unit": "working_days"}, "must remind or escalate someone"),
        (
            "minutes_sent",
            {"limit": 1, "unit": "working_days", "escalate_to": ["lead_head"]},
            "escalate_after: needed",
        ),
        (
            "minutes_sent",
            {"limit": 1, "unit": "working_days", "remind": ["lead_head"], "escalate_after": 2},
            "escalate_to: needed",
        ),
        (
            "minutes_sent",
            {"limit": True, "unit": "working_days", "remind": ["lead_head"]},
            "whole number",
        ),
        (
            "minutes_sent",
            {"limit": 1, "unit": "working_days", "remind": "lead_head"},
            "must be a list of role names",
        ),
        (
            "minutes_sent",
            {"limit": 1, "unit": "working_days", "remind": ["owner", "owner"]},
            "listed twice",
        ),
        (
            "minutes_sent",
            {"limit": 1, "unit": "working_days", "remind": ["owner"], "colour": "red"},
            "colour: unknown key",
        ),
    ],
)
def test_service_level_validation(name: str, table: dict[str, Any], fragment: str) -> None:
    level, problems = parse_service_level(name, table)
    assert level is None
    assert any(fragment in p for p in problems), problems


def test_office_must_not_evaluate_when_its_step_is_off() -> None:
    data = tomllib.loads(standard_text())
    data["stages"]["evaluation_by_office"] = False
    with pytest.raises(ProfileError) as caught:
        parse_profile(data)
    assert caught.value.problems == (
        "service_levels.evaluate_request.remind: evaluation_by_office is off, "
        "so the coordination office evaluates nothing",
    )


def test_plan_clocks_are_optional_without_plan_approval() -> None:
    data = tomllib.loads(standard_text())
    data["stages"]["plan_approval"] = False
    del data["service_levels"]["department_plans"]
    del data["service_levels"]["consolidated_plan"]
    profile = parse_profile(data)
    assert not profile.has_service_level("department_plans")
    with pytest.raises(KeyError):
        profile.service_level("department_plans")


@pytest.mark.parametrize(
    ("argument", "fragment"),
    [
        ("standrad", "no shipped profile 'standrad'"),
        ("/nonexistent/profile.toml", "cannot read the file"),
    ],
)
def test_unknown_profiles_are_reported(argument: str, fragment: str) -> None:
    with pytest.raises(ProfileError) as caught:
        load_profile(argument)
    assert fragment in caught.value.problems[0]


def test_invalid_toml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('name = "x\n', encoding="utf-8")
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile(str(path))


def test_every_clock_in_a_shipped_profile_is_in_the_catalogue() -> None:
    for name in SHIPPED_PROFILES:
        for level in load_profile(name).service_levels:
            definition = CLOCKS[level.name]
            assert (level.kind, level.anchor, level.title) == (
                definition.kind,
                definition.anchor,
                definition.title,
            )


# --- numbering ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "year", "seq", "department", "number", "scope"),
    [
        ("XT-{year}-{seq:04d}", 2026, 42, "研发部", "XT-2026-0042", "XT-2026"),
        ("XT-{year}-{seq:04d}", 2026, 12345, "研发部", "XT-2026-12345", "XT-2026"),
        ("XZ-{year}-{seq:03d}", 2024, 1, "市场部", "XZ-2024-001", "XZ-2024"),
        ("{year}-{department}-{seq:03d}", 2024, 1, "市场", "2024-市场-001", "2024-市场"),
        ("{year}-{department}-{seq:03d}", 2024, 7, "销售", "2024-销售-007", "2024-销售"),
        ("{seq}/{year}", 2026, 5, "", "5/2026", "2026"),
    ],
)
def test_format_number_and_scope(
    pattern: str, year: int, seq: int, department: str, number: str, scope: str
) -> None:
    assert format_number(pattern, year=year, seq=seq, department=department) == number
    assert number_scope(pattern, year=year, department=department) == scope


def test_the_sequence_restarts_each_year_and_per_department_when_named() -> None:
    per_department = "{year}-{department}-{seq:03d}"
    scopes = {
        number_scope(per_department, year=y, department=d)
        for y in (2025, 2026)
        for d in ("市场", "销售")
    }
    assert len(scopes) == 4
    shared = {
        number_scope("XT-{year}-{seq:04d}", year=2026, department=d) for d in ("市场", "销售")
    }
    assert shared == {"XT-2026"}


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("XT-{yr}-{seq}", "unknown placeholder {yr}"),
        ("XT-{year}-{seq}-{team}", "unknown placeholder {team}"),
        ("XT-{year}-{}", "positional placeholder"),
        ("XT-{year}-{0}", "positional placeholder"),
        ("XT-{year.real}-{seq}", "unknown placeholder {year.real}"),
        ("XT-{year}-{seq!r}", "conversion !r"),
        ("XT-{year}-{seq:q}", "bad format for {seq}"),
        ("XT-{year}-{seq:{w}}", "nested placeholder"),
        ("XT-{year}-{seq", "expected '}'"),
        ("XT-{year}", "must contain {seq}"),
        ("XT-{seq:04d}", "must contain {year}"),
        ("", "non-empty string"),
    ],
)
def test_bad_number_patterns_are_rejected(pattern: str, fragment: str) -> None:
    problems = check_number_pattern(pattern)
    assert any(fragment in p for p in problems), problems
    with pytest.raises(ValueError, match="numbering pattern"):
        format_number(pattern, year=2026, seq=1, department="研发")
    with pytest.raises(ValueError, match="numbering pattern"):
        number_scope(pattern, year=2026, department="研发")


def test_a_department_pattern_needs_a_department() -> None:
    with pytest.raises(ValueError, match="needs a department"):
        format_number("{year}-{department}-{seq:03d}", year=2026, seq=1, department=" ")


def test_sequence_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        format_number("XT-{year}-{seq:04d}", year=2026, seq=0, department="")


def test_profile_compares_by_value() -> None:
    assert load_profile("standard") == load_profile("standard")
    assert load_profile("standard") != load_profile("enterprise")
