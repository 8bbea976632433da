"""An aiosmtpd server on loopback that captures every message and fails on demand.

Fixtures (function scope, each a fresh :class:`SmtpSink` stopped at the end):

* ``smtp_sink`` — plain SMTP, no authentication;
* ``smtp_sink_starttls`` — STARTTLS and AUTH required (``SINK_USER``/``SINK_PASSWORD``);
* ``smtp_sink_tls`` — implicit TLS (the ``tls`` security of port 465), AUTH required.

The TLS sinks use a throw-away certificate for ``127.0.0.1``; ``sink_tls.client_context``
trusts it. A sink listens on a socket bound before the server starts (port 0, so no
two tests ever race for a port) and records each accepted message as a
:class:`CapturedMessage`: envelope sender, recipients and the exact bytes received.

Failing on demand, as Mailman's test MTA does:

* ``fail_next(n, code=451, message="try later")`` — the next ``n`` transactions are
  answered with that reply at the end of DATA (nothing captured);
* ``refuse_recipient(addr, code=550)`` — ``RCPT TO:<addr>`` gets that reply, for as
  long as the sink lives; other recipients are still accepted.

``wait_for(n, timeout)`` blocks on a condition variable until ``n`` messages have been
captured (no polling), for tests where another thread does the sending.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.servers.certificates import write_self_signed
from tests.servers.requirements import missing_server

SINK_USER = "liaison"
SINK_PASSWORD = "sink-test-password"


@dataclass(frozen=True)
class CapturedMessage:
    envelope_from: str
    recipients: tuple[str, ...]
    raw: bytes
    #: The transaction ran over TLS (STARTTLS or implicit).
    secure: bool = False
    #: The user the client authenticated as, if it did.
    login: str | None = None


@dataclass(frozen=True)
class TlsMaterial:
    server_context: ssl.SSLContext
    client_context: ssl.SSLContext
    ca_file: Path


class _ImplicitTlsSMTP(SMTP):
    """aiosmtpd counts only STARTTLS as TLS when AUTH requires it; on an implicit-TLS
    listener every session is encrypted, so AUTH needs no STARTTLS. (Passing
    ``auth_require_tls=False`` instead makes aiosmtpd warn on every connection.)"""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._auth_require_tls = False


class _BoundController(Controller):
    """A Controller serving on a socket that is already bound (port 0 → a free port)."""

    def __init__(self, handler: Any, listener: socket.socket, **kwargs: Any) -> None:
        host, port = listener.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **kwargs)
        self._listener = listener

    def factory(self) -> SMTP:
        if self.ssl_context is not None:
            return _ImplicitTlsSMTP(self.handler, **self.SMTP_kwargs)
        return SMTP(self.handler, **self.SMTP_kwargs)

    def _create_server(self) -> Any:
        return self.loop.create_server(
            self._factory_invoker, sock=self._listener, ssl=self.ssl_context
        )


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_RCPT(
        self,
        server: Any,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        refusal = self._sink._refusal_for(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        transport = getattr(server, "transport", None)
        secure = transport is not None and transport.get_extra_info("ssl_object") is not None
        return self._sink._receive(envelope, session, secure=secure)


class SmtpSink:
    """See the module docstring. Use as a context manager, or ``start()``/``stop()``."""

    def __init__(
        self,
        *,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        require_auth: bool = False,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self._starttls = starttls
        self._implicit_tls = implicit_tls
        self._require_auth = require_auth
        self._cond = threading.Condition()
        self._messages: list[CapturedMessage] = []
        self._failures: list[str] = []
        self._refused: dict[str, str] = {}
        self._controller: _BoundController | None = None

    # --- lifecycle ---

    def start(self) -> SmtpSink:
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets it recognises as
        # TCP, and without it every session stalls ~40 ms in EHLO (Nagle + delayed ACK).
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, 0))
        self.port = listener.getsockname()[1]
        kwargs: dict[str, Any] = {"ready_timeout": 10.0}
        if self._implicit_tls is not None:
            kwargs["ssl_context"] = self._implicit_tls
        if self._starttls is not None:
            kwargs.update(tls_context=self._starttls, require_starttls=True)
        if self._require_auth:
            kwargs.update(authenticator=_authenticate, auth_required=True)
        self._controller = _BoundController(_Handler(self), listener, **kwargs)
        try:
            self._controller.start()
        except BaseException:
            listener.close()
            raise
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- what the tests see ---

    @property
    def messages(self) -> list[CapturedMessage]:
        with self._cond:
            return list(self._messages)

    def wait_for(self, n: int, timeout: float = 5.0) -> list[CapturedMessage]:
        """The captured messages once there are at least ``n``; fails after ``timeout``."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._messages) >= n, timeout):
                raise AssertionError(
                    f"SMTP sink: expected {n} message(s) within {timeout}s, "
                    f"got {len(self._messages)}"
                )
            return list(self._messages)

    def fail_next(self, n: int = 1, code: int = 451, message: str = "try later") -> None:
        with self._cond:
            self._failures.extend([f"{code} {message}"] * n)

    def refuse_recipient(
        self, address: str, code: int = 550, message: str = "no such user"
    ) -> None:
        with self._cond:
            self._refused[address.lower()] = f"{code} {message}"

    # --- called from the server's thread ---

    def _refusal_for(self, address: str) -> str | None:
        with self._cond:
            return self._refused.get(address.lower())

    def _receive(self, envelope: Envelope, session: Session, *, secure: bool) -> str:
        with self._cond:
            if self._failures:
                return self._failures.pop(0)
            login = session.auth_data if isinstance(session.auth_data, str) else None
            self._messages.append(
                CapturedMessage(
                    envelope_from=envelope.mail_from or "",
                    recipients=tuple(envelope.rcpt_tos),
                    raw=bytes(envelope.original_content or b""),
                    secure=secure,
                    login=login,
                )
            )
            self._cond.notify_all()
        return "250 Message accepted for delivery"


def _authenticate(
    server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    if isinstance(auth_data, LoginPassword):
        login = auth_data.login.decode("utf-8", "replace")
        ok = login == SINK_USER and auth_data.password == SINK_PASSWORD.encode()
        if ok:
            return AuthResult(success=True, auth_data=login)
    return AuthResult(success=False, handled=False)


def _make_tls_material(directory: Path) -> TlsMaterial:
    """A self-signed certificate for 127.0.0.1/localhost, valid for a day."""
    pair = write_self_signed(directory, "sink", "liaison test sink")
    if pair is None:
        missing_server("the 'cryptography' package, to make a test certificate")
    cert_file, key_file = pair
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return TlsMaterial(server_context=server, client_context=client, ca_file=cert_file)


@pytest.fixture(scope="session")
def sink_tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    return _make_tls_material(tmp_path_factory.mktemp("smtp-sink-tls"))


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def smtp_sink_starttls(sink_tls: TlsMaterial) -> Iterator[SmtpSink]:
    with SmtpSink(starttls=sink_tls.server_context, require_auth=True) as sink:
        yield sink


@pytest.fixture
def smtp_sink_tls(sink_tls: TlsMaterial) -> Iterator[SmtpSink]:
    with SmtpSink(implicit_tls=sink_tls.server_context, require_auth=True) as sink:
        yield sink
