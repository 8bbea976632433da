"""Request numbers in every profile's numbering, read back from subjects and bodies.

- unit: :func:`workflow.numbering.number_reader` finds the numbers each shipped pattern
  and an administrator's own pattern writes, and no date, phone number or task number;
- parsers: given a profile's reader, the corpus reads exactly as with the default;
- workflow: under the intra-department and task-record profiles (and a copied profile
  with its own pattern), a mail that names its request only by number in the subject or
  body, with no In-Reply-To, References or reply token, reaches that request: a reply
  typed afresh, a progress note, a resubmission of a returned request, an issue, a review.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterator
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.inbound import Outcome
from daemon.pipeline import Pipeline
from mail_parsers.jsonout import to_json
from mail_parsers.message import parse_message
from mail_parsers.model import ParseOptions
from store.models import Communication, OutboxMessage
from store.uow import SqlUnitOfWork
from tests.support import ROOT_EXAMPLES, SHANGHAI, build_reply, parse_mail, scratch_app
from tests.test_meetings import World
from workflow.numbering import (
    DEFAULT_PATTERN,
    format_number,
    number_reader,
    number_regex,
    number_scope,
)
from workflow.profiles import load_profile

INTRA = "XZ-{year}-{seq:03d}"
TASK_RECORD = "{year}-{department}-{seq:03d}"
#: What an administrator may write in a copy of a profile.
CUSTOM = "CW-{year}-{department}-{seq:04d}"
PATTERNS = [DEFAULT_PATTERN, INTRA, TASK_RECORD, CUSTOM]

OFFICE = "office@example.com"
REQUESTER = "wu.fang@example.com"  # 吴芳, 财务部
FINANCE_HEAD = "finance.lead@example.com"  # evaluates under intra-department
LEAD_HEAD = "zhao.lei@example.com"  # 研发部
WANG = "wang.qiang@example.com"  # 研发部


def found(pattern: str, text: str) -> str | None:
    match = number_reader(pattern).search(text)
    return match.group(0).upper() if match else None


# --- unit: what each pattern reads ------------------------------------------------------------


def test_the_shipped_profiles_number_as_these_tests_assume() -> None:
    numbering = {name: load_profile(name).numbering for name in ("standard", "intra-department")}
    assert numbering == {"standard": DEFAULT_PATTERN, "intra-department": INTRA}
    assert load_profile("task-record").numbering == TASK_RECORD


@pytest.mark.parametrize(
    ("pattern", "text", "number"),
    [
        (DEFAULT_PATTERN, "Re: [纪要] XT-2026-0015 供应商对账", "XT-2026-0015"),
        (DEFAULT_PATTERN, "re: xt-2026-0015", "XT-2026-0015"),
        (DEFAULT_PATTERN, "[复盘] ＸＴ－２０２６－００１５", None),  # callers fold NFKC first
        (INTRA, "回复：[审批] XZ-2026-001 工位调整", "XZ-2026-001"),
        (INTRA, "[复盘]XZ-2026-001复盘报告", "XZ-2026-001"),
        (INTRA, "关于XZ-2026-001的进度", "XZ-2026-001"),
        (INTRA, "XZ-2026-1234 beyond the padding", "XZ-2026-1234"),
        (INTRA, "[任务] XZ-2026-007/RW-0003 接口", "XZ-2026-007"),
        (INTRA, "an older request: XT-2026-0042", "XT-2026-0042"),  # the default, always
        (TASK_RECORD, "[纪要] 2026-财务-001 启动会", "2026-财务-001"),
        (TASK_RECORD, "[纪要] 2026-FIN-001 kickoff", "2026-FIN-001"),
        (TASK_RECORD, "re: 2026-fin-012", "2026-FIN-012"),
        (TASK_RECORD, "[需求]2026-采购部-003供应商比价", "2026-采购部-003"),
        (TASK_RECORD, "2026-R2-001", "2026-R2-001"),  # a code with a digit in it
        (TASK_RECORD, "所属任务：2026-研发-001/RW-0002", "2026-研发-001"),
        (CUSTOM, "[复盘] CW-2026-财务-0001 复盘", "CW-2026-财务-0001"),
        (CUSTOM, "cw-2026-fin-0012", "CW-2026-FIN-0012"),
    ],
)
def test_numbers_are_found(pattern: str, text: str, number: str | None) -> None:
    assert found(pattern, text) == number


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize(
    "text",
    [
        "期望完成时间：2026-11-21",  # dates
        "会议改到 2026-03-16 09:00",
        "2026/11/21、2026.11.21、20261121",
        "电话 0755-8888-1234，手机 138-1234-5678",  # phone numbers
        "010-12345678 / 400-810-8888 / +86 21 5555 1234",
        "所属任务：RW-0003",  # task numbers
        "RW-2026-0003",
        "发票 INV-2026-0042，订单 PO-2026-1234，ISO-9001-2015",  # other people's numbers
        "2026-11-2100",  # a department of digits only is no department
        "XZ-2026-01、XT-2026-015",  # shorter than the padding
        "AXZ-2026-001 and XZ-2026-0012345X",  # run into a word
        "2026-Q3",
    ],
)
def test_no_date_phone_or_task_number_is_a_request_number(pattern: str, text: str) -> None:
    assert found(pattern, text) is None


def test_a_number_does_not_stop_inside_a_longer_one() -> None:
    assert found(INTRA, "XZ-2026-0015") == "XZ-2026-0015"  # not XZ-2026-001
    assert found(TASK_RECORD, "12026-财务-001") is None
    assert found(DEFAULT_PATTERN, "XT-2026-00151") == "XT-2026-00151"


@pytest.mark.parametrize(
    ("pattern", "regex"),
    [
        (DEFAULT_PATTERN, r"(?<![0-9A-Za-z])XT\-2\d{3}\-\d{4,}(?![0-9A-Za-z])"),
        (INTRA, r"(?<![0-9A-Za-z])XZ\-2\d{3}\-\d{3,}(?![0-9A-Za-z])"),
        ("需求{year}{seq}号", r"需求2\d{3}\d{1,}号"),
        ("{year}-{seq:x}", r"(?<![0-9A-Za-z])2\d{3}\-[0-9A-Z]+(?![0-9A-Za-z])"),
        ("R{year:06d}-{seq}", r"(?<![0-9A-Za-z])R0{2}2\d{3}\-\d{1,}(?![0-9A-Za-z])"),
    ],
)
def test_the_regex_of_a_pattern(pattern: str, regex: str) -> None:
    assert number_regex(pattern) == regex


def test_a_bad_pattern_has_no_regex() -> None:
    with pytest.raises(ValueError, match="must contain"):
        number_regex("XT-{seq}")


_DEPARTMENTS = st.from_regex(
    re.compile(r"[0-9A-Z\u4e00-\u9fff]{0,3}[A-Z\u4e00-\u9fff][0-9A-Z\u4e00-\u9fff]{0,3}"),
    fullmatch=True,
)


@settings(max_examples=300, deadline=None)
@given(
    pattern=st.sampled_from(PATTERNS),
    year=st.integers(2000, 2999),
    seq=st.integers(1, 10**6),
    department=_DEPARTMENTS,
    before=st.sampled_from(["", " ", "[复盘]", "关于", "Re: "]),
    after=st.sampled_from(["", " ", "供应商对账", "/RW-0002", "，请确认"]),
)
def test_every_number_a_pattern_writes_is_read_back(
    pattern: str, year: int, seq: int, department: str, before: str, after: str
) -> None:
    number = format_number(pattern, year=year, seq=seq, department=department)
    assert found(pattern, f"{before}{number}{after}") == number
    # The scope of the sequence is a prefix of the number (what allocation counts by).
    assert number.startswith(number_scope(pattern, year=year, department=department))


# --- parsers: the corpus under each profile's reader -------------------------------------------


@pytest.mark.parametrize("pattern", PATTERNS)
def test_the_corpus_reads_the_same_under_every_profiles_reader(
    pattern: str, corpus_dir: Path
) -> None:
    options = ParseOptions(request_number=number_reader(pattern))
    files = sorted(corpus_dir.glob("*.eml"))
    assert files
    for path in files:
        raw = path.read_bytes()
        assert to_json(parse_message(raw, options)) == to_json(parse_message(raw)), path.name


# --- workflow: a mail that names its request by number only ------------------------------------


def _request_mail(title: str, *, subject: str | None = None, criteria: bool = True) -> bytes:
    msg = EmailMessage()
    msg["Authentication-Results"] = "mx.example.com; dmarc=pass header.from=example.com"
    msg["From"] = REQUESTER
    msg["To"] = "coord@example.com"
    msg["Subject"] = subject or f"[需求] {title}"
    msg["Date"] = email.utils.format_datetime(datetime(2026, 3, 16, 8, 30, tzinfo=SHANGHAI))
    msg["Message-ID"] = email.utils.make_msgid(domain="example.com")
    lines = [
        f"需求名称：{title}",
        "发起部门：财务部",
        "接收部门：研发部",
        "背景与目标：三家供应商试点线上对账。",
        "期望完成时间：2026-04-30",
        "紧急程度：一般",
    ]
    if criteria:
        lines.append("验收标准：三家试点供应商连续一个月零差错")
    msg.set_content("\n".join([*lines, "", "谢谢！", ""]))
    return msg.as_bytes()


def _fresh_mail(sender: str, subject: str, body: str) -> bytes:
    """A new mail typed by hand: no In-Reply-To, no References, sent to the plain address."""
    msg = EmailMessage()
    domain = sender.split("@")[1]
    msg["Authentication-Results"] = f"mx.example.com; dmarc=pass header.from={domain}"
    msg["From"] = sender
    msg["To"] = "coord@example.com"
    msg["Subject"] = subject
    msg["Date"] = email.utils.format_datetime(datetime(2026, 3, 16, 11, 0, tzinfo=SHANGHAI))
    msg["Message-ID"] = email.utils.make_msgid(domain="client.example.com")
    msg.set_content(body)
    return msg.as_bytes()


class Numbered:
    """The service under one profile, with one request registered (财务部, by 吴芳)."""

    def __init__(self, world: World, number: str, evaluator: str, notice: str) -> None:
        self.world = world
        self.number = number
        self.evaluator = evaluator
        self.notice = notice

    def arrive(self, raw: bytes) -> None:
        assert self.world.arrive(raw) is Outcome.PROCESSED

    def sent(self, kind: str) -> list[tuple[str | None, bytes]]:
        """(request number, raw) of every mail of ``kind`` queued so far."""
        with SqlUnitOfWork(self.world.app.session_factory) as uow:
            rows = uow.session.query(OutboxMessage).filter_by(kind=kind).order_by(OutboxMessage.id)
            found: list[tuple[str | None, bytes]] = []
            for row in rows:
                request = uow.requests.by_id(row.request_id) if row.request_id else None
                found.append((request.number if request else None, row.raw))
            return found

    def logged_with(self, subject: str) -> str | None:
        """The request number the inbound mail of ``subject`` was logged under."""
        with SqlUnitOfWork(self.world.app.session_factory) as uow:
            [row] = uow.session.query(Communication).filter_by(direction="in", subject=subject)
            request = uow.requests.by_id(row.request_id) if row.request_id else None
            return request.number if request else None

    def held(self) -> list[tuple[str, str, str | None]]:
        """(reason, action, request number) of the replies waiting for review."""
        with SqlUnitOfWork(self.world.app.session_factory) as uow:
            held = []
            for h in uow.signoffs.pending_review():
                request = uow.requests.by_id(h.request_id) if h.request_id else None
                held.append((h.reason, h.action, request.number if request else None))
            return held

    def request(self) -> tuple[str, int, int]:
        """(state, revision, how many requests there are) of the request."""
        with SqlUnitOfWork(self.world.app.session_factory) as uow:
            request = uow.requests.by_number(self.number)
            assert request is not None
            return request.state, request.revision, len(uow.requests.list())


def _copied_profile(root: Path) -> Path:
    """intra-department copied by an administrator, with a numbering of their own."""
    profiles = Path(__file__).resolve().parent.parent / "workflow" / "profiles"
    text = (profiles / "intra-department.toml").read_text(encoding="utf-8")
    line = f'numbering = "{INTRA}"'
    assert line in text
    copy = root / "finance-office.toml"
    copy.write_text(
        text.replace(line, f'numbering = "{CUSTOM}"').replace(
            'name = "intra-department"', 'name = "finance-office"'
        ),
        encoding="utf-8",
    )
    return copy


def _directory_with_ascii_codes(root: Path) -> Path:
    """The example directory, 财务部 coded FIN."""
    text = (ROOT_EXAMPLES / "directory.toml").read_text(encoding="utf-8")
    assert 'code = "财务"' in text
    path = root / "directory.toml"
    path.write_text(text.replace('code = "财务"', 'code = "FIN"'), encoding="utf-8")
    return path


# The first request's number, who evaluates it, and the notice they get.
SETUPS = {
    "intra-department": ("XZ-2026-001", FINANCE_HEAD, "head/evaluation_notice"),
    "task-record": ("2026-财务-001", OFFICE, "office/evaluation_notice"),
    "task-record-ascii": ("2026-FIN-001", OFFICE, "office/evaluation_notice"),
    "copied-profile": ("CW-2026-财务-0001", FINANCE_HEAD, "head/evaluation_notice"),
}


@pytest.fixture(params=sorted(SETUPS))
def numbered(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Numbered]:
    setup: str = request.param
    number, evaluator, notice = SETUPS[setup]
    profile = {
        "intra-department": "intra-department",
        "task-record": "task-record",
        "task-record-ascii": "task-record",
        "copied-profile": str(_copied_profile(tmp_path)),
    }[setup]
    directory = (
        _directory_with_ascii_codes(tmp_path)
        if setup == "task-record-ascii"
        else ROOT_EXAMPLES / "directory.toml"
    )
    app, _ = scratch_app(
        tmp_path, LIAISON_WORKFLOW_PROFILE=profile, LIAISON_DIRECTORY_FILE=str(directory)
    )
    world = World(
        app,
        Pipeline(
            session_factory=app.session_factory,
            config=app.workflow,
            blobs=app.blobs,
            clock=app.clock,
        ),
    )
    service = Numbered(world, number, evaluator, notice)
    service.arrive(_request_mail("供应商对账流程线上化"))
    [(acked, _)] = service.sent("requester/acknowledged")
    assert acked == number  # numbered by the profile's pattern
    yield service
    app.close()


def test_a_reply_typed_afresh_reaches_its_request(numbered: Numbered) -> None:
    """No In-Reply-To, no token: held for review (a subject cannot sign off), but held
    against the request the subject names, even after someone else's number."""
    n = numbered
    subject = f"回复：发票 INV-2026-0042 已付 [评估] {n.number} 供应商对账流程线上化"
    n.arrive(_fresh_mail(n.evaluator, subject, "受理 牵头部门：研发部\n"))
    assert n.held() == [("subject_only", "evaluate_accept", n.number)]
    assert n.logged_with(subject) == n.number
    assert [number for number, _ in n.sent("office/held_for_review")] == [n.number]
    assert n.request()[0] == "registered"  # nothing signed off


def test_a_progress_note_typed_afresh_reaches_its_request(numbered: Numbered) -> None:
    n = numbered
    subject = f"Re: [任务] {n.number}/RW-0001 对账规则整理"
    n.arrive(_fresh_mail(WANG, subject, "进度 50%，规则初稿已完成\n"))
    assert n.held() == [("subject_only", "progress", n.number)]
    assert n.logged_with(subject) == n.number


def test_a_returned_request_resubmitted_under_its_number_in_the_subject(
    numbered: Numbered,
) -> None:
    n = numbered
    [(_, notice)] = n.sent(n.notice)
    n.arrive(build_reply(notice, sender=n.evaluator, body="退回：请补充验收标准\n"))
    assert n.request() == ("returned", 1, 1)
    # Typed afresh, the number run on into the title.
    n.arrive(_request_mail("供应商对账流程线上化", subject=f"[需求]{n.number}供应商对账（修订）"))
    assert n.request() == ("registered", 2, 1)
    assert [number for number, _ in n.sent("requester/acknowledged")] == [n.number, n.number]


def test_an_issue_naming_only_the_request(numbered: Numbered) -> None:
    """所属需求 with the profile's number and no task: the form is complete."""
    n = numbered
    body = f"所属需求：{n.number}\n问题描述：供应商接口文档缺失\n紧急程度：紧急\n\n王强\n"
    n.arrive(_fresh_mail(WANG, "[问题] 供应商接口文档缺失", body))
    assert n.sent("reporter/issue_invalid") == []
    [(number, ack)] = n.sent("reporter/issue_acknowledged")
    assert number == n.number
    assert n.number in str(parse_mail(ack)["Subject"])


@pytest.mark.parametrize("where", ["subject", "label"])
def test_a_review_naming_the_request_by_number(numbered: Numbered, where: str) -> None:
    """The review arrives too early (the request is only registered): it is answered as
    being about that request, which is what it was matched to."""
    n = numbered
    if where == "subject":
        subject, label = f"[复盘]{n.number}复盘报告", ""
    else:
        subject, label = "[复盘] 供应商对账项目复盘", f"所属需求：{n.number}\n"
    body = label + "成功经验：同步及时\n不足：材料不足\n改进措施：提前准备\n"
    n.arrive(_fresh_mail(LEAD_HEAD, subject, body))
    [(number, answer)] = n.sent("author/review_returned")
    assert number == n.number
    assert n.logged_with(subject) == n.number
    assert n.number in str(parse_mail(answer)["Subject"])
