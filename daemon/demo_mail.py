"""The mails people send in ``liaison demo``, as their mail clients would write them.

Used by :mod:`daemon.demo` and nothing else in the product. Every builder returns the
raw bytes of one message to the coordination mailbox: a new mail with a subject tag
(``[需求]``, ``[纪要]``, ``[方案]``, ``[问题]``, ``[复盘]``), a reply to one of the daemon's
mails (``In-Reply-To``/``References`` naming its per-recipient Message-ID, the keyword on
the first line, the original quoted below as Outlook quotes it), or a calendar client's
iTIP ``REPLY``. The header block is written line by line rather than through the email
package's generator, which may fold a long Message-ID into encoded words.
"""

from __future__ import annotations

import base64
import email
import email.policy
import email.utils
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import Header
from email.message import EmailMessage

MAILBOX = "coord@example.com"
CLIENT_DOMAIN = "client.example.com"


@dataclass(frozen=True)
class File:
    """An attachment: its file name, content type and bytes."""

    name: str
    content_type: str
    data: bytes = field(repr=False)


def _header(name: str, value: str) -> bytes:
    if value.isascii():
        return f"{name}: {value}".encode("ascii")
    return f"{name}: {Header(value, 'utf-8').encode()}".encode("ascii")


def _address(email_address: str, name: str | None) -> str:
    if not name:
        return email_address
    return f"{Header(name, 'utf-8').encode()} <{email_address}>"


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def compose(
    sender: str,
    subject: str,
    body: str,
    *,
    at: datetime,
    name: str | None = None,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    files: Sequence[File] = (),
) -> bytes:
    """One plain-text message (UTF-8, 8bit) to the coordination mailbox, with ``files``."""
    lines = [
        f"From: {_address(sender, name)}".encode("ascii"),
        f"To: {_address(MAILBOX, '协调办公室')}".encode("ascii"),
        _header("Subject", subject),
        _header("Date", email.utils.format_datetime(at)),
        _header("Message-ID", email.utils.make_msgid(domain=CLIENT_DOMAIN)),
    ]
    if in_reply_to:
        lines.append(_header("In-Reply-To", in_reply_to))
    if references:
        lines.append(_header("References", " ".join(references)))
    lines.append(b"MIME-Version: 1.0")
    text = _crlf(body.rstrip("\n") + "\n")
    if not files:
        lines += [
            b"Content-Type: text/plain; charset=utf-8",
            b"Content-Transfer-Encoding: 8bit",
        ]
        return b"\r\n".join(lines) + b"\r\n\r\n" + text
    boundary = "=_demo_" + email.utils.make_msgid().strip("<>").split("@")[0]
    lines.append(f'Content-Type: multipart/mixed; boundary="{boundary}"'.encode("ascii"))
    parts = [
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text
    ]
    for file in files:
        filename = email.utils.encode_rfc2231(file.name, "utf-8")
        parts.append(
            f"Content-Type: {file.content_type}\r\n"
            f"Content-Disposition: attachment; filename*={filename}\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n".encode("ascii")
            + base64.encodebytes(file.data).replace(b"\n", b"\r\n")
        )
    delimiter = f"--{boundary}".encode("ascii")
    body_bytes = b"".join(delimiter + b"\r\n" + part + b"\r\n" for part in parts)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body_bytes + delimiter + b"--\r\n"


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def reply(
    answered: bytes,
    sender: str,
    body: str,
    *,
    at: datetime,
    name: str | None = None,
    files: Sequence[File] = (),
) -> bytes:
    """``sender`` answers ``answered`` (one of the daemon's mails) from Outlook: the new
    text first, then the quoted original."""
    original = parse(answered)
    message_id = str(original["Message-ID"])
    references = [*str(original.get("References") or "").split(), message_id]
    quoted = (
        f"{body.rstrip()}\n\n-----原始邮件-----\n发件人: {original['From']}\n"
        f"主题: {original['Subject']}\n\n（原文略）\n"
    )
    return compose(
        sender,
        "回复: " + str(original["Subject"]),
        quoted,
        at=at,
        name=name,
        in_reply_to=message_id,
        references=references,
        files=files,
    )


def calendar_accept(invitation: bytes, attendee: str, *, at: datetime) -> bytes:
    """What Outlook sends when the attendee presses Accept: an iTIP REPLY, no ORGANIZER."""
    message = parse(invitation)
    ics = next(
        str(p.get_content()) for p in message.walk() if p.get_content_type() == "text/calendar"
    )
    unfolded = ics.replace("\r\n ", "").splitlines()
    uid = next(line for line in unfolded if line.startswith("UID:"))
    sequence = next(line for line in unfolded if line.startswith("SEQUENCE:"))
    calendar = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN",
            "VERSION:2.0",
            "METHOD:REPLY",
            "BEGIN:VEVENT",
            uid,
            sequence,
            f"DTSTAMP:{at.astimezone(UTC):%Y%m%dT%H%M%SZ}",
            f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{attendee}",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
    boundary = "=_demo_calendar"
    lines = [
        _header("From", attendee),
        _header("To", MAILBOX),
        _header("Subject", "已接受: " + str(message["Subject"])),
        _header("Date", email.utils.format_datetime(at)),
        _header("Message-ID", email.utils.make_msgid(domain=CLIENT_DOMAIN)),
        b"MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"'.encode("ascii"),
    ]
    parts = [
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "已接受\r\n",
        "Content-Type: text/calendar; method=REPLY; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n" + calendar,
    ]
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--\r\n"
    return b"\r\n".join(lines) + b"\r\n\r\n" + body.encode("utf-8")


# --- what is written -----------------------------------------------------------------------

REQUEST = """各位好：

为统一供应商对账口径，申请跨部门协作如下。

需求名称：供应商对账流程线上化
发起部门：财务部
接收部门：研发部、行政部
背景与目标：目前每月对账依赖线下表格，差错率高。
希望将对账流程迁移到系统中，按期完成试运行。
期望完成时间：{due}
紧急程度：紧急
所需资源：研发 2 人周，行政部提供历史对账数据
验收标准：三家试点供应商连续一个月线上对账无差错

谢谢！
吴芳
"""

ITEMS = [
    "- 对账规则整理 | 负责人：李娜 li.na@example.com | 截止：{first} | "
    "交付物：对账规则说明 | 协作人：王强",
    "- 系统接口开发 | 负责人：王强 | 截止：{second} | "
    "交付物：接口与测试报告 | 验收标准：三家试点零差错",
]


def minutes(items: Sequence[str], note: str = "") -> str:
    return "\n".join(
        [
            f"各位好，启动会纪要如下。{note}",
            "",
            "参会人员：赵磊、何军、周敏、吴芳",
            "讨论要点：对账口径统一；试点供应商三家",
            "共识事项：按期试运行",
            "待办事项：",
            *items,
            "",
            "赵磊",
        ]
    )


def issue(number: str, task: str) -> str:
    return "\n".join(
        [
            f"所属任务：{number}/{task}",
            "问题描述：供应商接口文档缺失，联调无法开始",
            f"影响范围：{task} 系统接口开发",
            "已尝试方案：两次邮件联系供应商",
            "所需支持：请财务部协调供应商提供接口文档",
            "紧急程度：紧急",
            "",
            "王强",
        ]
    )


REVIEW = """各位好，复盘如下。

目标达成情况：三家试点供应商已切换到线上对账
成功经验：每周进度同步及时，问题当天协调
不足：启动会前材料准备不足
改进措施：
1. 启动会前两天发送材料清单
2. 接口文档纳入供应商准入要求

赵磊
"""
