"""One request driven by mail through the running service: a real Dovecot mailbox in, an
SMTP sink out, a frozen clock moved forward by the test.

:class:`Flow` builds the app with a :class:`~workflow.clock.FrozenClock` and starts the
real :class:`~daemon.service.Service` (IMAP intake, isolated parser, pipeline, outbox
dispatcher, and its own once-a-minute scheduler). A step is either

- :meth:`Flow.deliver`: the clock is set, the mail is APPENDed to the Dovecot INBOX, and
  the step waits until the service has processed it and the outbox is drained; or
- :meth:`Flow.tick`: the clock is set and ``workflow.clocks.tick`` runs once, the same
  function ``liaison tick --now`` runs (optionally that very command in a subprocess);
  then the service's own scheduler job is run at the same instant and must add nothing.

Either way the step returns every mail the SMTP sink received during it, each mapped by
its Message-ID to the outbox row that produced it (its kind and request number). A mail
the sink received twice, or a queued mail it never received, fails the step.

The mail builders below stand for what people send from their mail clients; replies
are :func:`tests.support.build_reply` (which adds the trusted Authentication-Results).
"""

from __future__ import annotations

import base64
import email.utils
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent

from daemon.bootstrap import build_app
from daemon.service import Service
from store.uow import SqlUnitOfWork
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp_sink import CapturedMessage, SmtpSink
from tests.support import ROOT_EXAMPLES, build_reply, imap_smtp_env, parse_mail, scratch_settings
from workflow.clock import FrozenClock
from workflow.clocks import tick
from workflow.queries import show_request

MAILBOX = "coord@example.com"
#: Outbox kinds that go to the calendar backend, not to a mail server.
CALENDAR_KINDS = ("calendar/",)
#: How long one step may take before it fails (the service works in other threads).
STEP_TIMEOUT = 20.0

Triple = tuple[str, str, str | None]


@dataclass(frozen=True)
class Sent:
    """One mail as the SMTP sink received it, with what the outbox says it is."""

    kind: str
    recipients: tuple[str, ...]  # the envelope: To and Cc
    number: str | None
    message_id: str
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return parse_mail(self.raw)

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])


@dataclass(frozen=True)
class Step:
    label: str
    at: datetime
    mails: tuple[Sent, ...]
    #: Team-calendar rows queued in the step (``calendar/publish``, ``calendar/cancel``).
    calendar: tuple[str, ...] = ()

    def triples(self) -> Counter[Triple]:
        """The multiset of (kind, recipient, number): one per envelope recipient."""
        return Counter((m.kind, r, m.number) for m in self.mails for r in m.recipients)

    def one(self, kind: str, to: str | None = None, containing: str = "") -> Sent:
        found = [
            m
            for m in self.mails
            if m.kind == kind
            and (to is None or to.lower() in m.recipients)
            and containing in m.subject
        ]
        assert len(found) == 1, f"{self.label}: {len(found)} mails {kind} to {to}: {self.mails}"
        return found[0]


def expected(number: str | None, *pairs: tuple[str, str | Iterable[str]]) -> Counter[Triple]:
    """The multiset a step should send: (kind, recipient or recipients) for ``number``."""
    found: Counter[Triple] = Counter()
    for kind, who in pairs:
        for address in [who] if isinstance(who, str) else who:
            found[(kind, address.lower(), number)] += 1
    return found


class Flow:
    """The running service of one profile; see the module docstring."""

    def __init__(
        self,
        root: Path,
        imap: DovecotServer,
        sink: SmtpSink,
        *,
        profile: str,
        start: datetime,
        **settings: str,
    ) -> None:
        self.imap = imap
        self.sink = sink
        self.env = imap_smtp_env(
            root,
            imap,
            sink,
            LIAISON_WORKFLOW_PROFILE=profile,
            LIAISON_DIRECTORY_FILE=str(ROOT_EXAMPLES / "directory.toml"),
            **settings,
        )
        self.clock = FrozenClock(start)
        self.app = build_app(scratch_settings(root, self.env), clock=self.clock)
        self.service = Service(self.app)
        self.steps: list[Step] = []
        self._last_outbox_id = 0
        self._seen_sink = 0
        self._job_done = threading.Event()
        self._job_error: BaseException | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Flow:
        self.service.start()
        assert self.service.scheduler is not None
        self.service.scheduler.add_listener(self._on_job, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        return self

    def stop(self) -> None:
        self.service.stop()

    def _on_job(self, event: JobExecutionEvent) -> None:
        if event.job_id == "clocks":
            self._job_error = event.exception
            self._job_done.set()

    # -- steps -------------------------------------------------------------------------

    def deliver(self, raw: bytes, *, at: datetime, label: str = "") -> Step:
        """``raw`` arrives in the INBOX at ``at``; every mail it causes."""
        return self.deliver_all([raw], at=at, label=label)

    def deliver_all(self, raws: Sequence[bytes], *, at: datetime, label: str = "") -> Step:
        """Several mails arrive together at ``at``; the service reads them oldest first."""
        self.clock.set(at)
        ids = [str(parse_mail(raw)["Message-ID"]) for raw in raws]
        for raw in raws:
            self.imap.append(raw)
        for message_id in ids:
            self._wait_processed(message_id)
        return self._collect(label or f"deliver at {at.isoformat()}", at)

    def tick(self, at: datetime, *, label: str = "", cli: bool = False) -> Step:
        """The clocks run once at ``at`` (``liaison tick --now`` in a subprocess with
        ``cli``); then the service's own scheduler job runs at the same instant and must
        queue nothing more."""
        self.clock.set(at)
        if cli:
            self._tick_by_cli(at)
        else:
            with SqlUnitOfWork(self.app.session_factory) as uow:
                tick(uow=uow, now=self.clock.now(), config=self.app.workflow)
                uow.commit()
        self.service.dispatcher.wakeup.set()
        step = self._collect(label or f"tick at {at.isoformat()}", at)
        again = self._run_scheduler_job()
        assert again.mails == () and again.calendar == (), (
            f"the scheduler repeated {step.label}: {again.mails}"
        )
        return step

    def _tick_by_cli(self, at: datetime) -> None:
        liaison = Path(sys.executable).with_name("liaison")
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIAISON_")}
        ran = subprocess.run(
            [str(liaison), "tick", "--now", at.isoformat()],
            env={**env, **self.env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert f"tick at {at.isoformat()}" in ran.stdout, ran.stdout

    def _run_scheduler_job(self) -> Step:
        """The service's scheduler runs its clocks job now (on the frozen clock)."""
        assert self.service.scheduler is not None
        job = self.service.scheduler.get_job("clocks")
        assert job is not None
        self._job_done.clear()
        job.modify(next_run_time=datetime.now(UTC))
        assert self._job_done.wait(STEP_TIMEOUT), "the scheduler's clocks job did not run"
        assert self._job_error is None, self._job_error
        return self._collect("scheduler", self.clock.now())

    # -- waiting and collecting ---------------------------------------------------------

    def _wait_processed(self, message_id: str) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            with SqlUnitOfWork(self.app.session_factory) as uow:
                row = uow.inbound.by_message_id(message_id)
                if row is not None and row.state != "received":
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"{message_id} was not processed within {STEP_TIMEOUT}s")
            time.sleep(0.02)

    def _collect(self, label: str, at: datetime) -> Step:
        """Wait until the outbox is drained; the mails the sink got for the new rows."""
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            with SqlUnitOfWork(self.app.session_factory) as uow:
                if uow.outbox.pending_count() == 0:
                    rows = _rows_after(uow, self._last_outbox_id)
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"{label}: the outbox was not drained")
            self.service.dispatcher.wakeup.set()
            time.sleep(0.02)
        failed = [(r.kind, r.recipients, r.error) for r in rows if r.state != "sent"]
        assert not failed, f"{label}: not sent: {failed}"
        mail_rows = [r for r in rows if not r.kind.startswith(CALENDAR_KINDS)]
        captured = self.sink.wait_for(self._seen_sink + len(mail_rows), timeout=STEP_TIMEOUT)
        fresh = captured[self._seen_sink :]
        by_id: dict[str, list[CapturedMessage]] = {}
        for message in fresh:
            by_id.setdefault(str(parse_mail(message.raw)["Message-ID"]), []).append(message)
        mails: list[Sent] = []
        for row in mail_rows:
            got = by_id.pop(row.message_id, [])
            assert len(got) == 1, f"{label}: {row.kind} {row.message_id} arrived {len(got)} times"
            mails.append(
                Sent(
                    kind=row.kind,
                    recipients=tuple(r.lower() for r in got[0].recipients),
                    number=row.number,
                    message_id=row.message_id,
                    raw=got[0].raw,
                )
            )
        assert not by_id, f"{label}: the sink got mail no outbox row explains: {list(by_id)}"
        if rows:
            self._last_outbox_id = rows[-1].id
        self._seen_sink += len(fresh)
        step = Step(
            label,
            at,
            tuple(mails),
            tuple(r.kind for r in rows if r.kind.startswith(CALENDAR_KINDS)),
        )
        self.steps.append(step)
        return step

    # -- reading ------------------------------------------------------------------------

    def view(self, number: str) -> dict[str, Any]:
        """``liaison show NUMBER --json``."""
        with SqlUnitOfWork(self.app.session_factory) as uow:
            return show_request(uow, number, self.app.workflow)

    def state(self, number: str) -> str:
        return str(self.view(number)["state"])

    def sent(self, kind: str, to: str | None = None, containing: str = "") -> Sent:
        """The latest mail of ``kind`` (to ``to``, with ``containing`` in its subject)."""
        for step in reversed(self.steps):
            for mail in reversed(step.mails):
                if (
                    mail.kind == kind
                    and (to is None or to.lower() in mail.recipients)
                    and containing in mail.subject
                ):
                    return mail
        raise AssertionError(f"no {kind} to {to} containing {containing!r} was sent")

    def all_mails(self) -> list[Sent]:
        return [m for step in self.steps for m in step.mails]


@dataclass(frozen=True)
class _Row:
    id: int
    kind: str
    state: str
    recipients: tuple[str, ...]
    message_id: str
    number: str | None
    error: str | None


def _rows_after(uow: SqlUnitOfWork, last_id: int) -> list[_Row]:
    """Outbox rows after ``last_id``, oldest first, as plain values."""
    rows = [
        r for r in uow.outbox.in_state("sent") + uow.outbox.in_state("failed") if r.id > last_id
    ]
    found = []
    for row in sorted(rows, key=lambda r: r.id):
        request = uow.requests.by_id(row.request_id) if row.request_id else None
        found.append(
            _Row(
                row.id,
                row.kind,
                row.state,
                tuple(row.recipients),
                row.message_id,
                request.number if request else None,
                row.last_error,
            )
        )
    return found


# --- what people send ----------------------------------------------------------------------


@dataclass(frozen=True)
class File:
    name: str
    content_type: str
    data: bytes = field(repr=False)


def new_mail(
    sender: str,
    subject: str,
    body: str,
    *,
    at: datetime,
    name: str | None = None,
    files: Sequence[File] = (),
) -> bytes:
    """A new mail to the coordination mailbox from ``sender``'s client, authenticated by
    the trusted MX (``Authentication-Results: mx.example.com``)."""
    domain = sender.rpartition("@")[2]
    msg = EmailMessage()
    msg["Authentication-Results"] = (
        f"mx.example.com; dkim=pass header.d={domain}; dmarc=pass header.from={domain}"
    )
    msg["From"] = email.utils.formataddr((name, sender)) if name else sender
    msg["To"] = MAILBOX
    msg["Subject"] = subject
    msg["Date"] = email.utils.format_datetime(at)
    msg["Message-ID"] = email.utils.make_msgid(domain="client.example.com")
    msg.set_content(body, charset="utf-8", cte="8bit")
    for file in files:
        maintype, _, subtype = file.content_type.partition("/")
        msg.add_attachment(file.data, maintype=maintype, subtype=subtype, filename=file.name)
    return msg.as_bytes()


def reply(
    answered: Sent,
    *,
    sender: str,
    body: str,
    at: datetime,
    files: Sequence[File] = (),
) -> bytes:
    """``sender`` answers one of our mails from their client (``build_reply``), on ``at``,
    with ``files`` attached.

    The bytes of ``build_reply`` are edited, not re-serialised: the email package folds
    a long Message-ID in In-Reply-To/References into encoded words, which no client does.
    """
    raw = build_reply(answered.raw, sender=sender, body=body)
    head, _, text = raw.partition(b"\r\n\r\n")
    lines = [
        b"Date: " + email.utils.format_datetime(at).encode() if ln.startswith(b"Date:") else ln
        for ln in head.split(b"\r\n")
    ]
    if not files:
        return b"\r\n".join(lines) + b"\r\n\r\n" + text
    boundary = b"=_liaison_e2e_" + email.utils.make_msgid().strip("<>").split("@")[0].encode()
    mime = (b"Content-Type:", b"Content-Transfer-Encoding:")
    lines = [ln for ln in lines if not ln.startswith(mime)]
    lines.append(b'Content-Type: multipart/mixed; boundary="' + boundary + b'"')
    parts = [
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text
    ]
    for file in files:
        encoded = base64.encodebytes(file.data).replace(b"\n", b"\r\n")
        name = email.utils.encode_rfc2231(file.name, "utf-8").encode()
        parts.append(
            f"Content-Type: {file.content_type}\r\n".encode()
            + b"Content-Disposition: attachment; filename*="
            + name
            + b"\r\n"
            + b"Content-Transfer-Encoding: base64\r\n\r\n"
            + encoded
        )
    body_bytes = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body_bytes + b"--" + boundary + b"--\r\n"
