"""The running service against a real Dovecot and a real SMTP sink."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.bootstrap import build_app
from daemon.listener import ListenerServer
from daemon.service import Service
from store.uow import SqlUnitOfWork
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp_sink import SmtpSink
from tests.support import imap_smtp_env, parse_mail, scratch_settings, wait_until

REQUEST = "req_02_outlook_html_only_gb2312_label_gbk_chars.eml"


@pytest.fixture
def service(tmp_path: Path, imap_server: DovecotServer, smtp_sink: SmtpSink) -> Iterator[Service]:
    env = imap_smtp_env(tmp_path, imap_server, smtp_sink)
    svc = Service(build_app(scratch_settings(tmp_path, env)))
    svc.start()
    yield svc
    svc.stop()


def _requests(svc: Service) -> list[str]:
    with SqlUnitOfWork(svc.app.session_factory) as uow:
        return [r.number for r in uow.requests.list()]


def test_request_in_imap_is_acknowledged_by_smtp_and_moved(
    service: Service, imap_server: DovecotServer, smtp_sink: SmtpSink, corpus_dir: Path
) -> None:
    raw = (corpus_dir / REQUEST).read_bytes()
    imap_server.append(raw)
    sent = smtp_sink.wait_for(2, timeout=15)
    request_id = parse_mail(raw)["Message-ID"]
    ack = next(m for m in sent if parse_mail(m.raw)["In-Reply-To"] == request_id)
    assert ack.recipients == (parse_mail(raw)["From"].addresses[0].addr_spec,)
    assert "XT-2026-0001" in parse_mail(ack.raw)["Subject"]
    notice = next(m for m in sent if m is not ack)
    assert notice.recipients == ("office@example.com",)
    wait_until(lambda: imap_server.list_uids("Processed") != [], what="move to Processed")
    assert imap_server.list_uids("INBOX") == []
    assert imap_server.fetch("Processed") == [raw]

    # Re-appended: recognised, moved, no second acknowledgement.
    imap_server.append(raw)
    wait_until(lambda: len(imap_server.list_uids("Processed")) == 2, what="second move")
    assert _requests(service) == ["XT-2026-0001"]
    with SqlUnitOfWork(service.app.session_factory) as uow:
        assert uow.outbox.pending_count() == 0
    assert len(smtp_sink.messages) == 2


def test_hostile_mail_in_imap_goes_to_the_quarantine_folder(
    service: Service, imap_server: DovecotServer, smtp_sink: SmtpSink, corpus_dir: Path
) -> None:
    raw = (corpus_dir / "hostile_04_attachment_path_traversal.eml").read_bytes()
    imap_server.append(raw)
    wait_until(lambda: imap_server.list_uids("Quarantine") != [], what="move to Quarantine")
    assert imap_server.list_uids("INBOX") == []
    with SqlUnitOfWork(service.app.session_factory) as uow:
        [row] = uow.inbound.quarantined()
        assert row.reason and "path_traversal" in row.reason
    assert smtp_sink.messages == []


def test_same_message_by_imap_and_by_listener_makes_one_request(
    service: Service, imap_server: DovecotServer, smtp_sink: SmtpSink, corpus_dir: Path
) -> None:
    raw = (corpus_dir / "req_05_163_gbk_relative_date.eml").read_bytes()
    listener = ListenerServer("127.0.0.1", 0, "lmtp", service.pipeline.handle)
    listener.start()
    try:
        with smtplib.LMTP("127.0.0.1", listener.port, timeout=30) as lmtp:
            refused = lmtp.sendmail("someone@example.com", ["coord@example.com"], raw)
        assert refused == {}
    finally:
        listener.stop()
    imap_server.append(raw)
    wait_until(lambda: imap_server.list_uids("Processed") != [], what="move to Processed")
    assert _requests(service) == ["XT-2026-0001"]
    smtp_sink.wait_for(2, timeout=15)
    with SqlUnitOfWork(service.app.session_factory) as uow:
        assert uow.outbox.pending_count() == 0
    assert len(smtp_sink.messages) == 2


def test_relay_deferral_is_retried_and_delivered(
    tmp_path: Path, imap_server: DovecotServer, smtp_sink: SmtpSink, corpus_dir: Path
) -> None:
    from datetime import timedelta

    from daemon.outbox import OutboxDispatcher
    from tests.support import T0
    from workflow.clock import FrozenClock

    clock = FrozenClock(T0)
    app = build_app(
        scratch_settings(tmp_path, imap_smtp_env(tmp_path, imap_server, smtp_sink)), clock=clock
    )
    try:
        svc = Service(app)
        from daemon.inbound import Arrival, SourceRef

        svc.pipeline.handle(
            Arrival(SourceRef("test", None, "1"), (corpus_dir / REQUEST).read_bytes())
        )
        smtp_sink.fail_next(2, code=451)
        dispatcher: OutboxDispatcher = svc.dispatcher
        first = dispatcher.run_once()
        assert (first.sent, first.retried) == (0, 2)
        assert dispatcher.run_once().sent == 0  # not due yet: backoff
        clock.advance(timedelta(hours=2))
        assert dispatcher.run_once().sent == 2
        assert len(smtp_sink.messages) == 2
        smtp_sink.refuse_recipient("office@example.com", code=550)
        svc.pipeline.handle(
            Arrival(
                SourceRef("test", None, "2"), (corpus_dir / "req_06_gmail_utf8_qp.eml").read_bytes()
            )
        )
        report = dispatcher.run_once()
        assert (report.sent, report.failed) == (1, 1)
        with SqlUnitOfWork(app.session_factory) as uow:
            [failed] = uow.outbox.in_state("failed")
            assert failed.recipients == ["office@example.com"]
            assert failed.last_error and "550" in failed.last_error
    finally:
        app.close()
