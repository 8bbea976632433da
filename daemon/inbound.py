"""What an inbound mailbox adapter hands to the rest of the daemon, and what it gets back.

Adapters (IMAP, the SMTP/LMTP listener, files) turn each message into an `Arrival` and
call a `Handler`, which commits the message and its effects before returning an
`Outcome`. Only then does the adapter acknowledge the message to its source (move it
out of the folder, answer 250), so a crash at any point leads to reprocessing, never
to loss.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class SourceRef:
    """Where a message came from, as part of its identity for de-duplication."""

    source: str  # "imap:<user>@<host>/<folder>", "listener", "file:<path>"
    uidvalidity: int | None
    uid: str | None


@dataclass(frozen=True)
class Arrival:
    """One inbound message: its source reference and its raw bytes, untouched."""

    ref: SourceRef
    raw: bytes = field(repr=False)


class Outcome(enum.Enum):
    """What the handler did with an arrival; decides how the source is answered."""

    PROCESSED = "processed"  # committed: move to the processed folder / answer 250
    QUARANTINED = "quarantined"  # committed as quarantined: move to quarantine / answer 250
    RETRY = "retry"  # not committed (transient failure): leave in place / answer 451


# Synchronous; commits before returning; may raise (treated as RETRY).
Handler = Callable[[Arrival], Outcome]


class FolderMailbox(Protocol):
    """A mailbox whose pending messages sit in a folder until they are moved away.

    `ImapMailbox` implements it; the intake loop is written against this role.
    """

    @property
    def processed_folder(self) -> str: ...

    @property
    def quarantine_folder(self) -> str: ...

    def connect(self) -> None: ...

    def close(self) -> None: ...

    def fetch_pending(
        self, limit: int, *, skip: Callable[[SourceRef], bool] | None = None
    ) -> list[Arrival]: ...

    def move(self, ref: SourceRef, folder: str) -> None: ...

    def move_all(self, refs: Sequence[SourceRef], folder: str) -> None: ...

    def wait_for_mail(
        self, timeout: float | None = None, *, cancel: threading.Event | None = None
    ) -> None: ...
