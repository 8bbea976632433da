"""How the workflow names and addresses a person from the directory.

Every stage writes to people the directory knows: in their language (Chinese unless the
directory says English), by name where it has one.
"""

from __future__ import annotations

from typing import Literal

from workflow.actions import Recipient
from workflow.directory import Directory

__all__ = ["language", "recipient", "who"]


def language(directory: Directory, address: str) -> Literal["zh", "en"]:
    """The language mail to ``address`` is written in."""
    return "en" if directory.language_of(address) == "en" else "zh"


def who(directory: Directory, address: str, name: str | None = None) -> str:
    """``Name <address>`` for mail text (``name`` over the directory's), else the address."""
    person = directory.person(address)
    shown = name or (person.name if person is not None else None)
    return f"{shown} <{address}>" if shown else address


def recipient(directory: Directory, address: str, name: str | None = None) -> Recipient:
    """``address`` as a recipient: named, in their language."""
    person = directory.person(address)
    return Recipient(
        address, name or (person.name if person else None), language(directory, address)
    )
