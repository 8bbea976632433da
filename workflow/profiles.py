"""Profiles: which stages run and how long each clock is, loaded from a TOML file.

The daemon ships one profile per seed template in ``workflow/profiles/*.toml``
(``standard``, ``intra-department``, ``cross-department``, ``enterprise``,
``task-record``). An admin may copy one, change it and name the copy's path in
``[workflow] profile``. A profile file is validated as a whole: :class:`ProfileError`
lists every problem at once.

File layout::

    name = "standard"
    title = "部门间工作协调流程标准"
    seed = "004"
    numbering = "XT-{year}-{seq:04d}"

    [stages]
    evaluation_by_office = true
    plan_approval = true
    explicit_acceptance_form = false

    [service_levels.evaluate_request]
    limit = 1
    unit = "working_days"
    remind = ["coordination_office"]
    escalate_to = ["office_head"]
    escalate_after = 2

    [service_levels.task_overdue]       # no limit: the task's own deadline
    unit = "working_days"
    remind = ["owner", "lead_head"]
    escalate_to = ["owner_head", "owner_superior"]
    escalate_after = 0                  # 0: with the overdue notice

The clocks and roles are described in :mod:`workflow.service_levels`, numbering
patterns in :mod:`workflow.numbering`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path

from workflow.errors import WorkflowError
from workflow.numbering import check_number_pattern, format_number, number_scope
from workflow.service_levels import ServiceLevel, parse_service_level

__all__ = [
    "SHIPPED_PROFILES",
    "Profile",
    "ProfileError",
    "ServiceLevel",
    "Stages",
    "format_number",
    "load_profile",
    "number_scope",
    "parse_profile",
]

#: The profiles shipped as package data, one per seed template.
SHIPPED_PROFILES: tuple[str, ...] = (
    "standard",
    "intra-department",
    "cross-department",
    "enterprise",
    "task-record",
)

#: Clocks every profile must set.
REQUIRED_CLOCKS = frozenset(
    {
        "evaluate_request",
        "name_departments",
        "kickoff_meeting",
        "agenda_before_meeting",
        "minutes_sent",
        "minutes_confirmed",
        "task_acknowledged",
        "weekly_progress",
        "risk_warning",
        "task_overdue",
        "problem_meeting",
        "acceptance_review",
        "review_meeting",
        "communication_record",
    }
)
#: Clocks a profile must set when the stage is on (they may stay, unused, when it is off).
CLOCKS_OF_STAGE: Mapping[str, frozenset[str]] = {
    "plan_approval": frozenset({"department_plans", "consolidated_plan"}),
}

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_TOP_KEYS = frozenset({"name", "title", "seed", "numbering", "stages", "service_levels"})


class ProfileError(WorkflowError, ValueError):
    """A profile cannot be used; ``problems`` lists every reason."""

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.source = source
        self.problems: tuple[str, ...] = tuple(problems)
        listed = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"profile {source}:\n{listed}")


@dataclass(frozen=True)
class Stages:
    """Stages a profile switches on or off; the others always run."""

    #: The coordination office registers and evaluates; off: the requester's head does.
    evaluation_by_office: bool
    #: Department plans and a consolidated plan go to the approvers (seed 004).
    plan_approval: bool
    #: Each deliverable is accepted on an explicit acceptance form (成果验收表, seed 002).
    explicit_acceptance_form: bool


@dataclass(frozen=True)
class Profile:
    name: str
    title: str  # the seed's Chinese title
    seed: str  # seed template number, e.g. "004"
    numbering: str  # request number pattern, see workflow.numbering
    stages: Stages
    service_levels: tuple[ServiceLevel, ...]
    source: str = field(default="", compare=False)  # where it was loaded from

    def service_level(self, name: str) -> ServiceLevel:
        """The clock called ``name``; KeyError when this profile does not have it."""
        for level in self.service_levels:
            if level.name == name:
                return level
        raise KeyError(f"profile {self.name!r} has no clock {name!r}")

    def has_service_level(self, name: str) -> bool:
        return any(level.name == name for level in self.service_levels)


def load_profile(name_or_path: str) -> Profile:
    """A shipped profile by name, or a profile file by path."""
    if name_or_path in SHIPPED_PROFILES:
        source = f"{name_or_path} (shipped)"
        resource = resources.files("workflow") / "profiles" / f"{name_or_path}.toml"
        text = resource.read_text(encoding="utf-8")
    else:
        path = Path(name_or_path).expanduser()
        source = str(path)
        if not (name_or_path.endswith(".toml") or "/" in name_or_path or "\\" in name_or_path):
            shipped = ", ".join(SHIPPED_PROFILES)
            raise ProfileError(
                name_or_path,
                [
                    f"no shipped profile {name_or_path!r} (shipped: {shipped}); "
                    "or give the path of a .toml file"
                ],
            )
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ProfileError(source, [f"cannot read the file: {exc.strerror or exc}"]) from None
        except UnicodeDecodeError:
            raise ProfileError(source, ["the file is not UTF-8 text"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(source, [f"not valid TOML: {exc}"]) from None
    return parse_profile(data, source=source)


def parse_profile(data: Mapping[str, object], *, source: str = "<data>") -> Profile:
    """A :class:`Profile` from parsed TOML; raises :class:`ProfileError` listing all problems."""
    problems = [f"{key}: unknown key" for key in sorted(set(data) - _TOP_KEYS)]

    name = data.get("name")
    if not (isinstance(name, str) and _NAME_RE.match(name)):
        problems.append(f"name: must be lower-case letters, digits and '-', got {name!r}")
    title = data.get("title")
    if not (isinstance(title, str) and title.strip()):
        problems.append(f"title: must be a non-empty string, got {title!r}")
    seed = data.get("seed")
    if not isinstance(seed, str):
        problems.append(f"seed: must be a string, got {seed!r}")
    numbering = data.get("numbering")
    problems.extend(f"numbering: {p}" for p in check_number_pattern(numbering))

    stages, flags, more = _parse_stages(data.get("stages"))
    problems.extend(more)
    levels, more = _parse_service_levels(data.get("service_levels"), flags)
    problems.extend(more)

    if problems or stages is None:
        raise ProfileError(source, problems)
    assert isinstance(name, str) and isinstance(title, str) and isinstance(seed, str)
    assert isinstance(numbering, str)
    return Profile(
        name=name,
        title=title,
        seed=seed,
        numbering=numbering,
        stages=stages,
        service_levels=levels,
        source=source,
    )


def _parse_stages(raw: object) -> tuple[Stages | None, dict[str, bool], list[str]]:
    """The stages, the flags that were valid (for checks that depend on them), problems."""
    if not isinstance(raw, Mapping):
        return None, {}, ["stages: missing (a [stages] table)"]
    names = [f.name for f in fields(Stages)]
    problems = [f"stages.{key}: unknown stage" for key in sorted(set(raw) - set(names))]
    values: dict[str, bool] = {}
    for stage in names:
        value = raw.get(stage)
        if isinstance(value, bool):
            values[stage] = value
        else:
            problems.append(f"stages.{stage}: must be true or false, got {value!r}")
    if problems:
        return None, values, problems
    return Stages(**values), values, []


def _parse_service_levels(
    raw: object, flags: Mapping[str, bool]
) -> tuple[tuple[ServiceLevel, ...], list[str]]:
    if not isinstance(raw, Mapping):
        return (), ["service_levels: missing (one [service_levels.NAME] table per clock)"]
    problems: list[str] = []
    levels: list[ServiceLevel] = []
    for name, table in raw.items():
        level, more = parse_service_level(str(name), table)
        problems.extend(more)
        if level is not None:
            levels.append(level)
    required = set(REQUIRED_CLOCKS)
    for stage, clocks in CLOCKS_OF_STAGE.items():
        if flags.get(stage, False):
            required |= clocks
    office_clock = raw.get("evaluate_request")
    if (
        flags.get("evaluation_by_office") is False
        and isinstance(office_clock, Mapping)
        and "coordination_office" in (office_clock.get("remind") or [])
    ):
        problems.append(
            "service_levels.evaluate_request.remind: evaluation_by_office is off, "
            "so the coordination office evaluates nothing"
        )
    problems.extend(f"service_levels.{name}: missing" for name in sorted(required - set(raw)))
    return tuple(levels), problems
