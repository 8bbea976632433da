"""Kill the real service with SIGKILL at chosen points, restart it, and count what came out.

The service runs as ``liaison run`` in a child process reading the test Dovecot and
sending to the SMTP sink. ``LIAISON_CRASH_AT`` names the point where it kills itself
(see daemon/faults.py); ``LIAISON_CRASH_ONCE`` makes the restarted process run through.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.bootstrap import build_app
from store.uow import SqlUnitOfWork
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp_sink import SmtpSink
from tests.support import imap_smtp_env, parse_mail, scratch_settings, wait_until

REQUEST = "req_06_gmail_utf8_qp.eml"


class Daemon:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LIAISON_")}
        self.env.update(env)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, **extra: str) -> subprocess.Popen[bytes]:
        log = open(self.root / "daemon.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daemon.cli", "run"],
            cwd=self.root,
            env={**self.env, **extra},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self.proc

    def wait_killed(self, timeout: float = 30) -> None:
        assert self.proc is not None
        code = self.proc.wait(timeout)
        assert code == -signal.SIGKILL, f"expected SIGKILL, exit {code}; log:\n{self.log()}"

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)

    def log(self) -> str:
        return (self.root / "daemon.log").read_text(errors="replace")


@pytest.fixture
def daemon(tmp_path: Path, imap_server: DovecotServer, smtp_sink: SmtpSink) -> Iterator[Daemon]:
    env = imap_smtp_env(tmp_path, imap_server, smtp_sink, LIAISON_OUTBOUND_CLAIM_LEASE="2")
    d = Daemon(tmp_path, env)
    yield d
    if d.proc is not None and d.proc.poll() is None:
        d.proc.kill()
        d.proc.wait(10)


def _state(root: Path, env: dict[str, str]) -> tuple[list[str], int, int]:
    """Requests, outbox rows, pending outbox rows — read from the daemon's database."""
    app = build_app(scratch_settings(root, env), migrate=False)
    try:
        with SqlUnitOfWork(app.session_factory) as uow:
            numbers = [r.number for r in uow.requests.list()]
            rows = len(uow.outbox.in_state("pending")) + len(uow.outbox.in_state("sent"))
            return numbers, rows, uow.outbox.pending_count()
    finally:
        app.close()


def _run_to_completion(daemon: Daemon, imap: DovecotServer, sink: SmtpSink) -> None:
    daemon.start()
    wait_until(lambda: imap.list_uids("INBOX") == [], timeout=30, what="INBOX emptied")
    sink.wait_for(2, timeout=30)
    wait_until(lambda: _state(daemon.root, daemon.env)[2] == 0, timeout=30, what="outbox drained")
    assert daemon.stop() == 0, daemon.log()


@pytest.mark.parametrize("point", ["after-commit", "before-commit"])
def test_killed_around_the_commit_loses_nothing_and_acknowledges_once(
    daemon: Daemon, imap_server: DovecotServer, smtp_sink: SmtpSink, corpus_dir: Path, point: str
) -> None:
    raw = (corpus_dir / REQUEST).read_bytes()
    imap_server.append(raw)
    daemon.start(LIAISON_CRASH_AT=point, LIAISON_CRASH_ONCE=str(daemon.root / "crashed"))
    daemon.wait_killed()

    # The source was never told: the message is still in the inbox.
    assert imap_server.fetch("INBOX") == [raw]
    numbers, _, _ = _state(daemon.root, daemon.env)
    assert numbers == (["XT-2026-0001"] if point == "after-commit" else [])

    _run_to_completion(daemon, imap_server, smtp_sink)
    assert imap_server.fetch("Processed") == [raw]
    numbers, rows, pending = _state(daemon.root, daemon.env)
    assert numbers == ["XT-2026-0001"]
    assert (rows, pending) == (2, 0)
    sent = smtp_sink.messages
    ids = sorted(parse_mail(m.raw)["Message-ID"] for m in sent)
    assert len(sent) == 2 and len(set(ids)) == 2, ids
    acks = [m for m in sent if parse_mail(m.raw)["In-Reply-To"] == parse_mail(raw)["Message-ID"]]
    assert len(acks) == 1


def test_killed_after_the_relay_accepted_resends_the_same_message(
    daemon: Daemon, imap_server: DovecotServer, smtp_sink: SmtpSink, corpus_dir: Path
) -> None:
    raw = (corpus_dir / REQUEST).read_bytes()
    imap_server.append(raw)
    daemon.start(LIAISON_CRASH_AT="after-send", LIAISON_CRASH_ONCE=str(daemon.root / "crashed"))
    daemon.wait_killed()
    first = smtp_sink.wait_for(1, timeout=10)
    assert len(first) == 1

    _run_to_completion(daemon, imap_server, smtp_sink)
    numbers, rows, pending = _state(daemon.root, daemon.env)
    assert numbers == ["XT-2026-0001"]
    assert (rows, pending) == (2, 0)
    # The one mail whose delivery was not recorded went out again: same Message-ID,
    # same bytes. Nothing else was sent twice.
    by_id: dict[str, list[bytes]] = {}
    for m in smtp_sink.messages:
        by_id.setdefault(parse_mail(m.raw)["Message-ID"], []).append(m.raw)
    assert len(by_id) == 2
    counts = sorted(len(v) for v in by_id.values())
    assert counts == [1, 2]
    twice = next(v for v in by_id.values() if len(v) == 2)
    assert twice[0] == twice[1]


def test_sigterm_stops_cleanly_and_a_restart_catches_up(
    daemon: Daemon, imap_server: DovecotServer, smtp_sink: SmtpSink, corpus_dir: Path
) -> None:
    daemon.start()
    wait_until(lambda: "Processed" in imap_server.folders(), timeout=30, what="service connected")
    assert daemon.stop() == 0, daemon.log()
    # Mail arriving while the service is down is picked up on the next start.
    raw = (corpus_dir / REQUEST).read_bytes()
    imap_server.append(raw)
    _run_to_completion(daemon, imap_server, smtp_sink)
    assert _state(daemon.root, daemon.env)[0] == ["XT-2026-0001"]
