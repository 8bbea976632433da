"""All wiring in one place: settings in, a ready application out."""

from __future__ import annotations

import hashlib
import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from calendar_sync.caldav_calendar import CaldavCalendar
from calendar_sync.errors import CalendarError
from calendar_sync.imip import ImipCalendar
from calendar_sync.port import Calendar
from daemon.directory_file import DirectoryFile
from daemon.settings import Settings
from daemon.transports import MaildirTransport, SmtpTransport, Transport
from mail_parsers.model import ParseOptions
from store.blobs import BlobStore
from store.engine import make_engine
from store.errors import SchemaNotCurrentError
from store.migrate import current, head, upgrade
from store.uow import make_session_factory
from workflow.clock import Clock
from workflow.config import BusyLookup, Interval, WorkflowConfig, cannot_tell
from workflow.directory import DirectorySource, StaticDirectory
from workflow.numbering import number_reader
from workflow.profiles import load_profile
from workflow.workdays import WorkingCalendar

log = logging.getLogger("liaison")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class App:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    blobs: BlobStore
    workflow: WorkflowConfig
    clock: Clock

    def transport(self) -> Transport:
        out = self.settings.outbound
        if out.transport == "maildir":
            return MaildirTransport(Path(out.maildir))
        if out.transport == "smtp":
            smtp = out.smtp
            return SmtpTransport(
                smtp.host,
                smtp.port,
                smtp.security,
                username=smtp.username or None,
                password=smtp.password or None,
                timeout=smtp.timeout,
                ssl_context=tls_context(smtp.ca_file),
            )
        raise NotImplementedError(f"outbound transport {out.transport!r} is not available yet")

    def calendar(self) -> Calendar:
        return calendar_backend(self.settings)

    def close(self) -> None:
        self.engine.dispose()


def tls_context(ca_file: Path | None) -> ssl.SSLContext | None:
    """A verifying context trusting ``ca_file`` (a private CA); None: the system's."""
    if ca_file is None:
        return None
    return ssl.create_default_context(cafile=str(ca_file))


def parse_options(settings: Settings) -> ParseOptions:
    """The parsers' options; request numbers are read in the profile's numbering."""
    return ParseOptions(
        mailbox_address=settings.mailbox.address,
        message_id_domain=settings.mailbox.message_id_domain,
        trusted_authserv_id=settings.security.trusted_authserv_id,
        timezone=settings.calendar.timezone,
        request_number=number_reader(load_profile(settings.workflow.profile).numbering),
    )


def calendar_backend(settings: Settings) -> Calendar:
    """Where meetings are published besides the invitations mailed to each attendee."""
    cal = settings.calendar
    if cal.backend == "caldav":
        return CaldavCalendar(
            cal.caldav.url,
            username=cal.caldav.username or None,
            password=cal.caldav.password or None,
            timezone=cal.timezone,
        )
    if cal.backend == "imip":
        return ImipCalendar()
    raise NotImplementedError(f"calendar backend {cal.backend!r} is not available yet")


def busy_lookup(calendar: Calendar) -> BusyLookup:
    """Free/busy from the backend where it can tell; a failing lookup never stops scheduling."""
    if not calendar.capabilities.free_busy:
        return cannot_tell

    def lookup(people: Sequence[str], start: datetime, end: datetime) -> list[Interval] | None:
        try:
            return calendar.busy(people, start, end)
        except CalendarError as exc:
            log.warning("free/busy lookup failed, scheduling without it: %s", exc)
            return None

    return lookup


def directory_source(settings: Settings) -> DirectorySource:
    """The directory file, reloaded when it changes; an empty directory when none is set."""
    path = settings.directory.file
    if path is None:
        return StaticDirectory()
    return DirectoryFile(Path(path))


def workflow_config(settings: Settings) -> WorkflowConfig:
    start, end = settings.calendar.working_hours
    calendar = WorkingCalendar.for_country(
        settings.workdays.country,
        extra_holidays=settings.workdays.extra_holidays,
        extra_workdays=settings.workdays.extra_workdays,
        working_hours=(start, end),
        timezone=settings.calendar.timezone,
    )
    address = settings.mailbox.address
    return WorkflowConfig(
        mailbox_address=address,
        mailbox_name=settings.outbound.from_name,
        message_id_domain=settings.mailbox.message_id_domain,
        coordinators=tuple(settings.workflow.coordinators),
        profile=load_profile(settings.workflow.profile),
        calendar=calendar,
        timezone=ZoneInfo(settings.calendar.timezone),
        parse_options=parse_options(settings),
        loop_id=hashlib.sha256(address.lower().encode()).hexdigest()[:16] + "@" + address.lower(),
        not_understood_per_day=1,
        directory_source=directory_source(settings),
        subaddress=settings.mailbox.subaddress,
        rate_limit_per_day=settings.workflow.rate_limit_per_day,
        meeting_duration=timedelta(minutes=settings.calendar.meeting_minutes),
        meeting_min_notice=timedelta(minutes=settings.calendar.min_notice_minutes),
        meeting_location=settings.calendar.location,
        meeting_online_url=settings.calendar.online_url,
        publish_calendar=settings.calendar.backend != "imip",
        busy_lookup=busy_lookup(calendar_backend(settings)),
        reply_token_secret=settings.security.reply_token_secret,
        allowed_sender_domains=frozenset(
            d.lower() for d in settings.security.allowed_sender_domains
        ),
    )


def build_app(settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> App:
    """Build the application; with ``migrate`` the database schema is brought to head first."""
    url = settings.store.url
    if url.startswith("sqlite:///"):
        db_path = Path(url.removeprefix("sqlite:///"))
        db_path.parent.mkdir(parents=True, exist_ok=True)
    if migrate:
        upgrade(url)
    else:
        # Reading commands never change a schema: they ask for `liaison db upgrade`.
        at, needed = current(url), head()
        if at != needed:
            where = "has no schema yet" if at is None else f"is at schema revision {at}"
            raise SchemaNotCurrentError(
                f"the database {where}; this version needs {needed}: run 'liaison db upgrade'"
            )
    engine = make_engine(url)
    attachments = Path(settings.store.attachments_dir)
    attachments.mkdir(parents=True, exist_ok=True)
    return App(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(engine),
        blobs=BlobStore(attachments),
        workflow=workflow_config(settings),
        clock=clock or SystemClock(),
    )
