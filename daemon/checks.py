"""``liaison check``: reach every server and place the configuration names.

Each check is short (one timeout per connection), read-only as far as possible, and
turns every failure into one :class:`CheckResult` with a detail an operator can act on;
nothing here raises for an unreachable server. The store is checked with SQLAlchemy
directly, so this module does not depend on ``store/`` or ``workflow/``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import smtplib
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from daemon.settings import Settings, masked_url

DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True)
class CheckResult:
    """``ok`` is False only for a failure; a check that was not run is ``skipped`` with
    ``ok`` True and the reason in ``detail``."""

    name: str
    ok: bool
    detail: str
    skipped: bool = False


def check_servers(settings: Settings, *, timeout: float = DEFAULT_TIMEOUT) -> list[CheckResult]:
    """Try every configured server and place, in the order of the configuration."""
    results: list[CheckResult] = []
    mailbox = settings.mailbox
    if mailbox.backend == "imap":
        results.append(check_imap(settings, timeout=timeout))
    elif mailbox.backend == "ews":
        results.append(_skipped("mailbox.ews", "the EWS connection is not checked yet"))
    else:
        results.append(check_listener(settings, timeout=timeout))

    transport = settings.outbound.transport
    if transport == "smtp":
        results.append(check_smtp(settings, timeout=timeout))
    elif transport == "ews":
        results.append(_skipped("outbound.ews", "sending through EWS is not checked yet"))
    else:
        results.append(_writable_dir("outbound.maildir", settings.outbound.maildir))

    results.append(check_store(settings, timeout=timeout))
    results.append(_writable_dir("store.attachments_dir", settings.store.attachments_dir))

    if settings.calendar.backend == "caldav":
        results.append(_skipped("calendar.caldav", "the CalDAV server is not checked yet"))
    elif settings.calendar.backend == "ews" and mailbox.backend != "ews":
        results.append(_skipped("calendar.ews", "the EWS calendar is not checked yet"))

    results.append(check_profile(settings))
    results.append(check_directory(settings))
    return results


def _skipped(name: str, reason: str) -> CheckResult:
    return CheckResult(name, True, f"skipped: {reason}", skipped=True)


def _tls_context(ca_file: Path | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate not trusted: {exc.verify_message}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        return f"{exc.smtp_code} {text}"
    text = str(exc).strip()
    if len(text) > 3 and text[:2] in ("b'", 'b"') and text[-1] == text[1]:
        text = text[2:-1]  # imaplib reports server text as a bytes repr
    return text or type(exc).__name__


# ------------------------------------------------------------------------------ IMAP


def check_imap(settings: Settings, *, timeout: float = DEFAULT_TIMEOUT) -> CheckResult:
    """Connect, STARTTLS where configured, log in, and look for the three folders."""
    from imapclient import IMAPClient

    imap = settings.mailbox.imap
    name = "mailbox.imap"
    where = f"{imap.host}:{imap.port}"
    try:
        context = _tls_context(imap.ca_file)
    except (OSError, ssl.SSLError) as exc:
        return CheckResult(name, False, f"cannot load ca_file {imap.ca_file}: {_reason(exc)}")
    try:
        client = IMAPClient(
            imap.host,
            port=imap.port,
            ssl=imap.security == "tls",
            ssl_context=context,
            timeout=timeout,
        )
    except Exception as exc:  # noqa: BLE001 - any failure is the check's answer
        return CheckResult(name, False, f"cannot connect to {where}: {_reason(exc)}")
    try:
        if imap.security == "starttls":
            try:
                client.starttls(context)
            except Exception as exc:  # noqa: BLE001
                return CheckResult(name, False, f"STARTTLS with {where} failed: {_reason(exc)}")
        try:
            client.login(imap.username, imap.password)
        except Exception as exc:  # noqa: BLE001
            return CheckResult(
                name, False, f"login to {where} as {imap.username} failed: {_reason(exc)}"
            )
        try:
            missing = [
                folder
                for folder in (imap.folder, imap.processed_folder, imap.quarantine_folder)
                if not client.folder_exists(folder)
            ]
        except Exception as exc:  # noqa: BLE001
            return CheckResult(name, False, f"listing folders on {where} failed: {_reason(exc)}")
        detail = f"logged in to {where} as {imap.username}"
        if imap.folder in missing:
            return CheckResult(name, False, f"{detail}, but folder {imap.folder} does not exist")
        if missing:
            detail += f"; folder(s) {', '.join(missing)} do not exist yet"
        return CheckResult(name, True, detail)
    finally:
        try:
            client.logout()
        except Exception:  # noqa: BLE001 - best effort on the way out
            with contextlib.suppress(Exception):
                client.shutdown()


# ------------------------------------------------------------------------------ SMTP


def check_smtp(settings: Settings, *, timeout: float = DEFAULT_TIMEOUT) -> CheckResult:
    """Connect, EHLO, STARTTLS and log in where configured; nothing is sent."""
    smtp = settings.outbound.smtp
    name = "outbound.smtp"
    where = f"{smtp.host}:{smtp.port}"
    try:
        context = _tls_context(smtp.ca_file)
    except (OSError, ssl.SSLError) as exc:
        return CheckResult(name, False, f"cannot load ca_file {smtp.ca_file}: {_reason(exc)}")
    client: smtplib.SMTP
    try:
        if smtp.security == "tls":
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
    except Exception as exc:  # noqa: BLE001
        return CheckResult(name, False, f"cannot connect to {where}: {_reason(exc)}")
    step = "EHLO"
    try:
        client.ehlo()
        if smtp.security == "starttls":
            step = "STARTTLS"
            client.starttls(context=context)
            client.ehlo()
        detail = f"{where} answered EHLO"
        if smtp.security != "none":
            detail += " over TLS"
        if smtp.username:
            step = f"login as {smtp.username}"
            client.login(smtp.username, smtp.password)
            detail += f", logged in as {smtp.username}"
        return CheckResult(name, True, detail)
    except Exception as exc:  # noqa: BLE001
        return CheckResult(name, False, f"{step} with {where} failed: {_reason(exc)}")
    finally:
        try:
            client.quit()
        except Exception:  # noqa: BLE001 - best effort on the way out
            client.close()


# -------------------------------------------------------------------------- listener


def check_listener(settings: Settings, *, timeout: float = DEFAULT_TIMEOUT) -> CheckResult:
    """The listener's address can be bound, or a running Liaison holds it already."""
    listener = settings.mailbox.listener
    name = "mailbox.listener"
    where = f"{listener.host}:{listener.port}"
    try:
        infos = socket.getaddrinfo(
            listener.host, listener.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        return CheckResult(name, False, f"cannot resolve {listener.host}: {exc.strerror}")
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                hint = " (ports below 1024 need privileges)" if exc.errno == errno.EACCES else ""
                return CheckResult(name, False, f"cannot listen on {where}: {_reason(exc)}{hint}")
        else:
            return CheckResult(name, True, f"{where} is free to listen on ({listener.protocol})")
    greeting = _greeting(address, family, timeout)
    if "liaison" in greeting.lower():
        return CheckResult(name, True, f"{where} is held by a running Liaison: {greeting}")
    heard = f"; it greets: {greeting}" if greeting else ""
    return CheckResult(name, False, f"{where} is already in use by another program{heard}")


def _greeting(address: tuple[object, ...], family: int, timeout: float) -> str:
    """The first line a server on ``address`` sends, or ``""``."""
    try:
        with socket.socket(family, socket.SOCK_STREAM) as client:
            client.settimeout(timeout)
            client.connect(address)
            return client.recv(512).decode("utf-8", "replace").splitlines()[0].strip()
    except (OSError, IndexError):
        return ""


# ----------------------------------------------------------------------------- store


def check_store(settings: Settings, *, timeout: float = DEFAULT_TIMEOUT) -> CheckResult:
    """Connect and run ``SELECT 1``; for a SQLite file not created yet, check that its
    directory can be written instead of creating it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    name = "store"
    url = make_url(settings.store.url)
    shown = masked_url(settings.store.url)
    connect_args: dict[str, object] = {}
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            file = Path(database)
            if not file.exists():
                result = _writable_dir(name, file.parent)
                if not result.ok:
                    return CheckResult(name, False, f"{shown}: {result.detail}")
                return CheckResult(
                    name, True, f"{file} does not exist yet; `liaison db upgrade` will create it"
                )
            if not os.access(file, os.R_OK | os.W_OK):
                return CheckResult(name, False, f"{file} cannot be read and written")
            if not os.access(file.parent, os.W_OK | os.X_OK):
                return CheckResult(name, False, f"{file.parent} is not writable (journal files)")
        connect_args["timeout"] = timeout
    elif url.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = max(1, int(timeout))
    engine = create_engine(url, connect_args=connect_args, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            if url.get_backend_name() == "sqlite":
                # SELECT 1 never reads the file; the schema version does.
                connection.execute(text("PRAGMA schema_version"))
    except Exception as exc:  # noqa: BLE001
        original = getattr(exc, "orig", None) or exc
        return CheckResult(name, False, f"cannot use {shown}: {_reason(original)}")
    finally:
        engine.dispose()
    return CheckResult(name, True, f"{shown} answered SELECT 1")


# --------------------------------------------------------------------- files on disk


def _writable_dir(name: str, path: Path) -> CheckResult:
    """``path`` is a writable directory, or can be created as one."""
    if path.exists():
        if not path.is_dir():
            return CheckResult(name, False, f"{path} exists but is not a directory")
        if not os.access(path, os.W_OK | os.X_OK):
            return CheckResult(name, False, f"{path} is not writable")
        return CheckResult(name, True, f"{path} is writable")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        return CheckResult(name, False, f"{path} does not exist and {parent} is not writable")
    return CheckResult(name, True, f"{path} does not exist yet and can be created")


def check_directory(settings: Settings) -> CheckResult:
    """The directory file loads as the service will load it, every problem named."""
    from daemon.directory_file import load_directory
    from workflow.directory import DirectoryError

    name = "directory"
    file = settings.directory.file
    if file is None:
        return _skipped(name, "no directory file configured ([directory] file)")
    try:
        directory = load_directory(file)
    except DirectoryError as exc:
        return CheckResult(name, False, "; ".join(exc.problems) or str(exc))
    except OSError as exc:
        return CheckResult(name, False, f"cannot read {file}: {_reason(exc)}")
    detail = (
        f"{file}: {len(directory.departments)} department(s), {len(directory.people)} person(s)"
    )
    if directory.warnings:
        detail += "; warnings: " + "; ".join(directory.warnings)
    return CheckResult(name, True, detail)


def check_profile(settings: Settings) -> CheckResult:
    """The workflow profile loads as the service will load it, every problem named."""
    from workflow.profiles import ProfileError, load_profile

    name = "workflow.profile"
    try:
        profile = load_profile(settings.workflow.profile)
    except ProfileError as exc:
        return CheckResult(name, False, "; ".join(exc.problems) or str(exc))
    return CheckResult(
        name, True, f"{profile.name}: numbering {profile.numbering}, {profile.source}"
    )
