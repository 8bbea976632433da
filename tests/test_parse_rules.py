"""Table-driven tests of the parsing rules of the corpus README, one rule at a time."""

from __future__ import annotations

import base64
import re
from datetime import date

import pytest

from mail_parsers.dates import parse_date
from mail_parsers.decode import decode_bytes, decode_encoded_words, decode_header_value
from mail_parsers.fields import (
    REQUEST_LABELS,
    extract,
    parse_urgency,
    read_issue_fields,
    read_request_fields,
    split_list,
)
from mail_parsers.headers import parse_address_list
from mail_parsers.message import parse_message
from mail_parsers.mime import parse_header_params
from mail_parsers.minutes import parse_action_item, parse_person, read_minutes_fields
from mail_parsers.model import FieldError, IssueFields, ParseOptions, Person, RequestFields
from mail_parsers.review import read_review_fields
from mail_parsers.text import html_to_text, unflow
from workflow.numbering import number_reader

#: Readers of the shipped profiles' numberings, as the daemon passes them in ParseOptions.
INTRA = number_reader("XZ-{year}-{seq:03d}")
TASK_RECORD = number_reader("{year}-{department}-{seq:03d}")

TODAY = date(2026, 3, 12)

# --- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "today", "expected"),
    [
        ("2026-03-31", TODAY, date(2026, 3, 31)),
        ("2026/3/31", TODAY, date(2026, 3, 31)),
        ("2026/03/31", TODAY, date(2026, 3, 31)),
        ("2026年3月31日", TODAY, date(2026, 3, 31)),
        ("2026年4月30日前", TODAY, date(2026, 4, 30)),
        ("2026 年 4 月 8 日", TODAY, date(2026, 4, 8)),
        ("２０２６年４月８日", TODAY, date(2026, 4, 8)),  # full-width digits
        ("截止 2026-04-03 18:00", TODAY, date(2026, 4, 3)),
        # Year-less: the next such date on or after the local date of the Date header.
        ("3月31日", TODAY, date(2026, 3, 31)),
        ("3月12日", TODAY, date(2026, 3, 12)),
        ("3月11日", TODAY, date(2027, 3, 11)),
        ("1月5日", date(2026, 12, 20), date(2027, 1, 5)),
        ("2月29日", date(2026, 3, 1), date(2028, 2, 29)),
        ("3月31日", None, None),  # no Date header: no reference day
        # Not dates of the accepted forms.
        ("下周五前", TODAY, None),
        ("6月底", TODAY, None),
        ("ASAP", TODAY, None),
        ("2026.03.31", TODAY, None),
        ("2026-3/31", TODAY, None),
        ("", TODAY, None),
        # Impossible dates never roll over.
        ("2026-06-31", TODAY, None),
        ("2026/2/29", TODAY, None),
        ("2026年13月1日", TODAY, None),
        ("2月30日", TODAY, None),
        ("2026-06-31, 2026-07-01", TODAY, None),  # the first date-like text decides
    ],
)
def test_parse_date(value: str, today: date | None, expected: date | None) -> None:
    assert parse_date(value, today) == expected


# --- labels and value extent --------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("需求名称：A", "title"),
        ("需求名称:A", "title"),
        ("需求名称 : A", "title"),
        ("  需求名称：A", "title"),
        ("\u00a0\u00a0期望完成时间：2026-04-08", "due"),
        ("\u3000紧急程度：一般", "urgency"),
        ("Title: A", "title"),
        ("TITLE: A", "title"),
        ("title : A", "title"),
        ("Ｔｉｔｌｅ：A", "title"),  # full-width letters
        ("Requesting Department: IT", "requesting_department"),
        ("Acceptance criteria: x", "acceptance_criteria"),
        ("Due date: 2026-04-01", "due"),
        ("Priority: urgent", "urgency"),
        ("标题：A", "title"),
        # Not labels.
        ("现状：三端共有埋点事件约480个", None),
        ("IT: 1 developer", None),
        ("王经理好：", None),
        ("请注意需求名称：A", None),  # a label only counts at the start of a line
        ("需求名称 A", None),
        ("", None),
    ],
)
def test_label_lines(line: str, field: str | None) -> None:
    matched = REQUEST_LABELS.match(line)
    assert (matched[0] if matched else None) == field


def _values(text: str) -> dict[str, str | None]:
    return {k: v.value for k, v in extract(text.split("\n"), REQUEST_LABELS).items()}


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        # A value continues on the following lines...
        (
            "背景与目标：第一行\n现状：第二行\n目标：第三行",
            "background",
            "第一行\n现状：第二行\n目标：第三行",
        ),
        # ...until the next label line,
        ("背景与目标：甲\n乙\n期望完成时间：2026-04-01", "background", "甲\n乙"),
        # a blank line (white space includes NBSP and U+3000),
        ("验收标准：甲\n\n谢谢！", "acceptance_criteria", "甲"),
        ("验收标准：甲\n\u00a0\n谢谢！", "acceptance_criteria", "甲"),
        ("验收标准：甲\n\u3000 \n谢谢！", "acceptance_criteria", "甲"),
        # a signature separator,
        ("验收标准：甲\n乙\n--\n林晓", "acceptance_criteria", "甲\n乙"),
        ("验收标准：甲\n-- \n林晓", "acceptance_criteria", "甲"),
        ("验收标准：甲\n————————————\n张喆", "acceptance_criteria", "甲"),
        ("验收标准：甲\n____\n张喆", "acceptance_criteria", "甲"),
        ("验收标准：甲\n~~~~\n张喆", "acceptance_criteria", "甲"),
        ("验收标准：甲\n---\n张喆", "acceptance_criteria", "甲\n---\n张喆"),  # 3 is not 4
        # the start of quoted text,
        ("验收标准：甲\n> 引用", "acceptance_criteria", "甲"),
        ("验收标准：甲\n-----原始邮件-----\n发件人：x", "acceptance_criteria", "甲"),
        ("验收标准：甲\n-----Original Message-----", "acceptance_criteria", "甲"),
        ("验收标准：甲\nFrom: a@example.com\nSent: Monday", "acceptance_criteria", "甲"),
        ("验收标准：甲\n发件人: 协调办公室\n发送时间: 2026年3月19日", "acceptance_criteria", "甲"),
        ("验收标准：甲\nOn Mon, Mar 9, 2026 Li wrote:", "acceptance_criteria", "甲"),
        ("验收标准：甲\n在 2026-03-20 09:05:55，协调办公室 写道：", "acceptance_criteria", "甲"),
        # or the end of the body. Lines are stripped and joined with \n.
        ("验收标准：  甲  \n  乙\u00a0", "acceptance_criteria", "甲\n乙"),
        # An empty label line takes the lines that follow it.
        ("背景与目标：\n甲\n乙", "background", "甲\n乙"),
        ("背景与目标：\n\n甲", "background", None),
        # The first occurrence of a label wins.
        ("需求名称：甲\n需求名称：乙", "title", "甲"),
        # Text before the first label is ignored.
        ("各位好：\n需求名称：甲", "title", "甲"),
    ],
)
def test_value_extent(text: str, field: str, expected: str | None) -> None:
    assert _values(text).get(field) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("一般", "normal"),
        ("紧急", "urgent"),
        ("特急", "critical"),
        ("normal", "normal"),
        ("Urgent", "urgent"),
        ("CRITICAL", "critical"),
        (" 紧急\u00a0", "urgent"),
        ("非常紧急", None),  # never matched by prefix or substring
        ("紧急！", None),
        ("高", None),
        ("ASAP", None),
        ("urgently", None),
    ],
)
def test_urgency(value: str, expected: str | None) -> None:
    assert parse_urgency(value) == expected


def test_urgency_absent_is_normal_and_invalid_is_reported() -> None:
    base = "需求名称：A\n发起部门：B\n接收部门：C\n背景与目标：D\n期望完成时间：2026-04-01"
    fields, errors = read_request_fields(base, TODAY)
    assert fields.urgency == "normal" and errors == ()
    fields, errors = read_request_fields(base + "\n紧急程度：非常紧急", TODAY)
    assert fields.urgency is None
    assert errors == (FieldError("urgency", "invalid_urgency", "非常紧急"),)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("设计中心、销售运营部、采购部", ("设计中心", "销售运营部", "采购部")),
        ("行政部,信息技术部", ("行政部", "信息技术部")),
        ("行政部，采购部", ("行政部", "采购部")),
        ("质量部;财务部", ("质量部", "财务部")),
        ("信息技术部；人力资源部", ("信息技术部", "人力资源部")),
        ("IT Department, Legal Department", ("IT Department", "Legal Department")),
        (" A 、、 B ", ("A", "B")),
        ("", ()),
    ],
)
def test_split_list(value: str, expected: tuple[str, ...]) -> None:
    assert split_list(value) == expected


def test_request_errors() -> None:
    text = "需求名称：A\n发起部门：B\n期望完成时间：下周五前\n"
    fields, errors = read_request_fields(text, TODAY)
    assert isinstance(fields, RequestFields)
    assert fields.due is None and fields.receiving_departments == ()
    assert set(errors) == {
        FieldError("receiving_departments", "missing"),
        FieldError("background", "missing"),
        FieldError("due", "invalid_date", "下周五前"),
    }
    _, errors = read_request_fields("\n \u00a0\n", TODAY)
    assert FieldError("body", "empty") in errors


@pytest.mark.parametrize(
    ("text", "task", "request_id"),
    [
        ("所属任务：RW-0003\n问题描述：x", "RW-0003", None),
        ("Task: xt-2026-0011/rw-0005\nDescription: x", "RW-0005", "XT-2026-0011"),
        ("所属需求：XT-2026-0003\n问题描述：x", None, "XT-2026-0003"),
        ("所属任务：ＲＷ－０００７\n问题描述：x", "RW-0007", None),
    ],
)
def test_issue_references(text: str, task: str | None, request_id: str | None) -> None:
    fields, errors = read_issue_fields(text)
    assert (fields.task, fields.request) == (task, request_id)
    assert errors == ()


@pytest.mark.parametrize(
    ("text", "numbers", "task", "request_id"),
    [
        ("所属需求：XZ-2026-001\n问题描述：x", INTRA, None, "XZ-2026-001"),
        ("所属任务：XZ-2026-001/RW-0002\n问题描述：x", INTRA, "RW-0002", "XZ-2026-001"),
        ("Request: 2026-fin-003\nDescription: x", TASK_RECORD, None, "2026-FIN-003"),
        ("所属任务：2026-财务-001/RW-0002\n问题描述：x", TASK_RECORD, "RW-0002", "2026-财务-001"),
        ("所属需求：２０２６－财务－００１\n问题描述：x", TASK_RECORD, None, "2026-财务-001"),
        # The default numbering is read under every profile.
        ("所属需求：XT-2026-0003\n问题描述：x", TASK_RECORD, None, "XT-2026-0003"),
    ],
)
def test_issue_references_in_a_profiles_numbering(
    text: str, numbers: re.Pattern[str], task: str | None, request_id: str | None
) -> None:
    fields, errors = read_issue_fields(text, numbers)
    assert (fields.task, fields.request) == (task, request_id)
    assert errors == ()


@pytest.mark.parametrize(
    "reference",
    ["2026-11-21", "0755-8888-1234", "INV-2026-0042", "XZ-2026-001"],
)
def test_issue_reference_that_is_no_request_number(reference: str) -> None:
    """A date, a phone number or someone else's number is no reference; so is a number of
    another profile's numbering (here the task-record profile's reader)."""
    fields, errors = read_issue_fields(f"所属需求：{reference}\n问题描述：x", TASK_RECORD)
    assert fields.request is None
    assert FieldError("task", "missing", reference) in errors


def test_issue_without_a_reader_knows_the_default_numbering_only() -> None:
    fields, errors = read_issue_fields("所属需求：XZ-2026-001\n问题描述：x")
    assert fields.request is None
    assert FieldError("task", "missing", "XZ-2026-001") in errors


def test_issue_in_a_profiles_numbering_through_parse_message() -> None:
    raw = _mail("[问题] 接口文档缺失", "所属需求：2026-研发-004\n问题描述：接口文档缺失\n")
    parsed = parse_message(raw, ParseOptions(request_number=TASK_RECORD))
    assert parsed.kind == "issue"
    assert isinstance(parsed.fields, IssueFields)
    assert parsed.fields.request == "2026-研发-004"
    assert parse_message(raw).errors == (FieldError("task", "missing", "2026-研发-004"),)


REVIEW_SECTIONS = "成功经验：同步及时\n不足：材料不足\n改进措施：提前准备\n"


@pytest.mark.parametrize(
    ("subject", "label", "numbers", "request_id"),
    [
        ("[复盘] XZ-2026-001 复盘报告", "", INTRA, "XZ-2026-001"),
        ("[复盘]XZ-2026-001复盘报告", "", INTRA, "XZ-2026-001"),
        ("[复盘] 供应商对账", "所属需求：XZ-2026-002\n", INTRA, "XZ-2026-002"),
        ("[复盘] 2026-财务-001 复盘", "", TASK_RECORD, "2026-财务-001"),
        # The label wins over the subject.
        ("[REVIEW] 2026-FIN-001", "Request: 2026-FIN-002\n", TASK_RECORD, "2026-FIN-002"),
        ("[复盘] 2026-03-20 复盘会", "", TASK_RECORD, None),  # a date
        ("[复盘] XZ-2026-001", "", None, None),  # no reader: XT- only
    ],
)
def test_review_request_in_a_profiles_numbering(
    subject: str, label: str, numbers: re.Pattern[str] | None, request_id: str | None
) -> None:
    fields, errors = read_review_fields(label + REVIEW_SECTIONS, subject, numbers)
    assert fields.request == request_id
    assert errors == ()


@pytest.mark.parametrize(
    ("subject", "label", "numbers", "request_id"),
    [
        ("[纪要] XZ-2026-001 启动会纪要", "", INTRA, "XZ-2026-001"),
        ("[纪要] 启动会纪要", "所属需求：2026-FIN-001\n", TASK_RECORD, "2026-FIN-001"),
        ("[MINUTES] 2026-研发-002 kickoff", "", TASK_RECORD, "2026-研发-002"),
        ("[纪要] 2026-研发-002 启动会纪要", "", None, None),  # no reader: XT- only
    ],
)
def test_minutes_request_in_a_profiles_numbering(
    subject: str, label: str, numbers: re.Pattern[str] | None, request_id: str | None
) -> None:
    text = (
        label
        + "参会人员：赵磊、吴芳\n讨论要点：对账口径\n待办事项：\n"
        + "- 对账规则整理 | 负责人：李娜 li.na@example.com | 截止：2026-04-10 | 交付物：说明\n"
    )
    fields, errors = read_minutes_fields(text, subject, TODAY, numbers)
    assert fields.request == request_id
    assert (FieldError("request", "missing") in errors) == (request_id is None)


def test_issue_needs_a_reference_and_a_description() -> None:
    fields, errors = read_issue_fields("影响范围：x\n紧急程度：紧急")
    assert fields.urgency == "urgent"
    assert set(errors) == {FieldError("task", "missing"), FieldError("description", "missing")}


# --- minutes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("林晓 lin.xiao@example.com", Person("林晓", "lin.xiao@example.com")),
        ("许诺 <xu.nuo@example.org>", Person("许诺", "xu.nuo@example.org")),
        ("Helen Zhang <Helen.Zhang@Example.org>", Person("Helen Zhang", "helen.zhang@example.org")),
        ("lin.xiao@example.com", Person(None, "lin.xiao@example.com")),
        ("<lin.xiao@example.com>", Person(None, "lin.xiao@example.com")),
        ("林晓", Person("林晓", None)),
        ("", Person(None, None)),
    ],
)
def test_parse_person(text: str, expected: Person) -> None:
    assert parse_person(text) == expected


def test_action_item_parts_in_either_language_and_bar() -> None:
    line = (
        "- 检验记录电子化 ｜ 负责人：钱坤 qian.kun@example.com | Due: 3月30日 ｜ "
        "交付物：MES模块上线 | Collaborators: 何静 he.jing@example.cn、孙浩 sun.hao@example.cn"
        " | Acceptance: 法务部审核通过"
    )
    item, errors = parse_action_item(line, 1, date(2026, 3, 19))
    assert errors == []
    assert item.title == "检验记录电子化"
    assert item.owner == Person("钱坤", "qian.kun@example.com")
    assert item.due == date(2026, 3, 30)
    assert item.deliverable == "MES模块上线"
    assert item.collaborators == (
        Person("何静", "he.jing@example.cn"),
        Person("孙浩", "sun.hao@example.cn"),
    )
    assert item.acceptance == "法务部审核通过"
    assert item.line == line


def test_action_item_deliverable_keeps_commas() -> None:
    item, _ = parse_action_item(
        "- Login | Owner: Tom Li tom.li@example.com | Due: 2026/4/10 | "
        "Deliverable: Login page in English, Vietnamese and Thai",
        4,
        TODAY,
    )
    assert item.deliverable == "Login page in English, Vietnamese and Thai"


def test_action_item_problems_name_the_item() -> None:
    item, errors = parse_action_item("- 设备校准 | 负责人： | 截止：6月底", 2, TODAY)
    assert item.due is None
    assert {(e.field, e.code) for e in errors} == {
        ("action_items[2].owner", "missing"),
        ("action_items[2].due", "invalid_date"),
        ("action_items[2].deliverable", "missing"),
    }


# --- HTML to text --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<div>a</div><div>b</div>", "a\nb"),
        ("<div>a</div>\r\n<div><br></div>\r\n<div>b</div>", "a\n\nb"),
        ("<p>a<br>b</p>", "a\nb"),
        ("<div>a<br></div><div>b</div>", "a\nb"),
        ("<p><o:p>&nbsp;</o:p></p>", "\u00a0"),  # a block holding only &nbsp; is a blank line
        ("<div>&nbsp;&nbsp;期望完成时间：x</div>", "\u00a0\u00a0期望完成时间：x"),
        ("<head><title>T</title><style>p {}</style></head><body><p>x</p></body>", "x"),
        ("<script>if (a < b) {}</script><p>x</p>", "x"),
        ("<p>a</p><hr><p>b</p>", "a\n-----\nb"),
        ("<p>Tom &amp; Jerry &lt;x@y.z&gt;</p>", "Tom & Jerry <x@y.z>"),
        ("<p>a\r\n   b</p>", "a b"),
        ("<p><span>3</span>月<span>31</span>日</p>", "3月31日"),
        ("<ul><li>one</li><li>two</li></ul>", "one\ntwo"),
        ("<table><tr><td>k</td><td>v</td></tr></table>", "k v"),
        ("<pre>a\n  b</pre>", "a\n  b"),
        ("<!-- hidden --><p>x</p>", "x"),
        ("<blockquote><div>q</div></blockquote>", "q"),
        ("plain <b>bold</b>", "plain bold"),
        ("<p>unclosed", "unclosed"),
        ("<<<>>>", "<<<>>>"),
    ],
)
def test_html_to_text(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


def test_format_flowed_is_unwrapped() -> None:
    text = "Background: one \ntwo\n-- \nsig"
    assert unflow(text, delsp=False) == "Background: one two\n-- \nsig"
    assert unflow("ab \ncd", delsp=True) == "abcd"
    assert unflow("> quoted \n> more\nnew", delsp=False) == "> quoted more\nnew"


# --- charsets and headers ------------------------------------------------------------------


def test_gb2312_label_decodes_gbk_characters() -> None:
    data = "张喆 陈镕 堃 玥".encode("gbk")
    assert decode_bytes(data, "gb2312") == "张喆 陈镕 堃 玥"
    assert decode_bytes(data, "x-gbk") == "张喆 陈镕 堃 玥"
    word = "=?gb2312?B?" + base64.b64encode("张喆".encode("gbk")).decode() + "?="
    assert decode_encoded_words(word) == "张喆"


def test_decode_bytes_never_raises() -> None:
    assert decode_bytes(b"caf\xc3\xa9", None) == "café"
    assert decode_bytes("中文".encode("gbk"), "us-ascii") == "中文"
    assert decode_bytes(b"abc", "no-such-charset") == "abc"
    assert decode_bytes(b"\xff\xfe\x00", "utf-8")  # replacement characters, no exception


def test_encoded_words_split_inside_a_character() -> None:
    raw = "中文标题".encode()
    first = base64.b64encode(raw[:4]).decode()
    second = base64.b64encode(raw[4:]).decode()
    value = f"=?utf-8?B?{first}?=\r\n =?utf-8?B?{second}?="
    assert decode_header_value(value) == "中文标题"
    # White space between an encoded word and plain text is kept.
    assert decode_header_value("=?utf-8?Q?a?= b") == "a b"


def test_crlf_inside_an_encoded_word_is_kept() -> None:
    payload = base64.b64encode("[需求] x\r\nBcc: evil@example.net".encode()).decode()
    assert decode_header_value(f"=?UTF-8?B?{payload}?=") == "[需求] x\r\nBcc: evil@example.net"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Susan Qian <Susan.Qian@Example.org>", [("susan.qian@example.org", "Susan Qian")]),
        ('"=?GBK?B?zuLmww==?=" <wuting_cg@163.example.cn>', [("wuting_cg@163.example.cn", "吴婷")]),
        (
            '"=?gb18030?B?wqy35Q==?="<2864417305@qq.example.cn>',
            [("2864417305@qq.example.cn", "卢峰")],
        ),
        (
            "MAILER-DAEMON@mx.example.com (Mail Delivery System)",
            [("mailer-daemon@mx.example.com", None)],
        ),
        (
            'a@example.com, "Li, Na" <li.na@example.com>',
            [("a@example.com", None), ("li.na@example.com", "Li, Na")],
        ),
        ("undisclosed-recipients:;", []),
        ("", []),
    ],
)
def test_address_lists(value: str, expected: list[tuple[str, str | None]]) -> None:
    parsed = parse_address_list(value)
    assert [(a.email, a.name) for a in parsed.addresses] == expected
    assert not parsed.injected


def test_crlf_in_a_display_name_is_flagged() -> None:
    name = base64.b64encode(b"Li\r\nBcc: evil@example.net").decode()
    parsed = parse_address_list(f"=?utf-8?B?{name}?= <li@example.com>")
    assert parsed.injected
    assert parsed.addresses[0].email == "li@example.com"


def test_rfc2231_continuations_split_inside_utf8() -> None:
    value = "attachment;\r\n\tfilename*0*=UTF-8''%E6%9D%A5%E6%96%99%E5;\r\n filename*1*=%91%8A.pdf"
    disposition, params = parse_header_params(value)
    assert disposition == "attachment"
    assert params["filename"] == "来料告.pdf"
    _, params = parse_header_params(
        'application/pdf; name="=?gb2312?B?'
        + base64.b64encode("表-喆.docx".encode("gbk")).decode()
        + '?="'
    )
    assert params["name"] == "表-喆.docx"


# --- classification ------------------------------------------------------------------------

AUTH_OK = (
    "Authentication-Results: mx.example.com;\r\n\tdkim=pass header.d=example.com;\r\n"
    "\tdmarc=pass (p=quarantine) header.from=example.com\r\n"
)
REQUEST_BODY = (
    "需求名称：A\n发起部门：市场部\n接收部门：设计中心\n背景与目标：B\n期望完成时间：3月31日\n"
)


def _mail(
    subject: str,
    body: str = REQUEST_BODY,
    *,
    sender: str = "Li <li@example.com>",
    auth: str = AUTH_OK,
    extra: str = "",
    content_type: str = "text/plain; charset=utf-8",
) -> bytes:
    encoded = "=?utf-8?B?" + base64.b64encode(subject.encode()).decode() + "?="
    head = (
        f"{auth}From: {sender}\r\nTo: coord@example.com\r\nSubject: {encoded}\r\n"
        f"Date: Thu, 12 Mar 2026 08:20:45 +0000\r\nMessage-ID: <m1@example.com>\r\n{extra}"
        f"MIME-Version: 1.0\r\nContent-Type: {content_type}\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return head.encode() + re.sub(r"(?<!\r)\n", "\r\n", body).encode()


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (_mail("[需求] x"), "request"),
        (_mail("【需求】x"), "request"),
        (_mail("［REQUEST］ x"), "request"),
        (_mail("[request] x"), "request"),
        (_mail("[问题] x", "所属任务：RW-0001\n问题描述：y"), "issue"),
        (_mail("[ISSUE] x", "Task: RW-0001\nDescription: y"), "issue"),
        (_mail("[复盘] XT-2026-0001 x", "成功经验：y"), "review"),
        (_mail("[PLAN] XT-2026-0001 x", "see attachment"), "plan"),
        (_mail("[需求] x", "需求名称：A"), "invalid_request"),
        (_mail("no tag at all"), "invalid_request"),
        (_mail("Re: [需求] x", "ok"), "reply"),
        (_mail("回复：[纪要] XT-2026-0007 x", "确认"), "reply"),
        (
            _mail(
                "[纪要] x",
                "确认",
                extra="In-Reply-To: <minutes.xt-2026-0007.v1.1@coord.example.com>\r\n",
            ),
            "reply",
        ),
        (_mail("[需求] x", sender="Coord <COORD@example.com>"), "loop"),
        (_mail("[需求] x", sender="MAILER-DAEMON@mx.example.com"), "bounce"),
        (_mail("[需求] x", extra="Auto-Submitted: auto-generated\r\n"), "auto_reply"),
        (_mail("[需求] x", extra="Auto-Submitted: no\r\n"), "request"),
        (_mail("[需求] x", extra="X-Autoreply: yes\r\n"), "auto_reply"),
        (_mail("[需求] x", extra="Precedence: auto_reply\r\n"), "auto_reply"),
        (_mail("自动回复：[需求] x"), "auto_reply"),
        (_mail("Automatic reply: [需求] x"), "auto_reply"),
        (_mail("Out of Office: [需求] x"), "auto_reply"),
        (_mail("【需求】x", extra="List-Id: <all.lists.example.com>\r\n"), "list"),
        (_mail("[需求] x", extra="Precedence: bulk\r\n"), "list"),
        (_mail("[需求] x", extra="List-Unsubscribe: <mailto:u@example.com>\r\n"), "list"),
        (
            _mail(
                "[需求] x",
                content_type="multipart/report; report-type=disposition-notification; boundary=b",
            ),
            "read_receipt",
        ),
    ],
)
def test_classification(raw: bytes, kind: str) -> None:
    assert parse_message(raw).kind == kind


def test_untagged_mail_names_the_subject_as_the_problem() -> None:
    parsed = parse_message(_mail("hello"))
    assert FieldError("subject", "unknown", "hello") in parsed.errors


def test_relative_due_uses_the_local_date_of_the_date_header() -> None:
    # 2026-03-31 20:00 UTC is already April 1st in Shanghai: "3月31日" is then next year.
    raw = _mail("[需求] x").replace(
        b"Thu, 12 Mar 2026 08:20:45 +0000", b"Tue, 31 Mar 2026 20:00:00 +0000"
    )
    parsed = parse_message(raw)
    assert isinstance(parsed.fields, RequestFields)
    assert parsed.fields.due == date(2027, 3, 31)
    parsed = parse_message(raw, ParseOptions(timezone="UTC"))
    assert isinstance(parsed.fields, RequestFields)
    assert parsed.fields.due == date(2026, 3, 31)


@pytest.mark.parametrize(
    ("auth", "hostile", "authenticated"),
    [
        (AUTH_OK, None, True),
        (
            "Authentication-Results: mx.example.com; dmarc=fail header.from=example.com\r\n",
            "spoofed_sender",
            False,
        ),
        ("Authentication-Results: mx.example.com; spf=pass\r\n", "spoofed_sender", False),
        ("", "spoofed_sender", False),
        (
            "Authentication-Results: gw.example.net; dmarc=pass\r\n",
            "untrusted_authentication_results",
            False,
        ),
        (
            "Authentication-Results: mx.example.com.relay.example.net; dmarc=pass\r\n",
            "untrusted_authentication_results",
            False,
        ),
        # Only the first header of the trusted id counts; a lower duplicate is ignored.
        (
            "Authentication-Results: mx.example.com; dmarc=fail\r\n"
            "Authentication-Results: mx.example.com; dmarc=pass\r\n",
            "spoofed_sender",
            False,
        ),
        (
            "Authentication-Results: gw.example.net; dmarc=fail\r\n"
            "Authentication-Results: mx.example.com; dmarc=pass (ok; fine)"
            " header.from=example.com\r\n",
            None,
            True,
        ),
        # A pass the MX judged for another domain than the From says nothing of the sender.
        (
            "Authentication-Results: mx.example.com; dmarc=pass header.from=evil.example.net\r\n",
            "spoofed_sender",
            False,
        ),
        # Without a DMARC result, an aligned DKIM pass is enough.
        ("Authentication-Results: mx.example.com; dkim=pass header.d=example.com\r\n", None, True),
        (
            "Authentication-Results: mx.example.com; dkim=pass header.d=other.example.net\r\n",
            "spoofed_sender",
            False,
        ),
    ],
)
def test_trusted_authentication_results(
    auth: str, hostile: str | None, authenticated: bool
) -> None:
    parsed = parse_message(_mail("[需求] x", auth=auth))
    assert (parsed.hostile.type if parsed.hostile else None) == hostile
    assert parsed.authenticated is authenticated
    assert parsed.kind == ("hostile" if hostile else "request")


def test_no_trusted_authserv_id_requires_no_dmarc() -> None:
    parsed = parse_message(_mail("[需求] x", auth=""), ParseOptions(trusted_authserv_id=""))
    assert parsed.kind == "request" and parsed.hostile is None and parsed.authenticated


def test_noise_needs_no_authentication() -> None:
    assert parse_message(_mail("自动回复：x", auth="")).kind == "auto_reply"


def test_header_injection_keeps_the_fields() -> None:
    parsed = parse_message(_mail("[需求] x\r\nBcc: evil@example.net"))
    assert parsed.kind == "hostile"
    assert parsed.hostile is not None and parsed.hostile.type == "header_injection"
    assert "\r\n" in parsed.headers.subject
    assert isinstance(parsed.fields, RequestFields) and parsed.fields.title == "A"


def _with_attachment(filename: str) -> bytes:
    body = (
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + REQUEST_BODY.replace("\n", "\r\n")
        + f'--b\r\nContent-Type: application/octet-stream; name="{filename}"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--b--\r\n"
    )
    return _mail("[需求] x", body, content_type='multipart/mixed; boundary="b"')


@pytest.mark.parametrize(
    ("filename", "hostile"),
    [
        ("report.pdf", None),
        ("../../etc/passwd", "path_traversal"),
        ("a\\\\b.txt", "path_traversal"),
        ("x/y.txt", "path_traversal"),
        ("a..b", "path_traversal"),
    ],
)
def test_attachment_names(filename: str, hostile: str | None) -> None:
    parsed = parse_message(_with_attachment(filename))
    assert (parsed.hostile.type if parsed.hostile else None) == hostile
    assert len(parsed.attachments) == 1
    attachment = parsed.attachments[0]
    assert attachment.data == b"hello" and attachment.size == 5
    assert attachment.sha256 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"


def _nested(levels: int) -> bytes:
    opening = "".join(
        f'Content-Type: multipart/mixed; boundary="l{i}"\r\n\r\n--l{i}\r\n' for i in range(levels)
    )
    closing = "".join(f"--l{i}--\r\n" for i in reversed(range(levels)))
    head = _mail("[需求] x").split(b"MIME-Version")[0].decode()
    body = "Content-Type: text/plain; charset=utf-8\r\n\r\n" + REQUEST_BODY.replace("\n", "\r\n")
    return (head + "MIME-Version: 1.0\r\n" + opening + body + closing).encode()


@pytest.mark.parametrize(("levels", "hostile"), [(18, False), (25, True), (3000, True)])
def test_mime_depth_limit(levels: int, hostile: bool) -> None:
    parsed = parse_message(_nested(levels))
    assert (parsed.kind == "hostile") is hostile
    if hostile:
        assert parsed.hostile is not None and parsed.hostile.type == "deep_nesting"
        assert parsed.fields is None
    assert parsed.headers.subject == "[需求] x"


@pytest.mark.parametrize(("count", "hostile"), [(500, False), (501, True), (20000, True)])
def test_recipient_flood(count: int, hostile: bool) -> None:
    to = ", ".join(f"u{i}@example.com" for i in range(count))
    raw = _mail("[需求] x").replace(b"To: coord@example.com", f"To: {to}".encode())
    parsed = parse_message(raw)
    assert (parsed.hostile.type if parsed.hostile else None) == (
        "recipient_flood" if hostile else None
    )


@pytest.mark.parametrize(
    ("body", "language"),
    [("需求名称：A", "zh"), ("Title: A", "en")],
)
def test_language(body: str, language: str) -> None:
    assert parse_message(_mail("[REQUEST] x", body)).language == language


def test_list_separators_inside_parentheses_do_not_split() -> None:
    assert split_list("王强（市场部, 品牌组）、Li Na (IT; Ops)") == (
        "王强（市场部, 品牌组）",
        "Li Na (IT; Ops)",
    )


def test_labels_survive_bom_and_zero_width_characters() -> None:
    assert _values("\ufeff需求名称：A\n发\u200b起部门：B") == {
        "title": "A",
        "requesting_department": "B",
    }


def _multipart(parts: list[str], subtype: str = "mixed") -> bytes:
    body = "".join(f"--b\r\n{p}\r\n" for p in parts) + "--b--\r\n"
    return _mail("[需求] x", body, content_type=f'multipart/{subtype}; boundary="b"')


TEXT_PART = "Content-Type: text/plain; charset=utf-8\r\n\r\n" + REQUEST_BODY.replace("\n", "\r\n")


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        # An unnamed document is an attachment...
        (
            "Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=",
            [(None, "application/pdf")],
        ),
        # ...so is a forwarded message,
        (
            "Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n"
            "Subject: old\r\n\r\nold body",
            [(None, "message/rfc822")],
        ),
        # and an inline part with a file name (Apple Mail).
        (
            'Content-Type: image/png\r\nContent-Disposition: inline; filename="a.png"\r\n\r\nx',
            [("a.png", "image/png")],
        ),
        # A second text part and a calendar copy are not.
        ("Content-Type: text/plain; charset=utf-8\r\n\r\nPS", []),
        ('Content-Type: application/ics; name="invite.ics"\r\n\r\nBEGIN:VCALENDAR', []),
    ],
)
def test_what_counts_as_an_attachment(part: str, expected: list[tuple[str | None, str]]) -> None:
    parsed = parse_message(_multipart([TEXT_PART, part]))
    assert [(a.filename, a.content_type) for a in parsed.attachments] == expected
    assert isinstance(parsed.fields, RequestFields) and parsed.fields.title == "A"


def test_inline_images_of_an_html_body_are_not_attachments() -> None:
    related = (
        'Content-Type: multipart/related; boundary="r"\r\n\r\n'
        "--r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>需求名称：A</p>\r\n"
        "--r\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\n\r\npng\r\n--r--"
    )
    parsed = parse_message(_multipart([related]))
    assert parsed.attachments == ()
    assert parsed.text == "需求名称：A"


def test_html_only_body_and_its_meta_charset() -> None:
    html = "<html><head><meta charset=gbk></head><body><div>需求名称：喆</div></body></html>"
    raw = _mail("[需求] x", "", content_type="text/html") + html.encode("gbk")
    parsed = parse_message(raw)
    assert isinstance(parsed.fields, RequestFields) and parsed.fields.title == "喆"


def test_first_text_plain_wins_over_html() -> None:
    html_part = "Content-Type: text/html; charset=utf-8\r\n\r\n<div>需求名称：from html</div>"
    parsed = parse_message(_multipart([TEXT_PART, html_part], "alternative"))
    assert isinstance(parsed.fields, RequestFields) and parsed.fields.title == "A"
    empty_plain = "Content-Type: text/plain; charset=utf-8\r\n\r\n\r\n"
    parsed = parse_message(_multipart([empty_plain, html_part], "alternative"))
    assert isinstance(parsed.fields, RequestFields) and parsed.fields.title == "from html"


def test_json_has_exactly_the_schema_keys() -> None:
    from mail_parsers.jsonout import to_json

    out = to_json(parse_message(_with_attachment("../x")))
    assert set(out) == {
        "kind",
        "headers",
        "fields",
        "errors",
        "reply",
        "calendar",
        "attachments",
        "hostile",
    }
    assert set(out["headers"]) == {
        "from",
        "from_name",
        "subject",
        "message_id",
        "in_reply_to",
        "date",
    }
    assert out["headers"]["date"] == "2026-03-12T16:20:45+08:00"
    assert out["hostile"]["type"] == "path_traversal"
    assert out["fields"]["due"] == "2026-03-31"


def test_many_unterminated_sibling_multiparts_are_not_deep() -> None:
    siblings = "".join(
        f'--b\r\nContent-Type: multipart/alternative; boundary="s{i}"\r\n\r\n'
        f"--s{i}\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n"
        for i in range(30)
    )
    raw = _mail(
        "[需求] x",
        TEXT_PART.join(["--b\r\n", "\r\n"]) + siblings + "--b--\r\n",
        content_type='multipart/mixed; boundary="b"',
    )
    parsed = parse_message(raw)
    assert parsed.kind == "request"
