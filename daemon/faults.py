"""Crash points for the guarantee tests: ``LIAISON_CRASH_AT=<point>`` SIGKILLs the process there.

Inert unless the variable is set. The points name the moments the guarantees are about:

- ``after-commit``: a message's effects are committed, the source has not been told
  (no IMAP MOVE, no ``250``);
- ``before-commit``: everything decided, nothing committed;
- ``after-send``: the relay accepted an outbox row, ``mark_sent`` not yet committed.

``LIAISON_CRASH_ONCE=<file>`` makes the crash happen only when that file does not exist
yet (it is created just before dying), so a restarted service runs through.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

_POINT = os.environ.get("LIAISON_CRASH_AT", "")


def crash_point(name: str) -> None:
    if not _POINT or name != _POINT:
        return
    once = os.environ.get("LIAISON_CRASH_ONCE")
    if once:
        marker = Path(once)
        if marker.exists():
            return
        marker.write_text(name)
    os.kill(os.getpid(), signal.SIGKILL)
