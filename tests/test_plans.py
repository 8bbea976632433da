"""Plan approval (方案审批, seed 004) through the real pipeline: department plans, the
consolidated plan, the approvers in order, rejection and new versions, and the answers
to plan mails and approvals that change nothing.

The request is the corpus request accepted with 研发部 leading (赵磊) and 财务部 (何军)
and 行政部 (周敏) supporting; the example directory's approvers are 何军, then 黄伟.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from datetime import datetime
from email.header import Header
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from daemon.inbound import Outcome
from daemon.pipeline import Pipeline
from store.uow import SqlUnitOfWork
from tests.support import ROOT_EXAMPLES, SHANGHAI, build_reply, parse_mail, scratch_app, text_of
from tests.test_meetings import LEAD_HEAD, OFFICE, REQUEST, World
from tests.test_minutes import ACCEPT_TWO, ADMIN_HEAD, FINANCE_HEAD, ITEMS, minutes_mail
from workflow.clocks import TickReport, tick
from workflow.export import dossier

GM = "gm@example.com"  # 黄伟: second approver, superior of 财务部 and 行政部
CTO = "cto@example.com"  # 郑涛: superior of 研发部
NUMBER = "XT-2026-0001"
PDF = b"%PDF-1.4\n% plan\n"


def plan_mail(
    sender: str,
    body: str = "实施方案见附件。",
    *,
    number: str = NUMBER,
    subject: str | None = None,
    attachment: str | None = None,
) -> bytes:
    """A ``[方案] NUMBER`` mail from ``sender`` (authenticated), a PDF attached if named."""
    msg = EmailMessage()
    domain = sender.split("@")[1]
    msg["Authentication-Results"] = f"mx.example.com; dmarc=pass header.from={domain}"
    msg["From"] = sender
    msg["To"] = "coord@example.com"
    msg["Subject"] = Header(subject or f"[方案] {number} 实施方案", "utf-8").encode()
    msg["Date"] = email.utils.format_datetime(datetime(2026, 3, 17, 16, 0, tzinfo=SHANGHAI))
    msg["Message-ID"] = email.utils.make_msgid(domain="example.com")
    msg.set_content(body + "\n\n赵磊\n")
    if attachment is not None:
        msg.add_attachment(PDF, "application", "pdf", filename=attachment)
    return msg.as_bytes()


def to_of(raw: bytes) -> str:
    return str(parse_mail(raw)["To"].addresses[0].addr_spec)


def mails_to(world: World, kind: str, address: str) -> list[bytes]:
    return [r for r in world.sent(kind) if to_of(r) == address]


def plans(world: World) -> dict[str, Any]:
    return world.view()["plans"]  # type: ignore[return-value]


def open_clocks(world: World, name: str) -> list[tuple[str, str]]:
    """(subject, awaited) of the request's open clocks called ``name``."""
    with SqlUnitOfWork(world.app.session_factory) as uow:
        request = uow.requests.by_number(NUMBER)
        assert request is not None
        return [(c.subject, c.awaited) for c in uow.clocks.open_for(request.id, name)]


def run_tick(world: World, at: datetime) -> TickReport:
    with SqlUnitOfWork(world.app.session_factory) as uow:
        report = tick(uow=uow, now=at, config=world.app.workflow)
        uow.commit()
    return report


def new_world(tmp_path: Path, corpus_dir: Path, **overrides: str) -> World:
    env = {"LIAISON_DIRECTORY_FILE": str(ROOT_EXAMPLES / "directory.toml"), **overrides}
    app, _ = scratch_app(tmp_path, **env)  # type: ignore[arg-type]
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
    return w


def confirm_minutes(world: World) -> None:
    """The lead's minutes, confirmed by every head: final."""
    assert world.arrive(minutes_mail(ITEMS)) is Outcome.PROCESSED
    for head in (LEAD_HEAD, FINANCE_HEAD, ADMIN_HEAD):
        [ask] = mails_to(world, "participant/minutes_for_confirmation", head)
        world.arrive(build_reply(ask, sender=head, body="确认\n"))
    assert world.view()["state"] == "in_progress"


@pytest.fixture
def accepted(tmp_path: Path, corpus_dir: Path) -> Iterator[World]:
    """Accepted, kickoff scheduled, no minutes yet (standard profile: plan approval on)."""
    w = new_world(tmp_path, corpus_dir)
    yield w
    w.app.close()


@pytest.fixture
def final(accepted: World) -> World:
    """The minutes are final: plans are asked for."""
    confirm_minutes(accepted)
    return accepted


def consolidated(world: World, body: str = "总体方案：三家供应商试点。") -> None:
    mail = plan_mail(LEAD_HEAD, body, attachment="总体方案.pdf")
    assert world.arrive(mail) is Outcome.PROCESSED


def approval_for(world: World, approver: str) -> bytes:
    """The latest approval request sent to ``approver``."""
    return mails_to(world, "approver/plan_approval", approver)[-1]


# --- asking for plans ---------------------------------------------------------------------


def test_final_minutes_ask_each_head_for_a_plan_and_start_the_clocks(final: World) -> None:
    world = final
    asked = {to_of(r): r for r in world.sent("head/plan_request")}
    assert set(asked) == {FINANCE_HEAD, ADMIN_HEAD, LEAD_HEAD}
    lead = text_of(parse_mail(asked[LEAD_HEAD]))
    assert "《跨部门协作总体方案》" in lead and "[方案] XT-2026-0001" in lead
    assert "何军 <finance.lead@example.com>、黄伟 <gm@example.com>" in lead  # approvers in order
    assert "本部门详细实施方案" in text_of(parse_mail(asked[FINANCE_HEAD]))
    assert parse_mail(asked[FINANCE_HEAD])["Subject"].startswith("[请提交方案] XT-2026-0001 ")
    assert sorted(open_clocks(world, "department_plans")) == [
        ("plan:行政部", ADMIN_HEAD),
        ("plan:财务部", FINANCE_HEAD),
    ]
    # Counted from the last department plan: nothing awaited of the lead yet.
    assert open_clocks(world, "consolidated_plan") == []
    view = plans(world)
    assert view["required"] is True and view["state"] == "awaiting_plans"
    assert view["versions"] == [] and view["department_plans"] == []
    # Approval does not hold up the tasks: they went out with the final minutes.
    assert {to_of(r) for r in world.sent("owner/task_assignment")} == {
        "li.na@example.com",
        "wang.qiang@example.com",
    }


# --- department plans, the consolidated plan, the approvers -----------------------------------


def test_department_plans_go_to_the_lead_and_the_last_starts_the_lead_clock(final: World) -> None:
    world = final
    body = "一、对账口径：按月结算。\n二、负责人：吴芳，3月底前完成。"
    world.arrive(plan_mail(FINANCE_HEAD, body, attachment="财务部方案.pdf"))
    [receipt] = world.sent("sender/plan_recorded")
    assert to_of(receipt) == FINANCE_HEAD
    assert parse_mail(receipt)["Subject"].startswith("[方案已登记] XT-2026-0001 ")
    [passed] = world.sent("lead/department_plan")
    assert to_of(passed) == LEAD_HEAD
    msg = parse_mail(passed)
    assert "按月结算" in text_of(msg) and "行政部" in text_of(msg)  # still missing
    files = [p.get_filename() for p in msg.iter_attachments()]
    assert files == ["财务部方案.pdf"]
    assert open_clocks(world, "department_plans") == [("plan:行政部", ADMIN_HEAD)]
    assert open_clocks(world, "consolidated_plan") == []

    world.arrive(plan_mail(ADMIN_HEAD, "行政部负责场地与物料。"))
    assert open_clocks(world, "department_plans") == []
    assert open_clocks(world, "consolidated_plan") == [("plan:consolidated", LEAD_HEAD)]
    # A second plan from 财务部 is its next version; the first is kept, superseded.
    world.arrive(plan_mail(FINANCE_HEAD, "修订：增加异常处理。"))
    departments = [
        (p["department"], p["version"], p["state"]) for p in plans(world)["department_plans"]
    ]
    assert departments == [
        ("财务部", 1, "superseded"),
        ("行政部", 1, "submitted"),
        ("财务部", 2, "submitted"),
    ]
    assert plans(world)["department_plans"][0]["attachments"] == ["财务部方案.pdf"]


def test_the_consolidated_plan_goes_to_the_approvers_in_order(final: World) -> None:
    world = final
    world.arrive(plan_mail(FINANCE_HEAD, "财务部方案。"))
    consolidated(world)
    assert open_clocks(world, "consolidated_plan") == []
    assert open_clocks(world, "department_plans") == []  # consolidated without 行政部's
    [ask] = world.sent("approver/plan_approval")  # the first approver only
    msg = parse_mail(ask)
    assert to_of(ask) == FINANCE_HEAD
    assert msg["Subject"].startswith("[审批] XT-2026-0001 ")
    assert msg["Message-ID"].startswith("<approval.xt-2026-0001.a")
    assert [p.get_filename() for p in msg.iter_attachments()] == ["总体方案.pdf"]
    body = text_of(msg)
    assert "第 1 位（共 2 位）" in body and "三家供应商试点" in body and "财务部：何军" in body
    [receipt] = mails_to(world, "sender/plan_recorded", LEAD_HEAD)
    assert "何军 <finance.lead@example.com>、黄伟 <gm@example.com>" in text_of(parse_mail(receipt))
    [version] = plans(world)["versions"]
    assert (version["version"], version["state"]) == (1, "pending")
    assert [(s["approver"], s["state"]) for s in version["approvals"]] == [
        (FINANCE_HEAD, "asked"),
        (GM, "waiting"),
    ]

    world.arrive(build_reply(ask, sender=FINANCE_HEAD, body="同意\n"))
    [second] = world.sent("approver/plan_approval")[1:]
    assert to_of(second) == GM
    assert "何军 <finance.lead@example.com>：同意" in text_of(parse_mail(second))
    assert [p.get_filename() for p in parse_mail(second).iter_attachments()] == ["总体方案.pdf"]
    assert world.sent("participant/plan_approved") == []
    receipts = mails_to(world, "signer/receipt", FINANCE_HEAD)
    assert "审批同意" in text_of(parse_mail(receipts[-1]))

    world.arrive(build_reply(second, sender=GM, body="批准\n"))
    [version] = plans(world)["versions"]
    assert version["state"] == "approved" and version["decided_at"]
    assert [(s["approver"], s["state"]) for s in version["approvals"]] == [
        (FINANCE_HEAD, "approved"),
        (GM, "approved"),
    ]
    assert plans(world)["state"] == "approved"
    told = {to_of(r) for r in world.sent("participant/plan_approved")}
    assert told == {LEAD_HEAD, str(world.view()["requester"]), OFFICE}
    assert world.view()["state"] == "in_progress"  # approval does not move the request


def test_a_rejection_goes_back_to_the_lead_and_a_new_version_starts_again(final: World) -> None:
    world = final
    consolidated(world)
    world.arrive(build_reply(approval_for(world, FINANCE_HEAD), sender=FINANCE_HEAD, body="同意\n"))
    world.arrive(
        build_reply(approval_for(world, GM), sender=GM, body="驳回：预算缺少第三季度人力成本\n")
    )
    [rejected] = world.sent("lead/plan_rejected")
    assert to_of(rejected) == LEAD_HEAD
    assert "预算缺少第三季度人力成本" in text_of(parse_mail(rejected))
    assert "黄伟" in text_of(parse_mail(rejected))
    assert "审批驳回" in text_of(parse_mail(mails_to(world, "signer/receipt", GM)[-1]))
    [version] = plans(world)["versions"]
    assert version["state"] == "rejected"
    assert version["approvals"][1]["reason"] == "预算缺少第三季度人力成本"
    # The lead owes a revised plan again.
    assert open_clocks(world, "consolidated_plan") == [("plan:consolidated", LEAD_HEAD)]

    consolidated(world, "总体方案（第二版）：补充第三季度人力成本。")
    v1, v2 = plans(world)["versions"]
    assert (v1["state"], v2["state"], v2["version"]) == ("rejected", "pending", 2)
    # From the first approver again.
    assert [(s["approver"], s["state"]) for s in v2["approvals"]] == [
        (FINANCE_HEAD, "asked"),
        (GM, "waiting"),
    ]
    latest = approval_for(world, FINANCE_HEAD)
    assert "（总体方案第2版）" in parse_mail(latest)["Subject"]
    assert open_clocks(world, "consolidated_plan") == []


def test_an_answer_on_a_superseded_version_changes_nothing(final: World) -> None:
    world = final
    consolidated(world)
    v1_ask = approval_for(world, FINANCE_HEAD)
    consolidated(world, "总体方案（第二版）。")  # before anyone answered version 1
    v1, v2 = plans(world)["versions"]
    assert (v1["state"], v2["state"]) == ("superseded", "pending")
    assert [s["state"] for s in v1["approvals"]] == ["skipped", "skipped"]

    world.arrive(build_reply(v1_ask, sender=FINANCE_HEAD, body="同意\n"))
    [answer] = world.sent("sender/not_applicable")
    assert to_of(answer) == FINANCE_HEAD
    assert "第1版总体方案已被第2版取代" in text_of(parse_mail(answer))
    v1, v2 = plans(world)["versions"]
    assert [s["state"] for s in v2["approvals"]] == ["asked", "waiting"]
    assert mails_to(world, "approver/plan_approval", GM) == []


def test_an_answer_from_someone_other_than_the_approver_asked_is_held(final: World) -> None:
    world = final
    consolidated(world)
    ask = approval_for(world, FINANCE_HEAD)
    # 黄伟 is an approver too, but this request was sent to 何军.
    world.arrive(build_reply(ask, sender=GM, body="同意\n"))
    [held] = world.sent("sender/held_for_review")
    assert to_of(held) == GM
    [version] = plans(world)["versions"]
    assert [s["state"] for s in version["approvals"]] == ["asked", "waiting"]
    assert mails_to(world, "approver/plan_approval", GM) == []
    with SqlUnitOfWork(world.app.session_factory) as uow:
        assert [h.reason for h in uow.signoffs.pending_review()] == ["wrong_sender"]


# --- plan mails that change nothing -------------------------------------------------------------


def test_a_plan_before_the_minutes_are_final_is_answered(accepted: World) -> None:
    world = accepted
    world.arrive(plan_mail(LEAD_HEAD))
    [answer] = world.sent("sender/plan_not_taken")
    assert to_of(answer) == LEAD_HEAD
    assert "会议纪要尚未定稿" in text_of(parse_mail(answer))
    assert plans(world)["versions"] == [] and plans(world)["state"] is None


@pytest.mark.parametrize(
    ("sender", "number", "expected"),
    [
        ("li.na@example.com", NUMBER, "只有需求 XT-2026-0001 牵头部门和配合部门的负责人"),
        (GM, NUMBER, "只有需求 XT-2026-0001 牵头部门和配合部门的负责人"),
        (LEAD_HEAD, "XT-2026-0099", "没有可识别的需求编号"),
    ],
)
def test_a_plan_from_someone_else_or_for_an_unknown_request_is_answered(
    final: World, sender: str, number: str, expected: str
) -> None:
    world = final
    world.arrive(plan_mail(sender, number=number))
    [answer] = world.sent("sender/plan_not_taken")
    assert to_of(answer) == sender and expected in text_of(parse_mail(answer))
    assert plans(world)["versions"] == [] and plans(world)["department_plans"] == []
    assert world.sent("approver/plan_approval") == [] and world.sent("lead/department_plan") == []


def test_a_profile_without_plan_approval_asks_for_none_and_takes_none(
    tmp_path: Path, corpus_dir: Path
) -> None:
    world = new_world(tmp_path, corpus_dir, LIAISON_WORKFLOW_PROFILE="cross-department")
    try:
        confirm_minutes(world)
        assert world.sent("head/plan_request") == []
        assert open_clocks(world, "department_plans") == []
        world.arrive(plan_mail(LEAD_HEAD))
        [answer] = world.sent("sender/plan_not_taken")
        assert "不设方案审批" in text_of(parse_mail(answer))
        assert plans(world) == {
            "required": False,
            "state": None,
            "department_plans": [],
            "versions": [],
        }
    finally:
        world.app.close()


# --- clocks -------------------------------------------------------------------------------------


def test_plan_clocks_remind_then_escalate_and_ask_for_a_new_mail(final: World) -> None:
    world = final
    # Final on Monday 09:00: department plans due in 3 working days (Thursday's end),
    # escalated after 4 (Friday's end) to the departments' superiors.
    run_tick(world, datetime(2026, 3, 19, 17, 0, tzinfo=SHANGHAI))
    assert mails_to(world, "awaited/reminder", FINANCE_HEAD) == []
    run_tick(world, datetime(2026, 3, 20, 9, 30, tzinfo=SHANGHAI))
    [reminder] = mails_to(world, "awaited/reminder", FINANCE_HEAD)
    body = text_of(parse_mail(reminder))
    assert "财务部的实施方案" in body and "主题写“[方案] XT-2026-0001”" in body
    assert "原邮件主题" not in body  # a new mail is asked for, not a reply
    assert len(mails_to(world, "awaited/reminder", ADMIN_HEAD)) == 1
    # 财务部 sends its plan: its clock stops before the escalation.
    world.arrive(plan_mail(FINANCE_HEAD))
    run_tick(world, datetime(2026, 3, 23, 9, 30, tzinfo=SHANGHAI))
    escalations = world.sent("superior/escalation")
    about = [text_of(parse_mail(e)) for e in escalations if to_of(e) == GM]
    assert len(about) == 1 and "周敏" in about[0] and "行政部的实施方案" in about[0]


# --- the read side --------------------------------------------------------------------------------


def test_the_dossier_has_the_plans_sheet_once_a_plan_came_in(final: World) -> None:
    world = final
    with SqlUnitOfWork(world.app.session_factory) as uow:
        names = [s.name for s in dossier(uow, NUMBER, world.app.workflow).sheets]
    assert "跨部门协作总体方案" not in names
    world.arrive(plan_mail(FINANCE_HEAD, "财务部方案。", attachment="财务部方案.pdf"))
    consolidated(world)
    world.arrive(
        build_reply(approval_for(world, FINANCE_HEAD), sender=FINANCE_HEAD, body="驳回：缺预算\n")
    )
    with SqlUnitOfWork(world.app.session_factory) as uow:
        built = dossier(uow, NUMBER, world.app.workflow)
        english = dossier(uow, NUMBER, world.app.workflow, language="en")
    names = [s.name for s in built.sheets]
    assert names.index("跨部门协作总体方案") == names.index("任务分配与进度跟踪表") + 1
    sheet = built.sheet("跨部门协作总体方案")
    rows = [dict(zip(sheet.columns, row, strict=True)) for row in sheet.rows]
    assert [(r["类别"], r["部门"], r["状态"]) for r in rows] == [
        ("部门实施方案", "财务部", "已提交"),
        ("跨部门协作总体方案", "研发部", "已驳回"),
    ]
    assert rows[0]["附件"].startswith("财务部方案.pdf")
    assert "何军 <finance.lead@example.com>：驳回" in rows[1]["审批记录"]
    assert (
        "缺预算" in rows[1]["审批记录"] and "黄伟 <gm@example.com>：未审批" in rows[1]["审批记录"]
    )
    log = built.sheet("沟通记录")
    assert any(row[-1].endswith("审批驳回") for row in log.rows)
    assert english.sheet("Plans").rows[1][7] == "rejected"
