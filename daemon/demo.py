"""``liaison demo``: a request goes from mail to a scheduled kickoff, on the embedded defaults.

The real service (listener, pipeline, store, outbox, Maildir transport) runs inside a
scratch directory with the shipped example directory. Like a mail server would, the
demo delivers over LMTP: the request, the office's acceptance (a reply to the evaluation
notice), and one participant's answer to the kickoff invitation from a calendar client.
It prints what was received, what was decided and what was sent.
"""

from __future__ import annotations

import email
import email.policy
import smtplib
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from importlib import resources
from pathlib import Path
from typing import TextIO

from daemon.bootstrap import build_app
from daemon.service import Service
from daemon.settings import load_settings
from store.uow import SqlUnitOfWork
from workflow.queries import show_request

REQUESTER = ("李娜", "li.na@example.com")
OFFICE = "office@example.com"
MAILBOX = "coord@example.com"

DEMO_BODY = """各位好：

为统一供应商对账口径，申请跨部门协作如下。

需求名称：供应商对账流程线上化
发起部门：财务部
接收部门：研发部、行政部
背景与目标：目前每月对账依赖线下表格，差错率高。
希望将对账流程迁移到系统中，月底前完成试运行。
期望完成时间：{due}
紧急程度：紧急
所需资源：研发 2 人周，行政部提供历史对账数据
验收标准：三家试点供应商连续一个月线上对账无差错

谢谢！
李娜
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _message(sender: str, subject: str, body: str, now: datetime, **headers: str) -> EmailMessage:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = f"协调办公室 <{MAILBOX}>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain="example.com")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body, charset="utf-8")
    return msg


def demo_request(now: datetime) -> bytes:
    due = f"{now.year + (1 if now.month == 12 else 0)}-{(now.month % 12) + 1:02d}-28"
    body = DEMO_BODY.format(due=due)
    sender = f"{REQUESTER[0]} <{REQUESTER[1]}>"
    return _message(sender, "[需求] 供应商对账流程线上化", body, now).as_bytes()


def office_acceptance(notice: EmailMessage, now: datetime) -> bytes:
    """The office answers the evaluation notice from its mail client."""
    body = "受理 牵头部门：研发部 配合部门：财务部、行政部\n\n-----原始邮件-----\n（略）\n"
    return _message(
        f"协调办公室 <{OFFICE}>",
        "回复: " + str(notice["Subject"]),
        body,
        now,
        In_Reply_To=str(notice["Message-ID"]),
        References=str(notice["Message-ID"]),
    ).as_bytes()


def calendar_acceptance(invitation: EmailMessage, attendee: str, now: datetime) -> bytes:
    """What Outlook sends when the attendee presses Accept: an iTIP REPLY."""
    ics = next(
        p.get_content() for p in invitation.walk() if p.get_content_type() == "text/calendar"
    )
    uid = next(ln for ln in ics.replace("\r\n ", "").splitlines() if ln.startswith("UID:"))
    sequence = next(ln for ln in ics.splitlines() if ln.startswith("SEQUENCE:"))
    reply = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN",
            "VERSION:2.0",
            "METHOD:REPLY",
            "BEGIN:VEVENT",
            uid,
            sequence,
            f"DTSTAMP:{now:%Y%m%dT%H%M%SZ}",
            f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{attendee}",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
    msg = _message(attendee, "已接受: " + str(invitation["Subject"]), "已接受", now)
    msg.add_alternative(reply, subtype="calendar", params={"method": "REPLY"})
    return msg.as_bytes()


class _Demo:
    def __init__(self, root: Path, port: int, service: Service, write: Callable[[str], object]):
        self.root = root
        self.port = port
        self.service = service
        self.write = write
        self.seen: set[Path] = set()

    def deliver(self, sender: str, raw: bytes) -> None:
        with smtplib.LMTP("127.0.0.1", self.port, timeout=30) as lmtp:
            lmtp.sendmail(sender, [MAILBOX], raw)
        self._drain()

    def _drain(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with SqlUnitOfWork(self.service.app.session_factory) as uow:
                if uow.outbox.pending_count() == 0:
                    return
            self.service.dispatcher.wakeup.set()
            time.sleep(0.05)

    def new_mail(self) -> list[EmailMessage]:
        """Mails written to the Maildir since the last call, oldest first."""
        paths = sorted(
            (
                p
                for p in (self.root / "sent").rglob("*")
                if p.is_file() and p.parent.name in ("new", "cur")
            ),
            key=lambda p: p.stat().st_mtime_ns,
        )
        fresh = [p for p in paths if p not in self.seen]
        self.seen.update(fresh)
        return [
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in fresh
        ]

    def show_sent(self, mails: list[EmailMessage], lines: int = 2) -> None:
        for m in mails:
            calendar = any(p.get_content_type() == "text/calendar" for p in m.walk())
            mark = "  + calendar invitation (text/calendar, invite.ics)" if calendar else ""
            self.write(f"   → {m['To']}\n     {m['Subject']}{mark}\n")
            body = m.get_body(preferencelist=("plain",))
            if body is not None and lines:
                shown = [ln for ln in body.get_content().splitlines() if ln.strip()][:lines]
                for ln in shown:
                    self.write(f"       | {ln}\n")


def run_demo(workdir: Path | None = None, out: TextIO | None = None) -> int:
    write = (out or sys.stdout).write
    with (
        tempfile.TemporaryDirectory(prefix="liaison-demo-") as tmp,
        resources.as_file(resources.files("daemon.examples") / "directory.toml") as directory,
    ):
        root = workdir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        settings = load_settings(
            None,
            environ={
                "LIAISON_STORE_URL": f"sqlite:///{root / 'liaison.db'}",
                "LIAISON_STORE_ATTACHMENTS_DIR": str(root / "attachments"),
                "LIAISON_OUTBOUND_MAILDIR": str(root / "sent"),
                "LIAISON_MAILBOX_LISTENER_PORT": str(port),
                "LIAISON_DIRECTORY_FILE": str(directory),
            },
        )
        service = Service(build_app(settings))
        service.start()
        demo = _Demo(root, port, service, write)
        try:
            return _scenario(demo)
        finally:
            service.stop()


def _scenario(demo: _Demo) -> int:
    write = demo.write
    app = demo.service.app
    write(f"Liaison demo: embedded defaults, working files in {demo.root}\n\n")

    raw = demo_request(datetime.now(UTC))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    write(f"1. A request arrives over LMTP at 127.0.0.1:{demo.port}\n")
    write(f"   From: {parsed['From']}\n   Subject: {parsed['Subject']}\n")
    demo.deliver(REQUESTER[1], raw)
    with SqlUnitOfWork(app.session_factory) as uow:
        numbers = [r.number for r in uow.requests.list()]
    if not numbers:
        write("   nothing was registered\n")
        return 1
    number = numbers[0]
    write(f"   Registered as {number} (state: registered). Sent:\n")
    first = demo.new_mail()
    demo.show_sent(first)

    notice = next((m for m in first if str(m["Subject"]).startswith("[评估]")), None)
    if notice is None:
        write("   no evaluation notice was sent\n")
        return 1
    write("\n2. The coordination office accepts by replying to the evaluation notice\n")
    write("   受理 牵头部门：研发部 配合部门：财务部、行政部\n")
    demo.deliver(OFFICE, office_acceptance(notice, datetime.now(UTC)))
    second = demo.new_mail()
    demo.show_sent(second, lines=0)

    invitation = next(
        (
            m
            for m in second
            if "finance.lead@example.com" in str(m["To"]) and "[会议邀请]" in str(m["Subject"])
        ),
        None,
    )
    if invitation is not None:
        write("\n3. The head of 财务部 presses Accept in Outlook (an iTIP REPLY)\n")
        demo.deliver(
            "finance.lead@example.com",
            calendar_acceptance(invitation, "finance.lead@example.com", datetime.now(UTC)),
        )

    with SqlUnitOfWork(app.session_factory) as uow:
        view = show_request(uow, number, app.workflow)
    write(f"\n4. {number} now: state {view['state']}, lead {view['lead_department']}, ")
    write(f"supporting {'、'.join(view['supporting_departments'])}\n")
    for meeting in view["meetings"]:
        write(
            f"   {meeting['kind']} meeting {meeting['start']} "
            f"(UID {meeting['uid']}, SEQUENCE {meeting['sequence']})\n"
        )
        for attendee in meeting["attendees"]:
            write(f"     {attendee['partstat']:<13} {attendee['email']} ({attendee['role']})\n")
    write(f"   {len(view['communications'])} communication records\n")
    ok = (
        view["state"] == "accepted"
        and bool(view["meetings"])
        and any(a["partstat"] == "ACCEPTED" for m in view["meetings"] for a in m["attendees"])
    )
    write("\nDemo finished: " + ("ok\n" if ok else "something was missing\n"))
    return 0 if ok else 1
