"""Outbound transports against a real SMTP server (aiosmtpd) and a real Maildir."""

from __future__ import annotations

import email
import mailbox
import random
import socket
import ssl
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email import policy
from pathlib import Path

import pytest

from daemon.transport_errors import (
    PermanentSendError,
    TransientSendError,
    TransportSetupError,
)
from daemon.transports import MaildirTransport, SmtpTransport, retry_delay
from templates.compose import OutboundMail, compose
from tests.servers.smtp_sink import SINK_PASSWORD, SINK_USER, SmtpSink, TlsMaterial

FROM = "coord@example.com"


def _raw(subject: str = "[需求已登记] XT-2026-0015 供应商对账流程线上化") -> bytes:
    return compose(
        OutboundMail(
            kind="requester/acknowledged",
            from_addr=FROM,
            from_name="协调办公室",
            to=(("李娜", "li.na@example.com"), ("王强", "wang.qiang@example.com")),
            cc=(),
            subject=subject,
            text="您好！\n.\n..一行以点开头\n",
            html="<p>您好！</p>\n",
            message_id="<ack.xt-2026-0015.20260316090014.k3f9@coord.example.com>",
            in_reply_to=None,
            references=(),
            auto_submitted="auto-generated",
            reply_to=None,
            date=datetime(2026, 3, 16, 9, 0, 14, tzinfo=timezone(timedelta(hours=8))),
            loop_id="coord.example.com",
        )
    )


def _plain(sink: SmtpSink, **kwargs: object) -> SmtpTransport:
    return SmtpTransport(sink.host, sink.port, "none", timeout=10, **kwargs)  # type: ignore[arg-type]


# --- SMTP: delivery ---------------------------------------------------------------------


def test_smtp_delivers_the_exact_bytes(smtp_sink: SmtpSink) -> None:
    raw = _raw()
    _plain(smtp_sink).send(FROM, ["li.na@example.com", "wang.qiang@example.com"], raw)
    [message] = smtp_sink.wait_for(1)
    assert message.raw == raw
    assert message.envelope_from == FROM
    assert message.recipients == ("li.na@example.com", "wang.qiang@example.com")
    assert message.secure is False


def test_smtp_dot_stuffing_round_trips(smtp_sink: SmtpSink) -> None:
    raw = b"Subject: dots\r\nFrom: coord@example.com\r\n\r\n.\r\n..\r\n.leading\r\nend\r\n"
    _plain(smtp_sink).send(FROM, ["li.na@example.com"], raw)
    assert smtp_sink.wait_for(1)[0].raw == raw


def test_smtp_international_recipient_domain(smtp_sink: SmtpSink) -> None:
    _plain(smtp_sink).send(FROM, ["zhang@例子.中国"], _raw())
    assert smtp_sink.wait_for(1)[0].recipients == ("zhang@xn--fsqu00a.xn--fiqs8s",)


# --- SMTP: failures ---------------------------------------------------------------------


def test_smtp_4xx_is_transient_and_a_retry_delivers(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next(1, 451, "try later")
    transport = _plain(smtp_sink)
    with pytest.raises(TransientSendError) as caught:
        transport.send(FROM, ["li.na@example.com"], _raw())
    assert caught.value.code == 451
    assert caught.value.accepted == []
    assert caught.value.retry_recipients == ["li.na@example.com"]
    assert not isinstance(caught.value, TransportSetupError)
    assert smtp_sink.messages == []

    transport.send(FROM, ["li.na@example.com"], _raw())
    assert len(smtp_sink.wait_for(1)) == 1


def test_smtp_5xx_data_is_permanent_for_everybody(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next(1, 554, "content rejected")
    with pytest.raises(PermanentSendError) as caught:
        _plain(smtp_sink).send(FROM, ["li.na@example.com", "wang.qiang@example.com"], _raw())
    assert caught.value.code == 554
    assert caught.value.accepted == []
    assert caught.value.refused == {
        "li.na@example.com": (554, "content rejected"),
        "wang.qiang@example.com": (554, "content rejected"),
    }


def test_smtp_refused_recipient_is_permanent(smtp_sink: SmtpSink) -> None:
    smtp_sink.refuse_recipient("nobody@example.com", 550, "no such user")
    with pytest.raises(PermanentSendError) as caught:
        _plain(smtp_sink).send(FROM, ["nobody@example.com"], _raw())
    assert caught.value.refused == {"nobody@example.com": (550, "no such user")}
    assert caught.value.accepted == []
    assert smtp_sink.messages == []


def test_smtp_partial_refusal_reports_both_sides(smtp_sink: SmtpSink) -> None:
    smtp_sink.refuse_recipient("Nobody@Example.com", 550, "no such user")
    raw = _raw()
    with pytest.raises(PermanentSendError) as caught:
        _plain(smtp_sink).send(FROM, ["li.na@example.com", "nobody@example.com"], raw)
    assert caught.value.accepted == ["li.na@example.com"]
    assert caught.value.refused == {"nobody@example.com": (550, "no such user")}
    assert caught.value.permanently_refused == caught.value.refused
    [message] = smtp_sink.wait_for(1)
    assert message.recipients == ("li.na@example.com",)
    assert message.raw == raw


def test_smtp_partial_4xx_refusal_is_transient_for_those_only(smtp_sink: SmtpSink) -> None:
    smtp_sink.refuse_recipient("busy@example.com", 450, "mailbox busy")
    smtp_sink.refuse_recipient("gone@example.com", 550, "no such user")
    recipients = ["li.na@example.com", "busy@example.com", "gone@example.com"]
    with pytest.raises(TransientSendError) as caught:
        _plain(smtp_sink).send(FROM, recipients, _raw())
    error = caught.value
    assert error.accepted == ["li.na@example.com"]
    assert error.temporarily_refused == {"busy@example.com": (450, "mailbox busy")}
    assert error.permanently_refused == {"gone@example.com": (550, "no such user")}
    assert error.retry_recipients == ["busy@example.com"]
    assert smtp_sink.wait_for(1)[0].recipients == ("li.na@example.com",)


def test_smtp_invalid_recipient_is_refused_before_sending(smtp_sink: SmtpSink) -> None:
    bad = "evil@example.com>\r\nRCPT TO:<x@example.net"
    with pytest.raises(PermanentSendError) as caught:
        _plain(smtp_sink).send(FROM, ["li.na@example.com", bad], _raw())
    assert caught.value.accepted == ["li.na@example.com"]
    assert list(caught.value.refused) == [bad]
    assert caught.value.refused[bad][0] == 553
    assert smtp_sink.wait_for(1)[0].recipients == ("li.na@example.com",)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that is bound but not listening: connecting is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_smtp_connection_refused_is_transient(closed_port: int) -> None:
    transport = SmtpTransport("127.0.0.1", closed_port, "none", timeout=5)
    with pytest.raises(TransientSendError) as caught:
        transport.send(FROM, ["li.na@example.com"], _raw())
    assert not isinstance(caught.value, TransportSetupError)
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)
    assert caught.value.retry_recipients == ["li.na@example.com"]


def test_smtp_silent_server_times_out_as_transient() -> None:
    # A listener that never accepts: TCP connects, the SMTP greeting never comes.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        transport = SmtpTransport("127.0.0.1", port, "none", timeout=0.5)
        with pytest.raises(TransientSendError) as caught:
            transport.send(FROM, ["li.na@example.com"], _raw())
    assert "timed out" in str(caught.value)


def test_smtp_without_recipients_is_permanent(smtp_sink: SmtpSink) -> None:
    with pytest.raises(PermanentSendError):
        _plain(smtp_sink).send(FROM, [], _raw())


# --- SMTP: TLS and authentication -------------------------------------------------------


def test_starttls_with_login(smtp_sink_starttls: SmtpSink, sink_tls: TlsMaterial) -> None:
    transport = SmtpTransport(
        smtp_sink_starttls.host,
        smtp_sink_starttls.port,
        "starttls",
        username=SINK_USER,
        password=SINK_PASSWORD,
        ssl_context=sink_tls.client_context,
        timeout=10,
    )
    raw = _raw()
    transport.send(FROM, ["li.na@example.com"], raw)
    [message] = smtp_sink_starttls.wait_for(1)
    assert message.raw == raw
    assert message.secure is True
    assert message.login == SINK_USER


def test_implicit_tls_with_login(smtp_sink_tls: SmtpSink, sink_tls: TlsMaterial) -> None:
    transport = SmtpTransport(
        smtp_sink_tls.host,
        smtp_sink_tls.port,
        "tls",
        username=SINK_USER,
        password=SINK_PASSWORD,
        ssl_context=sink_tls.client_context,
        timeout=10,
    )
    transport.send(FROM, ["li.na@example.com"], _raw())
    [message] = smtp_sink_tls.wait_for(1)
    assert message.secure is True and message.login == SINK_USER


def test_wrong_password_is_a_setup_error(
    smtp_sink_starttls: SmtpSink, sink_tls: TlsMaterial
) -> None:
    transport = SmtpTransport(
        smtp_sink_starttls.host,
        smtp_sink_starttls.port,
        "starttls",
        username=SINK_USER,
        password="wrong",
        ssl_context=sink_tls.client_context,
        timeout=10,
    )
    with pytest.raises(TransportSetupError) as caught:
        transport.send(FROM, ["li.na@example.com"], _raw())
    assert caught.value.code == 535
    assert smtp_sink_starttls.messages == []


def test_starttls_not_offered_is_never_downgraded(smtp_sink: SmtpSink) -> None:
    transport = SmtpTransport(smtp_sink.host, smtp_sink.port, "starttls", timeout=10)
    with pytest.raises(TransportSetupError):
        transport.send(FROM, ["li.na@example.com"], _raw())
    assert smtp_sink.messages == []


def test_untrusted_certificate_is_a_setup_error(smtp_sink_tls: SmtpSink) -> None:
    transport = SmtpTransport(
        smtp_sink_tls.host,
        smtp_sink_tls.port,
        "tls",
        username=SINK_USER,
        password=SINK_PASSWORD,
        ssl_context=ssl.create_default_context(),  # the system CAs do not know the sink
        timeout=10,
    )
    with pytest.raises(TransportSetupError) as caught:
        transport.send(FROM, ["li.na@example.com"], _raw())
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)


def test_smtp_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        SmtpTransport("127.0.0.1", 25, "ssl")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SmtpTransport("127.0.0.1", 25, "none", username="coord")


# --- the sink itself ----------------------------------------------------------------------


def test_sink_wait_for_fails_when_nothing_arrives(smtp_sink: SmtpSink) -> None:
    with pytest.raises(AssertionError, match="expected 1 message"):
        smtp_sink.wait_for(1, timeout=0.05)


# --- Maildir ------------------------------------------------------------------------------


def test_maildir_writes_one_parsable_message_per_send(tmp_path: Path) -> None:
    root = tmp_path / "sent"
    transport = MaildirTransport(root)
    first = _raw("[需求已登记] XT-2026-0015 供应商对账流程线上化")
    second = _raw("[评估] XT-2026-0015 供应商对账流程线上化")
    transport.send(FROM, ["li.na@example.com"], first)
    transport.send(FROM, ["office@example.com", "zhou.min@example.com"], second)

    files = sorted((root / "new").iterdir())
    assert len(files) == 2
    assert list((root / "tmp").iterdir()) == []
    assert {f.read_bytes() for f in files} == {first, second}

    subjects = set()
    for key, message in mailbox.Maildir(root, create=False).items():
        assert key
        subjects.add(str(message["Subject"]))
    parsed = {
        email.message_from_bytes(f.read_bytes(), policy=policy.default)["Subject"] for f in files
    }
    assert parsed == {
        "[需求已登记] XT-2026-0015 供应商对账流程线上化",
        "[评估] XT-2026-0015 供应商对账流程线上化",
    }
    assert len(subjects) == 2

    sent = transport.sent()
    assert [(s.envelope_from, s.recipients, s.raw) for s in sent] == [
        (FROM, ("li.na@example.com",), first),
        (FROM, ("office@example.com", "zhou.min@example.com"), second),
    ]


def test_maildir_finds_messages_a_reader_moved_to_cur(tmp_path: Path) -> None:
    transport = MaildirTransport(tmp_path)
    transport.send(FROM, ["li.na@example.com"], _raw())
    [path] = list((tmp_path / "new").iterdir())
    path.rename(tmp_path / "cur" / f"{path.name}:2,S")
    [sent] = transport.sent()
    assert sent.path.parent.name == "cur" and sent.recipients == ("li.na@example.com",)


def test_maildir_that_cannot_be_created_is_transient(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(TransientSendError):
        MaildirTransport(blocker / "sent").send(FROM, ["li.na@example.com"], _raw())


# --- retry policy -------------------------------------------------------------------------


def test_retry_delay_doubles_and_is_capped() -> None:
    delays = [retry_delay(n, jitter=0) for n in range(1, 12)]
    assert delays[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert all(a <= b for a, b in zip(delays, delays[1:], strict=False))
    assert delays[-1] == timedelta(hours=1)
    assert retry_delay(10_000, jitter=0) == timedelta(hours=1)
    assert retry_delay(
        3, base=timedelta(seconds=1), cap=timedelta(seconds=3), jitter=0
    ) == timedelta(seconds=3)


def test_retry_delay_jitter_stays_within_bounds() -> None:
    rng = random.Random(7)
    for attempt in range(1, 20):
        exact = retry_delay(attempt, jitter=0)
        jittered = retry_delay(attempt, jitter=0.5, rng=rng)
        assert exact * 0.5 <= jittered <= exact
    assert retry_delay(4, jitter=0.5, rng=random.Random(1)) == retry_delay(
        4, jitter=0.5, rng=random.Random(1)
    )


@pytest.mark.parametrize(("attempt", "jitter"), [(0, 0.0), (-1, 0.0), (1, -0.1), (1, 1.5)])
def test_retry_delay_refuses_nonsense(attempt: int, jitter: float) -> None:
    with pytest.raises(ValueError):
        retry_delay(attempt, jitter=jitter)
