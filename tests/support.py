"""Helpers shared by the integration tests: settings in a scratch directory, a built app."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable, Mapping
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from daemon.bootstrap import App, build_app
from daemon.settings import Settings, load_settings
from workflow.clock import FrozenClock

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: A Monday morning in the corpus's month, inside working hours.
T0 = datetime(2026, 3, 16, 9, 0, tzinfo=SHANGHAI)


def scratch_env(root: Path, **overrides: str) -> dict[str, str]:
    env = {
        "LIAISON_STORE_URL": f"sqlite:///{root / 'liaison.db'}",
        "LIAISON_STORE_ATTACHMENTS_DIR": str(root / "attachments"),
        "LIAISON_OUTBOUND_MAILDIR": str(root / "sent"),
        "LIAISON_SECURITY_TRUSTED_AUTHSERV_ID": "mx.example.com",
    }
    env.update(overrides)
    return env


def scratch_settings(
    root: Path, env: Mapping[str, str] | None = None, **overrides: str
) -> Settings:
    return load_settings(None, environ={**(env or scratch_env(root)), **overrides})


def scratch_app(root: Path, *, at: datetime = T0, **overrides: str) -> tuple[App, FrozenClock]:
    clock = FrozenClock(at)
    app = build_app(scratch_settings(root, **overrides), clock=clock)
    return app, clock


def parse_mail(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def text_of(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def with_message_id(raw: bytes, message_id: str) -> bytes:
    """The same message under another Message-ID (so it counts as a new one)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"message-id:")]
    lines.append(b"Message-ID: " + message_id.encode())
    return b"\r\n".join(lines) + sep + body


def wait_until(
    predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition"
) -> None:
    """Poll ``predicate`` until true; fail after ``timeout``. For state owned by another
    process (a mailbox, a database) where no event can be waited on."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def imap_smtp_env(root: Path, imap: object, sink: object, **overrides: str) -> dict[str, str]:
    """Environment for a service reading the test Dovecot and sending to the SMTP sink."""
    secret = root / "imap-password"
    secret.write_text(imap.password)
    env = scratch_env(root)
    env.update(
        {
            "LIAISON_MAILBOX_BACKEND": "imap",
            "LIAISON_MAILBOX_IMAP_HOST": imap.host,
            "LIAISON_MAILBOX_IMAP_PORT": str(imap.port),
            "LIAISON_MAILBOX_IMAP_SECURITY": "none",
            "LIAISON_MAILBOX_IMAP_USERNAME": imap.user,
            "LIAISON_MAILBOX_IMAP_PASSWORD_FILE": str(secret),
            "LIAISON_MAILBOX_IMAP_IDLE_TIMEOUT": "30",
            "LIAISON_OUTBOUND_TRANSPORT": "smtp",
            "LIAISON_OUTBOUND_SMTP_HOST": sink.host,
            "LIAISON_OUTBOUND_SMTP_PORT": str(sink.port),
            "LIAISON_OUTBOUND_SMTP_SECURITY": "none",
        }
    )
    env.update(overrides)
    return env


def build_reply(
    answered: bytes,
    *,
    sender: str,
    body: str,
    sender_name: str | None = None,
    authenticated: bool = True,
    authserv_id: str = "mx.example.com",
    to: str | None = None,
    in_reply_to: bool = True,
    references: bool = True,
    subject: str | None = None,
    message_id: str | None = None,
    extra_headers: Mapping[str, str] | None = None,
    quote: bool = True,
) -> bytes:
    """A reply as a mail client would send it to ``answered`` (one of our outbound mails).

    ``authenticated`` adds the trusted MX's ``Authentication-Results ... dmarc=pass``;
    ``to`` defaults to the answered mail's Reply-To, else its From (where a client sends
    a reply); the quoted original follows the new text like Outlook quotes it.
    """
    import email.utils
    from email.header import Header

    original = parse_mail(answered)
    reply_target = to or str(original["Reply-To"] or original["From"].addresses[0].addr_spec)
    lines: list[str] = []
    if authenticated:
        domain = sender.rpartition("@")[2]
        lines.append(
            f"Authentication-Results: {authserv_id}; dkim=pass header.d={domain}; "
            f"spf=pass smtp.mailfrom={sender}; dmarc=pass header.from={domain}"
        )
    display = Header(sender_name, "utf-8").encode() if sender_name else None
    lines.append(f"From: {display} <{sender}>" if display else f"From: {sender}")
    lines.append(f"To: {reply_target}")
    subj = subject if subject is not None else "回复: " + str(original["Subject"])
    lines.append(f"Subject: {Header(subj, 'utf-8').encode()}")
    lines.append("Date: " + email.utils.format_datetime(T0.replace(hour=10)))
    lines.append(f"Message-ID: {message_id or email.utils.make_msgid(domain='client.example.com')}")
    if in_reply_to:
        lines.append(f"In-Reply-To: {original['Message-ID']}")
    if references:
        refs = " ".join(
            filter(None, [str(original.get("References") or ""), str(original["Message-ID"])])
        )
        lines.append(f"References: {refs}")
    for name, value in (extra_headers or {}).items():
        lines.append(f"{name}: {value}")
    lines += [
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    text = body.rstrip("\n") + "\n"
    if quote:
        text += "\n-----原始邮件-----\n发件人: " + str(original["From"]) + "\n"
        text += "发送时间: 2026年3月16日 9:00\n主题: " + str(original["Subject"]) + "\n\n"
        text += text_of(original)
    head = "\r\n".join(lines)
    return (head + "\r\n\r\n" + text.replace("\r\n", "\n").replace("\n", "\r\n")).encode("utf-8")


#: The shipped example configuration files (directory.toml, liaison.toml).
ROOT_EXAMPLES = Path(__file__).resolve().parent.parent / "daemon" / "examples"
