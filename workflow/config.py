"""What the rules need to know about their environment, passed down as one frozen value."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from mail_parsers.model import ParseOptions
from workflow.directory import Directory, DirectorySource, StaticDirectory
from workflow.profiles import Profile
from workflow.workdays import WorkingCalendar


def random_token() -> str:
    return secrets.token_hex(4)


Interval = tuple[datetime, datetime]
#: Free/busy of people between two instants, or None when the calendar cannot tell.
BusyLookup = Callable[[Sequence[str], datetime, datetime], list[Interval] | None]


def cannot_tell(people: Sequence[str], start: datetime, end: datetime) -> list[Interval] | None:
    return None


@dataclass(frozen=True)
class WorkflowConfig:
    mailbox_address: str
    mailbox_name: str
    message_id_domain: str
    coordinators: tuple[str, ...]
    profile: Profile
    calendar: WorkingCalendar
    timezone: ZoneInfo
    parse_options: ParseOptions
    #: Identifies this installation in the loop header of every mail it sends.
    loop_id: str
    #: Attempts before a message that keeps failing is quarantined.
    max_attempts: int = 3
    #: "Reply not understood" answers per sender per day (beyond that: recorded only).
    not_understood_per_day: int = 1
    #: Source of the random part of Message-IDs; injectable so tests are repeatable.
    new_token: Callable[[], str] = field(default=random_token)
    #: People and departments; asked on every use so an edited file takes effect.
    directory_source: DirectorySource = field(default_factory=StaticDirectory)
    #: The mail system delivers coord+TOKEN@domain to coord@domain: reply tokens go
    #: into a per-recipient Reply-To address.
    subaddress: bool = False
    #: Key of the HMAC under which reply tokens are stored (never the tokens).
    reply_token_secret: str = field(default="", repr=False)
    #: Messages a day from one sender (the coordinators excepted) before the rest is
    #: recorded as noise and never answered.
    rate_limit_per_day: int = 20
    #: Meetings: length, where, the online link, how much notice at least.
    meeting_duration: timedelta = timedelta(hours=1)
    meeting_min_notice: timedelta = timedelta(hours=2)
    meeting_location: str = ""
    meeting_online_url: str = ""
    #: Publish each meeting to the team calendar (CalDAV, Exchange) besides mailing it.
    publish_calendar: bool = False
    busy_lookup: BusyLookup = field(default=cannot_tell)
    #: When not empty, only senders in these domains may sign off.
    allowed_sender_domains: frozenset[str] = frozenset()

    @property
    def directory(self) -> Directory:
        return self.directory_source.current()
