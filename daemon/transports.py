"""Outbound transports: hand finished message bytes to an SMTP relay or a Maildir.

A transport delivers exactly the bytes it is given (composed by ``templates.compose``,
stored in the outbox) to the envelope recipients it is given, and either returns or
raises one of the errors of :mod:`daemon.transport_errors`. Retrying is the caller's
business; :func:`retry_delay` gives the pause before the next attempt.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal, Protocol

from daemon.transport_errors import (
    PermanentSendError,
    SendError,
    TransientSendError,
    TransportSetupError,
)

Security = Literal["tls", "starttls", "none"]


class Transport(Protocol):
    def send(self, envelope_from: str, recipients: Sequence[str], raw: bytes) -> None:
        """Deliver ``raw`` unchanged to ``recipients``; raise a ``SendError`` otherwise."""
        ...


# --- retry policy ---------------------------------------------------------------------


def retry_delay(
    attempt: int,
    *,
    base: timedelta = timedelta(seconds=30),
    cap: timedelta = timedelta(hours=1),
    jitter: float = 0.1,
    rng: random.Random | None = None,
) -> timedelta:
    """The pause before retry number ``attempt`` (1 after the first failure).

    ``base * 2 ** (attempt - 1)``, never more than ``cap``. With ``jitter`` j in [0, 1]
    a random fraction of at most j is taken off, so replicas that failed together do not
    retry together, and the cap still holds; with ``jitter=0`` the result is exact.
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, not {attempt}")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError(f"jitter must lie in [0, 1], not {jitter}")
    seconds = min(cap.total_seconds(), base.total_seconds() * 2.0 ** min(attempt - 1, 64))
    if jitter:
        seconds *= 1.0 - jitter * (rng or random).random()
    return timedelta(seconds=seconds)


# --- envelope addresses ---------------------------------------------------------------


def _envelope_address(address: str) -> str | None:
    """``address`` as SMTP can carry it (IDNA domain), or None when it cannot."""
    if not address or address != address.strip() or address.count("@") != 1:
        return None
    local, domain = address.split("@")
    if not local or not domain or not local.isascii() or not local.isprintable():
        return None
    if any(c in local for c in ' <>()[]\\,;:"'):
        return None
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    if not ascii_domain.isprintable() or any(c in ascii_domain for c in " <>[]\\"):
        return None
    return f"{local}@{ascii_domain}"


# --- SMTP -----------------------------------------------------------------------------


def _text(message: bytes | str) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else message


def _by_code(
    code: int, reply: str, what: str, recipients: Sequence[str], *, setup: bool = False
) -> SendError:
    """4xx (and anything odd) is transient, 5xx permanent for every recipient."""
    if 500 <= code <= 599 and not setup:
        refused = {r: (code, reply) for r in recipients}
        return PermanentSendError(what, code=code, recipients=recipients, refused=refused)
    cls = TransportSetupError if setup else TransientSendError
    return cls(what, code=code, recipients=recipients)


def _classify(exc: Exception, recipients: Sequence[str], where: str) -> SendError:
    """The transport error for an exception of smtplib, ssl or the socket layer."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = {r: (int(c), _text(m)) for r, (c, m) in exc.recipients.items()}
        cls: type[SendError] = (
            PermanentSendError
            if all(code >= 500 for code, _ in refused.values())
            else TransientSendError
        )
        return cls(
            f"{where}: every recipient refused: {refused}",
            recipients=recipients,
            refused=refused,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        code, reply = exc.smtp_code, _text(exc.smtp_error)
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            what = f"{where}: authentication refused: {code} {reply}"
            return _by_code(code, reply, what, recipients, setup=True)
        if isinstance(exc, smtplib.SMTPHeloError):
            what = f"{where}: HELO refused: {code} {reply}"
            return _by_code(code, reply, what, recipients, setup=code >= 500)
        if isinstance(exc, smtplib.SMTPConnectError):
            # A 5xx greeting means "no service here now", not "never this message".
            return TransientSendError(
                f"{where}: greeting refused: {code} {reply}", code=code, recipients=recipients
            )
        # The sender or the content refused (SMTPSenderRefused, SMTPDataError, ...).
        return _by_code(code, reply, f"{where}: {code} {reply}", recipients)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return TransportSetupError(f"{where}: {exc}", recipients=recipients)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return TransportSetupError(f"{where}: certificate rejected: {exc}", recipients=recipients)
    if isinstance(exc, ssl.SSLError):
        return TransportSetupError(f"{where}: TLS failed: {exc}", recipients=recipients)
    # SMTPServerDisconnected, other SMTPException, refused/reset connections, timeouts,
    # name resolution: all worth another try later.
    return TransientSendError(f"{where}: {type(exc).__name__}: {exc}", recipients=recipients)


class SmtpTransport:
    """Submit each message over its own SMTP connection (smtplib).

    ``security``: ``tls`` (implicit TLS, port 465), ``starttls`` (port 587; refuses to go
    on when the server does not offer STARTTLS) or ``none`` (loopback relays only).
    """

    def __init__(
        self,
        host: str,
        port: int,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if security not in ("tls", "starttls", "none"):
            raise ValueError(f"security must be tls, starttls or none, not {security!r}")
        if username is not None and password is None:
            raise ValueError("a username needs a password")
        self.host = host
        self.port = port
        self.security: Security = security
        self.username = username
        self._password = password
        self.timeout = timeout
        self._ssl_context = ssl_context
        self.local_hostname = local_hostname

    def __repr__(self) -> str:
        return f"SmtpTransport({self.host!r}, {self.port}, security={self.security!r})"

    @property
    def _where(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        """An open, greeted, secured and authenticated connection."""
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=self._context(),
            )
        else:
            smtp = smtplib.SMTP(
                self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
            )
        try:
            smtp.ehlo()
            if self.security == "starttls":
                smtp.starttls(context=self._context())  # raises if not offered: no downgrade
                smtp.ehlo()
            if self.username is not None:
                smtp.login(self.username, self._password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _failure(
        self,
        exc: Exception,
        by_smtp: dict[str, str],
        given: list[str],
        invalid: dict[str, tuple[int, str]],
    ) -> SendError:
        """The error for ``exc``, reported under the caller's spelling of each recipient."""
        error = _classify(exc, list(by_smtp), self._where)
        error.recipients = given
        error.refused = {
            **{by_smtp.get(a, a): reply for a, reply in error.refused.items()},
            **invalid,
        }
        return error

    def send(self, envelope_from: str, recipients: Sequence[str], raw: bytes) -> None:
        given = list(recipients)
        if not given:
            raise PermanentSendError("no recipients", recipients=given)
        sender = _envelope_address(envelope_from) if envelope_from else ""
        if sender is None:
            raise PermanentSendError(
                f"invalid envelope sender {envelope_from!r}",
                code=553,
                recipients=given,
                refused={r: (553, "invalid envelope sender") for r in given},
            )
        # SMTP form of each recipient, reported back under the caller's spelling.
        smtp_form = {r: _envelope_address(r) for r in given}
        invalid = {r: (553, "invalid address, not sent") for r, a in smtp_form.items() if a is None}
        by_smtp = {a: r for r, a in smtp_form.items() if a is not None}
        if not by_smtp:
            raise PermanentSendError("no valid recipient", recipients=given, refused=invalid)

        refused = dict(invalid)
        try:
            smtp = self._connect()
        except (smtplib.SMTPException, OSError) as exc:
            raise self._failure(exc, by_smtp, given, invalid) from exc
        try:
            try:
                answer = smtp.sendmail(sender, list(by_smtp), raw)
            except (smtplib.SMTPException, OSError) as exc:
                raise self._failure(exc, by_smtp, given, invalid) from exc
            refused.update({by_smtp.get(a, a): (int(c), _text(m)) for a, (c, m) in answer.items()})
        finally:
            # The message is delivered once the server said 250 to DATA: whatever QUIT
            # does now must not turn that into a failure (and a second copy later).
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
        if refused:
            accepted = [r for r in given if r not in refused]
            cls: type[SendError] = (
                TransientSendError
                if any(code < 500 for code, _ in refused.values())
                else PermanentSendError
            )
            raise cls(
                f"{self._where}: {len(refused)} of {len(given)} recipient(s) refused: "
                + ", ".join(f"{r} ({c} {m})" for r, (c, m) in refused.items()),
                recipients=given,
                accepted=accepted,
                refused=refused,
            )


# --- Maildir --------------------------------------------------------------------------


@dataclass(frozen=True)
class SentMessage:
    envelope_from: str
    recipients: tuple[str, ...]
    raw: bytes
    path: Path


class MaildirTransport:
    """Deliver into a Maildir (the default for development: ``./var/sent``).

    The message file holds exactly the bytes given (CRLF line endings included), in
    ``new/``, written to ``tmp/`` first and renamed, as Maildir requires. The envelope,
    which a Maildir has no place for, goes to a sidecar ``envelopes/<name>.json``
    (``{"envelope_from", "recipients", "file"}``) written atomically *before* the message
    appears in ``new/``, so every delivered message has its envelope; a crash in between
    leaves at most a sidecar without a message, which :meth:`sent` ignores. Mail readers
    (Dovecot, mutt) ignore the extra directory.
    """

    _counter = itertools.count(1)
    _lock = threading.Lock()

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"MaildirTransport({str(self.root)!r})"

    def _unique_name(self) -> str:
        with self._lock:
            serial = next(self._counter)
        now = time.time_ns()
        seconds, micros = divmod(now // 1000, 1_000_000)
        host = socket.gethostname().replace("/", r"\057").replace(":", r"\072")
        return (
            f"{seconds}.M{micros:06d}P{os.getpid()}Q{serial:06d}"
            f"R{random.getrandbits(32):08x}.{host}"
        )

    def send(self, envelope_from: str, recipients: Sequence[str], raw: bytes) -> None:
        given = list(recipients)
        if not given:
            raise PermanentSendError("no recipients", recipients=given)
        try:
            for sub in ("tmp", "new", "cur", "envelopes"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
            name = self._unique_name()
            envelope = {"envelope_from": envelope_from, "recipients": given, "file": f"new/{name}"}
            sidecar = self.root / "envelopes" / f"{name}.json"
            _write_file(
                self.root / "tmp" / f"{name}.json",
                json.dumps(envelope, ensure_ascii=False).encode("utf-8"),
            )
            os.replace(self.root / "tmp" / f"{name}.json", sidecar)
            _write_file(self.root / "tmp" / name, raw)
            os.rename(self.root / "tmp" / name, self.root / "new" / name)
            _fsync_directory(self.root / "envelopes")
            _fsync_directory(self.root / "new")
        except PermissionError as exc:
            raise TransportSetupError(f"maildir {self.root}: {exc}", recipients=given) from exc
        except OSError as exc:
            raise TransientSendError(f"maildir {self.root}: {exc}", recipients=given) from exc

    def sent(self) -> list[SentMessage]:
        """Every delivered message with its envelope, oldest first (by file name)."""
        envelopes = self.root / "envelopes"
        if not envelopes.is_dir():
            return []
        found: list[SentMessage] = []
        for sidecar in sorted(envelopes.glob("*.json")):
            data = json.loads(sidecar.read_text("utf-8"))
            name = sidecar.name[: -len(".json")]
            # A mail reader may have moved it to cur/ with an info suffix (":2,S").
            candidates = [self.root / data["file"], *sorted((self.root / "cur").glob(f"{name}*"))]
            path = next((p for p in candidates if p.is_file()), None)
            if path is None:
                continue
            found.append(
                SentMessage(
                    envelope_from=data["envelope_from"],
                    recipients=tuple(data["recipients"]),
                    raw=path.read_bytes(),
                    path=path,
                )
            )
        return found


def _write_file(path: Path, data: bytes) -> None:
    """Create ``path`` (it must not exist), write ``data`` and flush it to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
