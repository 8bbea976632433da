"""IMAP intake: read the coordination folder, hand each message over, then file it.

`ImapMailbox` is the adapter (one connection, one folder): it lists what is still in
the folder, fetches it without marking it seen, moves a message once it is committed
and waits for new mail with IDLE. `ImapIntake` is the loop around it: process what is
pending, wait, reconnect with capped backoff, and never let one message stop the rest.

A message leaves the folder only after the handler has committed it, so the folder
itself is the queue of work not yet done: a crash leads to reprocessing, never to loss.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from imapclient import DELETED, IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from daemon.inbound import Arrival, FolderMailbox, Handler, Outcome, SourceRef
from daemon.mailbox_errors import (
    MailboxCommandError,
    MailboxConnectionError,
    MailboxError,
    MailboxLoginError,
    StaleUidValidityError,
)

log = logging.getLogger("liaison.imap")

Security = Literal["tls", "starttls", "none"]

# While IDLE, how often to look at the cancel event (shutdown latency).
_CANCEL_CHECK_INTERVAL: Final = 0.5
# Without IDLE, how often to poll the folder at most.
_POLL_INTERVAL_WITHOUT_IDLE: Final = 60.0


@dataclass(frozen=True)
class ImapSettings:
    """How to reach the mailbox and which folders to use ([mailbox.imap])."""

    host: str
    username: str
    password: str = field(repr=False)
    port: int = 993
    security: Security = "tls"
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    # Longest IDLE before re-checking the folder anyway: a dead IDLE never stalls intake
    # for longer than this (RFC 2177 asks for less than 29 minutes).
    idle_timeout: float = 300.0
    # Connect and read timeout of every command; also bounds the wait for a reply to
    # DONE after IDLE, which is how a silently dead connection is found.
    io_timeout: float = 60.0
    # TLS: an explicit context (tests trust their own CA with it), else the system
    # default; tls_verify=False turns verification off (never in production).
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)
    tls_verify: bool = True

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not self.host:
            problems.append("host is empty")
        if not self.username:
            problems.append("username is empty")
        if not 0 < self.port < 65536:
            problems.append(f"port {self.port} is out of range")
        if self.security not in ("tls", "starttls", "none"):
            problems.append(f"security must be tls, starttls or none, not {self.security!r}")
        folders = (self.folder, self.processed_folder, self.quarantine_folder)
        if not all(folders):
            problems.append("folder, processed_folder and quarantine_folder must be named")
        elif len({name.casefold() for name in folders}) != 3:
            problems.append("folder, processed_folder and quarantine_folder must differ")
        if self.idle_timeout <= 0:
            problems.append("idle_timeout must be positive")
        if self.io_timeout <= 0:
            problems.append("io_timeout must be positive")
        if problems:
            raise ValueError("invalid IMAP settings: " + "; ".join(problems))

    @property
    def source(self) -> str:
        """The source identity of this mailbox's messages."""
        return f"imap:{self.username}@{self.host}/{self.folder}"

    def tls_context(self) -> ssl.SSLContext:
        if self.ssl_context is not None:
            return self.ssl_context
        context = ssl.create_default_context()
        if not self.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


@dataclass(frozen=True)
class Backoff:
    """Capped exponential delays: initial, initial*factor, ... never above maximum."""

    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 300.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the `attempt`-th consecutive failure (1-based)."""
        exponent = min(max(attempt, 1) - 1, 64)  # bounded: no float overflow
        return float(min(self.maximum, self.initial * self.factor**exponent))


class ImapMailbox:
    """One IMAP connection to the coordination folder.

    Not thread-safe: one thread uses it at a time. Every library or socket error is
    translated into `daemon.mailbox_errors`; after a `MailboxConnectionError` the
    mailbox is disconnected and `connect()` may be called again.
    """

    def __init__(self, settings: ImapSettings) -> None:
        self._settings = settings
        self._client: Any = None  # IMAPClient; imapclient ships no type hints
        self._selected = False
        self._uidvalidity: int | None = None

    @property
    def settings(self) -> ImapSettings:
        return self._settings

    @property
    def source(self) -> str:
        return self._settings.source

    @property
    def processed_folder(self) -> str:
        return self._settings.processed_folder

    @property
    def quarantine_folder(self) -> str:
        return self._settings.quarantine_folder

    @property
    def uidvalidity(self) -> int | None:
        """UIDVALIDITY of the folder as of the last select, None before the first."""
        return self._uidvalidity

    @property
    def connected(self) -> bool:
        return self._client is not None

    def __enter__(self) -> ImapMailbox:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- connection -----------------------------------------------------------------

    def connect(self) -> None:
        """Connect, log in, and create the processed and quarantine folders if missing."""
        self.close()
        settings = self._settings
        use_tls = settings.security == "tls"
        try:
            with self._translating("connect"):
                self._client = IMAPClient(
                    settings.host,
                    port=settings.port,
                    ssl=use_tls,
                    ssl_context=settings.tls_context() if use_tls else None,
                    timeout=SocketTimeout(connect=settings.io_timeout, read=settings.io_timeout),
                )
                if settings.security == "starttls":
                    self._client.starttls(settings.tls_context())
                self._client.login(settings.username, settings.password)
                self._ensure_folders()
        except MailboxError:
            self._drop()  # half-set-up connections are not kept
            raise
        log.info("connected to %s", self.source)

    def close(self) -> None:
        """Log out; quietly drop the connection if that fails."""
        client, self._client, self._selected = self._client, None, False
        if client is None:
            return
        try:
            client.logout()
        except Exception:  # already broken: just release the socket
            _shutdown_quietly(client)

    def _ensure_folders(self) -> None:
        settings = self._settings
        client = self._client
        existing = {name for _flags, _delimiter, name in client.list_folders()}
        if settings.folder not in existing and settings.folder.upper() != "INBOX":
            raise MailboxCommandError(f"{self.source}: folder {settings.folder!r} does not exist")
        for name in (settings.processed_folder, settings.quarantine_folder):
            if name in existing:
                continue
            try:
                client.create_folder(name)
            except IMAPClientError:
                if not client.folder_exists(name):  # not a race with another replica
                    raise
            else:
                log.info("%s: created folder %r", self.source, name)
            try:
                client.subscribe_folder(name)  # so people see it in their mail client
            except IMAPClientError as exc:
                log.debug("%s: could not subscribe to %r: %s", self.source, name, exc)

    # -- the folder -----------------------------------------------------------------

    def fetch_pending(
        self, limit: int, *, skip: Callable[[SourceRef], bool] | None = None
    ) -> list[Arrival]:
        """Up to `limit` messages still in the folder, oldest UID first.

        Fetched with BODY.PEEK[] so nothing is marked \\Seen. The folder is selected
        afresh each time, so every reference carries the folder's current UIDVALIDITY.
        `skip` is asked about every message in the folder; those it accepts are not
        fetched and do not count against the limit (used for per-message backoff).
        """
        client = self._require_client()
        with self._translating("fetch pending messages"):
            uidvalidity = self._select()
            uids = sorted(int(uid) for uid in client.search("ALL"))
            refs = [SourceRef(self.source, uidvalidity, str(uid)) for uid in uids]
            chosen = [ref for ref in refs if skip is None or not skip(ref)][: max(limit, 0)]
            if not chosen:
                return []
            response = client.fetch([int(ref.uid or 0) for ref in chosen], ["BODY.PEEK[]"])
        arrivals: list[Arrival] = []
        for ref in chosen:
            item = response.get(int(ref.uid or 0))
            raw = item.get(b"BODY[]") if item is not None else None
            if raw is None:  # expunged by someone else between SEARCH and FETCH
                log.debug("%s: UID %s vanished before it was fetched", self.source, ref.uid)
                continue
            arrivals.append(Arrival(ref, bytes(raw)))
        return arrivals

    def move(self, ref: SourceRef, folder: str) -> None:
        """Move one message out of the folder (:meth:`move_all` of one)."""
        self.move_all([ref], folder)

    def move_all(self, refs: Sequence[SourceRef], folder: str) -> None:
        """Move messages out of the folder, all in one command.

        Uses MOVE where the server has it, else COPY, STORE \\Deleted and UID EXPUNGE
        (plain EXPUNGE on a server without UIDPLUS), each on the whole UID set. A
        reference from before a UIDVALIDITY change is refused with
        `StaleUidValidityError` (nothing is moved): its UID may now name another message.
        """
        for ref in refs:
            if ref.source != self.source or ref.uid is None:
                raise ValueError(f"{ref} is not a message of {self.source}")
        if not refs:
            return
        client = self._require_client()
        uids = [int(ref.uid or 0) for ref in refs]
        shown = ",".join(str(uid) for uid in uids)
        with self._translating(f"move UID {shown} to {folder!r}"):
            if not self._selected:
                self._select()
            for ref in refs:
                if ref.uidvalidity != self._uidvalidity:
                    raise StaleUidValidityError(self.source, ref.uidvalidity, self._uidvalidity)
            if client.has_capability("MOVE"):
                client.move(uids, folder)
            else:
                client.copy(uids, folder)
                client.add_flags(uids, [DELETED], silent=True)
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge(uids)
                else:
                    client.expunge()
        log.debug("%s: moved UID %s to %r", self.source, shown, folder)

    def wait_for_mail(
        self, timeout: float | None = None, *, cancel: threading.Event | None = None
    ) -> None:
        """Return when new mail may have arrived, or after at most the timeout.

        The timeout is capped at `idle_timeout` (None means `idle_timeout`), so a
        silently dead IDLE costs at most that much delay before the folder is read
        again. Returns early when `cancel` is set. Raises `MailboxConnectionError`
        when the server says BYE or the connection turns out to be dead.
        """
        idle_timeout = self._settings.idle_timeout
        limit = idle_timeout if timeout is None else max(0.0, min(timeout, idle_timeout))
        client = self._require_client()
        with self._translating("wait for mail"):
            if not self._selected:
                self._select()
            if _take_exists(client) or limit == 0:
                return
            if client.has_capability("IDLE"):
                self._idle(limit, cancel)
            else:
                self._poll(min(limit, _POLL_INTERVAL_WITHOUT_IDLE), cancel)

    def _idle(self, limit: float, cancel: threading.Event | None) -> None:
        client = self._client
        deadline = time.monotonic() + limit
        client.idle()
        log.debug("%s: idle for up to %.1fs", self.source, limit)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (cancel is not None and cancel.is_set()):
                break
            wait = remaining if cancel is None else min(remaining, _CANCEL_CHECK_INTERVAL)
            started = time.monotonic()
            responses = client.idle_check(timeout=wait)
            _raise_on_bye(self.source, responses)
            if any(_is_exists(response) for response in responses):
                log.debug("%s: new mail announced", self.source)
                break
            if not responses and time.monotonic() - started < wait / 2:
                # The socket turned readable but no line came: the server closed the
                # connection (imapclient swallows EOF here). DONE below confirms it.
                break
        _text, responses = client.idle_done()
        _raise_on_bye(self.source, responses)

    def _poll(self, interval: float, cancel: threading.Event | None) -> None:
        if cancel is not None:
            cancel.wait(interval)
        else:
            time.sleep(interval)
        self._client.noop()  # raises if the connection died meanwhile

    # -- helpers --------------------------------------------------------------------

    def _select(self) -> int:
        client = self._client
        info = client.select_folder(self._settings.folder)
        _take_exists(client)  # SELECT's own EXISTS is the baseline, not news
        value = info.get(b"UIDVALIDITY")
        if value is None:
            raise MailboxCommandError(f"{self.source}: server sent no UIDVALIDITY on SELECT")
        uidvalidity = int(value)
        if self._uidvalidity is not None and uidvalidity != self._uidvalidity:
            log.warning(
                "%s: UIDVALIDITY changed from %d to %d; messages still in the folder are "
                "fetched again under the new value",
                self.source,
                self._uidvalidity,
                uidvalidity,
            )
        self._uidvalidity = uidvalidity
        self._selected = True
        return uidvalidity

    def _require_client(self) -> Any:
        if self._client is None:
            raise MailboxConnectionError(f"{self.source}: not connected")
        return self._client

    def _drop(self) -> None:
        client, self._client, self._selected = self._client, None, False
        if client is not None:
            _shutdown_quietly(client)

    @contextmanager
    def _translating(self, action: str) -> Iterator[None]:
        """Turn library and socket errors into mailbox errors; drop a dead connection."""
        try:
            yield
        except MailboxConnectionError:
            self._drop()
            raise
        except MailboxError:
            raise
        except LoginError as exc:
            self._drop()
            raise MailboxLoginError(f"{self.source}: login refused: {exc}") from exc
        except (IMAPClientAbortError, OSError, EOFError) as exc:
            # OSError covers refused connections, resets, timeouts and TLS failures.
            self._drop()
            raise MailboxConnectionError(f"{self.source}: {action}: {exc!r}") from exc
        except IMAPClientError as exc:
            raise MailboxCommandError(f"{self.source}: {action}: {exc}") from exc


def _take_exists(client: Any) -> bool:
    """Whether an EXISTS response arrived since the last look, and forget it.

    A message that arrives while we fetch or move is announced with that command's
    responses, and would not be announced again once IDLE starts; imaplib keeps such
    untagged responses until asked for them with IMAP4.response().
    """
    _typ, data = client._imap.response("EXISTS")
    return bool(data != [None])


def _is_exists(response: tuple[Any, ...]) -> bool:
    return len(response) >= 2 and response[1] == b"EXISTS"


def _raise_on_bye(source: str, responses: list[tuple[Any, ...]]) -> None:
    for response in responses:
        if response and response[0] == b"BYE":
            text = b" ".join(part for part in response[1:] if isinstance(part, bytes))
            raise MailboxConnectionError(
                f"{source}: server closed the connection: {text.decode('utf-8', 'replace')}"
            )


def _shutdown_quietly(client: Any) -> None:
    try:
        client.shutdown()
    except Exception as exc:  # the socket is gone either way
        log.debug("ignoring error while dropping an IMAP connection: %r", exc)


@dataclass
class _Deferral:
    attempts: int
    not_before: float


class ImapIntake:
    """The intake loop: process what is pending, wait for mail, survive outages.

    For each arrival the handler commits and returns an `Outcome`; then the message is
    moved to the processed folder (PROCESSED), the quarantine folder (QUARANTINED) or
    left in place (RETRY, or the handler raised). A message left in place is not
    offered again before its own capped backoff has passed, so one failing message
    never turns into a hot loop nor holds up the others.

    With `batch_handler`, the arrivals of one fetch are handed over together and
    committed together (group commit: a backlog pays one COMMIT per fetch, not one per
    message); the moves follow that commit, message by message as above.

    `run_once` and `run` must not be used from two threads at once.
    """

    def __init__(
        self,
        mailbox_factory: Callable[[], FolderMailbox],
        handler: Handler,
        *,
        batch_handler: Callable[[Sequence[Arrival]], Sequence[Outcome]] | None = None,
        batch: int = 100,
        backoff: Backoff = Backoff(initial=1.0, maximum=300.0),
        retry_backoff: Backoff = Backoff(initial=30.0, maximum=1800.0),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self._factory = mailbox_factory
        self._handler = handler
        self._batch_handler = batch_handler
        self._batch = batch
        self._backoff = backoff
        self._retry_backoff = retry_backoff
        self._clock = clock
        self._mailbox: FolderMailbox | None = None
        self._deferred: dict[SourceRef, _Deferral] = {}

    def run_once(self) -> int:
        """Handle every pending message once (up to `batch`); return how many were handled.

        Messages waiting out their retry backoff are skipped and not counted. Raises
        `MailboxError` when the mailbox cannot be reached; the next call reconnects.
        """
        try:
            mailbox = self._connected()
            now = self._clock()
            listed: set[SourceRef] = set()

            def waiting(ref: SourceRef) -> bool:
                listed.add(ref)
                deferral = self._deferred.get(ref)
                return deferral is not None and deferral.not_before > now

            arrivals = mailbox.fetch_pending(self._batch, skip=waiting)
            # Forget the backoff of messages that left the folder some other way.
            self._deferred = {ref: d for ref, d in self._deferred.items() if ref in listed}
            self._acknowledge(mailbox, arrivals, self._handle_all(arrivals))
            return len(arrivals)
        except MailboxConnectionError:
            self._discard()
            raise

    def run(self, stop: threading.Event) -> None:
        """Run until `stop` is set: process, wait for mail, reconnect after failures."""
        failures = 0
        log.info("IMAP intake started")
        try:
            while not stop.is_set():
                try:
                    handled = self.run_once()
                    if failures:
                        log.info("mailbox reachable again after %d failed attempts", failures)
                        failures = 0
                    if handled >= self._batch or stop.is_set():
                        continue  # a backlog: read the next batch straight away
                    self._connected().wait_for_mail(self._next_retry_in(), cancel=stop)
                except Exception as exc:
                    self._discard()
                    failures += 1
                    delay = self._backoff.delay(failures)
                    if isinstance(exc, MailboxError):
                        level = logging.WARNING
                        if isinstance(exc, MailboxLoginError) or not exc.transient:
                            level = logging.ERROR
                        log.log(level, "%s; trying again in %.1fs", exc, delay)
                    else:
                        log.exception("unexpected error in IMAP intake; again in %.1fs", delay)
                    stop.wait(delay)
        finally:
            self._discard()
            log.info("IMAP intake stopped")

    # -- helpers --------------------------------------------------------------------

    def _connected(self) -> FolderMailbox:
        if self._mailbox is None:
            mailbox = self._factory()
            mailbox.connect()
            self._mailbox = mailbox
        return self._mailbox

    def _discard(self) -> None:
        mailbox, self._mailbox = self._mailbox, None
        if mailbox is not None:
            mailbox.close()

    def _handle_all(self, arrivals: Sequence[Arrival]) -> list[Outcome]:
        if self._batch_handler is None or len(arrivals) < 2:
            return [self._handle(arrival) for arrival in arrivals]
        try:
            outcomes = list(self._batch_handler(arrivals))
        except Exception:
            log.exception("batch handler failed; its %d messages stay in the folder", len(arrivals))
            return [Outcome.RETRY] * len(arrivals)
        if len(outcomes) != len(arrivals) or not all(isinstance(o, Outcome) for o in outcomes):
            log.error("batch handler returned %r; every message treated as RETRY", outcomes)
            return [Outcome.RETRY] * len(arrivals)
        return outcomes

    def _handle(self, arrival: Arrival) -> Outcome:
        try:
            outcome = self._handler(arrival)
        except Exception:
            log.exception("handler failed on %s; it stays in the folder", arrival.ref)
            return Outcome.RETRY
        if not isinstance(outcome, Outcome):
            log.error("handler returned %r for %s; treated as RETRY", outcome, arrival.ref)
            return Outcome.RETRY
        return outcome

    def _acknowledge(
        self, mailbox: FolderMailbox, arrivals: Sequence[Arrival], outcomes: Sequence[Outcome]
    ) -> None:
        """Move what was committed, one command per destination folder; leave the rest."""
        destinations: dict[str, list[SourceRef]] = {}
        for arrival, outcome in zip(arrivals, outcomes, strict=True):
            if outcome is Outcome.RETRY:
                self._defer(arrival.ref)
                continue
            processed = outcome is Outcome.PROCESSED
            folder = mailbox.processed_folder if processed else mailbox.quarantine_folder
            destinations.setdefault(folder, []).append(arrival.ref)
        for folder, refs in destinations.items():
            try:
                mailbox.move_all(refs, folder)
            except StaleUidValidityError as exc:
                # Committed, but the UIDs may now name other messages: leave them; they
                # are fetched again under the new UIDVALIDITY and the store sees duplicates.
                log.warning("not moving %d message(s): %s", len(refs), exc)
                continue
            except MailboxCommandError as exc:
                log.error(
                    "committed %d message(s) but could not move them to %r: %s",
                    len(refs),
                    folder,
                    exc,
                )
                for ref in refs:
                    self._defer(ref)
                continue
            for ref in refs:
                self._deferred.pop(ref, None)

    def _defer(self, ref: SourceRef) -> None:
        previous = self._deferred.get(ref)
        attempts = 1 if previous is None else previous.attempts + 1
        delay = self._retry_backoff.delay(attempts)
        self._deferred[ref] = _Deferral(attempts, self._clock() + delay)
        log.info("%s left in place (attempt %d); next try in %.0fs", ref, attempts, delay)

    def _next_retry_in(self) -> float | None:
        if not self._deferred:
            return None
        earliest = min(deferral.not_before for deferral in self._deferred.values())
        return max(0.0, earliest - self._clock())
