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


def scratch_settings(root: Path, env: Mapping[str, str] | None = None, **overrides: str) -> Settings:
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


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
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
    secret.write_text(getattr(imap, "password"))
    env = scratch_env(root)
    env.update(
        {
            "LIAISON_MAILBOX_BACKEND": "imap",
            "LIAISON_MAILBOX_IMAP_HOST": getattr(imap, "host"),
            "LIAISON_MAILBOX_IMAP_PORT": str(getattr(imap, "port")),
            "LIAISON_MAILBOX_IMAP_SECURITY": "none",
            "LIAISON_MAILBOX_IMAP_USERNAME": getattr(imap, "user"),
            "LIAISON_MAILBOX_IMAP_PASSWORD_FILE": str(secret),
            "LIAISON_MAILBOX_IMAP_IDLE_TIMEOUT": "30",
            "LIAISON_OUTBOUND_TRANSPORT": "smtp",
            "LIAISON_OUTBOUND_SMTP_HOST": getattr(sink, "host"),
            "LIAISON_OUTBOUND_SMTP_PORT": str(getattr(sink, "port")),
            "LIAISON_OUTBOUND_SMTP_SECURITY": "none",
        }
    )
    env.update(overrides)
    return env
