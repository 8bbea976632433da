"""Minutes by mail: recorded with their tasks, confirmed by every head, then tasks assigned."""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from datetime import datetime
from email.header import Header
from pathlib import Path

import pytest

from daemon.inbound import Outcome
from daemon.pipeline import Pipeline
from tests.support import ROOT_EXAMPLES, SHANGHAI, build_reply, parse_mail, scratch_app, text_of
from tests.test_meetings import LEAD_HEAD, OFFICE, REQUEST, World

FINANCE_HEAD = "finance.lead@example.com"  # 财务部 (supporting)
ADMIN_HEAD = "zhou.min@example.com"  # 行政部 (supporting)
ACCEPT_TWO = "受理 牵头部门：研发部 配合部门：财务部、行政部\n"


def minutes_mail(items: list[str], *, sender: str = LEAD_HEAD, version_note: str = "") -> bytes:
    body = "\r\n".join(
        [
            "各位好，启动会纪要如下。" + version_note,
            "",
            "参会人员：赵磊、何军、周敏、李娜",
            "讨论要点：对账口径统一；试点供应商三家",
            "共识事项：月底前试运行",
            "待办事项：",
            *items,
            "",
            "赵磊",
        ]
    )
    head = [
        f"Authentication-Results: mx.example.com; dmarc=pass header.from={sender.split('@')[1]}",
        f"From: {sender}",
        "To: coord@example.com",
        f"Subject: {Header('[纪要] XT-2026-0001 启动会纪要', 'utf-8').encode()}",
        f"Date: {email.utils.format_datetime(datetime(2026, 3, 17, 16, 0, tzinfo=SHANGHAI))}",
        f"Message-ID: {email.utils.make_msgid(domain='example.com')}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    return ("\r\n".join(head) + "\r\n\r\n" + body + "\r\n").encode("utf-8")


ITEMS = [
    "- 对账规则整理 | 负责人：李娜 li.na@example.com | 截止：2026-03-27 | 交付物：对账规则说明 | 协作人：王强",  # noqa: E501
    "- 系统接口开发 | 负责人：王强 | 截止：2026年4月10日 | 交付物：接口与测试报告 | 验收标准：三家试点零差错",  # noqa: E501
]


@pytest.fixture
def world(tmp_path: Path, corpus_dir: Path) -> Iterator[World]:
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
    yield w
    app.close()


def _asks(world: World, head: str, version: int = 1) -> bytes:
    for raw in world.sent("participant/minutes_for_confirmation"):
        msg = parse_mail(raw)
        if msg["To"].addresses[0].addr_spec == head and f"第{version}版" in msg["Subject"]:
            return raw
    raise AssertionError(f"no minutes v{version} for {head}")


def test_minutes_are_recorded_with_tasks_and_sent_for_confirmation(world: World) -> None:
    assert world.arrive(minutes_mail(ITEMS)) is Outcome.PROCESSED
    view = world.view()
    assert view["state"] == "minutes_confirming"
    [minutes] = view["minutes"]  # type: ignore[misc]
    assert minutes["version"] == 1 and minutes["state"] == "confirming"
    heads = {c["email"]: c["state"] for c in minutes["confirmations"]}
    assert heads == {LEAD_HEAD: "pending", FINANCE_HEAD: "pending", ADMIN_HEAD: "pending"}
    tasks = view["tasks"]
    assert [(t["id"], t["owner"], t["state"]) for t in tasks] == [  # type: ignore[index,union-attr]
        ("RW-0001", "li.na@example.com", "draft"),
        ("RW-0002", "wang.qiang@example.com", "draft"),
    ]
    mail = parse_mail(_asks(world, FINANCE_HEAD))
    assert mail["Subject"].startswith("[纪要] XT-2026-0001 ")
    assert mail["Message-ID"].startswith("<minutes.xt-2026-0001.m")
    assert "RW-0002 系统接口开发" in text_of(mail)


def test_an_owner_who_does_not_resolve_sends_the_minutes_back(world: World) -> None:
    bad = [*ITEMS, "- 数据迁移 | 负责人：张三 | 截止：2026-04-01 | 交付物：迁移报告"]
    world.arrive(minutes_mail(bad))
    assert world.view()["minutes"] == [] and world.view()["tasks"] == []
    [returned] = world.sent("author/minutes_returned")
    body = text_of(parse_mail(returned))
    assert "张三" in body and "数据迁移" in body
    assert parse_mail(returned)["To"].addresses[0].addr_spec == LEAD_HEAD


def test_objection_then_a_new_version_then_every_head_confirms(world: World) -> None:
    world.arrive(minutes_mail(ITEMS))
    world.arrive(
        build_reply(
            _asks(world, FINANCE_HEAD), sender=FINANCE_HEAD, body="异议：接口开发截止时间太紧\n"
        )
    )
    [objection] = world.sent("author/minutes_objection")
    assert parse_mail(objection)["To"].addresses[0].addr_spec == LEAD_HEAD
    assert "接口开发截止时间太紧" in text_of(parse_mail(objection))
    assert world.view()["minutes"][0]["state"] == "objected"  # type: ignore[index]

    revised = [ITEMS[0], ITEMS[1].replace("2026年4月10日", "2026年4月17日")]
    world.arrive(minutes_mail(revised, version_note="（第二版）"))
    v1, v2 = world.view()["minutes"]  # type: ignore[misc]
    assert (v1["state"], v2["state"], v2["version"]) == ("superseded", "confirming", 2)
    assert [t["id"] for t in world.view()["tasks"]] == ["RW-0001", "RW-0002"]  # type: ignore[union-attr]
    # Confirming the superseded version changes nothing.
    world.arrive(build_reply(_asks(world, LEAD_HEAD, 1), sender=LEAD_HEAD, body="确认\n"))
    assert all(c["state"] == "pending" for c in world.view()["minutes"][1]["confirmations"])  # type: ignore[index]

    for head in (LEAD_HEAD, FINANCE_HEAD):
        world.arrive(build_reply(_asks(world, head, 2), sender=head, body="同意\n"))
    assert world.view()["minutes"][1]["state"] == "confirming"  # type: ignore[index]
    assert world.sent("owner/task_assignment") == []
    world.arrive(build_reply(_asks(world, ADMIN_HEAD, 2), sender=ADMIN_HEAD, body="确认\n"))
    view = world.view()
    assert view["minutes"][1]["state"] == "final" and view["state"] == "in_progress"  # type: ignore[index]
    assignments = world.sent("owner/task_assignment")
    owners = sorted(parse_mail(a)["To"].addresses[0].addr_spec for a in assignments)
    assert owners == ["li.na@example.com", "wang.qiang@example.com"]
    first = next(a for a in assignments if "RW-0001" in parse_mail(a)["Subject"])
    assert parse_mail(first)["Subject"].startswith("[任务] XT-2026-0001/RW-0001 ")
    assert "wang.qiang@example.com" in str(parse_mail(first)["Cc"])
    assert world.sent("participant/minutes_final")


def test_the_owner_acknowledges_the_deadline_by_reply(world: World) -> None:
    world.arrive(minutes_mail(ITEMS))
    for head in (LEAD_HEAD, FINANCE_HEAD, ADMIN_HEAD):
        world.arrive(build_reply(_asks(world, head), sender=head, body="确认\n"))
    assignment = next(
        a for a in world.sent("owner/task_assignment") if "RW-0001" in parse_mail(a)["Subject"]
    )
    world.arrive(build_reply(assignment, sender="li.na@example.com", body="收到\n"))
    task = next(t for t in world.view()["tasks"] if t["id"] == "RW-0001")  # type: ignore[union-attr]
    assert task["state"] == "acknowledged" and task["acknowledged"] is True
    # Somebody else acknowledging another's task signs nothing.
    other = next(
        a for a in world.sent("owner/task_assignment") if "RW-0002" in parse_mail(a)["Subject"]
    )
    world.arrive(build_reply(other, sender="li.na@example.com", body="收到\n"))
    task = next(t for t in world.view()["tasks"] if t["id"] == "RW-0002")  # type: ignore[union-attr]
    assert task["acknowledged"] is False


@pytest.fixture
def assigned(world: World) -> World:
    """Minutes confirmed by every head: both tasks assigned."""
    world.arrive(minutes_mail(ITEMS))
    for head in (LEAD_HEAD, FINANCE_HEAD, ADMIN_HEAD):
        world.arrive(build_reply(_asks(world, head), sender=head, body="确认\n"))
    return world


def _task_mail(world: World, ref: str, kind: str = "owner/task_assignment") -> bytes:
    return next(a for a in world.sent(kind) if ref in parse_mail(a)["Subject"])


def _task(world: World, ref: str) -> dict[str, object]:
    return next(t for t in world.view()["tasks"] if t["id"] == ref)  # type: ignore[union-attr,no-any-return]


def test_a_new_date_is_asked_and_decided_by_the_lead(assigned: World) -> None:
    world = assigned
    mail = _task_mail(world, "RW-0002")
    body = "申请改期：2026-04-24 接口联调需要更多时间\n"
    world.arrive(build_reply(mail, sender="wang.qiang@example.com", body=body))
    [request] = world.sent("lead/date_change_request")
    assert parse_mail(request)["To"].addresses[0].addr_spec == LEAD_HEAD
    assert "2026年4月24日" in text_of(parse_mail(request))
    assert _task(world, "RW-0002")["due"] == "2026-04-10"
    # Only the lead decides; the owner answering the request signs nothing.
    world.arrive(build_reply(request, sender="wang.qiang@example.com", body="同意改期\n"))
    assert _task(world, "RW-0002")["due"] == "2026-04-10"
    world.arrive(build_reply(request, sender=LEAD_HEAD, body="同意改期\n"))
    assert _task(world, "RW-0002")["due"] == "2026-04-24"
    [decided] = world.sent("owner/date_change_decided")
    assert parse_mail(decided)["Subject"].startswith("[改期已同意]")


def test_done_then_returned_then_done_then_accepted(assigned: World) -> None:
    world = assigned
    mail = _task_mail(world, "RW-0001")
    # Acknowledge, report progress, then deliver, all by replying to the one task mail.
    world.arrive(build_reply(mail, sender="li.na@example.com", body="收到\n"))
    world.arrive(build_reply(mail, sender="li.na@example.com", body="进度：60% 规则初稿完成\n"))
    world.arrive(build_reply(mail, sender="li.na@example.com", body="完成，对账规则说明见附件\n"))
    assert _task(world, "RW-0001")["state"] == "done"
    [review] = world.sent("requester/acceptance_request")
    requester = str(world.view()["requester"])
    assert parse_mail(review)["To"].addresses[0].addr_spec == requester
    assert parse_mail(review)["Subject"].startswith("[验收] XT-2026-0001/RW-0001 ")
    assert parse_mail(review)["Message-ID"].startswith("<deliverable.xt-2026-0001.rw-0001.")

    world.arrive(build_reply(review, sender=requester, body="退回：缺少异常处理规则\n"))
    assert _task(world, "RW-0001")["state"] == "returned"
    [returned] = world.sent("owner/deliverable_returned")
    assert "缺少异常处理规则" in text_of(parse_mail(returned))

    world.arrive(build_reply(returned, sender="li.na@example.com", body="完成\n"))
    review2 = world.sent("requester/acceptance_request")[-1]
    world.arrive(build_reply(review2, sender=requester, body="验收通过\n"))
    assert _task(world, "RW-0001")["state"] == "accepted"
    assert world.sent("owner/deliverable_accepted")
    assert world.view()["state"] == "in_progress"  # RW-0002 is still open
