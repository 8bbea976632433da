"""Inbound SMTP/LMTP listener: the mail system delivers to us instead of to a folder.

Each message is handed to the handler in a worker thread (it does blocking database
work) and the sender gets `250` only once the handler has committed the message
(PROCESSED or QUARANTINED); `451` tells it to keep the message and try again later.
The bytes handed over are exactly those received (after SMTP dot-unstuffing), with no
header added or rewritten. LMTP answers once per recipient after DATA (RFC 2033).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import socket
import threading
import uuid
from typing import AnyStr, Final, Literal

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session, syntax

from daemon.inbound import Arrival, Handler, Outcome, SourceRef

log = logging.getLogger("liaison.listener")

ListenerProtocol = Literal["lmtp", "smtp"]

DEFAULT_MAX_MESSAGE_SIZE: Final = 25 * 1024 * 1024
_START_TIMEOUT: Final = 10.0
_STOP_TIMEOUT: Final = 10.0

REPLY_ACCEPTED: Final = "250 2.0.0 OK"
REPLY_TRY_LATER: Final = "451 4.3.0 Temporary failure, please try again later"
REPLY_TOO_BIG: Final = "552 5.3.4 Message exceeds the maximum size"
_AIOSMTPD_TOO_BIG: Final = "552 Error: Too much mail data"


class _Delivery:
    """aiosmtpd handler: turns a completed DATA into an Arrival and calls our handler."""

    def __init__(self, handler: Handler, executor: concurrent.futures.Executor) -> None:
        self._handler = handler
        self._executor = executor

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content
        if raw is None:  # cannot happen after a complete DATA; never answer 250 for it
            return REPLY_TRY_LATER
        queue_id = uuid.uuid4().hex
        arrival = Arrival(SourceRef("listener", None, queue_id), raw)
        log.debug(
            "message %s from %s for %s, %d bytes",
            queue_id,
            envelope.mail_from,
            envelope.rcpt_tos,
            len(raw),
        )
        loop = asyncio.get_running_loop()
        try:
            outcome = await loop.run_in_executor(self._executor, self._handler, arrival)
        except Exception:
            log.exception("handler failed on message %s; answering 451", queue_id)
            return REPLY_TRY_LATER
        if outcome in (Outcome.PROCESSED, Outcome.QUARANTINED):
            return f"{REPLY_ACCEPTED} {queue_id}"
        if outcome is not Outcome.RETRY:
            log.error("handler returned %r for message %s; answering 451", outcome, queue_id)
        return REPLY_TRY_LATER


class _SmtpSession(SMTP):
    """aiosmtpd's SMTP with enhanced status codes on oversize and, for LMTP, one
    reply per recipient after DATA."""

    per_recipient_replies = False
    # RFC 5321 allows 1000 octets a line, but non-conforming senders exist and a 500
    # would bounce their mail; accept long lines as they are (the size limit still holds).
    line_length_limit = 64 * 1024
    _data_recipients = 0
    _in_data = False

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        self._data_recipients = len(self.envelope.rcpt_tos) if self.envelope else 0
        self._in_data = True
        try:
            await super().smtp_DATA(arg)
        finally:
            self._in_data = False

    async def push(self, status: AnyStr) -> None:
        if not self._in_data or status[:3] in ("354", b"354"):
            await super().push(status)
            return
        count = max(1, self._data_recipients) if self.per_recipient_replies else 1
        if isinstance(status, str) and status.startswith(_AIOSMTPD_TOO_BIG):
            for _ in range(count):
                await super().push(REPLY_TOO_BIG)
            return
        for _ in range(count):
            await super().push(status)


class _LmtpSession(_SmtpSession, LMTP):
    per_recipient_replies = True


class ListenerServer:
    """An SMTP or LMTP server on its own event-loop thread.

    `port=0` binds a free port; `port` then tells which. `stop()` closes the listening
    socket and open sessions, and waits for handler calls in progress to return.
    """

    def __init__(
        self,
        host: str,
        port: int,
        protocol: ListenerProtocol,
        handler: Handler,
        *,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        hostname: str | None = None,
        workers: int = 4,
    ) -> None:
        if protocol not in ("lmtp", "smtp"):
            raise ValueError(f"protocol must be lmtp or smtp, not {protocol!r}")
        if max_message_size < 1:
            raise ValueError("max_message_size must be positive")
        self._host = host
        self._requested_port = port
        self._protocol = protocol
        self._handler = handler
        self._max_message_size = max_message_size
        # Not socket.getfqdn(): that can wait on DNS.
        self._hostname = hostname or socket.gethostname()
        self._workers = workers
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The bound port (the actual one when constructed with port 0)."""
        if self._port is None:
            raise RuntimeError("listener is not started")
        return self._port

    @property
    def host(self) -> str:
        return self._host

    @property
    def protocol(self) -> ListenerProtocol:
        return self._protocol

    def __enter__(self) -> ListenerServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Bind and start serving; raises OSError when the address cannot be bound."""
        if self._loop is not None:
            raise RuntimeError("listener already started")
        loop = asyncio.new_event_loop()
        executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=self._workers, thread_name_prefix="liaison-listener-handler"
        )
        thread = threading.Thread(
            target=_run_loop, args=(loop,), name="liaison-listener", daemon=True
        )
        thread.start()
        self._loop, self._thread, self._executor = loop, thread, executor
        delivery = _Delivery(self._handler, executor)
        session_class = _LmtpSession if self._protocol == "lmtp" else _SmtpSession

        def make_session() -> SMTP:
            return session_class(
                delivery,
                data_size_limit=self._max_message_size,
                enable_SMTPUTF8=True,
                hostname=self._hostname,
                loop=loop,
            )

        async def open_server() -> asyncio.Server:
            return await loop.create_server(make_session, self._host, self._requested_port)

        try:
            server = asyncio.run_coroutine_threadsafe(open_server(), loop).result(_START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        self._server = server
        self._port = int(server.sockets[0].getsockname()[1])
        log.info("%s listener on %s:%d", self._protocol.upper(), self._host, self._port)

    def stop(self) -> None:
        """Stop listening, close sessions, wait for handler calls in progress."""
        loop, thread, executor = self._loop, self._thread, self._executor
        if loop is None:
            return
        server = self._server

        async def shut_down() -> None:
            if server is not None:
                server.close()
            current = asyncio.current_task()
            sessions = [task for task in asyncio.all_tasks() if task is not current]
            for task in sessions:
                task.cancel()
            await asyncio.gather(*sessions, return_exceptions=True)
            if server is not None:
                await server.wait_closed()

        try:
            if loop.is_running():
                asyncio.run_coroutine_threadsafe(shut_down(), loop).result(_STOP_TIMEOUT)
        except (concurrent.futures.TimeoutError, RuntimeError) as exc:
            log.warning("listener did not shut down cleanly: %r", exc)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None:
                thread.join(_STOP_TIMEOUT)
            if executor is not None:
                executor.shutdown(wait=True)  # let commits in progress finish
            if thread is None or not thread.is_alive():
                loop.close()
            self._loop = self._thread = self._server = self._executor = None
            if self._port is not None:
                log.info("listener on %s:%d stopped", self._host, self._port)
            self._port = None


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    loop.run_forever()
