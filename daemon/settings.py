"""The service's settings: one frozen dataclass per section, and the one loader.

``load_settings()`` reads the TOML file (``--config``, else ``$LIAISON_CONFIG``, else
``/etc/liaison/liaison.toml`` if it exists, else the embedded defaults), applies the
``LIAISON_<SECTION>_<KEY>`` environment overrides, reads secrets from files or systemd
credentials, validates everything at once and either returns :class:`Settings` or raises
one :class:`~daemon.settings_errors.ConfigError` listing every problem.

Relative paths resolve against the configuration file's directory (the current directory
when running on embedded defaults). ``settings_as_dict()`` gives a printable view with
secrets masked, for ``liaison check``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from daemon.settings_errors import ConfigError, ConfigProblem
from daemon.settings_schema import SCHEMA, SECRET_FILE_SUFFIX, env_name
from daemon.settings_sources import (
    Raw,
    merge,
    read_environment,
    read_file,
    resolve_secrets,
)

DEFAULT_CONFIG_PATH = Path("/etc/liaison/liaison.toml")
CONFIG_ENV = "LIAISON_CONFIG"

# Used only when running on embedded defaults (no file) and no secret was supplied, so
# that `liaison demo` works out of the box. Never used once a configuration file exists.
DEVELOPMENT_REPLY_TOKEN_SECRET = "liaison-development-secret-do-not-use-in-production"
MIN_SECRET_LENGTH = 16
MASK = "********"

MailboxBackend = Literal["imap", "ews", "listener"]
ImapSecurity = Literal["tls", "starttls", "none"]
ListenerProtocol = Literal["lmtp", "smtp"]
OutboundTransport = Literal["smtp", "ews", "maildir"]
SmtpSecurity = Literal["starttls", "tls", "none"]
CalendarBackend = Literal["imip", "ews", "caldav"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

_SECRET: dict[str, Any] = {"secret": True}


# ------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    security: ImapSecurity
    username: str
    password: str = field(repr=False, metadata=_SECRET)
    ca_file: Path | None = None  # PEM bundle for a private CA; None: the system store
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    idle_timeout: int = 300  # seconds before IDLE is renewed
    timeout: int = 30  # seconds for connect and each command


@dataclass(frozen=True)
class EwsConfig:
    """An Exchange account; also used by ``outbound.transport`` and ``calendar.backend``
    ``"ews"``. ``url`` is the EWS endpoint; with only ``server``, the endpoint is
    ``https://<server>/EWS/Exchange.asmx``."""

    server: str
    url: str
    username: str
    password: str = field(repr=False, metadata=_SECRET)
    folder: str = "Inbox"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    timeout: int = 30


@dataclass(frozen=True)
class ListenerConfig:
    host: str = "127.0.0.1"
    port: int = 2525  # 0: any free port (tests)
    protocol: ListenerProtocol = "lmtp"


@dataclass(frozen=True)
class MailboxSettings:
    backend: MailboxBackend
    address: str
    subaddress: bool
    message_id_domain: str  # never empty: derived from address when not configured
    imap: ImapConfig
    ews: EwsConfig
    listener: ListenerConfig


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: SmtpSecurity
    username: str  # "": no AUTH
    password: str = field(repr=False, metadata=_SECRET)
    ca_file: Path | None = None
    timeout: int = 30


@dataclass(frozen=True)
class OutboundSettings:
    transport: OutboundTransport
    from_name: str  # display name on the From header; "": the bare address
    smtp: SmtpConfig
    maildir: Path  # the Maildir that transport "maildir" writes to
    #: Seconds a claimed outbox row stays invisible to other senders; after a crash
    #: mid-send the row is sent again (same bytes, same Message-ID) once it runs out.
    claim_lease: int = 120


@dataclass(frozen=True)
class StoreSettings:
    """``url`` is ready for ``sqlalchemy.create_engine``: relative SQLite paths are made
    absolute and ``store.password`` (if given) is filled in. Its repr hides the password."""

    url: str = field(repr=False, metadata={"secret_url": True})
    attachments_dir: Path

    def __repr__(self) -> str:
        url, attachments = masked_url(self.url), self.attachments_dir
        return f"StoreSettings(url={url!r}, attachments_dir={attachments!r})"


WorkingHours = tuple[dt.time, dt.time]  # [start, end) in the calendar's time zone


@dataclass(frozen=True)
class CaldavConfig:
    url: str
    username: str
    password: str = field(repr=False, metadata=_SECRET)


@dataclass(frozen=True)
class CalendarSettings:
    backend: CalendarBackend
    timezone: str  # an IANA name, checked to exist
    working_hours: WorkingHours = field(metadata={"hours": True})
    caldav: CaldavConfig
    meeting_minutes: int = 60  # length of a scheduled meeting
    min_notice_minutes: int = 120  # no meeting sooner than this after it is scheduled
    location: str = ""  # where meetings take place (a room), shown in invitations
    online_url: str = ""  # the online meeting link, if any

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class WorkdaysSettings:
    country: str  # ISO 3166-1 alpha-2
    extra_holidays: tuple[dt.date, ...]
    extra_workdays: tuple[dt.date, ...]


@dataclass(frozen=True)
class WorkflowSettings:
    profile: str  # a shipped profile's name, or the absolute path of a profile file
    coordinators: tuple[str, ...]
    rate_limit_per_day: int  # replies a day from one sender before the rest is noise; 0: none


@dataclass(frozen=True)
class DirectorySettings:
    file: Path | None


@dataclass(frozen=True)
class SecuritySettings:
    reply_token_secret: str = field(repr=False, metadata=_SECRET)
    development_secret: bool  # True: the built-in secret of the embedded defaults
    trusted_authserv_id: str  # "": no DMARC requirement on sign-offs
    allowed_sender_domains: tuple[str, ...]  # empty: any


@dataclass(frozen=True)
class LoggingSettings:
    level: LogLevel


@dataclass(frozen=True)
class Settings:
    source: Path | None  # the file read; None: embedded defaults
    base_dir: Path  # where relative paths were resolved
    mailbox: MailboxSettings
    outbound: OutboundSettings
    store: StoreSettings
    calendar: CalendarSettings
    workdays: WorkdaysSettings
    workflow: WorkflowSettings
    directory: DirectorySettings
    security: SecuritySettings
    logging: LoggingSettings


# ------------------------------------------------------------------------- the loader


def load_settings(path: Path | None = None, *, environ: Mapping[str, str] = os.environ) -> Settings:
    """Load, override, resolve and validate; raise ``ConfigError`` with every problem."""
    problems: list[ConfigProblem] = []
    source = _choose_file(path, environ, problems)
    if problems:
        raise ConfigError(problems)
    if source is None:
        base_dir = Path.cwd()
        file_values: dict[str, Raw] = {}
    else:
        base_dir = source.parent
        read = read_file(source, problems)
        if read is None:
            raise ConfigError(problems)  # unreadable or not TOML: nothing more to say
        file_values = read
    values = merge(file_values, read_environment(environ, problems))
    unreadable = resolve_secrets(values, base_dir=base_dir, environ=environ, problems=problems)
    reader = _Reader(values, problems, base_dir, str(source) if source else "", unreadable)
    settings = _build(reader, source)
    if problems:
        raise ConfigError(problems)
    return settings


def _choose_file(
    path: Path | None, environ: Mapping[str, str], problems: list[ConfigProblem]
) -> Path | None:
    if path is not None:
        chosen, origin = path, "--config"
    elif environ.get(CONFIG_ENV, "").strip():
        chosen, origin = Path(environ[CONFIG_ENV].strip()), CONFIG_ENV
    elif DEFAULT_CONFIG_PATH.exists():
        chosen, origin = DEFAULT_CONFIG_PATH, "default location"
    else:
        return None
    chosen = chosen.expanduser().absolute()
    if not chosen.is_file():
        what = "does not exist" if not chosen.exists() else "is not a file"
        problems.append(ConfigProblem("", f"the configuration file {chosen} {what}", origin))
    return chosen


def _build(r: _Reader, source: Path | None) -> Settings:
    mailbox = _mailbox(r)
    outbound = _outbound(r)
    calendar = _calendar(r)
    if "ews" in (mailbox.backend, outbound.transport, calendar.backend):
        _require_ews(r, mailbox, outbound, calendar)
    return Settings(
        source=source,
        base_dir=r.base_dir,
        mailbox=mailbox,
        outbound=outbound,
        store=_store(r),
        calendar=calendar,
        workdays=_workdays(r),
        workflow=_workflow(r),
        directory=DirectorySettings(file=r.path("directory.file")),
        security=_security(r, embedded=source is None),
        logging=LoggingSettings(
            level=cast(LogLevel, r.choice("logging.level", _LEVELS, fold=str.upper))
        ),
    )


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_IMAP_PORTS = {"tls": 993, "starttls": 143, "none": 143}
_SMTP_PORTS = {"starttls": 587, "tls": 465, "none": 25}


def _mailbox(r: _Reader) -> MailboxSettings:
    backend = cast(MailboxBackend, r.choice("mailbox.backend", ("imap", "ews", "listener")))
    address = r.email("mailbox.address")
    subaddress = r.flag("mailbox.subaddress")
    if subaddress and "+" in address.split("@")[0]:
        r.problem("mailbox.address", "must not contain '+' when mailbox.subaddress is true")
    domain = r.text("mailbox.message_id_domain").strip().lower()
    if domain and not _DOMAIN.fullmatch(domain):
        r.problem("mailbox.message_id_domain", f'"{domain}" is not a domain name')
    if not domain and "@" in address:
        domain = derive_message_id_domain(address)

    security = cast(ImapSecurity, r.choice("mailbox.imap.security", ("tls", "starttls", "none")))
    imap = ImapConfig(
        host=r.host("mailbox.imap.host"),
        port=r.port("mailbox.imap.port") or _IMAP_PORTS[security],
        security=security,
        username=r.text("mailbox.imap.username"),
        password=r.secret("mailbox.imap.password"),
        ca_file=r.path("mailbox.imap.ca_file"),
        folder=r.nonempty("mailbox.imap.folder"),
        processed_folder=r.nonempty("mailbox.imap.processed_folder"),
        quarantine_folder=r.nonempty("mailbox.imap.quarantine_folder"),
        # RFC 2177: re-issue IDLE at least every 29 minutes.
        idle_timeout=r.integer("mailbox.imap.idle_timeout", minimum=1, maximum=1740),
        timeout=r.integer("mailbox.imap.timeout", minimum=1),
    )
    if backend == "imap":
        because = 'mailbox.backend = "imap"'
        for key in ("host", "username", "password"):
            r.require(f"mailbox.imap.{key}", because)
    ews = EwsConfig(
        server=r.host("mailbox.ews.server"),
        url=r.url("mailbox.ews.url", ("https", "http")),
        username=r.text("mailbox.ews.username"),
        password=r.secret("mailbox.ews.password"),
        folder=r.nonempty("mailbox.ews.folder"),
        processed_folder=r.nonempty("mailbox.ews.processed_folder"),
        quarantine_folder=r.nonempty("mailbox.ews.quarantine_folder"),
        timeout=r.integer("mailbox.ews.timeout", minimum=1),
    )
    listener = ListenerConfig(
        host=r.nonempty("mailbox.listener.host"),
        port=r.port("mailbox.listener.port", allow_zero=True) or 0,
        protocol=cast(ListenerProtocol, r.choice("mailbox.listener.protocol", ("lmtp", "smtp"))),
    )
    return MailboxSettings(
        backend=backend,
        address=address,
        subaddress=subaddress,
        message_id_domain=domain,
        imap=imap,
        ews=ews,
        listener=listener,
    )


def _outbound(r: _Reader) -> OutboundSettings:
    transport = cast(OutboundTransport, r.choice("outbound.transport", ("smtp", "ews", "maildir")))
    security = cast(SmtpSecurity, r.choice("outbound.smtp.security", ("starttls", "tls", "none")))
    smtp = SmtpConfig(
        host=r.host("outbound.smtp.host"),
        port=r.port("outbound.smtp.port") or _SMTP_PORTS[security],
        security=security,
        username=r.text("outbound.smtp.username"),
        password=r.secret("outbound.smtp.password"),
        ca_file=r.path("outbound.smtp.ca_file"),
        timeout=r.integer("outbound.smtp.timeout", minimum=1),
    )
    if transport == "smtp":
        r.require("outbound.smtp.host", 'outbound.transport = "smtp"')
        if smtp.username:
            r.require("outbound.smtp.password", "outbound.smtp.username is set")
        elif smtp.password:
            r.problem("outbound.smtp.username", "required when a password is given")
    return OutboundSettings(
        transport=transport,
        from_name=_one_line(r, "outbound.from_name"),
        smtp=smtp,
        maildir=r.path("outbound.maildir") or r.base_dir / "var/sent",
        claim_lease=r.integer("outbound.claim_lease", minimum=1, maximum=86400),
    )


def _require_ews(
    r: _Reader, mailbox: MailboxSettings, outbound: OutboundSettings, calendar: CalendarSettings
) -> None:
    users = [
        f'{name} = "ews"'
        for name, value in (
            ("mailbox.backend", mailbox.backend),
            ("outbound.transport", outbound.transport),
            ("calendar.backend", calendar.backend),
        )
        if value == "ews"
    ]
    because = " and ".join(users)
    if not mailbox.ews.server and not mailbox.ews.url:
        r.problem("mailbox.ews.server", f"server or url is required when {because}")
    for key in ("username", "password"):
        r.require(f"mailbox.ews.{key}", because)


def _store(r: _Reader) -> StoreSettings:
    return StoreSettings(
        url=_store_url(r),
        attachments_dir=r.path("store.attachments_dir") or r.base_dir / "var/attachments",
    )


def _store_url(r: _Reader) -> str:
    """Check the URL, make a relative SQLite path absolute, fill in store.password."""
    from sqlalchemy.engine import make_url  # heavy; only needed while loading
    from sqlalchemy.exc import ArgumentError

    text = r.text("store.url").strip()
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        r.problem("store.url", f'"{text}" is not a database URL such as sqlite:///./var/liaison.db')
        return text
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            file = Path(database).expanduser()
            url = url.set(database=str(file if file.is_absolute() else r.base_dir / file))
    elif backend != "postgresql":
        r.problem("store.url", f'"{backend}" is not supported; use sqlite or postgresql')
    password = r.secret("store.password")
    if password:
        if url.password is not None:
            r.problem("store.password", "store.url already carries a password; give one of them")
        url = url.set(password=password)
    return url.render_as_string(hide_password=False)


def masked_url(url: str) -> str:
    """A database URL with its password replaced by ``***``, for display."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return url


def _calendar(r: _Reader) -> CalendarSettings:
    backend = cast(CalendarBackend, r.choice("calendar.backend", ("imip", "ews", "caldav")))
    caldav = CaldavConfig(
        url=r.url("calendar.caldav.url", ("https", "http")),
        username=r.text("calendar.caldav.username"),
        password=r.secret("calendar.caldav.password"),
    )
    if backend == "caldav":
        r.require("calendar.caldav.url", 'calendar.backend = "caldav"')
        if caldav.username:
            r.require("calendar.caldav.password", "calendar.caldav.username is set")
    return CalendarSettings(
        backend=backend,
        timezone=_timezone(r),
        working_hours=_working_hours(r),
        caldav=caldav,
        meeting_minutes=r.integer("calendar.meeting_minutes", minimum=5, maximum=8 * 60),
        min_notice_minutes=r.integer("calendar.min_notice_minutes", minimum=0, maximum=7 * 24 * 60),
        location=_one_line(r, "calendar.location"),
        online_url=_one_line(r, "calendar.online_url"),
    )


def _timezone(r: _Reader) -> str:
    name = r.text("calendar.timezone").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        r.problem(
            "calendar.timezone",
            f'"{name}" is not a known IANA time zone such as Asia/Shanghai',
        )
        return "UTC"
    return name


def parse_working_hours(text: str) -> WorkingHours:
    """``"09:00-18:00"`` -> ``(time(9), time(18))``; ``ValueError`` saying why if not."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*", text)
    if match is None:
        raise ValueError("expected a range such as 09:00-18:00")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    try:
        start, end = dt.time(h1, m1), dt.time(h2, m2)
    except ValueError:
        raise ValueError("hours run from 00 to 23 and minutes from 00 to 59") from None
    if start >= end:
        raise ValueError("the end must be after the start")
    return start, end


def format_working_hours(hours: WorkingHours) -> str:
    return f"{hours[0]:%H:%M}-{hours[1]:%H:%M}"


def _working_hours(r: _Reader) -> WorkingHours:
    text = r.text("calendar.working_hours")
    try:
        return parse_working_hours(text)
    except ValueError as exc:
        r.problem("calendar.working_hours", f'"{text}": {exc}')
        return dt.time(9), dt.time(18)


def _workdays(r: _Reader) -> WorkdaysSettings:
    country = r.text("workdays.country").strip().upper()
    if not _known_country(country):
        r.problem(
            "workdays.country",
            f'"{country}" is not a country code the holidays calendar knows (e.g. CN)',
        )
    holidays = r.dates("workdays.extra_holidays")
    workdays = r.dates("workdays.extra_workdays")
    both = sorted(set(holidays) & set(workdays))
    if both:
        r.problem(
            "workdays.extra_workdays",
            "listed as holidays too: " + ", ".join(d.isoformat() for d in both),
        )
    return WorkdaysSettings(country=country, extra_holidays=holidays, extra_workdays=workdays)


def _known_country(code: str) -> bool:
    if not re.fullmatch(r"[A-Z]{2,3}", code):
        return False
    try:  # the registry is much cheaper to import than the whole holidays package
        from holidays.registry import COUNTRIES

        return any(code in entry[1:3] for entry in COUNTRIES.values())
    except (ImportError, AttributeError, IndexError, TypeError):
        import holidays

        return code in holidays.list_supported_countries()


def _workflow(r: _Reader) -> WorkflowSettings:
    text = r.text("workflow.profile").strip()
    profile = text
    if "/" in text or "\\" in text or text.endswith(".toml"):
        file = r.path("workflow.profile") or Path(text)
        if not file.is_file():
            r.problem("workflow.profile", f"the profile file {file} does not exist")
        profile = str(file)
    elif not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", text):
        r.problem(
            "workflow.profile",
            f'"{text}" is neither a profile name (such as "standard") nor a path to a file',
        )
    coordinators = r.emails("workflow.coordinators")
    if not coordinators:
        r.problem("workflow.coordinators", "at least one address is required")
    return WorkflowSettings(
        profile=profile,
        coordinators=coordinators,
        rate_limit_per_day=r.integer("workflow.rate_limit_per_day", minimum=0),
    )


def _security(r: _Reader, *, embedded: bool) -> SecuritySettings:
    secret = r.secret("security.reply_token_secret")
    development = False
    if not secret and embedded:
        secret, development = DEVELOPMENT_REPLY_TOKEN_SECRET, True
    elif not secret and "security.reply_token_secret" not in r.unreadable:
        r.problem(
            "security.reply_token_secret",
            "required: set reply_token_secret_file, or provide the systemd credential "
            "reply-token-secret (e.g. `head -c 32 /dev/urandom | base64 > FILE`)",
        )
    elif secret and len(secret) < MIN_SECRET_LENGTH:
        r.problem(
            "security.reply_token_secret",
            f"too short ({len(secret)} characters); use at least {MIN_SECRET_LENGTH}",
        )
    authserv = r.text("security.trusted_authserv_id").strip()
    if authserv and not re.fullmatch(r"[^\s;]+", authserv):
        r.problem("security.trusted_authserv_id", f'"{authserv}" must be a single token')
    domains = tuple(
        d.strip().lower().removeprefix("@") for d in r.strings("security.allowed_sender_domains")
    )
    for domain in domains:
        if not _DOMAIN.fullmatch(domain):
            r.problem("security.allowed_sender_domains", f'"{domain}" is not a domain name')
    return SecuritySettings(
        reply_token_secret=secret,
        development_secret=development,
        trusted_authserv_id=authserv,
        allowed_sender_domains=domains,
    )


def _one_line(r: _Reader, key: str) -> str:
    text = r.text(key)
    if "\n" in text or "\r" in text:
        r.problem(key, "must be a single line")
        return " ".join(text.split())
    return text


def derive_message_id_domain(address: str) -> str:
    """``coord@example.com`` -> ``coord.example.com``."""
    local, _, domain = address.rpartition("@")
    return f"{local}.{domain}".lower()


# --------------------------------------------------------------- reading typed values

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*|\d{{1,3}}(?:\.\d{{1,3}}){{3}}|\[?[0-9A-Fa-f:.]+\]?")


def valid_email(text: str) -> bool:
    """A bare ``local@domain`` address (no display name, no angle brackets)."""
    local, at, domain = text.rpartition("@")
    return bool(at) and bool(_LOCAL.fullmatch(local)) and bool(_DOMAIN.fullmatch(domain))


class _Reader:
    """Typed access to the merged values; records a problem for each bad one and returns
    a harmless fallback so that one mistake does not hide the next."""

    def __init__(
        self,
        values: dict[str, Raw],
        problems: list[ConfigProblem],
        base_dir: Path,
        file_source: str,
        unreadable: set[str],
    ) -> None:
        self.values = values
        self.problems = problems
        self.base_dir = base_dir
        self.file_source = file_source
        self.unreadable = unreadable  # secrets whose file failed; reported already

    def _default(self, key: str) -> object:
        section, _, name = key.rpartition(".")
        return SCHEMA[section][name].default

    def _get(self, key: str) -> object:
        raw = self.values.get(key)
        return raw.value if raw is not None else self._default(key)

    def source(self, key: str) -> str:
        raw = self.values.get(key)
        return raw.source if raw is not None else self.file_source

    def problem(self, key: str, message: str) -> None:
        self.problems.append(ConfigProblem(key, message, self.source(key)))

    def given(self, key: str) -> bool:
        raw = self.values.get(key)
        return raw is not None and raw.value not in ("", ())

    def require(self, key: str, because: str) -> None:
        if self.given(key) or key in self.unreadable:
            return
        name = key.rpartition(".")[2]
        how = ""
        section, _, _ = key.rpartition(".")
        if SCHEMA[section][name].credential:
            how = (
                f" (as {name}{SECRET_FILE_SUFFIX}, or the systemd credential "
                f"{SCHEMA[section][name].credential})"
            )
        self.problems.append(
            ConfigProblem(
                key, f"required when {because}{how}; or set {env_name(key)}", self.file_source
            )
        )

    def text(self, key: str) -> str:
        return cast(str, self._get(key))

    def nonempty(self, key: str) -> str:
        text = self.text(key).strip()
        if not text:
            self.problem(key, "must not be empty")
            return cast(str, self._default(key))
        return text

    def secret(self, key: str) -> str:
        return cast(str, self._get(key))

    def flag(self, key: str) -> bool:
        return cast(bool, self._get(key))

    def strings(self, key: str) -> tuple[str, ...]:
        return cast(tuple[str, ...], self._get(key))

    def dates(self, key: str) -> tuple[dt.date, ...]:
        return tuple(sorted(set(cast(tuple[dt.date, ...], self._get(key)))))

    def integer(self, key: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = cast(int, self._get(key))
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            bounds = (
                f"between {minimum} and {maximum}"
                if minimum is not None and maximum is not None
                else f"at least {minimum}"
                if minimum is not None
                else f"at most {maximum}"
            )
            self.problem(key, f"must be {bounds}, got {value}")
            return cast(int, self._default(key))
        return value

    def port(self, key: str, *, allow_zero: bool = False) -> int | None:
        value = cast("int | None", self._get(key))
        if value is None:
            return None
        low = 0 if allow_zero else 1
        if not low <= value <= 65535:
            self.problem(key, f"a port runs from {low} to 65535, got {value}")
            return cast("int | None", self._default(key))
        return value

    def choice(
        self, key: str, choices: Collection[str], *, fold: Callable[[str], str] = str.lower
    ) -> str:
        value = fold(self.text(key).strip())
        if value not in choices:
            quoted = " | ".join(f'"{c}"' for c in choices)
            self.problem(key, f'"{self.text(key)}" is not one of {quoted}')
            return cast(str, self._default(key))
        return value

    def email(self, key: str) -> str:
        text = self.text(key).strip()
        if not valid_email(text):
            self.problem(key, f'"{text}" is not an email address such as coord@example.com')
        return text

    def emails(self, key: str) -> tuple[str, ...]:
        out: list[str] = []
        for item in self.strings(key):
            text = item.strip()
            if valid_email(text):
                out.append(text)
            else:
                self.problem(key, f'"{text}" is not an email address such as office@example.com')
        return tuple(out)

    def host(self, key: str) -> str:
        text = self.text(key).strip()
        if text and not _HOST.fullmatch(text):
            self.problem(key, f'"{text}" is not a host name or IP address')
        return text

    def url(self, key: str, schemes: tuple[str, ...]) -> str:
        text = self.text(key).strip()
        scheme, sep, rest = text.partition("://")
        if text and (not sep or scheme.lower() not in schemes or not rest):
            self.problem(key, f'"{text}" is not a URL starting with {schemes[0]}://')
        return text

    def path(self, key: str) -> Path | None:
        text = self.text(key).strip()
        if not text:
            return None
        path = Path(text).expanduser()
        return path if path.is_absolute() else self.base_dir / path


# --------------------------------------------------------------------- display


def settings_as_dict(settings: Settings) -> dict[str, Any]:
    """Every setting as plain JSON/TOML-friendly values, secrets masked (``"********"``
    when set, ``""`` when not), the store URL's password as ``***``."""
    out = _plain(settings)
    assert isinstance(out, dict)
    return out


def _plain(value: object, meta: Mapping[str, object] | None = None) -> object:
    if meta and meta.get("secret"):
        return MASK if value else ""
    if meta and meta.get("secret_url"):
        return masked_url(str(value))
    if meta and meta.get("hours"):
        return format_working_hours(cast(WorkingHours, value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return {f.name: _plain(getattr(value, f.name), f.metadata) for f in fields}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, ZoneInfo):
        return value.key
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value
