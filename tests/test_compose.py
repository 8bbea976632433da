"""MIME composition: round trips, header injection, Message-IDs, parts and attachments."""

from __future__ import annotations

import base64
import email
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from templates.compose import (
    LOOP_HEADER,
    ExtraPart,
    OutboundMail,
    compose,
    make_message_id,
    message_id_domain_for,
    sanitize_header_value,
)
from templates.errors import ComposeError, InvalidAddressError, InvalidHeaderError
from templates.render import render_mail

SHANGHAI = timezone(timedelta(hours=8))
EXPECTED_HEADERS = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Auto-Submitted",
    "X-Auto-Response-Suppress",
    LOOP_HEADER,
    "MIME-Version",
    "Content-Type",
]


def _mail(**changes: object) -> OutboundMail:
    mail = OutboundMail(
        kind="requester/acknowledged",
        from_addr="coord@example.com",
        from_name="协调办公室",
        to=(("李娜", "li.na@example.com"),),
        cc=(),
        subject="[需求已登记] XT-2026-0015 供应商对账流程线上化",
        text="您好！\n\n您提交的协作需求已登记。\n",
        html="<p>您好！</p>\n<p>您提交的协作需求已登记。</p>\n",
        message_id="<ack.xt-2026-0015.20260316090014.k3f9@coord.example.com>",
        in_reply_to=None,
        references=(),
        auto_submitted="auto-generated",
        reply_to=None,
        date=datetime(2026, 3, 16, 9, 0, 14, tzinfo=SHANGHAI),
        loop_id="coord.example.com",
    )
    return replace(mail, **changes)  # type: ignore[arg-type]


def _parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _addresses(message: EmailMessage, header: str) -> list[tuple[str, str]]:
    return [(a.display_name, a.addr_spec) for a in message[header].addresses]


def _assert_crlf_only(raw: bytes) -> None:
    assert b"\n" in raw
    assert raw.count(b"\n") == raw.count(b"\r\n"), "bare LF"
    assert raw.count(b"\r") == raw.count(b"\r\n"), "bare CR"


# --- round trips ----------------------------------------------------------------------


def test_round_trip_of_chinese_subject_and_display_names() -> None:
    to = (
        ('王, "五";: 经理', "wang.wu@example.com"),
        ('Zhao, Lei (R&D): "lead"', "zhao.lei@example.com"),
        (None, "plain@example.com"),
    )
    cc = (("周敏；协调办公室：主任", "zhou.min@example.com"),)
    mail = _mail(to=to, cc=cc)
    message = _parse(compose(mail))
    assert message["Subject"] == "[需求已登记] XT-2026-0015 供应商对账流程线上化"
    assert _addresses(message, "To") == [
        ('王, "五";: 经理', "wang.wu@example.com"),
        ('Zhao, Lei (R&D): "lead"', "zhao.lei@example.com"),
        ("", "plain@example.com"),
    ]
    assert _addresses(message, "Cc") == [("周敏；协调办公室：主任", "zhou.min@example.com")]
    assert _addresses(message, "From") == [("协调办公室", "coord@example.com")]


def test_long_subject_is_folded_and_survives() -> None:
    title = "供应商对账流程线上化（第二期）：对账单自动生成、差异在线核对与付款申请联动" * 3
    english = "Supplier reconciliation online, phase two: statements, differences, payments " * 3
    for subject in (f"[评估] XT-2026-0015 {title}", f"[EVALUATION] XT-2026-0015 {english}"):
        raw = compose(_mail(subject=subject))
        header_block = raw.split(b"\r\n\r\n", 1)[0]
        assert all(len(line) <= 78 for line in header_block.split(b"\r\n"))
        assert _parse(raw)["Subject"] == sanitize_header_value(subject)


@settings(max_examples=200, deadline=None)
@given(
    title=st.text(min_size=1, max_size=200).filter(lambda t: not sanitize_header_value(t).isascii())
)
def test_encoded_words_are_short_and_hold_whole_characters(title: str) -> None:
    """RFC 2047: an encoded-word is at most 75 characters and never splits a character,
    so each word decodes on its own (what a client that decodes word by word needs)."""
    raw = compose(_mail(subject=title))
    header_block = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    subject = re.search(r"^Subject: (.*?)\r\n(?! )", header_block, re.M | re.S)
    assert subject is not None
    words = re.findall(r"=\?utf-8\?b\?([A-Za-z0-9+/=]*)\?=", subject.group(1))
    assert words and "".join(subject.group(1).split()) == "".join(f"=?utf-8?b?{w}?=" for w in words)
    for word in words:
        assert len(word) + len("=?utf-8?b??=") <= 75
        base64.b64decode(word).decode("utf-8")  # whole characters only
    assert _parse(raw)["Subject"] == sanitize_header_value(title)


def test_headers_the_contract_requires() -> None:
    mail = _mail(
        cc=(("王强", "wang.qiang@example.com"),),
        in_reply_to="<CAB1234+x=y@mail.example.net>",
        references=("<first@mail.example.net>",),
        auto_submitted="auto-replied",
        reply_to="coord+k3f9@example.com",
    )
    raw = compose(mail)
    message = _parse(raw)
    assert message["Message-ID"] == mail.message_id
    assert message["In-Reply-To"] == "<CAB1234+x=y@mail.example.net>"
    assert message["References"].split() == [
        "<first@mail.example.net>",
        "<CAB1234+x=y@mail.example.net>",
    ]
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["X-Auto-Response-Suppress"] == "OOF, AutoReply"
    assert message[LOOP_HEADER] == "coord.example.com"
    assert message["MIME-Version"] == "1.0"
    assert message["Reply-To"].addresses[0].addr_spec == "coord+k3f9@example.com"
    assert message["Date"].datetime == mail.date
    assert "Precedence" not in message
    _assert_crlf_only(raw)


def test_auto_generated_by_default() -> None:
    message = _parse(compose(_mail()))
    assert message["Auto-Submitted"] == "auto-generated"
    assert list(message.keys()) == EXPECTED_HEADERS


def test_malformed_thread_ids_from_outside_are_dropped() -> None:
    mail = _mail(
        in_reply_to="<no at sign>",
        references=(
            "garbage",
            "<ok@example.net>",
            "<a@b>\r\nBcc: x@example.net",
            "<ok@example.net>",
        ),
    )
    message = _parse(compose(mail))
    assert "In-Reply-To" not in message
    assert message["References"] == "<ok@example.net>"


def test_composition_is_deterministic() -> None:
    mail = _mail(attachments=(("a.txt", "text/plain", b"x"),))
    assert compose(mail) == compose(mail)
    other = compose(
        replace(mail, message_id="<ack.xt-2026-0015.20260316090015.zz@coord.example.com>")
    )
    boundaries = re.findall(rb'boundary="([^"]+)"', compose(mail))
    assert boundaries and not any(b in other for b in boundaries)


# --- header injection -----------------------------------------------------------------

INJECTIONS = [
    "\r\nBcc: evil@example.net",
    "\nBcc: evil@example.net",
    "\rBcc: evil@example.net",
    "=?utf-8?q?x=0D=0ABcc:_evil@example.net?=",
    "=?utf-8?b?eA0KQmNjOiBldmlsQGV4YW1wbGUubmV0?=",
    "\u2028Bcc: evil@example.net",
    "\u2029Bcc: evil@example.net",
    "\x85Bcc: evil@example.net",
    "\x0bBcc: evil@example.net\x0c",
    "\x00\x1c\x1d\x1eBcc: evil@example.net",
    "供应商\r\n\r\n<html>body</html>",
]


@pytest.mark.parametrize("attack", INJECTIONS, ids=range(len(INJECTIONS)))
@pytest.mark.parametrize("where", ["title", "display name", "from name", "file name"])
def test_header_injection_adds_no_header(attack: str, where: str) -> None:
    title = "供应商对账"
    mail = _mail()
    if where == "title":
        mail = replace(mail, subject=f"[需求已登记] XT-2026-0015 {title}{attack} tail")
    elif where == "display name":
        mail = replace(
            mail, to=(("李娜" + attack, "li.na@example.com"), ("Bob" + attack, "b@example.com"))
        )
    elif where == "from name":
        mail = replace(mail, from_name="Office" + attack)
    else:
        mail = replace(mail, attachments=((f"report{attack}.pdf", "application/pdf", b"%PDF"),))
    raw = compose(mail)

    _assert_crlf_only(raw)
    assert not re.search(rb"(?im)^bcc:", raw), "an injected header line"
    message = _parse(raw)
    assert list(message.keys()) == EXPECTED_HEADERS
    assert "Bcc" not in message
    if where == "title":
        assert message["Subject"] == sanitize_header_value(mail.subject)
        assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
    elif where == "display name":
        names = [name for name, _ in _addresses(message, "To")]
        assert names == [sanitize_header_value(n or "") for n, _ in mail.to]
    elif where == "from name":
        assert _addresses(message, "From")[0][0] == sanitize_header_value(mail.from_name or "")
    else:
        attachment = next(message.iter_attachments())
        filename = attachment.get_filename()
        assert filename is not None and "\n" not in filename and "\r" not in filename
        assert list(attachment.keys()) == [
            "Content-Type",
            "Content-Transfer-Encoding",
            "Content-Disposition",
        ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "plain"),
        ("a\r\nb", "a b"),
        ("a\n\n\nb", "a b"),
        ("a\u2028b\u2029c", "a b c"),
        ("  a \t\x00 b  ", "a b"),
        ("\x85\x9fx\x7f", "x"),
        ("全角　空格\u00a0\u00a0x", "全角 空格 x"),  # any white space run is one space
        ("bad \udcff byte", "bad \ufffd byte"),
    ],
)
def test_sanitize_header_value(value: str, expected: str) -> None:
    assert sanitize_header_value(value) == expected


@settings(max_examples=300, deadline=None)
@given(title=st.text(max_size=120), name=st.text(max_size=60))
def test_no_outside_text_can_add_a_header(title: str, name: str) -> None:
    mail = _mail(subject=title, to=((name, "li.na@example.com"),), from_name=name)
    raw = compose(mail)
    _assert_crlf_only(raw)
    message = _parse(raw)
    assert list(message.keys()) == EXPECTED_HEADERS
    assert message["Subject"] == sanitize_header_value(title)
    assert _addresses(message, "To") == [(sanitize_header_value(name), "li.na@example.com")]


@pytest.mark.parametrize(
    "address",
    [
        "li.na@example.com\r\nBcc: x@example.net",
        "not an address",
        "a@b@c.com",
        "<a@example.com>",
        "=?utf-8?q?a=0D=0A?=@example.com",
        "a b@example.com",
        "a@exa mple.com",
        "",
    ],
)
def test_bad_addresses_are_refused(address: str) -> None:
    with pytest.raises(InvalidAddressError):
        compose(_mail(to=(("Name", address),)))


def test_international_domain_is_encoded() -> None:
    message = _parse(compose(_mail(to=(("张三", "zhang@例子.中国"),))))
    assert _addresses(message, "To") == [("张三", "zhang@xn--fsqu00a.xn--fiqs8s")]


def test_naive_date_is_refused() -> None:
    with pytest.raises(InvalidHeaderError):
        compose(_mail(date=datetime(2026, 3, 16, 9, 0)))


@pytest.mark.parametrize("loop_id", ["", "two words", "x\r\ny", "=?utf-8?q?x?="])
def test_bad_loop_id_is_refused(loop_id: str) -> None:
    with pytest.raises(InvalidHeaderError):
        compose(_mail(loop_id=loop_id))


# --- Message-IDs ----------------------------------------------------------------------


def test_message_id_format() -> None:
    assert (
        make_message_id(
            "evaluation", "XT-2026-0015", None, "20260316090014.k3f9", "coord.example.com"
        )
        == "<evaluation.xt-2026-0015.20260316090014.k3f9@coord.example.com>"
    )
    assert (
        make_message_id(
            "task", "XT-2026-0015", "RW-0003", "20260316090014.ab12", "Coord.Example.com"
        )
        == "<task.xt-2026-0015.rw-0003.20260316090014.ab12@coord.example.com>"
    )
    assert make_message_id("ack", "none", None, "u1", "coord.example.com").startswith("<ack.none.")


def test_message_id_number_is_a_reversible_dot_atom() -> None:
    mid = make_message_id("minutes", "2026-研发部-001", None, "u1", "coord.example.com")
    number = mid[1:].split(".")[1]
    assert re.fullmatch(r"[a-z0-9_%-]+", number)
    assert unquote(number) == "2026-研发部-001"
    # The separator never appears inside the number or the task.
    assert (
        make_message_id("task", "A.B", "C/D", "u", "x.example") == "<task.a%2eb.c%2fd.u@x.example>"
    )


@pytest.mark.parametrize(
    ("context", "number", "task", "unique", "domain"),
    [
        ("progress", "XT-2026-0015", None, "u1", "coord.example.com"),
        ("task", "", None, "u1", "coord.example.com"),
        ("task", "XT-1", "", "u1", "coord.example.com"),
        ("task", "XT-1", None, "has space", "coord.example.com"),
        ("task", "XT-1", None, "u1", "no_domain"),
        ("task", "XT-1", None, "u1", "bad..example.com"),
    ],
)
def test_message_id_refuses_bad_parts(
    context: str, number: str, task: str | None, unique: str, domain: str
) -> None:
    with pytest.raises(InvalidHeaderError):
        make_message_id(context, number, task, unique, domain)


@pytest.mark.parametrize(
    ("address", "domain"),
    [
        ("coord@example.com", "coord.example.com"),
        ("Coord@Example.COM", "coord.example.com"),
        ("coord.office@example.com", "coord-office.example.com"),
        ("xie_tiao+x@mail.example.cn", "xie-tiao-x.mail.example.cn"),
    ],
)
def test_message_id_domain_for(address: str, domain: str) -> None:
    assert message_id_domain_for(address) == domain


# --- parts and attachments ------------------------------------------------------------


def test_text_and_html_alternatives() -> None:
    mail = _mail()
    message = _parse(compose(mail))
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    # Base64 and quoted-printable text carries canonical CRLF line ends.
    assert plain.get_content().replace("\r\n", "\n") == mail.text
    assert html.get_content().replace("\r\n", "\n") == mail.html
    assert plain.get_content_charset() == "utf-8"
    assert plain["Content-Transfer-Encoding"] in ("quoted-printable", "base64")


def test_ascii_body_stays_readable_and_long_lines_are_encoded() -> None:
    short = _parse(compose(_mail(text="Hello,\nregistered.\n", html="<p>Hello</p>\n")))
    plain = short.get_body(("plain",))
    assert plain is not None and plain["Content-Transfer-Encoding"] == "7bit"
    long_line = "x" * 500 + "\n"
    raw = compose(_mail(text=long_line))
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    body = _parse(raw).get_body(("plain",))
    assert body is not None and body.get_content().replace("\r\n", "\n") == long_line


_BODY_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n\t=. 中"),
    max_size=400,
)


@settings(max_examples=300, deadline=None)
@given(text=_BODY_TEXT, html=_BODY_TEXT, long_line=st.integers(0, 1200))
def test_any_body_reads_back_as_written(text: str, html: str, long_line: int) -> None:
    """Whatever encoding the writer picks (7bit, quoted-printable, base64), a standard
    parser gives back the text, lines ending in LF, and no line is longer than 78."""
    text = "x" * long_line + "\n" + text
    raw = compose(_mail(text=text, html=html))
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    message = _parse(raw)
    assert not message.defects
    parts = [message.get_body(("plain",))] + ([message.get_body(("html",))] if html else [])
    for part, given_text in zip(parts, [text, html], strict=False):
        assert part is not None
        expected = b"\n".join(given_text.encode().splitlines()).decode() + "\n"
        assert part.get_content().replace("\r\n", "\n") == expected


def test_the_last_guard_refuses_a_header_we_did_not_write() -> None:
    from templates.compose import _verify

    good = compose(_mail())
    names = ["From", "To", "Subject", "Date", "Message-ID"]
    names += ["Auto-Submitted", "X-Auto-Response-Suppress", LOOP_HEADER]
    _verify(good, names)
    head, _, body = good.partition(b"\r\n\r\n")
    for injected in (b"Bcc: victim@example.org", b"Subject: again", b"not a header"):
        with pytest.raises(ComposeError):
            _verify(head + b"\r\n" + injected + b"\r\n\r\n" + body, names)
    with pytest.raises(ComposeError):
        _verify(good.replace(b"\r\nTo:", b"\nTo:", 1), names)


def test_body_line_endings_are_crlf_whatever_the_template_gave() -> None:
    raw = compose(_mail(text="a\nb\r\nc\rd\n", html="<p>x</p>\r\n"))
    _assert_crlf_only(raw)


def test_attachments_make_multipart_mixed() -> None:
    pdf = b"%PDF-1.7\n" + bytes(range(256))
    mail = _mail(
        attachments=(
            (
                "对账流程现状（2026年第一季度供应商对账差异汇总）.xlsx",
                "application/vnd.ms-excel",
                b"PK\x03\x04",
            ),
            ("../../etc/passwd", "text/plain", b"root:x:0:0\n"),
            ("report.pdf", "application/pdf", pdf),
            ("forwarded.eml", "message/rfc822", b"Subject: x\r\n\r\nbody\r\n"),
            ("odd", "not a type", b"\x00"),
        )
    )
    raw = compose(mail)
    _assert_crlf_only(raw)
    message = _parse(raw)
    assert message.get_content_type() == "multipart/mixed"
    assert message.get_body(("plain",)) is not None
    assert message.get_body(("html",)) is not None
    files = list(message.iter_attachments())
    assert [(a.get_filename(), a.get_content_type()) for a in files] == [
        ("对账流程现状（2026年第一季度供应商对账差异汇总）.xlsx", "application/vnd.ms-excel"),
        ("_etc_passwd", "text/plain"),
        ("report.pdf", "application/pdf"),
        ("forwarded.eml", "application/octet-stream"),
        ("odd", "application/octet-stream"),
    ]
    assert files[2].get_content() == pdf
    assert files[1].get_content() in ("root:x:0:0\n", b"root:x:0:0\n")
    assert all(a["Content-Transfer-Encoding"] == "base64" for a in files)


def test_a_utf8_text_attachment_names_its_charset() -> None:
    # The archive dossier is a UTF-8 HTML page; without charset=utf-8 a text part is
    # US-ASCII (RFC 2046) and clients show it garbled. Bytes that are not UTF-8 claim none.
    page = "<html><body>复盘：每周进度同步及时</body></html>".encode()
    latin = "café".encode("latin-1")
    mail = _mail(
        attachments=(("dossier.html", "text/html", page), ("notes.txt", "text/plain", latin))
    )
    html, notes = _parse(compose(mail)).iter_attachments()
    assert (html.get_content_charset(), html.get_content()) == ("utf-8", page.decode())
    assert notes.get_content_charset() is None
    assert notes.get_payload(decode=True) == latin


def test_extra_part_joins_the_alternatives() -> None:
    ics = b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
    mail = _mail(
        extra_parts=(
            ExtraPart("text/calendar", ics, (("charset", "utf-8"), ("method", "REQUEST"))),
        )
    )
    message = _parse(compose(mail))
    types = [p.get_content_type() for p in message.iter_parts()]
    assert types == ["text/plain", "text/html", "text/calendar"]
    calendar = list(message.iter_parts())[2]
    assert calendar.get_param("method") == "REQUEST"
    assert calendar.get_payload(decode=True) == ics


def test_extra_part_parameters_are_validated() -> None:
    with pytest.raises(InvalidHeaderError):
        compose(
            _mail(extra_parts=(ExtraPart("text/calendar", b"x", (("method", "REQUEST\r\nX: y"),)),))
        )


def test_rendered_mail_composes_and_reads_back() -> None:
    context: dict[str, object] = {
        "number": "XT-2026-0015",
        "title": "供应商对账流程线上化\r\nBcc: evil@example.net",
        "requesting_department": "财务部",
        "receiving_departments": "信息部、采购部",
        "due": "2026年3月31日（周二）",
        "urgency": "紧急",
        "attachments": [],
        "has_attachments": False,
        "deadline": "2026年3月17日（周二） 18:00",
        "evaluator": "协调办公室",
        "signature": "协调办公室",
    }
    rendered = render_mail("requester/acknowledged", "zh", context)
    message = _parse(
        compose(_mail(subject=rendered.subject, text=rendered.text, html=rendered.html))
    )
    assert (
        message["Subject"] == "[需求已登记] XT-2026-0015 供应商对账流程线上化 Bcc: evil@example.net"
    )
    assert list(message.keys()) == EXPECTED_HEADERS
    plain = message.get_body(("plain",))
    assert plain is not None
    # The title's CRLF is only text here, as a line break in the body.
    assert plain.get_content().replace("\r\n", "\n") == rendered.text.replace("\r\n", "\n")


def test_text_only_mail_is_a_single_part() -> None:
    raw = compose(_mail(html=""))
    message = _parse(raw)
    assert message.get_content_type() == "text/plain"
    assert list(message.keys()) == [*EXPECTED_HEADERS, "Content-Transfer-Encoding"]
    assert message.get_content().replace("\r\n", "\n") == _mail().text
