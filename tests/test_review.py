"""Review and archive: all tasks accepted, the review meeting and request, the [复盘] mail,
the dossier mailed, the request archived."""

from __future__ import annotations

import email.utils
from datetime import datetime
from email.message import EmailMessage

import pytest

from daemon.inbound import Outcome
from mail_parsers.review import read_review_fields
from store.uow import SqlUnitOfWork
from tests.support import SHANGHAI, build_reply, parse_mail, text_of
from tests.test_meetings import LEAD_HEAD, OFFICE, World
from tests.test_minutes import ADMIN_HEAD, FINANCE_HEAD
from tests.test_problems import DELEGATE, OWNER, REPORTER, _open_clocks, _tick, _to, world
from workflow.export import dossier

__all__ = ["world"]  # the fixture, shared with tests/test_problems.py

NUMBER = "XT-2026-0001"
REVIEW_BODY = [
    "各位好，复盘会结论如下。",
    "",
    "目标达成情况：对账流程已上线，三家试点供应商零差错",
    "成功经验：每周进度同步及时，问题当天协调解决",
    "不足：需求变更未及时书面确认",
    "改进措施：",
    "1. 变更一律书面确认（李娜，4月30日前）",
    "2. 启动会前发送材料清单",
    "",
    "赵磊",
]


def review_mail(
    *,
    sender: str = LEAD_HEAD,
    subject: str = f"[复盘] {NUMBER} 复盘报告",
    lines: list[str] | None = None,
    attachment: tuple[str, bytes] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["Authentication-Results"] = f"mx.example.com; dmarc=pass header.from={sender.split('@')[1]}"
    msg["From"] = sender
    msg["To"] = "coord@example.com"
    msg["Subject"] = subject
    msg["Date"] = email.utils.format_datetime(datetime(2026, 3, 20, 16, 0, tzinfo=SHANGHAI))
    msg["Message-ID"] = email.utils.make_msgid(domain="example.com")
    msg.set_content("\n".join(REVIEW_BODY if lines is None else lines) + "\n")
    if attachment is not None:
        name, data = attachment
        msg.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    return msg.as_bytes()


def _requester(world: World) -> str:
    return str(world.view()["requester"])


def deliver_everything(world: World) -> None:
    """Both owners report done; the requester accepts both deliverables."""
    for ref, owner in (("RW-0001", REPORTER), ("RW-0002", OWNER)):
        assignment = next(
            a for a in world.sent("owner/task_assignment") if ref in parse_mail(a)["Subject"]
        )
        world.arrive(build_reply(assignment, sender=owner, body="完成\n"))
        asked = [
            r for r in world.sent("requester/acceptance_request") if ref in parse_mail(r)["Subject"]
        ][-1]
        world.arrive(build_reply(asked, sender=_requester(world), body="验收通过\n"))


@pytest.fixture
def delivered(world: World) -> World:
    deliver_everything(world)
    return world


def _review_request(world: World) -> bytes:
    [asked] = world.sent("lead/review_request")
    return asked


def meeting_id(world: World) -> int:
    with SqlUnitOfWork(world.app.session_factory) as uow:
        [review] = [m for m in uow.meetings.for_request(1) if m.kind == "review"]
        return review.id


def _state(world: World) -> str:
    return str(world.view()["state"])


# --- asking for the review -----------------------------------------------------------------


def test_every_task_accepted_brings_the_review_meeting_and_request(delivered: World) -> None:
    world = delivered
    assert _state(world) == "delivered"
    [meeting] = [m for m in world.view()["meetings"] if m["kind"] == "review"]  # type: ignore[union-attr,index]
    attendees = {a["email"]: a["role"] for a in meeting["attendees"]}
    assert attendees[LEAD_HEAD] == "CHAIR"
    assert {_requester(world), FINANCE_HEAD, ADMIN_HEAD, REPORTER, OWNER} <= set(attendees)
    start = datetime.fromisoformat(str(meeting["start"]))
    assert start <= datetime(2026, 3, 23, 18, 0, tzinfo=SHANGHAI)  # 5 working days
    invited = {
        _to(raw)[0]
        for raw in world.sent("attendee/meeting_invitation")
        if "复盘会" in parse_mail(raw)["Subject"] or "复盘会" in text_of(parse_mail(raw))
    }
    assert LEAD_HEAD in invited and OWNER in invited

    mail = parse_mail(_review_request(world))
    assert _to(_review_request(world)) == [LEAD_HEAD]
    assert mail["Subject"].startswith(f"[复盘请求] {NUMBER} ")
    body = text_of(mail)
    assert f"[复盘] {NUMBER}" in body
    assert "成功经验：" in body and "不足：" in body and "改进措施：" in body
    assert "Successes / Shortcomings / Improvements" in body
    assert _open_clocks(world, "review_meeting") == [("review", LEAD_HEAD)]
    [(subject, awaited)] = _open_clocks(world, "communication_record")
    assert subject == f"meeting:{meeting_id(world)}" and awaited == LEAD_HEAD


def test_the_lead_is_reminded_when_the_review_does_not_come(delivered: World) -> None:
    world = delivered  # delivered Monday 09:00: due by the end of the fifth working day
    _tick(world, datetime(2026, 3, 23, 17, 0, tzinfo=SHANGHAI))
    assert [
        r for r in world.sent("awaited/reminder") if "组织复盘会" in text_of(parse_mail(r))
    ] == []
    _tick(world, datetime(2026, 3, 24, 9, 30, tzinfo=SHANGHAI))
    [reminder] = [
        r for r in world.sent("awaited/reminder") if "组织复盘会" in text_of(parse_mail(r))
    ]
    assert _to(reminder) == [LEAD_HEAD]
    assert f"[复盘] {NUMBER}" in text_of(parse_mail(reminder))


# --- the review and the archive -----------------------------------------------------------


def _dossier_page(raw: bytes) -> tuple[str, str]:
    msg = parse_mail(raw)
    [part] = [p for p in msg.iter_attachments() if p.get_content_type() == "text/html"]
    return str(part.get_filename()), part.get_payload(decode=True).decode("utf-8")


def test_the_review_mail_archives_the_request_and_mails_the_dossier(delivered: World) -> None:
    world = delivered
    pdf = b"%PDF-1.4 review slides"
    assert world.arrive(review_mail(attachment=("复盘.pdf", pdf))) is Outcome.PROCESSED
    view = world.view()
    assert view["state"] == "archived"
    review = view["review"]
    assert isinstance(review, dict)
    assert review["author"] == LEAD_HEAD
    assert review["successes"] == "每周进度同步及时，问题当天协调解决"
    assert review["shortcomings"] == "需求变更未及时书面确认"
    assert (
        review["improvements"] == "1. 变更一律书面确认（李娜，4月30日前）\n2. 启动会前发送材料清单"
    )
    assert review["goals"] == "对账流程已上线，三家试点供应商零差错"
    assert [(a["filename"], a["size"]) for a in review["attachments"]] == [("复盘.pdf", len(pdf))]
    assert review["archived_at"]

    [archived] = world.sent("participant/archive_dossier")
    assert _to(archived) == sorted({_requester(world), LEAD_HEAD, OFFICE})
    msg = parse_mail(archived)
    assert msg["Subject"].startswith(f"[已归档] {NUMBER} ")
    assert "每周进度同步及时" in text_of(msg)
    name, page = _dossier_page(archived)
    assert name == f"{NUMBER}-dossier.html"
    assert "<h2>协作复盘报告</h2>" in page or "协作复盘报告" in page
    assert "每周进度同步及时，问题当天协调解决" in page and "已归档" in page
    assert "复盘.pdf" in page
    # The review clocks stopped.
    assert _open_clocks(world, "review_meeting") == []
    assert _open_clocks(world, "communication_record") == []


def test_the_archived_dossier_has_the_review_sheet(delivered: World) -> None:
    world = delivered
    world.arrive(review_mail())
    with SqlUnitOfWork(world.app.session_factory) as uow:
        sheet = dossier(uow, NUMBER, world.app.workflow).sheet("协作复盘报告")
    [row] = sheet.rows
    record = dict(zip(sheet.columns, row, strict=True))
    assert record["亮点（成功经验）"] == "每周进度同步及时，问题当天协调解决"
    assert record["不足"] == "需求变更未及时书面确认"
    assert record["提交人"] == "赵磊 <zhao.lei@example.com>"
    assert record["复盘时间"] and "赵磊 <zhao.lei@example.com>" in record["参与人员"]
    assert record["归档日期"] == "2026-03-16"


def test_a_reply_to_the_review_request_is_the_review_too(delivered: World) -> None:
    world = delivered
    body = "\n".join(["成功经验：进度同步及时", "不足：变更确认滞后", "改进措施：变更书面确认"])
    world.arrive(build_reply(_review_request(world), sender=DELEGATE, body=body))
    assert _state(world) == "archived"
    review = world.view()["review"]
    assert isinstance(review, dict)
    # Only the new text counts, never the form quoted from our mail.
    assert (review["successes"], review["author"]) == ("进度同步及时", DELEGATE)
    [archived] = world.sent("participant/archive_dossier")
    assert DELEGATE in _to(archived)  # the author hears of the archive as well


# --- what is refused -------------------------------------------------------------------------


def _returned(world: World) -> str:
    [returned] = world.sent("author/review_returned")
    return text_of(parse_mail(returned))


def test_a_review_from_someone_else_changes_nothing(delivered: World) -> None:
    world = delivered
    world.arrive(review_mail(sender=OWNER))
    assert _state(world) == "delivered" and world.view()["review"] is None
    [returned] = world.sent("author/review_returned")
    assert _to(returned) == [OWNER]
    assert "只能由牵头部门负责人" in _returned(world)
    assert world.sent("participant/archive_dossier") == []


def test_a_review_for_an_unknown_request_is_answered(delivered: World) -> None:
    world = delivered
    world.arrive(review_mail(subject="[复盘] XT-2026-0999 复盘报告"))
    assert "未注明有效的需求编号" in _returned(world)
    assert _state(world) == "delivered"


def test_a_review_before_every_task_is_accepted_is_refused(world: World) -> None:
    world.arrive(review_mail())
    assert "全部任务验收通过后才接收复盘报告" in _returned(world)
    assert _state(world) == "in_progress" and world.view()["review"] is None


def test_a_review_without_its_sections_is_returned(delivered: World) -> None:
    world = delivered
    world.arrive(review_mail(lines=["成功经验：进度同步及时", "", "赵磊"]))
    text = _returned(world)
    assert "缺少“不足”" in text and "缺少“改进措施”" in text
    assert _state(world) == "delivered"


def test_a_second_review_after_the_archive_changes_nothing(delivered: World) -> None:
    world = delivered
    world.arrive(review_mail())
    world.arrive(review_mail(lines=["成功经验：再写一遍", "不足：无", "改进措施：无"]))
    assert "需求已归档" in _returned(world)
    review = world.view()["review"]
    assert isinstance(review, dict) and review["successes"] == "每周进度同步及时，问题当天协调解决"
    assert len(world.sent("participant/archive_dossier")) == 1


def test_an_english_review_is_read_too(delivered: World) -> None:
    world = delivered
    lines = ["Successes: weekly sync", "Shortcomings: late changes", "Improvements: write it down"]
    world.arrive(review_mail(subject=f"[REVIEW] {NUMBER} lessons", lines=lines))
    review = world.view()["review"]
    assert isinstance(review, dict) and review["improvements"] == "write it down"
    assert _state(world) == "archived"


# --- the parser ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "subject", "expected", "missing"),
    [
        (
            "成功经验：同步及时\n不足：变更滞后\n改进措施：书面确认\n",
            "[复盘] XT-2026-0007",
            ("XT-2026-0007", "同步及时", "变更滞后", "书面确认"),
            [],
        ),
        (
            "所属需求：XT-2026-0008\nＳｕｃｃｅｓｓｅｓ ： fast\nshortcomings: none\n"
            "Improvements:\n- one\n- two\n\n-- \nZhao",
            "lessons",
            ("XT-2026-0008", "fast", "none", "- one\n- two"),
            [],
        ),
        (
            "亮点：同步及时\n\n> 不足：在引用里不算\n",
            "",
            (None, "同步及时", None, None),
            ["shortcomings", "improvements"],
        ),
    ],
    ids=["zh", "en full-width labels, multi-line", "missing and quoted"],
)
def test_read_review_fields(
    text: str, subject: str, expected: tuple[str | None, ...], missing: list[str]
) -> None:
    fields, errors = read_review_fields(text, subject)
    assert (fields.request, fields.successes, fields.shortcomings, fields.improvements) == expected
    assert [e.field for e in errors] == missing
