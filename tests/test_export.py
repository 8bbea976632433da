"""The dossier export: the seed forms as an Excel workbook, one HTML page, a zip with the
mails, and ``liaison export``.

One request goes through the real pipeline: the corpus request, the office's acceptance
by reply (so a kickoff meeting exists), a head's answer to the invitation, the lead's
minutes with two action items, one head's confirmation, and an issue mail about a task
that brings a problem meeting. A second request carries ``<script>`` in its title and a
formula in a field. Every test only reads, so they share that store.
"""

from __future__ import annotations

import email.utils
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from markupsafe import escape

from daemon.bootstrap import App
from daemon.export_files import write_html, write_xlsx, write_zip, xlsx_bytes, zip_bytes
from daemon.inbound import Arrival, Outcome, SourceRef
from daemon.pipeline import Pipeline
from store.uow import SqlUnitOfWork
from tests.support import (
    ROOT_EXAMPLES,
    SHANGHAI,
    T0,
    build_reply,
    parse_mail,
    scratch_app,
    text_of,
)
from tests.test_cli import Liaison, assert_one_error_line
from tests.test_meetings import LEAD_HEAD, calendar_mail, itip_reply
from workflow.errors import NotFoundError
from workflow.export import Dossier, dossier, raw_messages
from workflow.queries import show_request

REQUEST = "req_01_outlook_zh_plain_gb2312_b64.eml"
ISSUE = "iss_02_request_number_thunderbird.eml"
OFFICE = "office@example.com"
SUPPORT_HEAD = "finance.lead@example.com"  # 何军, 财务部
REQUESTER = "liu.yang@example.com"  # 刘洋
OWNER = "li.na@example.com"  # 李娜, owner of RW-0001
OTHER_OWNER = "wang.qiang@example.com"  # 王强, owner of RW-0002
PDF = b"%PDF-1.4\n% poster\n"
NUMBER = "XT-2026-0001"
HOSTILE_NUMBER = "XT-2026-0002"
SCRIPT_TITLE = "<script>alert('x')</script> 物料 & 海报"
FORMULA = '=HYPERLINK("http://evil.example/","点击")'
DIRECTORY = {"LIAISON_DIRECTORY_FILE": str(ROOT_EXAMPLES / "directory.toml")}

ZH_SHEETS = [
    "沟通协调需求表",
    "跨部门协调事项跟踪表",
    "会议",
    "会议纪要",
    "任务分配与进度跟踪表",
    "进度跟踪记录表",
    "周进度报告",
    "问题反馈与处理记录表",
    "任务验收确认单",
    "协作复盘报告",
    "沟通记录",
]
EN_SHEETS = [
    "Request",
    "Tracking",
    "Meetings",
    "Minutes",
    "Tasks",
    "Progress",
    "Weekly progress",
    "Problems",
    "Acceptance",
    "Review",
    "Communications",
]


@dataclass
class World:
    root: Path
    app: App
    pipeline: Pipeline
    #: Every message delivered for request 1, as delivered.
    delivered: list[bytes] = field(default_factory=list)
    uid: int = 0

    def arrive(self, raw: bytes) -> Outcome:
        self.uid += 1
        return self.pipeline.handle(Arrival(SourceRef("test", 1, str(self.uid)), raw))

    def deliver(self, raw: bytes) -> None:
        assert self.arrive(raw) is Outcome.PROCESSED
        self.delivered.append(raw)

    def sent(self, kind: str) -> list[bytes]:
        with SqlUnitOfWork(self.app.session_factory) as uow:
            return [r.raw for r in uow.outbox.in_state("pending") if r.kind == kind]

    def last(self, kind: str, to: str) -> bytes:
        """The latest mail of ``kind`` to ``to``."""
        *_, raw = (r for r in self.sent(kind) if parse_mail(r)["To"].addresses[0].addr_spec == to)
        return raw

    def answer(self, kind: str, sender: str, body: str, attach: bytes | None = None) -> None:
        """``sender`` replies ``body`` to the latest mail of ``kind`` they received."""
        reply = build_reply(self.last(kind, sender), sender=sender, body=body)
        if attach is not None:  # the deliverable, as a PDF attachment
            msg = parse_mail(reply)
            msg.add_attachment(attach, "application", "pdf", filename="poster.pdf")
            reply = msg.as_bytes()
        self.deliver(reply)

    def view(self, number: str = NUMBER) -> dict[str, Any]:
        with SqlUnitOfWork(self.app.session_factory) as uow:
            return show_request(uow, number, self.app.workflow)

    def dossier(self, number: str = NUMBER, language: str = "zh") -> Dossier:
        with SqlUnitOfWork(self.app.session_factory) as uow:
            return dossier(uow, number, self.app.workflow, language=language)

    def raw_messages(self, number: str = NUMBER) -> list[tuple[str, bytes]]:
        with SqlUnitOfWork(self.app.session_factory) as uow:
            return raw_messages(uow, number)


def authenticated(sender: str, subject: str, body: str, message_id: str) -> bytes:
    """A plain text mail from ``sender`` as our MX hands it over (DMARC passed)."""
    domain = sender.rpartition("@")[2]
    msg = EmailMessage()
    msg["Authentication-Results"] = (
        f"mx.example.com; dkim=pass header.d={domain}; "
        f"spf=pass smtp.mailfrom={sender}; dmarc=pass header.from={domain}"
    )
    msg["From"] = sender
    msg["To"] = "coord@example.com"
    msg["Subject"] = subject
    msg["Date"] = email.utils.format_datetime(T0)
    msg["Message-ID"] = message_id
    msg.set_content(body)
    return msg.as_bytes()


def minutes_mail() -> bytes:
    body = "\n".join(
        [
            "各位好，启动会纪要如下。",
            "",
            "参会人员：赵磊、何军、李娜",
            "讨论要点：物料清单与门店分级；印刷供应商比价",
            "共识事项：4月10日前完成全部设计稿",
            "待办事项：",
            "- 海报设计 | 负责人：李娜 li.na@example.com | 截止：2026-04-03"
            " | 交付物：海报终稿 | 协作人：王强",
            "- 物料分配表 | 负责人：王强 | 截止：2026年4月10日 | 交付物：门店物料分配表"
            " | 验收标准：120家门店全覆盖",
            "",
            "赵磊",
        ]
    )
    subject = f"[纪要] {NUMBER} 启动会纪要"
    return authenticated(LEAD_HEAD, subject, body, "<minutes-1@example.com>")


def issue_mail(corpus_dir: Path) -> bytes:
    """The corpus issue mail, about our request and its task RW-0002."""
    raw = (corpus_dir / ISSUE).read_bytes()
    about = "所属需求：XT-2026-0003".encode()
    assert about in raw
    return raw.replace(about, f"所属需求：{NUMBER}\n所属任务：RW-0002".encode())


def hostile_request(corpus_dir: Path) -> bytes:
    """The corpus request under another title (with markup) and a formula as resources."""
    original = parse_mail((corpus_dir / REQUEST).read_bytes())
    body = (
        text_of(original)
        .replace("需求名称：五一华东区门店促销活动物料支持", f"需求名称：{SCRIPT_TITLE}")
        .replace("所需资源：", f"所需资源：{FORMULA}；")
    )
    subject = f"[需求] {SCRIPT_TITLE}"
    return authenticated("liu.yang@example.com", subject, body, "<hostile@client.example.com>")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, corpus_dir: Path) -> Iterator[World]:
    root = tmp_path_factory.mktemp("export")
    app, _ = scratch_app(root, **DIRECTORY)
    w = World(
        root,
        app,
        Pipeline(
            session_factory=app.session_factory,
            config=app.workflow,
            blobs=app.blobs,
            clock=app.clock,
        ),
    )
    w.deliver((corpus_dir / REQUEST).read_bytes())
    [notice] = w.sent("office/evaluation_notice")
    w.deliver(build_reply(notice, sender=OFFICE, body="受理 牵头部门：研发部 配合部门：财务部\n"))
    [kickoff] = w.view()["meetings"]
    w.deliver(calendar_mail(SUPPORT_HEAD, itip_reply(kickoff, SUPPORT_HEAD, "ACCEPTED")))
    w.deliver(minutes_mail())  # from the lead: version 1 with tasks RW-0001 and RW-0002
    w.answer("participant/minutes_for_confirmation", SUPPORT_HEAD, "确认")
    w.deliver(issue_mail(corpus_dir))  # about RW-0002
    w.answer("participant/minutes_for_confirmation", LEAD_HEAD, "确认")  # final: tasks go out
    w.answer("owner/task_assignment", OWNER, "收到")
    w.answer("owner/task_assignment", OWNER, "进度：60% 初稿已完成")
    w.answer("owner/task_assignment", OWNER, "完成", attach=PDF)
    w.answer("requester/acceptance_request", REQUESTER, "退回：主视觉颜色需调整")
    w.answer("owner/deliverable_returned", OWNER, "完成", attach=PDF + b"v2")
    w.answer("requester/acceptance_request", REQUESTER, "验收通过")
    w.answer("owner/task_assignment", OTHER_OWNER, "申请改期：2026-04-17 供应商排期紧张")
    assert w.arrive(hostile_request(corpus_dir)) is Outcome.PROCESSED
    assert w.view(HOSTILE_NUMBER)["title"] == SCRIPT_TITLE
    yield w
    app.close()


@dataclass(frozen=True)
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]
    note: str | None


def read_tables(data: bytes) -> dict[str, Table]:
    """Each worksheet as written: title in row 1, header in row 2, rows until a blank
    row, then the note if there is one."""
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    tables = {}
    for ws in workbook.worksheets:
        values = [[c.value for c in row] for row in ws.iter_rows()]
        header = [str(v) for v in values[1]]
        rows = []
        for row in values[2:]:
            if all(v is None for v in row):
                break
            rows.append(["" if v is None else str(v) for v in row])
        after = values[2 + len(rows) + 1 :]
        note = after[0][0] if after else None
        tables[ws.title] = Table(str(values[0][0]), header, rows, note)
    return tables


def record(table: Table) -> dict[str, str]:
    [row] = table.rows
    return dict(zip(table.header, row, strict=True))


def local(iso: str | None) -> str:
    """An instant of ``show --json`` as the dossier shows it ("" for none)."""
    if iso is None:
        return ""
    return datetime.fromisoformat(iso).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


# ----------------------------------------------------------------------------------- xlsx


@pytest.fixture(scope="module")
def zh_tables(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Table]:
    path = tmp_path_factory.mktemp("xlsx") / "dossier.xlsx"
    write_xlsx(world.dossier(), path)
    return read_tables(path.read_bytes())


def test_the_workbook_has_the_seed_forms_with_their_chinese_headers(
    zh_tables: dict[str, Table],
) -> None:
    assert list(zh_tables) == ZH_SHEETS
    assert zh_tables["沟通协调需求表"].header[:12] == [
        "需求编号",
        "需求名称",
        "发起部门",
        "发起人",
        "发起人邮箱",
        "接收部门",
        "背景与目标",
        "期望完成时间",
        "紧急程度",
        "所需资源",
        "验收标准",
        "附件",
    ]
    assert {"状态", "版本"} <= set(zh_tables["沟通协调需求表"].header)
    assert {"事项", "牵头部门", "配合部门", "状态", "下一期限"} <= set(
        zh_tables["跨部门协调事项跟踪表"].header
    )
    assert zh_tables["问题反馈与处理记录表"].header == [
        "编号",
        "所属任务",
        "问题描述",
        "影响范围",
        "已尝试方案",
        "所需支持",
        "紧急程度",
        "提出人",
        "状态",
        "提出时间",
        "解决措施",
        "新完成时限",
        "负责人",
        "处理人",
        "解决时间",
    ]
    assert zh_tables["沟通记录"].header == ["时间", "方向", "发件人", "收件人", "主题", "结论/类型"]
    assert zh_tables["沟通记录"].title == "跨部门沟通协作记录表（沟通记录）"
    assert zh_tables["任务验收确认单"].title == "任务验收确认单 / 成果验收表"


def test_the_request_form_and_tracking_item_hold_the_request(
    world: World, zh_tables: dict[str, Table]
) -> None:
    form = record(zh_tables["沟通协调需求表"])
    assert form["需求编号"] == NUMBER
    assert form["需求名称"] == "五一华东区门店促销活动物料支持"
    assert (form["发起部门"], form["发起人"], form["发起人邮箱"]) == (
        "市场部",
        "刘洋",
        "liu.yang@example.com",
    )
    assert form["接收部门"] == "设计中心、销售运营部、采购部"
    assert form["背景与目标"].startswith("五一档期（4月29日-5月5日）华东区120家门店")
    assert (form["期望完成时间"], form["紧急程度"]) == ("2026-04-20", "紧急")
    assert form["所需资源"] == "设计中心2名设计师约5个工作日；印刷及物流预算约3.8万元"
    assert form["验收标准"] == "物料终稿经市场部确认；120家门店物料签收率不低于95%"
    assert (form["状态"], form["版本"], form["登记时间"]) == ("执行中", "1", "2026-03-16 09:00")

    item = record(zh_tables["跨部门协调事项跟踪表"])
    view = world.view()
    assert (item["编号"], item["事项"]) == (NUMBER, view["title"])
    assert (item["牵头部门"], item["配合部门"], item["状态"]) == ("研发部", "财务部", "执行中")
    assert item["下一期限"] == local(view["next_deadline"])
    assert item["最近更新"] == "2026-03-16 09:00"


def test_meetings_list_each_attendee_with_the_answer(
    world: World, zh_tables: dict[str, Table]
) -> None:
    table = zh_tables["会议"]
    rows = {row[0]: dict(zip(table.header, row, strict=True)) for row in table.rows}
    assert set(rows) == {"启动会", "问题协调会"}
    starts = {m["kind"]: m["start"] for m in world.view()["meetings"]}
    assert rows["启动会"]["开始时间"] == local(starts["kickoff"])
    assert rows["问题协调会"]["开始时间"] == local(starts["problem"])
    answers = rows["启动会"]["参会人及答复"].splitlines()
    assert "何军 <finance.lead@example.com>（必须参加）：接受" in answers
    assert "赵磊 <zhao.lei@example.com>（主持）：未答复" in answers
    assert "刘洋 <liu.yang@example.com>（必须参加）：未答复" in answers
    assert len(answers) == 4
    assert "he.jing@example.cn（必须参加）：未答复" in rows["问题协调会"]["参会人及答复"]


def test_the_problem_log_holds_the_issue_mail(
    corpus_dir: Path, zh_tables: dict[str, Table]
) -> None:
    problem = record(zh_tables["问题反馈与处理记录表"])
    text = text_of(parse_mail((corpus_dir / ISSUE).read_bytes()))
    for column in ("问题描述", "影响范围", "已尝试方案", "所需支持"):
        assert problem[column] and problem[column] in text, column
    assert problem["问题描述"].startswith("按新流程要求供应商在质量门户上传来料检验报告")
    assert (problem["编号"], problem["所属任务"], problem["紧急程度"]) == ("1", "RW-0002", "一般")
    assert problem["提出人"] == "he.jing@example.cn"
    assert (problem["状态"], problem["提出时间"]) == ("已安排协调会", "2026-03-16 09:00")


def test_the_communication_log_has_every_mail_in_and_out(
    world: World, zh_tables: dict[str, Table]
) -> None:
    table = zh_tables["沟通记录"]
    logged = world.view()["communications"]
    assert len(table.rows) == len(logged) > 10
    assert [row[4] for row in table.rows] == [c["subject"] for c in logged]
    assert [row[1] for row in table.rows] == [
        "收到" if c["direction"] == "in" else "发出" for c in logged
    ]
    first = dict(zip(table.header, table.rows[0], strict=True))
    assert first == {
        "时间": "2026-03-16 09:00",
        "方向": "收到",
        "发件人": "liu.yang@example.com",
        "收件人": "coord@example.com、he.ting@example.com",
        "主题": "[需求] 五一华东区门店促销活动物料支持",
        "结论/类型": "需求",
    }
    kinds = [row[5] for row in table.rows]
    assert "回复：需求受理" in kinds  # the office's reply, by the sign-off it gave
    assert "评估通知" in kinds and "会议邀请" in kinds and "问题反馈" in kinds


def test_the_minutes_with_each_heads_confirmation(zh_tables: dict[str, Table]) -> None:
    minutes = record(zh_tables["会议纪要"])
    assert (minutes["版本"], minutes["状态"], minutes["定稿时间"]) == (
        "1",
        "已定稿",
        "2026-03-16 09:00",
    )
    assert minutes["记录人"] == f"赵磊 <{LEAD_HEAD}>"
    # As the lead wrote them (minutes_mail).
    assert minutes["参会人员"] == "赵磊、何军、李娜"
    assert minutes["讨论要点"] == "物料清单与门店分级；印刷供应商比价"
    assert minutes["共识事项"] == "4月10日前完成全部设计稿"
    assert minutes["待办事项"].splitlines() == [
        f"RW-0001 海报设计（李娜 <{OWNER}>，截止 2026-04-03）",
        f"RW-0002 物料分配表（王强 <{OTHER_OWNER}>，截止 2026-04-10）",
    ]
    assert sorted(minutes["各部门负责人确认"].splitlines()) == sorted(
        [
            f"赵磊 <{LEAD_HEAD}>（研发部）：已确认 2026-03-16 09:00",
            f"何军 <{SUPPORT_HEAD}>（财务部）：已确认 2026-03-16 09:00",
        ]
    )


def test_the_task_table_has_one_row_per_action_item(zh_tables: dict[str, Table]) -> None:
    table = zh_tables["任务分配与进度跟踪表"]
    tasks = {row[0]: dict(zip(table.header, row, strict=True)) for row in table.rows}
    assert list(tasks) == ["RW-0001", "RW-0002"]
    first, second = tasks["RW-0001"], tasks["RW-0002"]
    assert (first["任务名称"], first["负责人"], first["协作人"]) == (
        "海报设计",
        f"李娜 <{OWNER}>",
        f"王强 <{OTHER_OWNER}>",
    )
    assert (first["计划交付物"], first["截止时间"], first["所属需求编号"]) == (
        "海报终稿",
        "2026-04-03",
        NUMBER,
    )
    # Acknowledged, delivered, returned, delivered again, accepted.
    assert (first["期限确认"], first["当前进度"], first["实际完成时间"]) == (
        "已确认 2026-03-16 09:00",
        "已验收",
        "2026-03-16 09:00",
    )
    assert (second["交付标准"], second["截止时间"]) == ("120家门店全覆盖", "2026-04-10")
    assert (second["期限确认"], second["当前进度"], second["实际完成时间"]) == (
        "未确认",
        "已分配",
        "",
    )
    # The issue mail names RW-0002, and its owner asked for another date.
    assert first["备注（问题/风险）"] == ""
    problem, date_change = second["备注（问题/风险）"].splitlines()
    assert problem.startswith("问题 1：按新流程要求供应商在质量门户上传")
    assert problem.endswith("（已安排协调会）")
    assert date_change == "申请改期至 2026-04-17：供应商排期紧张"


def test_progress_shows_each_assigned_tasks_latest_report(zh_tables: dict[str, Table]) -> None:
    table = zh_tables["进度跟踪记录表"]
    progress = {row[0]: dict(zip(table.header, row, strict=True)) for row in table.rows}
    assert list(progress) == ["RW-0001", "RW-0002"]
    assert (progress["RW-0001"]["完成度"], progress["RW-0001"]["当前状态"]) == ("60%", "已验收")
    assert (progress["RW-0002"]["完成度"], progress["RW-0002"]["当前状态"]) == ("", "已分配")
    assert "申请改期至 2026-04-17" in progress["RW-0002"]["风险问题"]
    assert table.note and "沟通记录" in table.note


def test_acceptance_has_each_submission_with_the_decision(zh_tables: dict[str, Table]) -> None:
    table = zh_tables["任务验收确认单"]
    returned, accepted = (dict(zip(table.header, row, strict=True)) for row in table.rows)
    for row in (returned, accepted):
        assert (row["任务ID"], row["成果名称"], row["交付方"]) == (
            "RW-0001",
            "海报终稿",
            f"李娜 <{OWNER}>",
        )
        assert row["签字确认"] == row["接收方"] == f"刘洋 <{REQUESTER}>"
        assert row["提交时间"] == row["确认时间"] == "2026-03-16 09:00"
    assert (returned["验收结果"], returned["验收意见"]) == ("退回", "主视觉颜色需调整")
    assert (accepted["验收结果"], accepted["验收意见"]) == ("验收通过", "")
    # Each submission with its own deliverable: the second PDF is two bytes longer.
    assert returned["成果附件"] == f"poster.pdf ({len(PDF)} B)"
    assert accepted["成果附件"] == f"poster.pdf ({len(PDF) + 2} B)"


def test_the_review_has_its_headers_and_says_none_came_yet(
    world: World, zh_tables: dict[str, Table]
) -> None:
    table = zh_tables["协作复盘报告"]
    assert {"复盘时间", "参与人员", "亮点（成功经验）", "不足", "改进措施"} <= set(table.header)
    assert table.rows == []
    assert table.note and "尚未收到复盘报告" in table.note
    assert not any("复盘" in note for note in world.dossier().notes)
    # Sheets with rows carry no "empty" note.
    for name in ("会议纪要", "任务分配与进度跟踪表", "任务验收确认单", "沟通记录"):
        assert zh_tables[name].note is None, name


def test_the_header_is_bold_frozen_and_columns_are_sized(world: World) -> None:
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(world.dossier())))
    for ws in workbook.worksheets:
        assert ws.freeze_panes == "A3", ws.title
        assert all(cell.font.b for cell in ws[2] if cell.value), ws.title
    ws = workbook["沟通记录"]
    assert ws.column_dimensions["E"].width > ws.column_dimensions["B"].width >= 8


def test_english_headers_on_request(world: World) -> None:
    tables = read_tables(xlsx_bytes(world.dossier(language="en")))
    assert list(tables) == EN_SHEETS
    form = record(tables["Request"])
    assert (form["Number"], form["Title"], form["Urgency"], form["State"]) == (
        NUMBER,
        "五一华东区门店促销活动物料支持",
        "urgent",
        "in progress",
    )
    assert tables["Problems"].header[:3] == ["Number", "Task", "Description"]
    assert tables["Communications"].header == [
        "Time",
        "Direction",
        "From",
        "To",
        "Subject",
        "Conclusion/kind",
    ]
    assert tables["Communications"].rows[0][1] == "in"
    assert [row[0] for row in tables["Tasks"].rows] == ["RW-0001", "RW-0002"]
    assert record(tables["Minutes"])["State"] == "final"
    assert [row[7] for row in tables["Acceptance"].rows] == ["returned", "accepted"]
    assert tables["Review"].rows == [] and tables["Review"].note


def test_a_formula_in_a_mail_stays_text(world: World) -> None:
    data = xlsx_bytes(world.dossier(HOSTILE_NUMBER))
    ws = openpyxl.load_workbook(io.BytesIO(data))["沟通协调需求表"]
    header = [c.value for c in ws[2]]
    cell = ws.cell(row=3, column=header.index("所需资源") + 1)
    assert cell.value.startswith(FORMULA)
    assert cell.data_type == "s"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/")]
        assert sheets and not any(b"<f>" in archive.read(n) for n in sheets)


def test_an_unknown_number_is_not_found(world: World) -> None:
    with pytest.raises(NotFoundError, match="XT-2099-0001"):
        world.dossier("XT-2099-0001")
    with pytest.raises(NotFoundError):
        world.raw_messages("XT-2099-0001")


# ----------------------------------------------------------------------------------- html


def test_the_html_page_has_every_sheet_and_stands_alone(world: World, tmp_path: Path) -> None:
    built = world.dossier()
    write_html(built, tmp_path / "d.html")
    page = (tmp_path / "d.html").read_text("utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert f"<title>{escape(built.title)}</title>" in page
    for sheet in built.sheets:
        assert f"<h2>{escape(sheet.title)}</h2>" in page, sheet.title
    assert "五一华东区门店促销活动物料支持" in page and "按新流程要求供应商" in page
    assert "<th>需求编号</th><td>XT-2026-0001</td>" in page  # the form, field by field
    for fetch in ("<link", " src=", "@import", "url("):
        assert fetch not in page


def test_the_html_escapes_markup_from_a_mail(world: World, tmp_path: Path) -> None:
    write_html(world.dossier(HOSTILE_NUMBER), tmp_path / "d.html")
    page = (tmp_path / "d.html").read_text("utf-8")
    assert "<script" not in page
    escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; 物料 &amp; 海报"
    assert f"<title>{HOSTILE_NUMBER} {escaped} 协作档案</title>" in page
    assert f"<td>{escaped}</td>" in page


def test_the_english_page(world: World, tmp_path: Path) -> None:
    write_html(world.dossier(language="en"), tmp_path / "d.html")
    page = (tmp_path / "d.html").read_text("utf-8")
    assert '<html lang="en">' in page
    assert "<h2>Coordination request form</h2>" in page
    assert "<th>Receiving departments</th>" in page and "需求编号" not in page


# ------------------------------------------------------------------------------------ zip


def test_the_zip_holds_both_files_and_every_raw_message_unchanged(
    world: World, tmp_path: Path, corpus_dir: Path
) -> None:
    path = tmp_path / "d.zip"
    write_zip(world.dossier(), world.raw_messages(), path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert names[:2] == ["dossier.xlsx", "dossier.html"]
        messages = names[2:]
        assert [n.split("/")[0] for n in messages] == ["messages"] * len(world.delivered)
        assert [archive.read(n) for n in messages] == world.delivered
        assert archive.read(messages[0]) == (corpus_dir / REQUEST).read_bytes()
        assert messages == [
            "messages/001-request-1.eml",
            "messages/002-reply-2.eml",
            "messages/003-calendar-reply-3.eml",
            "messages/004-minutes-4.eml",
            "messages/005-reply-5.eml",
            "messages/006-issue-6.eml",
            *(f"messages/{n:03d}-reply-{n}.eml" for n in range(7, 15)),
        ]
        assert list(read_tables(archive.read("dossier.xlsx"))) == ZH_SHEETS
        assert "<h2>问题反馈与处理记录表</h2>" in archive.read("dossier.html").decode()
        assert archive.testzip() is None


def test_the_zip_refuses_a_message_name_that_is_a_path(world: World, tmp_path: Path) -> None:
    for name in ("../evil.eml", "/etc/passwd", "messages/x.eml", "a\\b.eml", ".hidden", ""):
        with pytest.raises(ValueError, match="not a message file name"):
            write_zip(world.dossier(), [(name, b"x")], tmp_path / "d.zip")
    assert not (tmp_path / "d.zip").exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind either


def test_files_carry_the_dossier_time_so_a_re_export_is_identical(world: World) -> None:
    built = world.dossier()
    assert built.as_of.astimezone(SHANGHAI) == T0  # everything happened at the frozen T0
    data = zip_bytes(built, world.raw_messages())
    assert data == zip_bytes(world.dossier(), world.raw_messages())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {i.date_time for i in archive.infolist()} == {(2026, 3, 16, 9, 0, 0)}
        with zipfile.ZipFile(io.BytesIO(archive.read("dossier.xlsx"))) as inner:
            assert {i.date_time for i in inner.infolist()} == {(2026, 3, 16, 9, 0, 0)}
        props = openpyxl.load_workbook(io.BytesIO(archive.read("dossier.xlsx"))).properties
        assert props.modified == props.created == datetime(2026, 3, 16, 1, 0)  # UTC


# ------------------------------------------------------------------------------------ cli


@pytest.fixture(scope="module")
def cli(world: World, tmp_path_factory: pytest.TempPathFactory) -> Liaison:
    """``liaison`` in the world's directory, on its database."""
    return Liaison(world.root, tmp_path_factory.mktemp("pycache"))


def test_liaison_export_writes_each_format(world: World, cli: Liaison) -> None:
    out = world.root / "out"
    out.mkdir()
    runs = cli.many(
        ["export", NUMBER, "--format", "xlsx"],
        ["export", NUMBER.lower(), "--format", "html", "--lang", "en", "-o", "out/d.html"],
        ["export", NUMBER, "--format", "zip", "--output", "out/d.zip"],
    )
    for ran in runs:
        assert ran.code == 0 and ran.err == "", ran.err
    assert [ran.out for ran in runs] == [
        f"wrote {NUMBER}.xlsx\n",
        "wrote out/d.html\n",
        "wrote out/d.zip\n",
    ]
    tables = read_tables((world.root / f"{NUMBER}.xlsx").read_bytes())
    assert list(tables) == ZH_SHEETS
    assert record(tables["沟通协调需求表"])["需求名称"] == "五一华东区门店促销活动物料支持"
    assert "<h2>Problem feedback and handling record</h2>" in (out / "d.html").read_text()
    with zipfile.ZipFile(out / "d.zip") as archive:
        bodies = [archive.read(n) for n in archive.namelist() if n.startswith("messages/")]
    assert bodies == world.delivered


def test_liaison_export_refuses_an_unknown_number_with_one_line(world: World, cli: Liaison) -> None:
    unknown, no_format = cli.many(
        ["export", "XT-2099-0999", "--format", "xlsx"],
        ["export", NUMBER],
    )
    assert_one_error_line(unknown, "no request numbered XT-2099-0999")
    assert not (world.root / "XT-2099-0999.xlsx").exists()
    assert no_format.code != 0 and "--format" in no_format.err


def test_liaison_export_help_names_its_arguments(cli: Liaison) -> None:
    ran = cli("export", "--help")
    assert ran.code == 0, ran.err
    usage = ran.out.split("\n\n")[0]
    for name in ("number", "--format {xlsx,html,zip}", "-o FILE", "--lang {zh,en}"):
        assert name in usage, usage
