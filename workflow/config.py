"""What the rules need to know about their environment, passed down as one frozen value."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from mail_parsers.model import ParseOptions
from workflow.profiles import Profile
from workflow.workdays import WorkingCalendar


def random_token() -> str:
    return secrets.token_hex(4)


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
