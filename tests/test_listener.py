"""The SMTP/LMTP listener, driven by Python's own smtplib clients over loopback."""

from __future__ import annotations

import smtplib
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from daemon.inbound import Arrival, Handler, Outcome
from daemon.listener import ListenerProtocol, ListenerServer

WAIT = 5.0
SENDER = "li.na@example.com"
MAILBOX = "coord@example.com"

# Bytes a real client might send: 8-bit UTF-8 headers and body, lines that start with
# dots (dot-stuffed on the wire), a long line, odd header spacing and folding.
RAW = (
    b"From: =?utf-8?b?5p2O5aic?= <li.na@example.com>\r\n"
    b"To:   coord@example.com\r\n"
    b"Subject: [\xe9\x9c\x80\xe6\xb1\x82] \xe4\xbe\x9b\xe5\xba\x94\xe5\x95\x86\r\n"
    b"Message-ID: <listener-test@example.com>\r\n"
    b"X-Folded: first\r\n"
    b"\tsecond\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"\xe9\x9c\x80\xe6\xb1\x82\xe5\x90\x8d\xe7\xa7\xb0\xef\xbc\x9a\xe5\xaf\xb9\xe8\xb4\xa6\r\n"
    b".a line that starts with a dot\r\n"
    b"..two dots\r\n" + b"x" * 900 + b"\r\n"
    b"\r\n"
)


class RecordingHandler:
    """The handler callback: records what it was given and where it ran."""

    def __init__(self, decide: Callable[[Arrival], Outcome] | None = None) -> None:
        self._decide = decide or (lambda arrival: Outcome.PROCESSED)
        self._lock = threading.Lock()
        self.arrivals: list[Arrival] = []
        self.threads: list[str] = []

    def __call__(self, arrival: Arrival) -> Outcome:
        with self._lock:
            self.arrivals.append(arrival)
            self.threads.append(threading.current_thread().name)
        return self._decide(arrival)


@contextmanager
def listening(
    protocol: ListenerProtocol, handler: Handler, *, max_message_size: int = 25 * 1024 * 1024
) -> Iterator[ListenerServer]:
    server = ListenerServer("127.0.0.1", 0, protocol, handler, max_message_size=max_message_size)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def client_for(server: ListenerServer) -> smtplib.SMTP:
    client_class = smtplib.LMTP if server.protocol == "lmtp" else smtplib.SMTP
    return client_class(server.host, server.port, timeout=WAIT)


def data_replies(server: ListenerServer, recipients: list[str], raw: bytes) -> list[int]:
    """Send one message by hand and collect every reply to DATA (LMTP: one each)."""
    with client_for(server) as client:
        client.ehlo()
        assert client.mail(SENDER)[0] == 250
        for recipient in recipients:
            assert client.rcpt(recipient)[0] == 250
        first = client.data(raw)[0]
        replies = [first]
        if server.protocol == "lmtp":
            replies += [client.getreply()[0] for _ in recipients[1:]]
        # the session is still in step: the next reply answers the next command
        assert client.noop() == (250, b"OK")
        return replies


@pytest.mark.parametrize("protocol", ["smtp", "lmtp"])
@pytest.mark.parametrize("outcome", [Outcome.PROCESSED, Outcome.QUARANTINED])
def test_committed_message_is_accepted_with_its_bytes_untouched(
    protocol: ListenerProtocol, outcome: Outcome
) -> None:
    handler = RecordingHandler(lambda arrival: outcome)
    with listening(protocol, handler) as server, client_for(server) as client:
        refused = client.sendmail(SENDER, [MAILBOX], RAW)

    assert refused == {}
    [arrival] = handler.arrivals
    assert arrival.raw == RAW
    assert arrival.ref.source == "listener"
    assert arrival.ref.uidvalidity is None
    assert arrival.ref.uid


@pytest.mark.parametrize("protocol", ["smtp", "lmtp"])
def test_handler_asking_for_retry_gets_451(protocol: ListenerProtocol) -> None:
    handler = RecordingHandler(lambda arrival: Outcome.RETRY)
    with (
        listening(protocol, handler) as server,
        client_for(server) as client,
        pytest.raises(smtplib.SMTPDataError) as excinfo,
    ):
        client.sendmail(SENDER, [MAILBOX], RAW)

    assert excinfo.value.smtp_code == 451
    assert excinfo.value.smtp_error[:5] == b"4.3.0"
    assert len(handler.arrivals) == 1


@pytest.mark.parametrize("protocol", ["smtp", "lmtp"])
def test_handler_that_raises_gets_451_and_the_listener_carries_on(
    protocol: ListenerProtocol,
) -> None:
    calls = [0]

    def decide(arrival: Arrival) -> Outcome:
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("database is down")
        return Outcome.PROCESSED

    handler = RecordingHandler(decide)
    with listening(protocol, handler) as server:
        with client_for(server) as client, pytest.raises(smtplib.SMTPDataError) as excinfo:
            client.sendmail(SENDER, [MAILBOX], RAW)
        with client_for(server) as client:
            assert client.sendmail(SENDER, [MAILBOX], RAW) == {}

    assert excinfo.value.smtp_code == 451
    assert [a.raw for a in handler.arrivals] == [RAW, RAW]
    assert handler.arrivals[0].ref.uid != handler.arrivals[1].ref.uid


@pytest.mark.parametrize(("outcome", "code"), [(Outcome.PROCESSED, 250), (Outcome.RETRY, 451)])
def test_lmtp_answers_each_recipient(outcome: Outcome, code: int) -> None:
    handler = RecordingHandler(lambda arrival: outcome)
    recipients = [MAILBOX, "coord+a1b2c3@example.com", "office@example.com"]
    with listening("lmtp", handler) as server:
        assert data_replies(server, recipients, RAW) == [code, code, code]

    assert [a.raw for a in handler.arrivals] == [RAW]  # one call per message, not recipient


def test_smtp_answers_once_for_many_recipients() -> None:
    handler = RecordingHandler()
    with listening("smtp", handler) as server:
        assert data_replies(server, [MAILBOX, "office@example.com"], RAW) == [250]
    assert len(handler.arrivals) == 1


@pytest.mark.parametrize("protocol", ["smtp", "lmtp"])
def test_oversize_messages_are_refused_with_552(protocol: ListenerProtocol) -> None:
    handler = RecordingHandler()
    big = RAW + (b"y" * 70 + b"\r\n") * 100
    with listening(protocol, handler, max_message_size=len(RAW) + 100) as server:
        # announced with SIZE: refused before any data is sent
        with client_for(server) as client, pytest.raises(smtplib.SMTPSenderRefused) as sized:
            client.sendmail(SENDER, [MAILBOX], big)
        # not announced: refused after DATA, once per recipient under LMTP
        replies = data_replies(server, [MAILBOX, "office@example.com"], big)
        # a message within the limit still goes through
        with client_for(server) as client:
            assert client.sendmail(SENDER, [MAILBOX], RAW) == {}

    assert sized.value.smtp_code == 552
    assert replies == ([552, 552] if protocol == "lmtp" else [552])
    assert [a.raw for a in handler.arrivals] == [RAW]


def test_long_lines_are_taken_as_they_are() -> None:
    handler = RecordingHandler()
    raw = RAW + b"z" * 5000 + b"\r\n"  # beyond RFC 5321's 1000, as some senders do
    with listening("smtp", handler) as server, client_for(server) as client:
        assert client.sendmail(SENDER, [MAILBOX], raw) == {}
    assert [a.raw for a in handler.arrivals] == [raw]


def test_port_zero_binds_a_free_port_for_each_server() -> None:
    handler = RecordingHandler()
    with listening("lmtp", handler) as first, listening("smtp", handler) as second:
        assert first.port > 0
        assert second.port > 0
        assert first.port != second.port
        for server in (first, second):
            with client_for(server) as client:
                assert client.sendmail(SENDER, [MAILBOX], RAW) == {}
        port = first.port

    assert len(handler.arrivals) == 2
    with pytest.raises(ConnectionRefusedError):  # stopped: the port is released
        socket.create_connection(("127.0.0.1", port), timeout=WAIT).close()


def test_handler_runs_in_a_worker_thread_without_blocking_other_sessions() -> None:
    entered = threading.Event()
    release = threading.Event()

    def decide(arrival: Arrival) -> Outcome:
        entered.set()
        assert release.wait(WAIT), "the test never released the handler"
        return Outcome.PROCESSED

    handler = RecordingHandler(decide)
    with listening("lmtp", handler) as server:
        outcome: list[object] = []

        def deliver() -> None:
            try:
                with client_for(server) as client:
                    outcome.append(client.sendmail(SENDER, [MAILBOX], RAW))
            except Exception as exc:
                outcome.append(exc)

        sender = threading.Thread(target=deliver)
        sender.start()
        try:
            assert entered.wait(WAIT)
            # the handler is blocked, yet another session is served at once
            with client_for(server) as other:
                assert other.noop()[0] == 250
        finally:
            release.set()
            sender.join(WAIT)

    assert outcome == [{}]
    assert handler.threads[0].startswith("liaison-listener-handler")


def test_a_bound_port_is_reported_at_start() -> None:
    with listening("smtp", RecordingHandler()) as server:
        taken = ListenerServer("127.0.0.1", server.port, "smtp", RecordingHandler())
        with pytest.raises(OSError):
            taken.start()
        taken.stop()  # harmless after a failed start


def test_unknown_protocol_is_refused() -> None:
    with pytest.raises(ValueError):
        ListenerServer("127.0.0.1", 0, "pop3", RecordingHandler())  # type: ignore[arg-type]
