"""Problems by mail: the notice to the lead, the resolution by reply, escalation, clocks."""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.header import Header
from pathlib import Path

import pytest

from daemon.inbound import Outcome
from daemon.pipeline import Pipeline
from store.uow import SqlUnitOfWork
from tests.support import ROOT_EXAMPLES, SHANGHAI, build_reply, parse_mail, scratch_app, text_of
from tests.test_meetings import LEAD_HEAD, OFFICE, REQUEST, World
from tests.test_minutes import ACCEPT_TWO, ADMIN_HEAD, FINANCE_HEAD, ITEMS, minutes_mail
from workflow.clocks import TickReport, tick
from workflow.replies import apply_reviewed

REPORTER = "li.na@example.com"  # owner of RW-0001, reports a problem with RW-0002
OWNER = "wang.qiang@example.com"  # owner of RW-0002
DELEGATE = "assistant.zhao@example.com"  # may sign off for the lead head
LEAD_SUPERIOR = "cto@example.com"


def issue_mail(
    *, sender: str = REPORTER, task: str = "XT-2026-0001/RW-0002", authenticated: bool = True
) -> bytes:
    body = "\r\n".join(
        [
            f"所属任务：{task}",
            "问题描述：ERP 测试环境不可用，接口联调无法进行",
            "影响范围：接口开发延期，影响月底试运行",
            "已尝试方案：已申请临时测试环境，尚未批复",
            "所需支持：信息部协调恢复测试环境",
            "紧急程度：紧急",
            "",
            "李娜",
        ]
    )
    head = []
    if authenticated:
        head.append(
            f"Authentication-Results: mx.example.com; dmarc=pass header.from={sender.split('@')[1]}"
        )
    head += [
        f"From: {sender}",
        "To: coord@example.com",
        f"Subject: {Header('[问题] XT-2026-0001 接口联调受阻', 'utf-8').encode()}",
        f"Date: {email.utils.format_datetime(datetime(2026, 3, 16, 9, 0, tzinfo=SHANGHAI))}",
        f"Message-ID: {email.utils.make_msgid(domain='example.com')}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    return ("\r\n".join(head) + "\r\n\r\n" + body + "\r\n").encode("utf-8")


@pytest.fixture
def world(tmp_path: Path, corpus_dir: Path) -> Iterator[World]:
    """Request XT-2026-0001 accepted (lead 研发部), minutes confirmed, both tasks assigned."""
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
    [notice] = w.sent("office/evaluation_notice")
    assert w.arrive(build_reply(notice, sender=OFFICE, body=ACCEPT_TWO)) is Outcome.PROCESSED
    w.arrive(minutes_mail(ITEMS))
    for head in (LEAD_HEAD, FINANCE_HEAD, ADMIN_HEAD):
        ask = next(
            raw
            for raw in w.sent("participant/minutes_for_confirmation")
            if parse_mail(raw)["To"].addresses[0].addr_spec == head
        )
        w.arrive(build_reply(ask, sender=head, body="确认\n"))
    assert w.view()["state"] == "in_progress"
    yield w
    app.close()


@pytest.fixture
def raised(world: World) -> World:
    """A problem with RW-0002 reported by mail: problem 1."""
    assert world.arrive(issue_mail()) is Outcome.PROCESSED
    return world


def _to(raw: bytes) -> list[str]:
    msg = parse_mail(raw)
    copied = msg["Cc"].addresses if msg["Cc"] else ()
    return sorted(a.addr_spec for a in (*msg["To"].addresses, *copied))


def _notice(world: World) -> bytes:
    [notice] = world.sent("lead/problem_notice")
    return notice


def _problem(world: World) -> dict[str, object]:
    [problem] = world.view()["problems"]  # type: ignore[misc]
    return problem  # type: ignore[no-any-return]


def _task(world: World, ref: str) -> dict[str, object]:
    return next(t for t in world.view()["tasks"] if t["id"] == ref)  # type: ignore[union-attr,no-any-return]


def _tick(world: World, at: datetime) -> TickReport:
    with SqlUnitOfWork(world.app.session_factory) as uow:
        report = tick(uow=uow, now=at, config=world.app.workflow)
        uow.commit()
    return report


def _open_clocks(world: World, name: str) -> list[tuple[str, str]]:
    with SqlUnitOfWork(world.app.session_factory) as uow:
        return [(c.subject, c.awaited) for c in uow.clocks.open_for(1, name)]


def _about_the_problem(kind: str, world: World) -> list[bytes]:
    return [raw for raw in world.sent(kind) if "答复问题1" in text_of(parse_mail(raw))]


# --- the notice ----------------------------------------------------------------------------


def test_an_issue_mail_brings_the_meeting_and_a_problem_notice_to_the_lead(raised: World) -> None:
    world = raised
    [meeting] = [m for m in world.view()["meetings"] if m["kind"] == "problem"]  # type: ignore[union-attr,index]
    attendees = {a["email"] for a in meeting["attendees"]}
    assert {REPORTER, OWNER, LEAD_HEAD} <= attendees  # the reporter, the task owner, the lead
    mail = parse_mail(_notice(world))
    assert _to(_notice(world)) == [LEAD_HEAD]
    assert mail["Subject"].startswith("[问题处理] XT-2026-0001/RW-0002 问题1：ERP 测试环境")
    # Asks for an answer: a per-recipient Message-ID naming the problem.
    assert mail["Message-ID"].startswith("<notice.xt-2026-0001.i1.")
    body = text_of(mail)
    assert "解决：" in body and "新期限：" in body and "新负责人：" in body
    assert "王强 <wang.qiang@example.com>" in body and "2026年4月10日" in body
    assert _problem(world)["state"] == "meeting_scheduled"
    assert _open_clocks(world, "problem_meeting") == [("issue:1", LEAD_HEAD)]
    [(subject, awaited)] = _open_clocks(world, "communication_record")
    assert subject.startswith("meeting:") and awaited == LEAD_HEAD


# --- the resolution ------------------------------------------------------------------------


def test_a_new_deadline_flows_into_the_task_and_everybody_is_told(raised: World) -> None:
    world = raised
    body = "解决：信息部 4 月 8 日前恢复测试环境 新期限：2026-04-24\n"
    world.arrive(build_reply(_notice(world), sender=LEAD_HEAD, body=body))
    assert _task(world, "RW-0002")["due"] == "2026-04-24"
    assert _task(world, "RW-0002")["owner"] == OWNER
    problem = _problem(world)
    assert problem["state"] == "resolved"
    assert problem["resolution"] == "信息部 4 月 8 日前恢复测试环境"
    assert problem["new_due"] == "2026-04-24" and problem["new_owner"] is None
    assert problem["resolved_by"] == LEAD_HEAD and problem["resolved_at"]
    [told] = world.sent("participant/problem_resolved")
    assert _to(told) == sorted([REPORTER, OWNER, LEAD_HEAD])
    text = text_of(parse_mail(told))
    assert "信息部 4 月 8 日前恢复测试环境" in text and "2026年4月24日" in text
    receipt = world.sent("signer/receipt")[-1]
    assert _to(receipt) == [LEAD_HEAD] and "问题1已解决" in text_of(parse_mail(receipt))
    # The clocks waiting for the resolution stopped: nothing fires a day later.
    assert _open_clocks(world, "problem_meeting") == []
    assert _open_clocks(world, "communication_record") == []
    _tick(world, datetime(2026, 3, 17, 14, 0, tzinfo=SHANGHAI))
    assert _about_the_problem("superior/escalation", world) == []


def test_a_new_owner_takes_the_task_over_and_must_acknowledge_it(raised: World) -> None:
    world = raised
    assignment = next(
        a for a in world.sent("owner/task_assignment") if "RW-0002" in parse_mail(a)["Subject"]
    )
    world.arrive(build_reply(assignment, sender=OWNER, body="收到\n"))
    assert _task(world, "RW-0002")["acknowledged"] is True

    body = "解决：调整分工，由李娜接手接口开发 新期限：2026-04-17 新负责人：李娜\n"
    world.arrive(build_reply(_notice(world), sender=LEAD_HEAD, body=body))
    task = _task(world, "RW-0002")
    assert (task["owner"], task["due"], task["state"], task["acknowledged"]) == (
        REPORTER,
        "2026-04-17",
        "assigned",
        False,
    )
    assert _problem(world)["new_owner"] == REPORTER
    # The new owner gets the task mail and an acknowledgement clock, like the original.
    handed = [
        a
        for a in world.sent("owner/task_assignment")
        if "RW-0002" in parse_mail(a)["Subject"] and _to(a)[0] == REPORTER
    ]
    assert len(handed) == 1
    assert "2026年4月17日" in text_of(parse_mail(handed[0]))
    assert ("task:RW-0002", REPORTER) in _open_clocks(world, "task_acknowledged")
    assert ("task:RW-0002", OWNER) not in _open_clocks(world, "task_acknowledged")
    # Reporter, new owner, former owner and the lead hear of it.
    [told] = world.sent("participant/problem_resolved")
    assert _to(told) == sorted([REPORTER, OWNER, LEAD_HEAD])
    assert "改为 李娜 <li.na@example.com> 负责" in text_of(parse_mail(told))

    # The former owner's answers to the old task mail change nothing any more.
    world.arrive(build_reply(assignment, sender=OWNER, body="完成\n"))
    assert _task(world, "RW-0002")["state"] == "assigned"
    [refused] = world.sent("sender/not_applicable")
    assert _to(refused) == [OWNER] and "已改由" in text_of(parse_mail(refused))
    # The new owner acknowledges through the mail they received.
    world.arrive(build_reply(handed[0], sender=REPORTER, body="收到\n"))
    assert _task(world, "RW-0002")["acknowledged"] is True


def test_a_delegate_of_the_lead_may_resolve(raised: World) -> None:
    world = raised
    world.arrive(build_reply(_notice(world), sender=DELEGATE, body="解决：供应商已补发物料\n"))
    problem = _problem(world)
    assert (problem["state"], problem["resolved_by"]) == ("resolved", DELEGATE)
    assert _task(world, "RW-0002")["due"] == "2026-04-10"  # no new deadline: unchanged


def test_an_owner_the_directory_cannot_place_changes_nothing(raised: World) -> None:
    world = raised
    body = "解决：换人负责 新负责人：张三\n"
    world.arrive(build_reply(_notice(world), sender=LEAD_HEAD, body=body))
    assert _problem(world)["state"] == "meeting_scheduled"
    assert _task(world, "RW-0002")["owner"] == OWNER
    [refused] = world.sent("sender/not_applicable")
    assert _to(refused) == [LEAD_HEAD]
    assert "新负责人“张三”不在通讯录中" in text_of(parse_mail(refused))
    assert world.sent("participant/problem_resolved") == []
    # Nothing was signed off: the lead can answer the same notice again, correctly.
    world.arrive(
        build_reply(_notice(world), sender=LEAD_HEAD, body="解决：换人负责 新负责人：王强\n")
    )
    assert _problem(world)["state"] == "resolved"


def test_a_deadline_that_cannot_be_read_or_has_passed_changes_nothing(raised: World) -> None:
    world = raised
    world.arrive(build_reply(_notice(world), sender=LEAD_HEAD, body="解决：再议 新期限：下周\n"))
    world.arrive(
        build_reply(_notice(world), sender=LEAD_HEAD, body="解决：补货 新期限：2026-03-01\n")
    )
    unreadable, past = world.sent("sender/not_applicable")
    assert "新期限“下周”无法识别" in text_of(parse_mail(unreadable))
    assert "已经过去" in text_of(parse_mail(past))
    assert _problem(world)["state"] == "meeting_scheduled"
    assert _task(world, "RW-0002")["due"] == "2026-04-10"


def test_someone_else_answering_the_notice_is_held_and_cannot_be_approved_in(
    raised: World,
) -> None:
    world = raised
    world.arrive(
        build_reply(_notice(world), sender=OWNER, body="解决：我自己搞定 新期限：2026-05-01\n")
    )
    assert _problem(world)["state"] == "meeting_scheduled"
    [held] = world.sent("sender/held_for_review")
    assert _to(held) == [OWNER]
    # Even approved by the office, a resolution counts only from the lead or a delegate.
    with SqlUnitOfWork(world.app.session_factory) as uow:
        [pending] = uow.signoffs.pending_review()
        outcome = apply_reviewed(
            pending.id,
            approve=True,
            reviewer=OFFICE,
            uow=uow,
            now=world.app.clock.now(),
            config=world.app.workflow,
        )
        uow.commit()
    assert outcome.result == "not_applicable"
    [answer] = outcome.mails
    assert answer.to[0].email == OWNER
    assert "只能由牵头部门负责人" in str(answer.context["state_text"])
    assert _problem(world)["state"] == "meeting_scheduled"
    assert _task(world, "RW-0002")["due"] == "2026-04-10"


def test_a_resolved_problem_is_not_resolved_again(raised: World) -> None:
    world = raised
    notice = _notice(world)
    world.arrive(build_reply(notice, sender=LEAD_HEAD, body="解决：恢复环境 新期限：2026-04-24\n"))
    world.arrive(build_reply(notice, sender=LEAD_HEAD, body="解决：再改 新期限：2026-05-08\n"))
    problem = _problem(world)
    assert (problem["resolution"], problem["new_due"]) == ("恢复环境", "2026-04-24")
    assert _task(world, "RW-0002")["due"] == "2026-04-24"
    assert len(world.sent("participant/problem_resolved")) == 1
    [told] = world.sent("sender/held_for_review")
    assert _to(told) == [LEAD_HEAD] and "已经签认过" in text_of(parse_mail(told))


# --- clocks ---------------------------------------------------------------------------------


def test_an_unresolved_problem_escalates_once_after_24_hours(raised: World) -> None:
    world = raised  # reported Monday 09:00
    _tick(world, datetime(2026, 3, 16, 17, 0, tzinfo=SHANGHAI))
    _tick(world, datetime(2026, 3, 17, 8, 59, tzinfo=SHANGHAI))
    assert _about_the_problem("superior/escalation", world) == []
    report = _tick(world, datetime(2026, 3, 17, 9, 30, tzinfo=SHANGHAI))
    assert report.escalations >= 1
    escalations = _about_the_problem("superior/escalation", world)
    # No reminder comes first (the level reminds nobody): the lead head and superior.
    assert sorted(_to(raw)[0] for raw in escalations) == [LEAD_SUPERIOR, LEAD_HEAD]
    assert _about_the_problem("awaited/reminder", world) == []
    text = text_of(parse_mail(escalations[0]))
    assert "已过去 24 小时（时限 24 小时）" in text and "按规定直接升级" in text
    assert _problem(world)["state"] == "escalated"
    # Once per breach.
    _tick(world, datetime(2026, 3, 17, 10, 30, tzinfo=SHANGHAI))
    _tick(world, datetime(2026, 3, 18, 10, 30, tzinfo=SHANGHAI))
    assert len(_about_the_problem("superior/escalation", world)) == 2
    # An escalated problem can still be resolved.
    world.arrive(build_reply(_notice(world), sender=LEAD_HEAD, body="解决：恢复环境\n"))
    assert _problem(world)["state"] == "resolved"


def test_the_communication_record_is_awaited_a_day_after_the_problem_meeting(
    raised: World,
) -> None:
    world = raised
    [meeting] = [m for m in world.view()["meetings"] if m["kind"] == "problem"]  # type: ignore[union-attr,index]
    end = datetime.fromisoformat(str(meeting["end"]))
    _tick(world, end + timedelta(hours=23))
    assert [
        r for r in world.sent("awaited/reminder") if "问题协调会后" in text_of(parse_mail(r))
    ] == []
    _tick(world, end + timedelta(hours=24, minutes=30))
    [reminder] = [
        r for r in world.sent("awaited/reminder") if "问题协调会后" in text_of(parse_mail(r))
    ]
    assert _to(reminder) == [LEAD_HEAD]


# --- the problem meeting follows the problem -------------------------------------------------


def _problem_meeting(world: World) -> dict[str, object]:
    [meeting] = [m for m in world.view()["meetings"] if m["kind"] == "problem"]  # type: ignore[union-attr,index]
    return meeting  # type: ignore[no-any-return]


def _kickoff(world: World) -> dict[str, object]:
    [meeting] = [m for m in world.view()["meetings"] if m["kind"] == "kickoff"]  # type: ignore[union-attr,index]
    return meeting  # type: ignore[no-any-return]


def test_a_problem_resolved_before_its_meeting_calls_the_meeting_off(raised: World) -> None:
    world = raised  # reported Monday 09:00, the meeting at 11:00
    meeting = _problem_meeting(world)
    start = datetime.fromisoformat(str(meeting["start"]))
    assert world.app.clock.now() < start
    world.arrive(build_reply(_notice(world), sender=LEAD_HEAD, body="解决：供应商已补发物料\n"))
    assert _problem(world)["state"] == "resolved"
    cancelled = _problem_meeting(world)
    assert (cancelled["status"], cancelled["sequence"]) == ("CANCELLED", 1)
    assert _kickoff(world)["status"] == "CONFIRMED"  # only the problem's own meeting
    # A real calendar CANCEL to every attendee, with the reason.
    mails = world.sent("attendee/meeting_cancelled")
    attendees = sorted(str(a["email"]) for a in meeting["attendees"])  # type: ignore[union-attr]
    assert sorted(_to(raw)[0] for raw in mails) == attendees
    assert {REPORTER, OWNER, LEAD_HEAD} <= set(attendees)
    msg = parse_mail(mails[0])
    assert msg["Subject"].startswith("[会议取消] XT-2026-0001 问题协调会 ")
    assert "问题1已在会前答复解决（措施：供应商已补发物料）" in text_of(msg)
    ics = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
    assert ics.get_param("method") == "CANCEL"
    data = ics.get_payload(decode=True).replace(b"\r\n ", b"")
    assert b"STATUS:CANCELLED" in data and b"SEQUENCE:1" in data
    assert f"UID:{meeting['uid']}".encode() in data
    receipt = world.sent("signer/receipt")[-1]
    assert "问题协调会已取消" in text_of(parse_mail(receipt))
    # Its clocks stopped, and no agenda reminder goes out for it.
    assert _open_clocks(world, "communication_record") == []
    _tick(world, datetime(2026, 3, 16, 10, 0, tzinfo=SHANGHAI))
    _tick(world, start + timedelta(hours=26))
    assert [
        r
        for r in world.sent("attendee/agenda_reminder")
        if "问题协调会" in parse_mail(r)["Subject"]
    ] == []
    assert [
        r for r in world.sent("awaited/reminder") if "问题协调会后" in text_of(parse_mail(r))
    ] == []


def test_a_problem_resolved_after_its_meeting_cancels_nothing(raised: World) -> None:
    world = raised
    end = datetime.fromisoformat(str(_problem_meeting(world)["end"]))
    world.app.clock.set(end + timedelta(hours=1))  # the meeting took place
    world.arrive(build_reply(_notice(world), sender=LEAD_HEAD, body="解决：恢复测试环境\n"))
    assert _problem(world)["state"] == "resolved"
    meeting = _problem_meeting(world)
    assert (meeting["status"], meeting["sequence"]) == ("CONFIRMED", 0)
    assert world.sent("attendee/meeting_cancelled") == []
    receipt = world.sent("signer/receipt")[-1]
    assert "问题1已解决" in text_of(parse_mail(receipt))
    assert "取消" not in text_of(parse_mail(receipt))
    # The record after it is the resolution itself: the clock stopped all the same.
    assert _open_clocks(world, "communication_record") == []


def test_a_problem_resolved_while_its_meeting_runs_leaves_it_alone(raised: World) -> None:
    world = raised
    start = datetime.fromisoformat(str(_problem_meeting(world)["start"]))
    world.app.clock.set(start + timedelta(minutes=30))  # the lead answers from the meeting
    world.arrive(build_reply(_notice(world), sender=LEAD_HEAD, body="解决：恢复测试环境\n"))
    assert _problem(world)["state"] == "resolved"
    assert _problem_meeting(world)["status"] == "CONFIRMED"
    assert world.sent("attendee/meeting_cancelled") == []


def test_the_communication_record_follows_a_moved_problem_meeting(world: World) -> None:
    # Reported an hour after the kickoff was set, so the lead's answer to the problem
    # meeting's invitation is told apart from one to the kickoff's.
    world.app.clock.set(datetime(2026, 3, 16, 10, 0, tzinfo=SHANGHAI))
    assert world.arrive(issue_mail()) is Outcome.PROCESSED
    old_end = datetime.fromisoformat(str(_problem_meeting(world)["end"]))
    [(subject, awaited)] = _open_clocks(world, "communication_record")
    invitation = next(
        raw
        for raw in world.sent("attendee/meeting_invitation")
        if _to(raw) == [LEAD_HEAD] and "问题协调会" in parse_mail(raw)["Subject"]
    )
    world.arrive(build_reply(invitation, sender=LEAD_HEAD, body="改期：2026-03-18 15:00\n"))
    moved = _problem_meeting(world)
    new_end = datetime.fromisoformat(str(moved["end"]))
    assert new_end == datetime(2026, 3, 18, 16, 0, tzinfo=SHANGHAI) and moved["sequence"] == 1
    assert _kickoff(world)["sequence"] == 0
    # Armed again from the new end, for the same person.
    assert _open_clocks(world, "communication_record") == [(subject, awaited)]
    level = world.app.workflow.profile.service_level("communication_record")
    with SqlUnitOfWork(world.app.session_factory) as uow:
        [clock] = uow.clocks.open_for(1, "communication_record")
        assert clock.due_at == level.due(new_end, world.app.workflow.calendar)
        assert clock.level == 0

    def about_the_record() -> list[bytes]:
        return [
            r for r in world.sent("awaited/reminder") if "问题协调会后" in text_of(parse_mail(r))
        ]

    # Nothing a day after the old end; a reminder a day after the new one.
    _tick(world, old_end + timedelta(hours=24, minutes=30))
    assert about_the_record() == []
    _tick(world, new_end + timedelta(hours=23))
    assert about_the_record() == []
    _tick(world, new_end + timedelta(hours=24, minutes=30))
    [reminder] = about_the_record()
    assert _to(reminder) == [LEAD_HEAD]


def test_a_problem_about_the_whole_request_moves_its_deadline_and_tells_who_carries_it(
    world: World,
) -> None:
    about_request = issue_mail().replace(
        "所属任务：XT-2026-0001/RW-0002".encode(), "所属需求：XT-2026-0001".encode()
    )
    assert world.arrive(about_request) is Outcome.PROCESSED
    assert _problem(world)["task"] in (None, "")
    before = {ref: _task(world, ref)["due"] for ref in ("RW-0001", "RW-0002")}
    body = "解决：整体延后，改由王强统筹 新期限：2026-05-15 新负责人：王强\n"
    world.arrive(build_reply(_notice(world), sender=LEAD_HEAD, body=body))

    problem = _problem(world)
    assert (problem["state"], problem["new_due"]) == ("resolved", "2026-05-15")
    assert world.view()["due"] == "2026-05-15"  # the request's deadline moved
    # The tasks keep theirs: nobody said which of them moves.
    assert {ref: _task(world, ref)["due"] for ref in before} == before
    requester = str(world.view()["requester"])
    [told] = world.sent("participant/problem_resolved")
    assert _to(told) == sorted({REPORTER, OWNER, LEAD_HEAD, requester})
    text = text_of(parse_mail(told))
    assert "需求完成时限已调整为 2026年5月15日" in text
    assert "解决措施由 王强 <wang.qiang@example.com> 负责落实" in text


def test_an_answer_to_a_kickoff_update_sent_after_the_problem_meeting_moves_the_kickoff(
    raised: World,
) -> None:
    """The invitation names its meeting: an answer to the kickoff's update invitation,
    written after the problem meeting was set up, moves the kickoff, not the newer
    meeting that was the latest when the update went out."""
    world = raised

    def kickoff_invitations() -> list[bytes]:
        return [
            raw
            for raw in world.sent("attendee/meeting_invitation")
            if _to(raw) == [LEAD_HEAD] and "启动会" in parse_mail(raw)["Subject"]
        ]

    world.arrive(
        build_reply(kickoff_invitations()[0], sender=LEAD_HEAD, body="改期：2026-03-18 15:00\n")
    )
    assert _kickoff(world)["sequence"] == 1
    update = kickoff_invitations()[-1]  # written after the problem meeting existed
    world.arrive(build_reply(update, sender=LEAD_HEAD, body="改期：2026-03-19 15:00\n"))
    kickoff = _kickoff(world)
    assert kickoff["sequence"] == 2
    assert datetime.fromisoformat(str(kickoff["start"])) == datetime(
        2026, 3, 19, 15, 0, tzinfo=SHANGHAI
    )
    assert _problem_meeting(world)["sequence"] == 0
