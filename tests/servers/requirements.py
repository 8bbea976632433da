"""Skip or fail when a real server is missing.

On a developer's machine a missing server skips the test with the reason. Under
``LIAISON_REQUIRE_SERVERS=1`` (CI) it fails instead, so nothing is silently skipped.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def servers_required() -> bool:
    return os.environ.get("LIAISON_REQUIRE_SERVERS", "") not in ("", "0", "false", "no")


def missing_server(reason: str) -> NoReturn:
    """Call when a server a test needs is not available; never returns."""
    if servers_required():
        pytest.fail(f"required server missing: {reason}", pytrace=False)
    pytest.skip(f"server missing: {reason}")
