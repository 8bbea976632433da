"""Reading replies: context, new text (quote markers of each client) and the keyword rule."""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mail_parsers._html_quote import html_to_text
from mail_parsers.model import ParseOptions, ReplyReading
from mail_parsers.quote_markers import new_text
from mail_parsers.replies import read_reply, reply_context
from workflow.numbering import number_reader

OPTIONS = ParseOptions()
SHANGHAI = ZoneInfo("Asia/Shanghai")
CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"

MINUTES_ID = "<minutes.xt-2026-0007.v1.20260319101234@coord.example.com>"
TASK_ID = "<task.xt-2026-0018.rw-0010.20260320140008@coord.example.com>"
DELIVERABLE_ID = "<deliverable.xt-2026-0003.rw-0001.20260402163011@coord.example.com>"
EVALUATION_ID = "<evaluation.xt-2026-0015.20260316090014.k3f9@coord.example.com>"
APPROVAL_ID = "<approval.xt-2026-0023.20260319143000@coord.example.com>"
MEETING_ID = "<meeting.xt-2026-0007.20260319103000@coord.example.com>"
NOTICE_ID = "<notice.xt-2026-0018.rw-0012.20260321090000@coord.example.com>"
DATECHANGE_ID = "<datechange.xt-2026-0003.rw-0008.20260324101500@coord.example.com>"
FOREIGN_ID = "<66B48A426CFC729380AA4B76B3EE4882@EXMBX02.corp.example.com>"


def _reply(
    text: str | None,
    in_reply_to: str | None,
    *,
    html: str | None = None,
    references: tuple[str, ...] = (),
    subject: str = "Re: something",
    today: date | None = date(2026, 3, 20),
    options: ParseOptions = OPTIONS,
) -> ReplyReading:
    return read_reply(
        text,
        html,
        in_reply_to=in_reply_to,
        references=references,
        subject=subject,
        options=options,
        today=today,
    )


# --- the corpus ------------------------------------------------------------------------


def _expected() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CORPUS / "expected.json").read_text("utf-8"))
    return data


def _reply_files() -> list[str]:
    return sorted(name for name, entry in _expected().items() if entry.get("reply"))


def _bodies(msg: EmailMessage) -> tuple[str | None, str | None]:
    """The first non-attachment text/plain and text/html bodies, decoded."""
    plain: str | None = None
    html: str | None = None
    for part in msg.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        content_type = part.get_content_type()
        if content_type == "text/plain" and plain is None:
            plain = part.get_content()
        elif content_type == "text/html" and html is None:
            html = part.get_content()
    return plain, html


def _read_corpus_file(corpus_dir: Path, name: str, *, html_only: bool = False) -> ReplyReading:
    msg = email.message_from_bytes((corpus_dir / name).read_bytes(), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    plain, html = _bodies(msg)
    sent = msg["Date"].datetime
    return read_reply(
        None if html_only else plain,
        html,
        in_reply_to=msg["In-Reply-To"],
        references=tuple(str(msg.get("References", "")).split()),
        subject=str(msg["Subject"]),
        options=OPTIONS,
        today=sent.astimezone(SHANGHAI).date(),
    )


def _as_expected(reading: ReplyReading) -> dict[str, object]:
    return {
        "action": reading.action,
        "value": reading.value,
        "context": reading.context,
        "request": reading.request,
        "task": reading.task,
        "in_reply_to": reading.in_reply_to,
    }


@pytest.mark.parametrize("name", _reply_files())
def test_corpus_reply(corpus_dir: Path, name: str) -> None:
    expected = _expected()[name]["reply"]
    assert _as_expected(_read_corpus_file(corpus_dir, name)) == expected


def _files_with_html_alternative() -> list[str]:
    names = []
    for name in _reply_files():
        msg = email.message_from_bytes((CORPUS / name).read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        plain, html = _bodies(msg)
        if plain is not None and html is not None:
            names.append(name)
    return names


@pytest.mark.parametrize("name", _files_with_html_alternative())
def test_corpus_reply_read_from_its_html_alone(corpus_dir: Path, name: str) -> None:
    """The HTML alternative, quote cut and converted, reads as the plain text does."""
    expected = _expected()[name]["reply"]
    assert _as_expected(_read_corpus_file(corpus_dir, name, html_only=True)) == expected


def test_corpus_new_text_stops_above_the_quote(corpus_dir: Path) -> None:
    reading = _read_corpus_file(corpus_dir, "rep_05_ack_zh_foxmail_qq_separator.eml")
    assert reading.new_text == "收到，周三前开通。"
    reading = _read_corpus_file(corpus_dir, "rep_17_evaluate_accept_zh_outlook_html.eml")
    assert reading.new_text == "受理 牵头部门：财务部 配合部门：信息技术部、采购部\n\n王敏"


# --- quote markers of each client ------------------------------------------------------

QUOTE_STYLES = [
    (
        "outlook zh, rule + 发件人",
        "确认\n\n罗斌\n\n________________________________\n发件人: 协调办公室 <coord@example.com>\n"
        "发送时间: 2026年3月19日 10:12\n收件人: 罗斌\n主题: [纪要] XT-2026-0007\n\n确认 同意",
        "确认\n\n罗斌",
    ),
    (
        "outlook en, rule + From",
        "AGREE.\n\nDaniel\n\n________________________________\nFrom: Coordination Office\n"
        "Sent: Friday, March 20, 2026 9:30 AM\nTo: Daniel\nSubject: [MINUTES]\n\nReply CONFIRM",
        "AGREE.\n\nDaniel",
    ),
    (
        "outlook zh, 发件人 block without a rule",
        "收到\n发件人: 协调办公室 <coord@example.com>\n发送时间: 2026年3月20日 14:00\n收件人: x",
        "收到",
    ),
    (
        "outlook en, From block without a rule",
        "ACK\n\nFrom: Coordination Office <coord@example.com>\nDate: Monday, March 23\n\nACK - …",
        "ACK",
    ),
    (
        "outlook old zh, -----原始邮件-----",
        "异议：太紧\n\n-----原始邮件-----\n发件人：协调办公室 [mailto:coord@example.com]\n确认",
        "异议：太紧",
    ),
    (
        "outlook old en, -----Original Message-----",
        "DONE\n\n-----Original Message-----\nFrom: Coordination Office [mailto:coord@example.com]",
        "DONE",
    ),
    (
        "foxmail / qq separator",
        "收到，周三前开通。\n\n\n------------------ 原始邮件 ------------------\n"
        '发件人: "协调办公室"<coord@example.com>;\n完成',
        "收到，周三前开通。",
    ),
    (
        "qq separator with no-break spaces",
        "收到\n------------------\u00a0原始邮件\u00a0------------------\n完成",
        "收到",
    ),
    ("short 原始邮件 separator", "批准\n----- 原始邮件 -----\n同意", "批准"),
    (
        "foxmail header, full-width colons and spaces",
        "退回：重复需求\n\n \n发件人： coord@example.com\n发送时间： 2026-03-17 10:02\n"
        "收件人： zhong.lin@example.com\n主题： [评估] XT-2026-0019",
        "退回：重复需求",
    ),
    (
        "dingtalk, long rule + 发件人 + 主　题",
        "批准\n\n" + "-" * 66 + "\n发件人：协调办公室 <coord@example.com>\n"
        "发送时间：2026年3月17日(星期二) 10:00\n主\u3000题：[审批] XT-2026-0015",
        "批准",
    ),
    (
        "lark header block",
        "确认\n\n发件人: 协调办公室 <coord@example.com>\n发送时间: 2026年3月19日 10:12\n"
        "收件人: 罗斌 <luo.bin@example.com>\n主题: [纪要]",
        "确认",
    ),
    (
        "outlook for mac zh, 发件人 + 日期",
        "同意\n\n发件人: 协调办公室 <coord@example.com>\n"
        "日期: 2026年3月19日 星期四 10:12\n至: 罗斌",
        "同意",
    ),
    (
        "163 在 … 写道：",
        '申请改期：2026/4/3 理由\n\n吴婷\n\n在 2026-03-20 09:05:55，"协调办公室" '
        "<coord@example.com> 写道：\n>吴婷 您好：\n>收到 —— 确认接收任务",
        "申请改期：2026/4/3 理由\n\n吴婷",
    ),
    (
        "gmail zh …于…写道：",
        "进度：60% 说明\n\n许诺\n\n\n"
        "协调办公室 <coord@example.com> 于2026年3月19日周四 10:20写道：\n\n> 进度：百分比 说明",
        "进度：60% 说明\n\n许诺",
    ),
    (
        "gmail en On … wrote:",
        "OBJECT: item 2\n\nHelen\n\n\nOn Fri, Mar 20, 2026 at 9:30 AM Coordination Office "
        "<coord@example.com> wrote:\n\n> Reply CONFIRM (or AGREE)",
        "OBJECT: item 2\n\nHelen",
    ),
    (
        "gmail en attribution wrapped on two lines",
        "CONFIRM\n\nOn Fri, Mar 20, 2026 at 9:30 AM Coordination Office <\n"
        "coord@example.com> wrote:\n\n> CONFIRM",
        "CONFIRM",
    ),
    (
        "apple en, quoted attribution",
        "ACK\n\nMark\n\n\n"
        "> On Mar 23, 2026, at 9:00, Coordination Office <coord@example.com> wrote:\n"
        "> \n> ACK - you accept the task",
        "ACK\n\nMark",
    ),
    (
        "apple zh, quoted attribution",
        "完成\n\n林晓\n\n\n"
        "> 2026年3月19日 10:15，协调办公室 <coord@example.com> 写道：\n> 完成 —— 提交",
        "完成\n\n林晓",
    ),
    (
        "thunderbird en",
        "Accept\n\nKevin\n\n\nOn 4/3/26 10:00 AM, Coordination Office wrote:\n> Reply ACCEPT",
        "Accept\n\nKevin",
    ),
    (
        "thunderbird zh",
        "验收通过。\n\n孙浩\n\n\n"
        "在 2026/4/2 16:30, 协调办公室 写道:\n> 请在回复正文第一行写“验收通过”",
        "验收通过。\n\n孙浩",
    ),
    (
        "bottom-posted below a > quote",
        "On Fri, Mar 20, 2026 at 9:30 AM Coordination Office wrote:\n"
        "> Reply CONFIRM\n\nCONFIRM\n\nKim",
        "CONFIRM\n\nKim",
    ),
    (
        "From: inside a sentence is not a quote",
        "From: the finance side we agree.\nThanks\nLi",
        "From: the finance side we agree.\nThanks\nLi",
    ),
    (
        "a dashed rule alone is not a quote",
        "CONFIRM\n----------\nKim Lee\nSales",
        "CONFIRM\n----------\nKim Lee\nSales",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [(t, e) for _, t, e in QUOTE_STYLES], ids=[n for n, _, _ in QUOTE_STYLES]
)
def test_new_text_ends_at_the_first_quote_marker(text: str, expected: str) -> None:
    assert new_text(text) == expected


HTML_QUOTES = [
    (
        "gmail div.gmail_quote",
        '<div dir="ltr"><div>第4项我需要再确认一下。</div></div><br><div class="gmail_quote '
        'gmail_quote_container"><div class="gmail_attr">罗斌 于2026年3月19日写道：<br></div>'
        '<blockquote class="gmail_quote"><div>确认</div></blockquote></div>',
        "第4项我需要再确认一下。",
    ),
    (
        "outlook #appendonsend + #divRplyFwdMsg",
        '<div class="WordSection1"><p class="MsoNormal">Approve.<o:p></o:p></p>'
        '<p class="MsoNormal"><o:p>&nbsp;</o:p></p><p>Richard</p><div id="appendonsend"></div>'
        '<hr><div id="divRplyFwdMsg"><b>From:</b> Coordination Office<br><b>Sent:</b> x</div>'
        "<div>Reply APPROVE</div></div>",
        "Approve.\n\nRichard",
    ),
    (
        "outlook #divRplyFwdMsg after <hr>",
        '<p>DONE</p><hr><div id="divRplyFwdMsg"><b>From:</b> x</div><p>DONE - finished</p>',
        "DONE\n----------",
    ),
    (
        "outlook desktop reply divider",
        '<p>批准</p><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm '
        '0cm"><p><b>发件人:</b> 协调办公室</p></div><p>请回复“同意”</p>',
        "批准",
    ),
    (
        "apple blockquote type=cite",
        '<div>完成</div><div><br><blockquote type="cite"><div>2026年3月19日 写道：</div>'
        "<div>完成 —— 提交</div></blockquote></div>",
        "完成",
    ),
    (
        "qq / exmail 原始邮件 div",
        '<div>退回：尺寸不符</div><div><br></div><div style="font-size: 12px;">'
        "------------------&nbsp;原始邮件&nbsp;------------------</div><div><b>发件人:</b>&nbsp;"
        "协调办公室</div><div>验收通过</div>",
        "退回：尺寸不符",
    ),
    (
        "coremail blockquote#isReplyContent after <pre> attribution",
        "<div>申请改期：2026/4/3 理由</div><br><pre><br>"
        "在 2026-03-20 09:05:55，&quot;协调办公室&quot; &lt;coord@example.com&gt; 写道：<br></pre>"
        '<blockquote id="isReplyContent">'
        "<div>收到</div></blockquote>",
        "申请改期：2026/4/3 理由",
    ),
    (
        "thunderbird moz-cite-prefix",
        '<p>Accept</p><div class="moz-cite-prefix">On 4/3/26 10:00 AM, Office wrote:<br></div>'
        '<blockquote type="cite">Reply ACCEPT</blockquote>',
        "Accept",
    ),
    (
        "lark quote wrapper",
        '<div>确认</div><div class="history-quote-wrapper"><div>发件人: 协调办公室</div>'
        "<div>确认</div></div>",
        "确认",
    ),
    (
        "style and head are dropped, entities unescaped",
        "<html><head><title>t</title><style>p {color: red}</style></head><body>"
        "<p>OBJECT: a &amp; b &lt;c&gt;</p><script>var x = 1;</script></body></html>",
        "OBJECT: a & b <c>",
    ),
]


@pytest.mark.parametrize(
    ("html", "expected"), [(h, e) for _, h, e in HTML_QUOTES], ids=[n for n, _, _ in HTML_QUOTES]
)
def test_html_only_reply_new_text(html: str, expected: str) -> None:
    assert _reply(None, MINUTES_ID, html=html).new_text == expected


def test_html_to_text_lines() -> None:
    html = "<div>a<br>b</div><div><br></div><div>&nbsp;</div><p>c  \n d</p><ul><li>e</li></ul>"
    assert html_to_text(html) == "a\nb\n\n\nc d\ne"


def test_html_only_keyword_inside_blockquote_is_not_read() -> None:
    html = (
        "<div>第4项的截止时间我需要再确认一下。</div>"
        "<blockquote><div>确认</div><div>罗斌</div></blockquote>"
    )
    assert _reply(None, MINUTES_ID, html=html).action == "none"
    assert _reply(None, MINUTES_ID, html=html.replace("第4项", "确认。第4项")).action == "confirm"


def test_empty_plain_text_falls_back_to_html() -> None:
    reading = _reply("\n \n", APPROVAL_ID, html="<p>批准</p><blockquote>驳回：x</blockquote>")
    assert (reading.action, reading.new_text) == ("approve", "批准")


# --- the keyword rule ------------------------------------------------------------------

KEYWORD_CASES = [
    ("greeting then keyword", MINUTES_ID, "王经理您好，\n\n确认，纪要无补充。\n\n刘洋", "confirm"),
    ("english greeting then keyword", MINUTES_ID, "Hi Mr. Li,\n\nAGREE.\n\nDaniel", "confirm"),
    ("keyword on the third line", MINUTES_ID, "王经理：\n您好！\n同意\n", "confirm"),
    ("keyword on the fourth line", MINUTES_ID, "王经理：\n您好！\n已阅。\n确认\n", "none"),
    (
        "keyword only in the quote",
        MINUTES_ID,
        "截止时间我需要再确认一下。\n\n罗斌 于2026年3月19日写道：\n> 确认\n",
        "none",
    ),
    ("不同意 is not 同意", MINUTES_ID, "不同意，第4项截止时间太紧。\n", "none"),
    ("不同意 stops the scan", MINUTES_ID, "不同意\n同意延期后的安排\n", "none"),
    ("无异议 confirms", MINUTES_ID, "无异议\n", "confirm"),
    ("Disagree is not AGREE", MINUTES_ID, "Disagree with item 2.\n", "none"),
    ("Agreed runs on into a letter", MINUTES_ID, "Agreed, thanks\n", "none"),
    ("agree in lower case", MINUTES_ID, "agree\n", "confirm"),
    ("AGREE followed by punctuation", MINUTES_ID, "AGREE. Thanks\n", "confirm"),
    ("confirm in minutes", MINUTES_ID, "确认\n", "confirm"),
    ("确认收到 is not the minutes' 确认", MINUTES_ID, "确认收到，稍后回复意见\n", "none"),
    ("确认收到 acknowledges a task", TASK_ID, "确认收到\n", "ack"),
    ("收到 acknowledges a task", TASK_ID, "收到，周三前开通。\n", "ack"),
    ("确认 alone does not acknowledge a task", TASK_ID, "确认\n", "none"),
    ("没收到 is not 收到", TASK_ID, "没收到附件，请重发。\n", "none"),
    ("Acknowledged is not ACK", TASK_ID, "Acknowledged\n", "none"),
    ("ACK with a dash", TASK_ID, "ACK - will do\n", "ack"),
    ("full-width ACK", TASK_ID, "ＡＣＫ\n", "ack"),
    ("完成 in a task", TASK_ID, "完成\n交付物已上传\n", "done"),
    ("未完成 is not 完成", TASK_ID, "未完成，还需要两天\n", "none"),
    ("minutes keyword in a task", TASK_ID, "同意\n", "none"),
    ("accept a deliverable", DELIVERABLE_ID, "Accept\n", "accept"),
    ("验收通过", DELIVERABLE_ID, "验收通过。\n", "accept"),
    ("批准 approves a plan", APPROVAL_ID, "批准\n", "approve"),
    ("同意 approves a plan", APPROVAL_ID, "同意\n", "approve"),
    ("Approved runs on", APPROVAL_ID, "Approved\n", "none"),
    ("不批准", APPROVAL_ID, "不批准\n", "none"),
    ("同意改期 in a date change", DATECHANGE_ID, "同意改期\n", "approve_date"),
    ("APPROVE in a date change", DATECHANGE_ID, "APPROVE\n", "approve_date"),
    ("不同意改期 in a date change", DATECHANGE_ID, "不同意改期：工期不能再延\n", "reject_date"),
    ("no keyword at all", TASK_ID, "好的，知道了\n", "none"),
    ("empty reply", TASK_ID, "", "none"),
]


@pytest.mark.parametrize(
    ("in_reply_to", "text", "action"),
    [(i, t, a) for _, i, t, a in KEYWORD_CASES],
    ids=[n for n, _, _, _ in KEYWORD_CASES],
)
def test_keyword_rule(in_reply_to: str, text: str, action: str) -> None:
    assert _reply(text, in_reply_to).action == action


VALUE_CASES: list[tuple[str, str, str, str, object]] = [
    ("confirm has no value", MINUTES_ID, "确认，纪要无补充。", "confirm", None),
    ("object with a reason", MINUTES_ID, "异议：第2项太紧。", "object", "第2项太紧。"),
    ("有异议 with a reason", MINUTES_ID, "有异议 第2项太紧", "object", "第2项太紧"),
    ("object without a reason", MINUTES_ID, "OBJECT", "object", None),
    (
        "reschedule, slashes",
        TASK_ID,
        "申请改期：2026/4/3 供应商回执未到",
        "reschedule",
        {"date": "2026-04-03", "reason": "供应商回执未到"},
    ),
    (
        "reschedule, 年月日 with 前",
        TASK_ID,
        "申请改期：2026年4月10日前 设备未到货",
        "reschedule",
        {"date": "2026-04-10", "reason": "设备未到货"},
    ),
    (
        "reschedule, relative date rolls to next year",
        TASK_ID,
        "申请改期：3月1日 春节后再做",
        "reschedule",
        {"date": "2027-03-01", "reason": "春节后再做"},
    ),
    (
        "reschedule, relative date this year",
        TASK_ID,
        "RESCHEDULE: 4月3日 waiting for the vendor",
        "reschedule",
        {"date": "2026-04-03", "reason": "waiting for the vendor"},
    ),
    (
        "reschedule, impossible date",
        TASK_ID,
        "RESCHEDULE: 2026-06-31 vendor",
        "reschedule",
        {"date": None, "reason": "vendor"},
    ),
    (
        "reschedule, no date",
        TASK_ID,
        "申请改期：下周五前，设备未到",
        "reschedule",
        {"date": None, "reason": "下周五前，设备未到"},
    ),
    (
        "progress",
        TASK_ID,
        "进度：60% 英文版已完成",
        "progress",
        {"percent": 60, "note": "英文版已完成"},
    ),
    (
        "progress, full-width percent",
        TASK_ID,
        "PROGRESS: 40％",
        "progress",
        {"percent": 40, "note": None},
    ),
    ("risk", TASK_ID, "风险：供应商延期交货", "risk", "供应商延期交货"),
    ("RISK", TASK_ID, "RISK: vendor is late", "risk", "vendor is late"),
    ("done has no value", TASK_ID, "DONE - report uploaded", "done", None),
    ("return a deliverable", DELIVERABLE_ID, "退回：尺寸不符", "return", "尺寸不符"),
    (
        "evaluate, zh",
        EVALUATION_ID,
        "受理 牵头部门：财务部 配合部门：信息技术部、采购部",
        "evaluate_accept",
        {"lead": "财务部", "support": ["信息技术部", "采购部"]},
    ),
    (
        "evaluate, zh with commas",
        EVALUATION_ID,
        "受理，牵头部门：财务部，配合部门：信息技术部，采购部。",
        "evaluate_accept",
        {"lead": "财务部", "support": ["信息技术部", "采购部"]},
    ),
    (
        "evaluate, en",
        EVALUATION_ID,
        "ACCEPT lead: IT Department support: Finance Department, Overseas Business",
        "evaluate_accept",
        {"lead": "IT Department", "support": ["Finance Department", "Overseas Business"]},
    ),
    ("evaluation 退回 rejects", EVALUATION_ID, "退回：属于日常采购", "reject", "属于日常采购"),
    ("evaluation RETURN rejects", EVALUATION_ID, "RETURN: duplicate", "reject", "duplicate"),
    ("approval reject", APPROVAL_ID, "驳回：预算已分配", "reject", "预算已分配"),
    ("approval REJECT", APPROVAL_ID, "REJECT: no budget", "reject", "no budget"),
    (
        "meeting move",
        MEETING_ID,
        "改期：2026-03-21 14:00",
        "reschedule_meeting",
        "2026-03-21T14:00",
    ),
    (
        "meeting MOVE, afternoon",
        MEETING_ID,
        "MOVE: 2026/3/21 下午2点半",
        "reschedule_meeting",
        "2026-03-21T14:30",
    ),
    ("meeting move without a time", MEETING_ID, "改期：3月21日", "reschedule_meeting", None),
    (
        "notice resolved, zh",
        NOTICE_ID,
        "解决：更换备用供应商 新期限：2026-04-10",
        "resolve",
        {"measures": "更换备用供应商", "due": "2026-04-10", "owner": None},
    ),
    (
        "notice resolved, en",
        NOTICE_ID,
        "RESOLVED: switched to the backup vendor; due: 2026/4/10",
        "resolve",
        {"measures": "switched to the backup vendor", "due": "2026-04-10", "owner": None},
    ),
    (
        "notice resolved with a new owner, owner first",
        NOTICE_ID,
        "解决：调整分工；新负责人：王强 wang.qiang@example.com；新期限：4月24日",
        "resolve",
        {"measures": "调整分工", "due": "2026-04-24", "owner": "王强 wang.qiang@example.com"},
    ),
    (
        "notice resolved with a new owner, en",
        NOTICE_ID,
        "RESOLVED: vendor swapped, due: 2026-04-30 new owner: li.na@example.com",
        "resolve",
        {"measures": "vendor swapped", "due": "2026-04-30", "owner": "li.na@example.com"},
    ),
    (
        "notice resolved, measures only",
        NOTICE_ID,
        "解决：供应商已补发物料",
        "resolve",
        {"measures": "供应商已补发物料", "due": None, "owner": None},
    ),
    (
        "notice resolved, unreadable deadline",
        NOTICE_ID,
        "解决：再议 新期限：下周",
        "resolve",
        {"measures": "再议", "due": None, "owner": None, "due_text": "下周"},
    ),
    (
        "date change refused with a reason",
        DATECHANGE_ID,
        "REJECT: the launch date is fixed",
        "reject_date",
        "the launch date is fixed",
    ),
]


@pytest.mark.parametrize(
    ("in_reply_to", "text", "action", "value"),
    [(i, t, a, v) for _, i, t, a, v in VALUE_CASES],
    ids=[n for n, _, _, _, _ in VALUE_CASES],
)
def test_keyword_value(in_reply_to: str, text: str, action: str, value: object) -> None:
    reading = _reply(text, in_reply_to, today=date(2026, 3, 20))
    assert (reading.action, reading.value) == (action, value)


def test_relative_date_needs_the_message_date() -> None:
    reading = _reply("申请改期：4月3日 理由", TASK_ID, today=None)
    assert reading.value == {"date": None, "reason": "理由"}


# --- context ---------------------------------------------------------------------------


def test_context_from_in_reply_to() -> None:
    reading = _reply("收到", TASK_ID, references=(MINUTES_ID,))
    assert (reading.context, reading.request, reading.task, reading.in_reply_to) == (
        "task",
        "XT-2026-0018",
        "RW-0010",
        TASK_ID,
    )


def test_context_from_references_when_in_reply_to_is_a_colleague() -> None:
    reading = _reply("确认", FOREIGN_ID, references=(MINUTES_ID, FOREIGN_ID))
    assert (reading.context, reading.request, reading.in_reply_to) == (
        "minutes",
        "XT-2026-0007",
        FOREIGN_ID,
    )
    assert reading.action == "confirm"


def test_nearest_reference_wins() -> None:
    reading = _reply("ACK", None, references=(MINUTES_ID, TASK_ID, FOREIGN_ID))
    assert (reading.context, reading.task, reading.action) == ("task", "RW-0010", "ack")


def test_id_beats_an_edited_subject() -> None:
    reading = _reply("批准", APPROVAL_ID, subject="Re: [纪要] XT-2026-0099 something else")
    assert (reading.context, reading.request, reading.action) == (
        "approval",
        "XT-2026-0023",
        "approve",
    )


@pytest.mark.parametrize(
    ("subject", "context", "number", "task"),
    [
        ("回复：[任务] XT-2026-0018/RW-0012 培训", "task", "XT-2026-0018", "RW-0012"),
        ("答复: 【纪要】XT-2026-0007 协调会", "minutes", "XT-2026-0007", None),
        ("RE: [acceptance] XT-2026-0011/RW-0005 IdP", "deliverable", "XT-2026-0011", "RW-0005"),
        ("RE: [EVALUATION] XT-2026-0021 ERP", "evaluation", "XT-2026-0021", None),
        ("回复：[审批] XZ-2026-001 工位调整", "approval", "XZ-2026-001", None),
        ("Re: [任务] 2026-研发部-001/RW-0003 接口", "task", "2026-研发部-001", "RW-0003"),
        ("Re: lunch on Friday", None, None, None),
    ],
)
def test_context_from_subject_tag(
    subject: str, context: str | None, number: str | None, task: str | None
) -> None:
    reading = _reply("确认", None, subject=subject)
    assert (reading.context, reading.request, reading.task) == (context, number, task)
    if context is None:
        assert (reading.action, reading.value) == ("none", None)


@pytest.mark.parametrize(
    ("msg_id", "expected"),
    [
        (
            "<task.xz-2026-001.rw-0003.20260320.ab12@coord.example.com>",
            ("task", "XZ-2026-001", "RW-0003"),
        ),
        (
            "<minutes.2026-%e7%a0%94%e5%8f%91%e9%83%a8-001.v1.20260320@coord.example.com>",
            ("minutes", "2026-研发部-001", None),
        ),
        (
            "<EVALUATION.XT-2026-0015.20260316090014.k3f9@COORD.Example.COM>",
            ("evaluation", "XT-2026-0015", None),
        ),
        (
            "<invite.xt-2026-0007-kickoff.20260319103000@coord.example.com>",
            (None, "XT-2026-0007", None),
        ),
    ],
)
def test_context_from_id_forms(msg_id: str, expected: tuple[str | None, ...]) -> None:
    found = reply_context(msg_id, (), "Re: [审批] XT-2026-0001", "coord.example.com")
    assert (found.context, found.request, found.task) == expected


def test_message_id_domain_comes_from_the_options() -> None:
    options = ParseOptions(
        mailbox_address="xt@corp.example.cn", message_id_domain="xt.corp.example.cn"
    )
    ours = "<approval.xt-2026-0030.20260401.zz@xt.corp.example.cn>"
    reading = _reply("批准", ours, options=options, subject="Re: hello")
    assert (reading.context, reading.request, reading.action) == (
        "approval",
        "XT-2026-0030",
        "approve",
    )
    # The default domain is not ours under these options: the subject decides.
    reading = _reply("批准", APPROVAL_ID, options=options, subject="Re: hello")
    assert (reading.context, reading.action) == (None, "none")


def test_unknown_context_of_ours_gives_no_action() -> None:
    reading = _reply("改期：2026-03-25 10:00", "<invite.xt-2026-0007-kickoff.1@coord.example.com>")
    assert (reading.context, reading.action, reading.value) == (None, "none", None)


# --- request numbers in the configured profile's numbering -----------------------------------

INTRA = number_reader("XZ-{year}-{seq:03d}")
TASK_RECORD = number_reader("{year}-{department}-{seq:03d}")


@pytest.mark.parametrize(
    ("subject", "numbers", "number", "task"),
    [
        ("回复：[审批] XZ-2026-001 工位调整", INTRA, "XZ-2026-001", None),
        ("Re: [任务] 2026-FIN-001/RW-0003 接口", TASK_RECORD, "2026-FIN-001", "RW-0003"),
        ("Re: [任务] 2026-财务-012/RW-0003 接口", TASK_RECORD, "2026-财务-012", "RW-0003"),
        ("回复：[审批] ＸＺ－２０２６－００１ 工位调整", INTRA, "XZ-2026-001", None),  # full-width
        ("回复：[审批] XZ-2026-001 工位调整", None, "XZ-2026-001", None),  # the default shapes
        # Someone else's number before ours: only the profile's numbering is read.
        ("Re: 发票 INV-2026-0042 已付 [审批] XZ-2026-001", INTRA, "XZ-2026-001", None),
        ("Re: 发票 INV-2026-0042 已付 [审批] XZ-2026-001", None, "INV-2026-0042", None),
        ("Re: ISO-9001-2015 [审批] 2026-FIN-001", TASK_RECORD, "2026-FIN-001", None),
        # Dates, phone numbers and task numbers are no request numbers.
        ("Re: [任务] 2026-11-21 会议 0755-8888-1234 RW-0003", TASK_RECORD, None, "RW-0003"),
        ("Re: [任务] 2026-11-21 会议 0755-8888-1234 RW-0003", INTRA, None, "RW-0003"),
        # An older request in the default numbering, under any profile.
        ("Re: [纪要] XT-2026-0007 协调会", TASK_RECORD, "XT-2026-0007", None),
    ],
)
def test_request_from_the_subject_in_a_profiles_numbering(
    subject: str, numbers: re.Pattern[str] | None, number: str | None, task: str | None
) -> None:
    found = reply_context(None, (), subject, "coord.example.com", numbers)
    assert (found.request, found.task) == (number, task)


def test_request_of_an_id_of_ours_in_a_profiles_numbering() -> None:
    """An id of ours of no known context (an invitation) names the request in its text."""
    invite = "<invite.2026-fin-001-kickoff.20260319103000@coord.example.com>"
    found = reply_context(invite, (), "Re: hello", "coord.example.com", TASK_RECORD)
    assert (found.context, found.request) == (None, "2026-FIN-001")
    # Of a known context, the id's second part is the number whatever its shape.
    task = "<task.2026-%e8%b4%a2%e5%8a%a1-001.rw-0003.20260320.ab12@coord.example.com>"
    found = reply_context(task, (), "Re: hello", "coord.example.com", INTRA)
    assert (found.context, found.request, found.task) == ("task", "2026-财务-001", "RW-0003")


def test_read_reply_reads_the_number_with_the_options_reader() -> None:
    options = ParseOptions(request_number=TASK_RECORD)
    subject = "回复：订单 PO-2026-1234 [评估] 2026-财务-001 供应商对账"
    reading = _reply("受理", None, subject=subject, options=options)
    assert (reading.context, reading.request, reading.action) == (
        "evaluation",
        "2026-财务-001",
        "evaluate_accept",
    )
    assert _reply("受理", None, subject=subject).request == "PO-2026-1234"


# --- robustness ------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=400), html=st.one_of(st.none(), st.text(max_size=400)))
def test_read_reply_never_fails(text: str, html: str | None) -> None:
    reading = _reply(text, MINUTES_ID, html=html)
    assert reading.context == "minutes"
    assert reading.action in {"confirm", "object", "none"}


@settings(max_examples=200, deadline=None)
@given(html=st.text(alphabet=st.sampled_from(list("<>/=\"' abpdivbrhq&;#x0-")), max_size=300))
def test_html_to_text_never_fails(html: str) -> None:
    assert isinstance(html_to_text(html, cut_quote=True), str)
