"""``liaison demo``: a request mail arrives through the embedded listener and is answered.

Runs the real service (listener, pipeline, store, outbox, Maildir transport) on the
embedded defaults inside a scratch directory, sends one request over LMTP like a mail
server would, and prints what was received and what was sent.
"""

from __future__ import annotations

import email
import email.policy
import smtplib
import socket
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import TextIO

from daemon.bootstrap import build_app
from daemon.service import Service
from daemon.settings import load_settings
from store.uow import SqlUnitOfWork

REQUESTER = ("李娜", "li.na@example.com")

DEMO_BODY = """各位好：

为统一供应商对账口径，申请跨部门协作如下。

需求名称：供应商对账流程线上化
发起部门：财务部
接收部门：研发部、采购部
背景与目标：目前每月对账依赖线下表格，差错率高。
希望将对账流程迁移到系统中，月底前完成试运行。
期望完成时间：{due}
紧急程度：紧急
所需资源：研发 2 人周，采购部提供历史对账数据
验收标准：三家试点供应商连续一个月线上对账无差错

谢谢！
李娜
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_request(now: datetime) -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = f"{REQUESTER[0]} <{REQUESTER[1]}>"
    msg["To"] = "协调办公室 <coord@example.com>"
    msg["Subject"] = "[需求] 供应商对账流程线上化"
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain="example.com")
    due = f"{now.year + (1 if now.month == 12 else 0)}-{(now.month % 12) + 1:02d}-28"
    msg.set_content(DEMO_BODY.format(due=due), charset="utf-8")
    return msg.as_bytes()


def run_demo(workdir: Path | None = None, out: TextIO | None = None) -> int:
    import sys

    write = (out or sys.stdout).write
    with tempfile.TemporaryDirectory(prefix="liaison-demo-") as tmp:
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
            },
        )
        app = build_app(settings)
        service = Service(app)
        service.start()
        try:
            write(f"Liaison demo — embedded defaults, working files in {root}\n\n")
            raw = demo_request(datetime.now(UTC))
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
            write(f"1. A request arrives over LMTP at 127.0.0.1:{port}\n")
            write(f"   From:    {parsed['From']}\n   Subject: {parsed['Subject']}\n")
            with smtplib.LMTP("127.0.0.1", port, timeout=30) as lmtp:
                lmtp.sendmail(REQUESTER[1], ["coord@example.com"], raw)
            write("   Listener answered 250: the message and its effects are committed.\n\n")

            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                with SqlUnitOfWork(app.session_factory) as uow:
                    if uow.outbox.pending_count() == 0:
                        break
                service.dispatcher.wakeup.set()
                time.sleep(0.05)

            with SqlUnitOfWork(app.session_factory) as uow:
                requests = uow.requests.list()
                for r in requests:
                    write(f"2. Registered {r.number}: {r.title}\n")
                    write(
                        f"   state={r.state} requester={r.requester_email} "
                        f"due={r.due} urgency={r.urgency}\n"
                    )
                    write(f"   receiving departments: {'、'.join(r.receiving_departments)}\n\n")
            sent = sorted((root / "sent").rglob("*"))
            files = [p for p in sent if p.is_file() and p.parent.name in ("new", "cur")]
            write(f"3. Sent {len(files)} mail(s) to the Maildir {root / 'sent'}:\n")
            for path in files:
                m = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                write(
                    f"   To: {m['To']}\n   Subject: {m['Subject']}\n"
                    f"   Message-ID: {m['Message-ID']}\n"
                )
                body = m.get_body(preferencelist=("plain",))
                if body is not None:
                    lines = [ln for ln in body.get_content().splitlines() if ln.strip()][:4]
                    for ln in lines:
                        write(f"     | {ln}\n")
                write("\n")
            ok = bool(requests) and len(files) >= 2
            write("Demo finished: " + ("ok\n" if ok else "something was missing\n"))
            return 0 if ok else 1
        finally:
            service.stop()
