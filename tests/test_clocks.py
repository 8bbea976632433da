"""Service levels as stored clocks: reminders, escalations, stopping, working hours."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from daemon.inbound import Outcome
from daemon.pipeline import Pipeline
from store.uow import SqlUnitOfWork
from tests.support import (
    ROOT_EXAMPLES,
    SHANGHAI,
    build_reply,
    parse_mail,
    scratch_app,
    text_of,
)
from tests.test_meetings import REQUEST, World
from workflow.clocks import TickReport, tick

OFFICE = "office@example.com"
OFFICE_HEAD = "zhou.min@example.com"


@pytest.fixture
def world(tmp_path: Path, corpus_dir: Path) -> Iterator[World]:
    # Registered on Monday 2026-03-16 09:00: the office must evaluate within one working
    # day (Tuesday 18:00), the escalation to the office head comes after two.
    app, _ = scratch_app(tmp_path, LIAISON_DIRECTORY_FILE=str(ROOT_EXAMPLES / "directory.toml"))
    w = World(
        app,
        Pipeline(
            session_factory=app.session_factory,
            config=app.workflow,
            blobs=app.blobs,
            clock=app.clock,
        ),
    )
    assert w.arrive((corpus_dir / REQUEST).read_bytes()) is Outcome.PROCESSED
    yield w
    app.close()


def _tick(world: World, at: datetime) -> TickReport:
    with SqlUnitOfWork(world.app.session_factory) as uow:
        report = tick(uow=uow, now=at, config=world.app.workflow)
        uow.commit()
    return report


def test_reminder_then_escalation_once_each(world: World) -> None:
    assert _tick(world, datetime(2026, 3, 17, 17, 0, tzinfo=SHANGHAI)).clock_reminders == 0
    due = _tick(world, datetime(2026, 3, 18, 9, 30, tzinfo=SHANGHAI))
    assert (due.clock_reminders, due.escalations) == (1, 0)
    [reminder] = world.sent("awaited/reminder")
    assert parse_mail(reminder)["To"].addresses[0].addr_spec == OFFICE
    assert parse_mail(reminder)["Subject"].startswith("[催办] XT-2026-0001")
    # Never twice for the same level.
    assert _tick(world, datetime(2026, 3, 18, 10, 0, tzinfo=SHANGHAI)).clock_reminders == 0
    late = _tick(world, datetime(2026, 3, 19, 9, 30, tzinfo=SHANGHAI))
    assert late.escalations == 1
    [escalation] = world.sent("superior/escalation")
    assert parse_mail(escalation)["To"].addresses[0].addr_spec == OFFICE_HEAD
    assert _tick(world, datetime(2026, 3, 20, 9, 30, tzinfo=SHANGHAI)).escalations == 0


def test_nothing_fires_outside_working_hours(world: World) -> None:
    # Due since Tuesday 18:00; Wednesday 07:00 is before work, so it waits for 09:00.
    assert _tick(world, datetime(2026, 3, 18, 7, 0, tzinfo=SHANGHAI)).clock_reminders == 0
    assert world.sent("awaited/reminder") == []
    assert _tick(world, datetime(2026, 3, 18, 9, 0, tzinfo=SHANGHAI)).clock_reminders == 1


def test_the_awaited_reply_stops_the_clock(world: World) -> None:
    [notice] = world.sent("office/evaluation_notice")
    world.arrive(
        build_reply(notice, sender=OFFICE, body="受理 牵头部门：研发部 配合部门：财务部\n")
    )
    report = _tick(world, datetime(2026, 3, 19, 9, 30, tzinfo=SHANGHAI))
    assert report.escalations == 0
    # Nothing more about the evaluation: the one reminder due by now is the lead's, for
    # the minutes of the kickoff held on Tuesday (minutes_sent, see test_profile_stages).
    reminded = [parse_mail(r)["To"].addresses[0].addr_spec for r in world.sent("awaited/reminder")]
    assert OFFICE not in reminded and report.clock_reminders == len(reminded) <= 1
    # The next thing the request waits for is the heads' kickoff, not the evaluation.
    view = world.view()
    assert view["state"] == "accepted"


def test_reminders_and_escalations_are_written_in_each_readers_language(
    tmp_path: Path, corpus_dir: Path
) -> None:
    """The directory says the office reads English, its head Chinese: the reminder to the
    office is in English and names it, the escalation to the head is in Chinese."""
    directory = tmp_path / "directory.toml"
    directory.write_text(
        (ROOT_EXAMPLES / "directory.toml").read_text(encoding="utf-8")
        + '\n[[person]]\nemail = "office@example.com"\nname = "Coordination Office"\n'
        'language = "en"\n',
        encoding="utf-8",
    )
    app, _ = scratch_app(tmp_path / "app", LIAISON_DIRECTORY_FILE=str(directory))
    world = World(
        app,
        Pipeline(
            session_factory=app.session_factory,
            config=app.workflow,
            blobs=app.blobs,
            clock=app.clock,
        ),
    )
    try:
        assert world.arrive((corpus_dir / REQUEST).read_bytes()) is Outcome.PROCESSED
        _tick(world, datetime(2026, 3, 18, 9, 30, tzinfo=SHANGHAI))
        [reminder] = world.sent("awaited/reminder")
        to = parse_mail(reminder)["To"].addresses[0]
        assert (to.addr_spec, to.display_name) == (OFFICE, "Coordination Office")
        assert parse_mail(reminder)["Subject"].startswith("[Reminder] XT-2026-0001")
        _tick(world, datetime(2026, 3, 19, 9, 30, tzinfo=SHANGHAI))
        [escalation] = world.sent("superior/escalation")
        assert parse_mail(escalation)["To"].addresses[0].addr_spec == OFFICE_HEAD
        subject = parse_mail(escalation)["Subject"]
        assert subject.startswith(
            "[升级督办] XT-2026-0001 Coordination Office <office@example.com>"
        )
        assert "已超期 2 个工作日" in text_of(parse_mail(escalation))
    finally:
        app.close()
