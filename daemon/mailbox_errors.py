"""Errors raised by the inbound mailbox adapters (IMAP today).

Adapters translate every library and socket error into one of these, so the intake
loop and the daemon's operator messages only need to know this small tree:

    MailboxError
    ├── MailboxConnectionError   transient: reconnect with capped backoff
    │   └── MailboxLoginError    credentials refused: keep retrying, but tell the operator
    ├── MailboxCommandError      the server refused a command (missing folder, NO/BAD)
    └── StaleUidValidityError    a SourceRef from before a UIDVALIDITY change: re-fetch
"""

from __future__ import annotations


class MailboxError(Exception):
    """Base class of every error an inbound mailbox adapter raises."""

    transient: bool = False


class MailboxConnectionError(MailboxError):
    """The connection could not be made, was dropped, timed out or was closed (BYE)."""

    transient = True


class MailboxLoginError(MailboxConnectionError):
    """The server refused the credentials.

    Kept under MailboxConnectionError so a daemon keeps retrying (a password may be
    fixed while it runs), but an operator has to act, so it is logged as an error.
    """


class MailboxCommandError(MailboxError):
    """The server answered NO or BAD to a command, e.g. a folder that does not exist."""


class StaleUidValidityError(MailboxError):
    """A message reference whose UIDVALIDITY no longer matches the folder's.

    The UID may now name another message, so nothing is done with it; fetch the
    pending messages again to get references that carry the current value.
    """

    def __init__(self, source: str, ref_uidvalidity: int | None, current: int | None) -> None:
        super().__init__(
            f"{source}: reference has UIDVALIDITY {ref_uidvalidity}, "
            f"folder now has {current}; fetch again"
        )
        self.source = source
        self.ref_uidvalidity = ref_uidvalidity
        self.current = current
