"""The profiles' stage differences and the clocks around acceptance and the kickoff,
through the real pipeline with a frozen clock:

- intra-department: the requester's department head evaluates (no office step);
- task-record: numbers ``{year}-{department}-{seq:03d}`` from the directory's codes;
- enterprise: the explicit acceptance form (成果验收表) and its records;
- ``name_departments``: a 受理 naming no lead department, then the departments named;
- ``minutes_sent``: due after the kickoff's end, moved with the meeting, stopped by the
  minutes.
"""

from __future__ import annotations

import csv
import email.utils
import io
import tomllib
from collections.abc import Iterator
from datetime import datetime
from email.header import Header
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from daemon.inbound import Outcome
from daemon.pipeline import Pipeline
from store.models import ClockItem
from store.uow import SqlUnitOfWork
from tests.support import ROOT_EXAMPLES, SHANGHAI, build_reply, parse_mail, scratch_app, text_of
from tests.test_meetings import LEAD_HEAD, OFFICE, REQUEST, World
from tests.test_minutes import FINANCE_HEAD, ITEMS, minutes_mail
from tests.test_plans import confirm_minutes, mails_to, new_world, run_tick, to_of
from workflow.directory import Directory, DirectoryError
from workflow.export import dossier
from workflow.queries import show_request

REQUESTER = "liu.yang@example.com"  # 刘洋, 行政部: the corpus request's sender
ADMIN_HEAD = "zhou.min@example.com"  # 周敏, head of 行政部
GM = "gm@example.com"  # 黄伟, superior of 行政部 and 财务部
CTO = "cto@example.com"  # 郑涛, superior of 研发部
OWNER = "li.na@example.com"  # 李娜, owner of RW-0001
PDF = b"%PDF-1.4\n% deliverable\n"


def bare_world(tmp_path: Path, **overrides: str) -> World:
    env = {"LIAISON_DIRECTORY_FILE": str(ROOT_EXAMPLES / "directory.toml"), **overrides}
    app, _ = scratch_app(tmp_path, **env)  # type: ignore[arg-type]
    return World(
        app,
        Pipeline(
            session_factory=app.session_factory,
            config=app.workflow,
            blobs=app.blobs,
            clock=app.clock,
        ),
    )


def view(world: World, number: str) -> dict[str, Any]:
    with SqlUnitOfWork(world.app.session_factory) as uow:
        return show_request(uow, number, world.app.workflow)


def clocks(world: World, number: str, name: str, state: str = "open") -> list[ClockItem]:
    with SqlUnitOfWork(world.app.session_factory) as uow:
        request = uow.requests.by_number(number)
        assert request is not None
        rows = [c for c in uow.clocks.open_for(request.id, name)] if state == "open" else []
        if state != "open":
            rows = [
                c
                for c in uow.session.query(ClockItem).filter_by(request_id=request.id, name=name)
                if c.state == state
            ]
        uow.session.expunge_all()
        return rows


def request_mail(sender: str, department: str, title: str, due: str = "2026-04-30") -> bytes:
    """A request from ``sender`` naming ``department`` as the requesting one; valid
    unless ``due`` is not a date."""
    msg = EmailMessage()
    domain = sender.split("@")[1]
    msg["Authentication-Results"] = f"mx.example.com; dmarc=pass header.from={domain}"
    msg["From"] = sender
    msg["To"] = "coord@example.com"
    msg["Subject"] = Header(f"[需求] {title}", "utf-8").encode()
    msg["Date"] = email.utils.format_datetime(datetime(2026, 3, 16, 8, 30, tzinfo=SHANGHAI))
    msg["Message-ID"] = email.utils.make_msgid(domain="example.com")
    msg.set_content(
        "\n".join(
            [
                f"需求名称：{title}",
                f"发起部门：{department}",
                "接收部门：财务部",
                "背景与目标：三家供应商试点线上对账。",
                f"期望完成时间：{due}",
                "紧急程度：一般",
                "",
                "谢谢！",
            ]
        )
        + "\n"
    )
    return msg.as_bytes()


def with_subject(raw: bytes, subject: str) -> bytes:
    msg = parse_mail(raw)
    del msg["Subject"]
    msg["Subject"] = subject
    return msg.as_bytes()


# --- intra-department: the requester's head evaluates -----------------------------------------


@pytest.fixture
def intra(tmp_path: Path, corpus_dir: Path) -> Iterator[World]:
    world = bare_world(tmp_path, LIAISON_WORKFLOW_PROFILE="intra-department")
    assert world.arrive((corpus_dir / REQUEST).read_bytes()) is Outcome.PROCESSED
    yield world
    world.app.close()


def test_intra_department_the_requesters_head_evaluates(intra: World) -> None:
    world = intra
    number = "XZ-2026-001"  # the profile's numbering
    assert view(world, number)["state"] == "registered"
    assert world.sent("office/evaluation_notice") == []
    [notice] = world.sent("head/evaluation_notice")
    assert to_of(notice) == ADMIN_HEAD  # 行政部: the requester's department in the directory
    msg = parse_mail(notice)
    assert msg["Subject"].startswith(f"[评估] {number} ")
    assert msg["Message-ID"].startswith("<evaluation.xz-2026-001.")
    assert text_of(msg).startswith("行政部负责人：")
    assert [c.awaited for c in clocks(world, number, "evaluate_request")] == [ADMIN_HEAD]

    # The clock follows the head: reminded after one working day, then the superior.
    run_tick(world, datetime(2026, 3, 18, 9, 30, tzinfo=SHANGHAI))
    assert [to_of(r) for r in world.sent("awaited/reminder")] == [ADMIN_HEAD]
    run_tick(world, datetime(2026, 3, 19, 9, 30, tzinfo=SHANGHAI))
    assert [to_of(r) for r in world.sent("superior/escalation")] == [GM]

    # The head's 受理 decides.
    body = "受理 牵头部门：行政部 配合部门：研发部\n"
    assert world.arrive(build_reply(notice, sender=ADMIN_HEAD, body=body)) is Outcome.PROCESSED
    shown = view(world, number)
    assert shown["state"] == "accepted"
    assert (shown["lead_department"], shown["supporting_departments"]) == ("行政部", ["研发部"])
    assert [m["kind"] for m in shown["meetings"]] == ["kickoff"]
    assert clocks(world, number, "evaluate_request") == []


def test_intra_department_the_office_cannot_decide(intra: World) -> None:
    world = intra
    [notice] = world.sent("head/evaluation_notice")
    world.arrive(build_reply(notice, sender=OFFICE, body="受理 牵头部门：行政部\n"))
    assert view(world, "XZ-2026-001")["state"] == "registered"
    with SqlUnitOfWork(world.app.session_factory) as uow:
        assert [h.reason for h in uow.signoffs.pending_review()] == ["wrong_sender"]


def test_intra_department_requester_mails_name_the_head_not_the_office(intra: World) -> None:
    """No coordination office step: every mail to the requester says who evaluates (the
    head of their department, 周敏 of 行政部) and is signed for that department."""
    world = intra
    number = "XZ-2026-001"
    head, signature = "行政部负责人周敏", "行政部协调邮箱"

    def check(kind: str, *, names_head: bool = True) -> str:
        raw = world.sent(kind)[-1]
        assert to_of(raw) == REQUESTER, kind
        msg = parse_mail(raw)
        html_part = msg.get_body(preferencelist=("html",))
        assert html_part is not None
        text, html = text_of(msg), str(html_part.get_content())
        for part in (str(msg["Subject"]), text, html):
            assert "协调办公室" not in part, kind
        assert f"\n{signature}\n（本邮件由协调邮箱自动发送）" in text, kind
        assert f'<p class="footer">{signature}<br>' in html, kind
        if names_head:
            assert head in text and head in html, kind
        return text

    assert "行政部负责人周敏将对本需求进行评估" in check("requester/acknowledged")

    # The head's evaluation notice is signed for the department as well.
    [notice] = world.sent("head/evaluation_notice")
    asked = text_of(parse_mail(notice))
    assert "协调办公室" not in asked and f"\n{signature}\n" in asked

    # The head returns it; the requester corrects it under the same number.
    world.arrive(build_reply(notice, sender=ADMIN_HEAD, body="退回：请补充预期收益\n"))
    assert "经行政部负责人周敏评估，已退回修改" in check("requester/returned")
    corrected = with_subject(
        request_mail(REQUESTER, "行政部", "门店物料支持"), f"[需求] {number} 门店物料支持"
    )
    assert world.arrive(corrected) is Outcome.PROCESSED
    assert (view(world, number)["state"], len(world.sent("requester/acknowledged"))) == (
        "registered",
        2,
    )
    check("requester/acknowledged")

    # The head accepts the corrected request.
    notice = world.sent("head/evaluation_notice")[-1]
    body = "受理 牵头部门：研发部 配合部门：财务部、行政部\n"
    assert world.arrive(build_reply(notice, sender=ADMIN_HEAD, body=body)) is Outcome.PROCESSED
    assert "已由行政部负责人周敏受理" in check("requester/accepted")

    # A task delivered: the acceptance request is signed for the department too.
    world.arrive(with_subject(minutes_mail(ITEMS), f"[纪要] {number} 启动会纪要"))
    for confirming in (LEAD_HEAD, FINANCE_HEAD, ADMIN_HEAD):
        [ask] = mails_to(world, "participant/minutes_for_confirmation", confirming)
        world.arrive(build_reply(ask, sender=confirming, body="确认\n"))
    deliver(world, task_mail(world, "RW-0001"))
    check("requester/acceptance_request", names_head=False)
    # Every other mail about the request is signed for the department as well: the
    # kickoff invitation, the minutes to confirm, the task to its owner.
    for kind in (
        "attendee/meeting_invitation",
        "participant/minutes_for_confirmation",
        "owner/task_assignment",
    ):
        sent = world.sent(kind)
        assert sent, kind
        for raw in sent:
            text = text_of(parse_mail(raw))
            assert f"\n{signature}\n" in text and "协调办公室\n" not in text, kind

    # A request mail that cannot be registered is answered the same way.
    bad = request_mail(REQUESTER, "行政部", "会议室改造", due="下月底")
    assert world.arrive(bad) is Outcome.PROCESSED
    check("requester/invalid_request", names_head=False)


# --- task-record: numbers per department and year -----------------------------------------------


def test_task_record_numbers_count_per_department_from_the_directory_code(
    tmp_path: Path,
) -> None:
    world = bare_world(tmp_path, LIAISON_WORKFLOW_PROFILE="task-record")
    try:
        sent = [
            ("chen.jing@example.com", "市场部", "新品上市推广"),
            ("li.na@example.com", "R&D", "接口改造"),  # an alias of 研发部
            ("sun.li@example.com", "市场中心", "门店物料"),  # an alias of 市场部
            ("wu.fang@example.com", "采购部", "供应商比价"),  # not in the directory
        ]
        for sender, department, title in sent:
            assert world.arrive(request_mail(sender, department, title)) is Outcome.PROCESSED
        acks = [parse_mail(r)["Subject"] for r in world.sent("requester/acknowledged")]
        numbers = [subject.split()[1] for subject in acks]
        assert numbers == ["2026-市场-001", "2026-研发-001", "2026-市场-002", "2026-采购部-001"]
        assert view(world, "2026-市场-002")["title"] == "门店物料"

        # The stages after find the request by that number in a subject.
        [notice, *_] = world.sent("office/evaluation_notice")
        world.arrive(build_reply(notice, sender=OFFICE, body="受理 牵头部门：研发部\n"))
        minutes = with_subject(minutes_mail(ITEMS), "[纪要] 2026-市场-001 启动会纪要")
        assert world.arrive(minutes) is Outcome.PROCESSED
        assert world.sent("author/minutes_returned") == []
        assert [m["version"] for m in view(world, "2026-市场-001")["minutes"]] == [1]
    finally:
        world.app.close()


def test_department_codes_in_the_directory_toml_and_csv() -> None:
    example = tomllib.loads((ROOT_EXAMPLES / "directory.toml").read_text(encoding="utf-8"))
    directory = Directory.from_mapping(example)
    assert [(d.name, d.code) for d in directory.departments] == [
        ("研发部", "研发"),
        ("市场部", "市场"),
        ("财务部", "财务"),
        ("行政部", "行政"),
    ]
    clash = {
        "department": [
            {"name": "研发部", "head": "a@example.com", "code": "RD"},
            {"name": "市场部", "head": "b@example.com", "code": "rd"},
        ]
    }
    with pytest.raises(DirectoryError) as caught:
        Directory.from_mapping(clash)
    assert caught.value.problems == (
        "department 市场部: code 'rd' is already the code of department 研发部",
    )
    rows = list(
        csv.reader(
            io.StringIO(
                "email,department,role,code\n"
                "a@example.com,研发部,head,研发\n"
                "b@example.com,研发部,member,开发\n"
                "c@example.com,,,研发\n"
            )
        )
    )
    with pytest.raises(DirectoryError) as caught:
        Directory.from_csv_rows(rows)
    assert caught.value.problems == (
        "row 3: department 研发部 has code '开发' here and '研发' on an earlier row",
        "row 4: code given without a department",
        "row 4: c@example.com has no name, language, delegates, department or role",
    )


# --- enterprise: the explicit acceptance form -------------------------------------------------


def deliver(world: World, mail: bytes, sender: str = OWNER) -> None:
    """``sender`` answers ``mail`` 完成 with the deliverable attached."""
    reply = parse_mail(build_reply(mail, sender=sender, body="完成，对账规则说明见附件\n"))
    reply.add_attachment(PDF, "application", "pdf", filename="对账规则说明.pdf")
    assert world.arrive(reply.as_bytes()) is Outcome.PROCESSED


def task_mail(world: World, ref: str) -> bytes:
    return next(r for r in world.sent("owner/task_assignment") if ref in parse_mail(r)["Subject"])


def test_enterprise_acceptance_uses_the_form_and_records_each_decision(
    tmp_path: Path, corpus_dir: Path
) -> None:
    world = new_world(tmp_path, corpus_dir, LIAISON_WORKFLOW_PROFILE="enterprise")
    try:
        confirm_minutes(world)
        deliver(world, task_mail(world, "RW-0001"))
        assert world.sent("requester/acceptance_request") == []
        [form] = world.sent("requester/acceptance_form")
        msg = parse_mail(form)
        assert to_of(form) == REQUESTER
        assert msg["Subject"].startswith("[验收] XT-2026-0001/RW-0001 ")
        assert msg["Message-ID"].startswith("<deliverable.xt-2026-0001.rw-0001.")
        body = text_of(msg)
        for line in (
            "【成果验收表】",
            "成果名称：对账规则说明",
            "交付方：李娜 <li.na@example.com>",
            "接收方：刘洋 <liu.yang@example.com>",
            "截止时间：2026年3月27日（周五）",
            "任务分配时间：2026年3月16日（周一） 09:00",
            "- 对账规则说明.pdf",
        ):
            assert line in body
        assert [p.get_filename() for p in msg.iter_attachments()] == ["对账规则说明.pdf"]
        [record] = view(world, "XT-2026-0001")["acceptances"]
        assert (record["task"], record["result"], record["owner"]) == ("RW-0001", "pending", OWNER)
        assert record["attachments"] == ["对账规则说明.pdf"] and record["decided_at"] is None

        world.arrive(build_reply(form, sender=REQUESTER, body="退回：缺少异常处理规则\n"))
        [returned] = world.sent("owner/deliverable_returned")
        deliver(world, returned)
        second = world.sent("requester/acceptance_form")[-1]
        world.arrive(build_reply(second, sender=REQUESTER, body="验收通过\n"))
        first, last = view(world, "XT-2026-0001")["acceptances"]
        assert (first["result"], first["comments"], first["decided_by"]) == (
            "returned",
            "缺少异常处理规则",
            REQUESTER,
        )
        assert (last["result"], last["comments"]) == ("accepted", None) and last["decided_at"]

        with SqlUnitOfWork(world.app.session_factory) as uow:
            sheet = dossier(uow, "XT-2026-0001", world.app.workflow).sheet("任务验收确认单")
        rows = [dict(zip(sheet.columns, row, strict=True)) for row in sheet.rows]
        assert [(r["验收结果"], r["验收意见"]) for r in rows] == [
            ("退回", "缺少异常处理规则"),
            ("验收通过", ""),
        ]
        assert rows[1]["签字确认"] == "刘洋 <liu.yang@example.com>"
        assert rows[0]["成果附件"].startswith("对账规则说明.pdf")
    finally:
        world.app.close()


def test_other_profiles_keep_the_plain_acceptance_request(tmp_path: Path, corpus_dir: Path) -> None:
    world = new_world(tmp_path, corpus_dir)  # standard
    try:
        confirm_minutes(world)
        deliver(world, task_mail(world, "RW-0001"))
        assert world.sent("requester/acceptance_form") == []
        [request] = world.sent("requester/acceptance_request")
        world.arrive(build_reply(request, sender=REQUESTER, body="验收通过\n"))
        assert view(world, "XT-2026-0001")["acceptances"] == []
        task = next(t for t in view(world, "XT-2026-0001")["tasks"] if t["id"] == "RW-0001")
        assert task["state"] == "accepted"
    finally:
        world.app.close()


# --- name_departments: 受理 without a lead department --------------------------------------------


@pytest.fixture
def registered(tmp_path: Path, corpus_dir: Path) -> Iterator[World]:
    world = bare_world(tmp_path)
    assert world.arrive((corpus_dir / REQUEST).read_bytes()) is Outcome.PROCESSED
    yield world
    world.app.close()


def test_an_acceptance_without_a_lead_waits_for_the_departments(registered: World) -> None:
    world = registered
    [notice] = world.sent("office/evaluation_notice")
    world.arrive(build_reply(notice, sender=OFFICE, body="受理 配合部门：财务部\n"))
    shown = view(world, "XT-2026-0001")
    assert shown["state"] == "accepted" and shown["lead_department"] is None
    assert shown["supporting_departments"] == ["财务部"]
    assert shown["meetings"] == []  # nothing scheduled before the lead is named
    assert clocks(world, "XT-2026-0001", "evaluate_request") == []
    [waiting] = clocks(world, "XT-2026-0001", "name_departments")
    assert waiting.awaited == OFFICE
    [ask] = world.sent("evaluator/name_departments")
    msg = parse_mail(ask)
    assert to_of(ask) == OFFICE and msg["Subject"].endswith("（待明确牵头部门）")
    assert msg["Message-ID"].startswith("<evaluation.xt-2026-0001.")
    [accepted] = world.sent("requester/accepted")
    assert "牵头部门：（待定）" in text_of(parse_mail(accepted))

    # Two working days (Wednesday's end), then the office is reminded with the mail to answer.
    run_tick(world, datetime(2026, 3, 18, 17, 0, tzinfo=SHANGHAI))
    assert world.sent("awaited/reminder") == []
    run_tick(world, datetime(2026, 3, 19, 9, 30, tzinfo=SHANGHAI))
    [reminder] = world.sent("awaited/reminder")
    assert to_of(reminder) == OFFICE
    assert "待明确牵头部门" in text_of(parse_mail(reminder))

    # One decision per asking mail: the evaluation notice was answered already.
    world.arrive(build_reply(notice, sender=OFFICE, body="受理 牵头部门：研发部\n"))
    assert view(world, "XT-2026-0001")["meetings"] == []
    # Naming without a lead changes nothing and says what is missing.
    world.arrive(build_reply(ask, sender=OFFICE, body="受理 配合部门：行政部\n"))
    [missing] = world.sent("office/unknown_department")
    assert "牵头部门：未填写" in text_of(parse_mail(missing))
    assert view(world, "XT-2026-0001")["meetings"] == []

    world.arrive(build_reply(ask, sender=OFFICE, body="受理 牵头部门：研发部\n"))
    shown = view(world, "XT-2026-0001")
    assert (shown["lead_department"], shown["supporting_departments"]) == ("研发部", ["财务部"])
    assert [m["kind"] for m in shown["meetings"]] == ["kickoff"]
    assert clocks(world, "XT-2026-0001", "name_departments") == []
    assert [c.awaited for c in clocks(world, "XT-2026-0001", "minutes_sent")] == [LEAD_HEAD]
    # No escalation once the departments are named.
    run_tick(world, datetime(2026, 3, 20, 9, 30, tzinfo=SHANGHAI))
    assert [to_of(e) for e in world.sent("superior/escalation")] == []


# --- minutes_sent: after the kickoff's end --------------------------------------------------------


@pytest.fixture
def kickoff(registered: World) -> World:
    [notice] = registered.sent("office/evaluation_notice")
    body = "受理 牵头部门：研发部 配合部门：财务部\n"
    registered.arrive(build_reply(notice, sender=OFFICE, body=body))
    return registered


def test_the_minutes_clock_runs_from_the_end_of_the_kickoff(kickoff: World) -> None:
    world = kickoff
    config = world.app.workflow
    level = config.profile.service_level("minutes_sent")
    [meeting] = view(world, "XT-2026-0001")["meetings"]
    end = datetime.fromisoformat(str(meeting["end"]))
    [clock] = clocks(world, "XT-2026-0001", "minutes_sent")
    assert clock.awaited == LEAD_HEAD and clock.original_subject == ""
    assert clock.due_at == level.due(end, config.calendar) > end
    assert clock.due_at != level.due(world.app.clock.now(), config.calendar)

    # The lead moves the kickoff to Friday: the clock follows the new end.
    invitation = next(r for r in world.sent("attendee/meeting_invitation") if to_of(r) == LEAD_HEAD)
    world.arrive(build_reply(invitation, sender=LEAD_HEAD, body="改期：2026-03-20 14:00\n"))
    [meeting] = view(world, "XT-2026-0001")["meetings"]
    new_end = datetime.fromisoformat(str(meeting["end"]))
    assert new_end == datetime(2026, 3, 20, 15, 0, tzinfo=SHANGHAI)
    [clock] = clocks(world, "XT-2026-0001", "minutes_sent")
    assert clock.due_at == level.due(new_end, config.calendar)
    assert len(clocks(world, "XT-2026-0001", "minutes_sent", state="stopped")) == 1

    # One working day after Friday's meeting: Monday's end. Reminded on Tuesday morning.
    run_tick(world, datetime(2026, 3, 23, 17, 0, tzinfo=SHANGHAI))
    assert mails_to(world, "awaited/reminder", LEAD_HEAD) == []
    run_tick(world, datetime(2026, 3, 24, 9, 30, tzinfo=SHANGHAI))
    [reminder] = mails_to(world, "awaited/reminder", LEAD_HEAD)
    body = text_of(parse_mail(reminder))
    assert "主题写“[纪要] XT-2026-0001”" in body and "原邮件主题" not in body

    # The minutes arrive: stopped, so no escalation to the lead's superior.
    assert world.arrive(minutes_mail(ITEMS)) is Outcome.PROCESSED
    assert clocks(world, "XT-2026-0001", "minutes_sent") == []
    run_tick(world, datetime(2026, 3, 26, 9, 30, tzinfo=SHANGHAI))
    assert mails_to(world, "superior/escalation", CTO) == []


def test_minutes_sent_to_the_lead_superior_when_they_never_come(kickoff: World) -> None:
    world = kickoff
    [clock] = clocks(world, "XT-2026-0001", "minutes_sent")
    assert clock.escalate_at is not None
    run_tick(world, clock.escalate_at.astimezone(SHANGHAI).replace(hour=10, minute=0))
    run_tick(world, datetime(2026, 3, 27, 10, 0, tzinfo=SHANGHAI))
    [escalation] = mails_to(world, "superior/escalation", CTO)
    assert "[纪要] XT-2026-0001" in text_of(parse_mail(escalation))
