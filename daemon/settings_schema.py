"""Every configuration key: its section, its type, its default, and for secrets the
systemd credential name.

This table is the single list the loader checks names against (unknown keys, environment
variable names, did-you-mean suggestions) and the example configuration is tested
against (every key documented). Value rules beyond the type (choices, ranges, formats)
live with the loader in ``daemon/settings.py``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

ENV_PREFIX = "LIAISON_"
SECRET_FILE_SUFFIX = "_file"


class Kind(enum.Enum):
    """The TOML type of a key; environment values are parsed into it."""

    STR = "a string"
    INT = "an integer"
    BOOL = "true or false"
    LIST = "an array of strings"
    DATES = "an array of dates"


@dataclass(frozen=True)
class Key:
    """One key of one section.

    ``default`` is the embedded default (``None``: derived from other keys, or unset).
    ``credential`` marks a secret: the key may also be given as ``<name>_file`` and is
    looked up as ``$CREDENTIALS_DIRECTORY/<credential>`` when given neither way.
    """

    kind: Kind
    default: str | int | bool | tuple[str, ...] | None
    credential: str | None = None


S, N, B, L, D = Kind.STR, Kind.INT, Kind.BOOL, Kind.LIST, Kind.DATES

SCHEMA: dict[str, dict[str, Key]] = {
    "mailbox": {
        "backend": Key(S, "listener"),
        "address": Key(S, "coord@example.com"),
        "subaddress": Key(B, False),
        "message_id_domain": Key(S, ""),
    },
    "mailbox.imap": {
        "host": Key(S, ""),
        "port": Key(N, None),
        "security": Key(S, "tls"),
        "username": Key(S, ""),
        "password": Key(S, "", credential="imap-password"),
        "ca_file": Key(S, ""),
        "folder": Key(S, "INBOX"),
        "processed_folder": Key(S, "Processed"),
        "quarantine_folder": Key(S, "Quarantine"),
        "idle_timeout": Key(N, 300),
        "timeout": Key(N, 30),
    },
    "mailbox.ews": {
        "server": Key(S, ""),
        "url": Key(S, ""),
        "username": Key(S, ""),
        "password": Key(S, "", credential="ews-password"),
        "folder": Key(S, "Inbox"),
        "processed_folder": Key(S, "Processed"),
        "quarantine_folder": Key(S, "Quarantine"),
        "timeout": Key(N, 30),
    },
    "mailbox.listener": {
        "host": Key(S, "127.0.0.1"),
        "port": Key(N, 2525),
        "protocol": Key(S, "lmtp"),
    },
    "outbound": {
        "transport": Key(S, "maildir"),
        "from_name": Key(S, ""),
        "maildir": Key(S, "./var/sent"),
        "claim_lease": Key(N, 120),
    },
    "outbound.smtp": {
        "host": Key(S, ""),
        "port": Key(N, None),
        "security": Key(S, "starttls"),
        "username": Key(S, ""),
        "password": Key(S, "", credential="smtp-password"),
        "ca_file": Key(S, ""),
        "timeout": Key(N, 30),
    },
    "store": {
        "url": Key(S, "sqlite:///./var/liaison.db"),
        "password": Key(S, "", credential="store-password"),
        "attachments_dir": Key(S, "./var/attachments"),
    },
    "calendar": {
        "backend": Key(S, "imip"),
        "timezone": Key(S, "Asia/Shanghai"),
        "working_hours": Key(S, "09:00-18:00"),
        "meeting_minutes": Key(N, 60),
        "min_notice_minutes": Key(N, 120),
        "location": Key(S, ""),
        "online_url": Key(S, ""),
    },
    "calendar.caldav": {
        "url": Key(S, ""),
        "username": Key(S, ""),
        "password": Key(S, "", credential="caldav-password"),
    },
    "workdays": {
        "country": Key(S, "CN"),
        "extra_holidays": Key(D, ()),
        "extra_workdays": Key(D, ()),
    },
    "workflow": {
        "profile": Key(S, "standard"),
        "coordinators": Key(L, ("office@example.com",)),
        "rate_limit_per_day": Key(N, 20),
    },
    "directory": {
        "file": Key(S, ""),
    },
    "security": {
        "reply_token_secret": Key(S, "", credential="reply-token-secret"),
        "trusted_authserv_id": Key(S, ""),
        "allowed_sender_domains": Key(L, ()),
    },
    "logging": {
        "level": Key(S, "INFO"),
    },
}


def secret_keys() -> dict[str, str]:
    """Dotted secret key -> systemd credential name."""
    return {
        f"{section}.{name}": key.credential
        for section, keys in SCHEMA.items()
        for name, key in keys.items()
        if key.credential is not None
    }


def all_keys() -> dict[str, Key]:
    """Every accepted dotted key, including the ``<secret>_file`` companions."""
    out: dict[str, Key] = {}
    for section, keys in SCHEMA.items():
        for name, key in keys.items():
            out[f"{section}.{name}"] = key
            if key.credential is not None:
                out[f"{section}.{name}{SECRET_FILE_SUFFIX}"] = Key(Kind.STR, "")
    return out


def env_name(dotted: str) -> str:
    """``mailbox.imap.port`` -> ``LIAISON_MAILBOX_IMAP_PORT``."""
    return ENV_PREFIX + dotted.replace(".", "_").upper()


def env_names() -> dict[str, str]:
    """Environment variable name -> dotted key, for every accepted key."""
    return {env_name(dotted): dotted for dotted in all_keys()}


def top_sections() -> tuple[str, ...]:
    return tuple(section for section in SCHEMA if "." not in section)


def subsections(section: str) -> tuple[str, ...]:
    """Names of the tables directly inside ``section`` (``""`` for the top level)."""
    prefix = f"{section}." if section else ""
    return tuple(
        name[len(prefix) :]
        for name in SCHEMA
        if name.startswith(prefix) and "." not in name[len(prefix) :]
    )
