"""The IMAP adapter and intake loop against a real Dovecot (tests/servers/dovecot.py)."""

from __future__ import annotations

import logging
import os
import signal
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from email.utils import make_msgid

import pytest

from daemon.imap import Backoff, ImapIntake, ImapMailbox, ImapSettings
from daemon.inbound import Arrival, Outcome, SourceRef
from daemon.mailbox_errors import (
    MailboxCommandError,
    MailboxConnectionError,
    MailboxLoginError,
    StaleUidValidityError,
)
from tests.servers.dovecot import DovecotServer

pytestmark = pytest.mark.servers

WAIT = 5.0  # bound for anything that should happen "promptly"
FAST_BACKOFF = Backoff(initial=0.05, factor=2.0, maximum=0.5)


def message(subject: str, body: str = "正文\r\n") -> bytes:
    return (
        f"From: 李娜 <li.na@example.com>\r\n"
        f"To: coord@example.com\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: {make_msgid(domain='example.com')}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: 8bit\r\n"
        f"\r\n"
        f"{body}"
    ).encode()


def subject_of(arrival: Arrival) -> str:
    for line in arrival.raw.decode().split("\r\n"):
        if line.startswith("Subject: "):
            return line.removeprefix("Subject: ")
    raise AssertionError("no subject")


def settings_for(server: DovecotServer, **overrides: object) -> ImapSettings:
    settings = ImapSettings(
        host=server.host,
        port=server.port,
        security="none",
        username=server.user,
        password=server.password,
        idle_timeout=60.0,
        io_timeout=5.0,
    )
    return replace(settings, **overrides)  # type: ignore[arg-type]


class RecordingHandler:
    """The handler callback: records arrivals, answers with `decide`, lets tests wait."""

    def __init__(self, decide: Callable[[Arrival], Outcome] | None = None) -> None:
        self._decide = decide or (lambda arrival: Outcome.PROCESSED)
        self._condition = threading.Condition()
        self.arrivals: list[Arrival] = []

    def __call__(self, arrival: Arrival) -> Outcome:
        with self._condition:
            self.arrivals.append(arrival)
            self._condition.notify_all()
        return self._decide(arrival)

    def subjects(self) -> list[str]:
        with self._condition:
            return [subject_of(arrival) for arrival in self.arrivals]

    def wait_for(self, count: int, timeout: float = WAIT) -> list[Arrival]:
        with self._condition:
            if not self._condition.wait_for(lambda: len(self.arrivals) >= count, timeout):
                raise AssertionError(
                    f"handler saw {len(self.arrivals)} arrivals within {timeout}s, "
                    f"expected {count}: {[subject_of(a) for a in self.arrivals]}"
                )
            return list(self.arrivals)


def by_subject(**outcomes: Outcome) -> Callable[[Arrival], Outcome]:
    """Decide by the subject's first word: by_subject(keep=Outcome.RETRY)."""

    def decide(arrival: Arrival) -> Outcome:
        return outcomes.get(subject_of(arrival).split()[0], Outcome.PROCESSED)

    return decide


class LogCounter(logging.Handler):
    """Counts records of `liaison.imap` whose message contains a marker."""

    def __init__(self, marker: str) -> None:
        super().__init__(logging.DEBUG)
        self.marker = marker
        self._condition = threading.Condition()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if self.marker in record.getMessage():
            with self._condition:
                self.count += 1
                self._condition.notify_all()

    def wait_for(self, count: int, timeout: float = WAIT) -> None:
        with self._condition:
            if not self._condition.wait_for(lambda: self.count >= count, timeout):
                raise AssertionError(f"saw {self.count} of {count} {self.marker!r} log records")


@contextmanager
def counting(marker: str) -> Iterator[LogCounter]:
    """Counts the records of `liaison.imap` (debug ones included) that contain `marker`."""
    logger = logging.getLogger("liaison.imap")
    counter = LogCounter(marker)
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(previous)


@pytest.fixture
def idle_log() -> Iterator[LogCounter]:
    """Counts each time the intake enters IDLE."""
    with counting(": idle for up to") as counter:
        yield counter


@contextmanager
def running(intake: ImapIntake) -> Iterator[threading.Event]:
    """Run the intake in a thread; stop it and check it really stopped."""
    stop = threading.Event()
    thread = threading.Thread(target=intake.run, args=(stop,), name="test-intake")
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(WAIT)
        assert not thread.is_alive(), "intake did not stop within the bound"


def intake_for(settings: ImapSettings, handler: RecordingHandler, **options: object) -> ImapIntake:
    options.setdefault("backoff", FAST_BACKOFF)
    return ImapIntake(lambda: ImapMailbox(settings), handler, **options)  # type: ignore[arg-type]


# -- the mailbox adapter ------------------------------------------------------------


def test_connect_creates_processed_and_quarantine_folders(imap_server: DovecotServer) -> None:
    assert imap_server.folders() == ["INBOX"]
    settings = settings_for(imap_server, processed_folder="已处理", quarantine_folder="Quarantine")

    with ImapMailbox(settings):
        pass
    with ImapMailbox(settings):  # a second time: folders exist, nothing fails
        pass

    assert imap_server.folders() == ["INBOX", "Quarantine", "已处理"]


def test_fetch_pending_is_oldest_first_carries_uidvalidity_and_marks_nothing_seen(
    imap_server: DovecotServer,
) -> None:
    raws = [message(f"m{i}") for i in range(3)]
    uids = [imap_server.append(raw) for raw in raws]
    settings = settings_for(imap_server)

    with ImapMailbox(settings) as mailbox:
        arrivals = mailbox.fetch_pending(10)

    uidvalidity = imap_server.uidvalidity()
    assert [a.ref for a in arrivals] == [
        SourceRef(f"imap:coord@{imap_server.host}/INBOX", uidvalidity, str(uid)) for uid in uids
    ]
    assert [a.raw for a in arrivals] == raws
    flags = imap_server.flags()
    assert set(flags) == set(uids)
    assert all(b"\\Seen" not in f for f in flags.values()), flags


def test_fetch_pending_honours_limit_and_skip(imap_server: DovecotServer) -> None:
    uids = [imap_server.append(message(f"m{i}")) for i in range(5)]

    with ImapMailbox(settings_for(imap_server)) as mailbox:
        first_two = mailbox.fetch_pending(2)
        asked: list[str | None] = []

        def skip_first_two(ref: SourceRef) -> bool:
            asked.append(ref.uid)
            return ref.uid in {str(uids[0]), str(uids[1])}

        next_two = mailbox.fetch_pending(2, skip=skip_first_two)

    assert [a.ref.uid for a in first_two] == [str(u) for u in uids[:2]]
    assert [a.ref.uid for a in next_two] == [str(u) for u in uids[2:4]]
    assert asked == [str(u) for u in uids]  # every message is offered to skip


def test_move_refuses_a_reference_of_another_mailbox(imap_server: DovecotServer) -> None:
    with ImapMailbox(settings_for(imap_server)) as mailbox, pytest.raises(ValueError):
        mailbox.move(SourceRef("imap:other@host/INBOX", 1, "1"), "Processed")


def test_move_without_move_capability_copies_flags_and_expunges(
    imap_server_without_move: DovecotServer,
) -> None:
    server = imap_server_without_move
    keep, go = message("keep"), message("go")
    server.append(keep)
    server.append(go)

    with ImapMailbox(settings_for(server)) as mailbox:
        arrivals = mailbox.fetch_pending(10)
        mailbox.move(arrivals[1].ref, "Processed")

    assert server.fetch("INBOX") == [keep]
    assert server.fetch("Processed") == [go]


def test_wait_for_mail_returns_after_idle_timeout_without_news(
    imap_server: DovecotServer,
) -> None:
    with ImapMailbox(settings_for(imap_server, idle_timeout=0.5)) as mailbox:
        mailbox.fetch_pending(10)
        started = time.monotonic()
        mailbox.wait_for_mail(timeout=30)  # capped by idle_timeout
        elapsed = time.monotonic() - started
        assert mailbox.fetch_pending(10) == []  # the connection is still usable

    assert 0.4 <= elapsed < WAIT


def test_wait_for_mail_returns_when_cancelled(imap_server: DovecotServer) -> None:
    cancel = threading.Event()
    cancel.set()
    with ImapMailbox(settings_for(imap_server)) as mailbox:
        started = time.monotonic()
        mailbox.wait_for_mail(cancel=cancel)
        assert time.monotonic() - started < WAIT


def test_mail_announced_during_a_move_is_not_left_waiting(imap_server: DovecotServer) -> None:
    imap_server.append(message("first"))
    with ImapMailbox(settings_for(imap_server, idle_timeout=30)) as mailbox:
        [first] = mailbox.fetch_pending(10)
        imap_server.append(message("second"))  # arrives while we work on the first
        mailbox.move(first.ref, "Processed")
        started = time.monotonic()
        mailbox.wait_for_mail()
        assert time.monotonic() - started < WAIT
        assert [subject_of(a) for a in mailbox.fetch_pending(10)] == ["second"]


def test_wait_for_mail_reports_a_kicked_connection(imap_server: DovecotServer) -> None:
    with ImapMailbox(settings_for(imap_server)) as mailbox:
        mailbox.fetch_pending(10)
        timer = threading.Timer(0.3, imap_server.kick)
        timer.start()
        try:
            with pytest.raises(MailboxConnectionError):
                mailbox.wait_for_mail(timeout=30)
        finally:
            timer.join()
        assert not mailbox.connected


def test_wrong_password_is_a_login_error(imap_server: DovecotServer) -> None:
    mailbox = ImapMailbox(settings_for(imap_server, password="wrong"))
    with pytest.raises(MailboxLoginError):
        mailbox.connect()
    assert not mailbox.connected


def test_unreachable_server_is_a_connection_error(imap_server: DovecotServer) -> None:
    mailbox = ImapMailbox(settings_for(imap_server, port=1, io_timeout=2.0))  # nobody on 1
    with pytest.raises(MailboxConnectionError):
        mailbox.connect()


def test_missing_source_folder_is_a_command_error(imap_server: DovecotServer) -> None:
    mailbox = ImapMailbox(settings_for(imap_server, folder="Nowhere"))
    with pytest.raises(MailboxCommandError):
        mailbox.connect()
    assert not mailbox.connected


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_connections_verify_the_server(imap_server: DovecotServer, security: str) -> None:
    if imap_server.tls_port is None or imap_server.ca_file is None:
        pytest.skip("Dovecot was started without TLS (python 'cryptography' missing)")
    port = imap_server.tls_port if security == "tls" else imap_server.port
    trusted = ssl.create_default_context(cafile=str(imap_server.ca_file))
    imap_server.append(message("secure"))

    with ImapMailbox(
        settings_for(imap_server, security=security, port=port, ssl_context=trusted)
    ) as mailbox:
        assert [subject_of(a) for a in mailbox.fetch_pending(10)] == ["secure"]

    untrusted = ImapMailbox(settings_for(imap_server, security=security, port=port))
    with pytest.raises(MailboxConnectionError):  # self-signed: refused by default
        untrusted.connect()


def test_a_stale_uidvalidity_is_noticed_and_its_moves_refused(imap_server: DovecotServer) -> None:
    raw = message("restored")
    uid = imap_server.append(raw)
    mailbox = ImapMailbox(settings_for(imap_server))
    mailbox.connect()
    try:
        [before] = mailbox.fetch_pending(10)
        assert before.ref.uidvalidity is not None
        new_value = before.ref.uidvalidity + 7
        imap_server.set_uidvalidity(new_value)

        try:
            arrivals = mailbox.fetch_pending(10)
        except MailboxConnectionError:  # Dovecot drops sessions whose view went stale
            mailbox.connect()
            arrivals = mailbox.fetch_pending(10)

        assert [(a.ref.uidvalidity, a.ref.uid, a.raw) for a in arrivals] == [
            (new_value, str(uid), raw)
        ]
        assert mailbox.uidvalidity == new_value
        with pytest.raises(StaleUidValidityError):
            mailbox.move(before.ref, "Processed")
        assert imap_server.list_uids("INBOX") == [uid]
        assert imap_server.list_uids("Processed") == []

        mailbox.move(arrivals[0].ref, "Processed")
        assert imap_server.fetch("Processed") == [raw]
    finally:
        mailbox.close()


# -- the intake loop ----------------------------------------------------------------


def test_run_once_files_each_message_by_outcome(imap_server: DovecotServer) -> None:
    done, bad, later = message("done"), message("bad"), message("later")
    for raw in (done, bad, later):
        imap_server.append(raw)
    handler = RecordingHandler(by_subject(bad=Outcome.QUARANTINED, later=Outcome.RETRY))
    intake = intake_for(settings_for(imap_server), handler)

    assert intake.run_once() == 3

    assert handler.subjects() == ["done", "bad", "later"]
    assert imap_server.fetch("Processed") == [done]
    assert imap_server.fetch("Quarantine") == [bad]
    assert imap_server.fetch("INBOX") == [later]


def test_run_once_treats_a_raising_handler_as_retry(imap_server: DovecotServer) -> None:
    boom, fine = message("boom"), message("fine")
    imap_server.append(boom)
    imap_server.append(fine)

    def decide(arrival: Arrival) -> Outcome:
        if subject_of(arrival) == "boom":
            raise RuntimeError("database is down")
        return Outcome.PROCESSED

    handler = RecordingHandler(decide)
    assert intake_for(settings_for(imap_server), handler).run_once() == 2

    assert handler.subjects() == ["boom", "fine"]
    assert imap_server.fetch("INBOX") == [boom]
    assert imap_server.fetch("Processed") == [fine]


def test_a_batch_handler_gets_one_fetch_at_once_and_each_message_is_filed(
    imap_server: DovecotServer,
) -> None:
    done, bad, later = message("done"), message("bad"), message("later")
    for raw in (done, bad, later):
        imap_server.append(raw)
    decide = by_subject(bad=Outcome.QUARANTINED, later=Outcome.RETRY)
    batches: list[list[str]] = []

    def handle_batch(arrivals: Sequence[Arrival]) -> list[Outcome]:
        batches.append([subject_of(a) for a in arrivals])
        return [decide(a) for a in arrivals]

    single = RecordingHandler(decide)
    intake = intake_for(settings_for(imap_server), single, batch_handler=handle_batch)

    assert intake.run_once() == 3

    assert batches == [["done", "bad", "later"]]
    assert single.subjects() == []  # the one-at-a-time handler was not needed
    assert imap_server.fetch("Processed") == [done]
    assert imap_server.fetch("Quarantine") == [bad]
    assert imap_server.fetch("INBOX") == [later]


def test_one_fetch_is_moved_with_one_command_per_folder(imap_server: DovecotServer) -> None:
    raws = [message(f"m{i}") for i in range(5)]
    for raw in raws:
        imap_server.append(raw)
    decide = by_subject(m1=Outcome.QUARANTINED, m3=Outcome.RETRY)
    intake = intake_for(
        settings_for(imap_server),
        RecordingHandler(decide),
        batch_handler=lambda arrivals: [decide(a) for a in arrivals],
    )
    with counting(": moved UID ") as moves:
        assert intake.run_once() == 5

    assert moves.count == 2  # Processed (three messages) and Quarantine (one)
    assert imap_server.fetch("Processed") == [raws[0], raws[2], raws[4]]
    assert imap_server.fetch("Quarantine") == [raws[1]]
    assert imap_server.fetch("INBOX") == [raws[3]]


def test_a_stale_batch_is_not_moved(imap_server: DovecotServer) -> None:
    first, second = message("first"), message("second")
    imap_server.append(first)
    imap_server.append(second)
    mailbox = ImapMailbox(settings_for(imap_server))
    with mailbox:
        arrivals = mailbox.fetch_pending(10)
        stale = [SourceRef(a.ref.source, (a.ref.uidvalidity or 0) + 1, a.ref.uid) for a in arrivals]
        with pytest.raises(StaleUidValidityError):
            mailbox.move_all([arrivals[0].ref, stale[1]], mailbox.processed_folder)
    assert imap_server.fetch("INBOX") == [first, second]


def test_a_raising_batch_handler_leaves_its_messages_in_place(imap_server: DovecotServer) -> None:
    first, second = message("first"), message("second")
    imap_server.append(first)
    imap_server.append(second)

    def handle_batch(arrivals: Sequence[Arrival]) -> list[Outcome]:
        raise RuntimeError("database is down")

    intake = intake_for(
        settings_for(imap_server),
        RecordingHandler(lambda _arrival: Outcome.PROCESSED),
        batch_handler=handle_batch,
    )
    assert intake.run_once() == 2
    assert imap_server.fetch("INBOX") == [first, second]
    assert imap_server.fetch("Processed") == []


def test_a_retried_message_waits_for_its_own_backoff(imap_server: DovecotServer) -> None:
    imap_server.append(message("flaky"))
    now = [1000.0]
    handler = RecordingHandler(lambda arrival: Outcome.RETRY)
    intake = intake_for(
        settings_for(imap_server),
        handler,
        retry_backoff=Backoff(initial=10.0, factor=2.0, maximum=15.0),
        clock=lambda: now[0],
    )

    assert intake.run_once() == 1
    assert intake.run_once() == 0  # still backing off
    now[0] += 10.0
    assert intake.run_once() == 1  # second attempt; the next delay doubles, capped at 15
    now[0] += 14.0
    assert intake.run_once() == 0
    now[0] += 1.0
    assert intake.run_once() == 1
    assert len(handler.arrivals) == 3
    assert imap_server.list_uids("INBOX") != []


def test_run_once_reconnects_after_the_connection_dropped(imap_server: DovecotServer) -> None:
    handler = RecordingHandler()
    intake = intake_for(settings_for(imap_server), handler)
    assert intake.run_once() == 0
    imap_server.kick()
    imap_server.append(message("after"))

    try:
        handled = intake.run_once()
    except MailboxConnectionError:  # the dead connection is discarded ...
        handled = intake.run_once()  # ... and the next call reconnects
    assert handled == 1
    assert handler.subjects() == ["after"]


def test_run_handles_mail_appended_while_idle(
    imap_server: DovecotServer, idle_log: LogCounter
) -> None:
    handler = RecordingHandler()
    # idle_timeout is long: only the IDLE notification can deliver within WAIT.
    intake = intake_for(settings_for(imap_server, idle_timeout=60), handler)
    raw = message("while idle")

    with running(intake):
        idle_log.wait_for(1)
        imap_server.append(raw)
        [arrival] = handler.wait_for(1)

    assert arrival.raw == raw
    assert imap_server.fetch("Processed") == [raw]
    assert imap_server.list_uids("INBOX") == []


@pytest.mark.parametrize("how", ["kick", "kill"])
def test_a_connection_closed_during_idle_does_not_stall_intake(
    imap_server: DovecotServer, idle_log: LogCounter, how: str
) -> None:
    handler = RecordingHandler()
    intake = intake_for(settings_for(imap_server, idle_timeout=60), handler)

    with running(intake):
        idle_log.wait_for(1)
        if how == "kick":  # BYE, then the server closes the socket
            imap_server.kick()
        else:  # the server process dies: no BYE, just EOF
            [pid] = imap_server.session_pids()
            os.kill(pid, signal.SIGKILL)
        idle_log.wait_for(2)  # reconnected and idling again, well before idle_timeout
        imap_server.append(message("after the drop"))
        handler.wait_for(1)

    assert handler.subjects() == ["after the drop"]
    assert imap_server.list_uids("INBOX") == []


def test_a_silently_dead_connection_does_not_stall_intake(
    imap_server: DovecotServer, idle_log: LogCounter
) -> None:
    handler = RecordingHandler()
    # A frozen server process answers nothing and closes nothing: the periodic
    # re-check (idle_timeout) and the read timeout on DONE (io_timeout) find it.
    intake = intake_for(settings_for(imap_server, idle_timeout=1.0, io_timeout=1.0), handler)
    frozen: list[int] = []
    try:
        with running(intake):
            idle_log.wait_for(1)
            frozen.extend(imap_server.session_pids())
            assert len(frozen) == 1
            os.kill(frozen[0], signal.SIGSTOP)
            imap_server.append(message("behind a frozen connection"))
            handler.wait_for(1, timeout=3 * WAIT)
    finally:
        for pid in frozen:  # a child of our own Dovecot instance
            os.kill(pid, signal.SIGKILL)

    assert handler.subjects() == ["behind a frozen connection"]


def test_run_carries_on_after_a_handler_raises(
    imap_server: DovecotServer, idle_log: LogCounter
) -> None:
    def decide(arrival: Arrival) -> Outcome:
        if subject_of(arrival) == "boom":
            raise RuntimeError("bug in a parser")
        return Outcome.PROCESSED

    handler = RecordingHandler(decide)
    intake = intake_for(settings_for(imap_server), handler)
    boom = message("boom")
    imap_server.append(boom)

    with running(intake):
        handler.wait_for(1)
        idle_log.wait_for(1)
        imap_server.append(message("next"))
        handler.wait_for(2)

    assert handler.subjects() == ["boom", "next"]
    assert imap_server.fetch("INBOX") == [boom]
    assert len(imap_server.list_uids("Processed")) == 1


def test_run_does_not_hot_loop_on_a_message_that_keeps_failing(
    imap_server: DovecotServer, idle_log: LogCounter
) -> None:
    handler = RecordingHandler(by_subject(stuck=Outcome.RETRY))
    intake = intake_for(
        settings_for(imap_server), handler, retry_backoff=Backoff(initial=60, maximum=60)
    )
    imap_server.append(message("stuck"))

    with running(intake):
        handler.wait_for(1)
        idle_log.wait_for(1)
        for i in range(3):  # each arrival wakes the loop; the stuck one waits its turn
            imap_server.append(message(f"other {i}"))
            handler.wait_for(2 + i)

    assert handler.subjects() == ["stuck", "other 0", "other 1", "other 2"]
    assert len(imap_server.list_uids("INBOX")) == 1
    assert len(imap_server.list_uids("Processed")) == 3


def test_run_carries_on_after_a_uidvalidity_change(imap_server: DovecotServer) -> None:
    raw = message("kept")
    uid = imap_server.append(raw)
    first_value = imap_server.uidvalidity()
    new_value = first_value + 7
    calls = [0]

    def decide(arrival: Arrival) -> Outcome:
        calls[0] += 1
        return Outcome.RETRY if calls[0] == 1 else Outcome.PROCESSED

    handler = RecordingHandler(decide)
    intake = intake_for(
        settings_for(imap_server, idle_timeout=0.5),
        handler,
        retry_backoff=Backoff(initial=600, maximum=600),  # no second try under the old value
    )

    with running(intake):
        handler.wait_for(1)
        imap_server.set_uidvalidity(new_value)
        arrivals = handler.wait_for(2)

    assert [(a.ref.uidvalidity, a.ref.uid) for a in arrivals] == [
        (first_value, str(uid)),
        (new_value, str(uid)),
    ]
    assert arrivals[1].raw == raw
    assert imap_server.fetch("Processed") == [raw]
    assert imap_server.list_uids("INBOX") == []


def test_run_survives_an_outage_at_start(imap_server: DovecotServer) -> None:
    handler = RecordingHandler()
    unreachable = settings_for(imap_server, port=1, io_timeout=1.0)
    reachable = settings_for(imap_server)
    attempts: list[int] = []

    def factory() -> ImapMailbox:
        attempts.append(1)
        return ImapMailbox(unreachable if len(attempts) <= 3 else reachable)

    imap_server.append(message("waited"))
    intake = ImapIntake(factory, handler, backoff=FAST_BACKOFF)
    with running(intake):
        handler.wait_for(1)

    assert len(attempts) >= 4
    assert handler.subjects() == ["waited"]


def test_run_stops_promptly_while_idle(imap_server: DovecotServer, idle_log: LogCounter) -> None:
    intake = intake_for(settings_for(imap_server, idle_timeout=300), RecordingHandler())
    with running(intake):  # running() asserts the thread ends within WAIT
        idle_log.wait_for(1)


# -- pure parts ---------------------------------------------------------------------


def test_backoff_is_capped_exponential() -> None:
    backoff = Backoff(initial=1.0, factor=2.0, maximum=10.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff.delay(10_000) == 10.0


def test_settings_report_every_problem_at_once() -> None:
    with pytest.raises(ValueError) as excinfo:
        ImapSettings(
            host="",
            username="coord",
            password="x",
            port=0,
            security="ssl",  # type: ignore[arg-type]
            processed_folder="inbox",
            idle_timeout=0,
        )
    text = str(excinfo.value)
    for problem in ("host", "port", "security", "must differ", "idle_timeout"):
        assert problem in text


def test_settings_hide_the_password() -> None:
    settings = ImapSettings(host="h", username="u", password="s3cret")
    assert "s3cret" not in repr(settings)
    assert settings.source == "imap:u@h/INBOX"
