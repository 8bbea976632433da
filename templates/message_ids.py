"""Message-IDs of the mails the daemon sends (mail.md, "Outbound").

``<{context}.{number}[.{task}].{unique}@{domain}>``, e.g.
``<evaluation.xt-2026-0015.20260316090014.k3f9@coord.example.com>``.

The number and the task are lower-cased. They never contain a dot (the separator):
every character outside ``a-z 0-9 - _`` is percent-encoded as UTF-8, so a number whose
pattern holds a Chinese department name (``2026-研发部-001``) stays a valid, reversible
dot-atom (``2026-%e7%a0%94%e5%8f%91%e9%83%a8-001``; ``urllib.parse.unquote`` restores
it). ``unique`` is ours (a timestamp and a random token, ``20260316090014.k3f9``) and may
contain dots, so a reader takes the context, the number, then the task only for the
contexts that carry one, and the rest up to ``@`` is the unique part.
"""

from __future__ import annotations

import re
from typing import Literal

from templates.errors import InvalidAddressError, InvalidHeaderError
from templates.headers import normalize_address, require_message_id

MessageIdContext = Literal[
    "minutes",
    "task",
    "deliverable",
    "evaluation",
    "approval",
    "meeting",
    "notice",
    "datechange",
    "ack",
]
#: ``ack`` is for mails that ask nothing (acknowledgements, problem lists, receipts).
CONTEXTS: frozenset[str] = frozenset(
    {
        "minutes",
        "task",
        "deliverable",
        "evaluation",
        "approval",
        "meeting",
        "notice",
        "datechange",
        "ack",
    }
)

_UNIQUE = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
_KEEP = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


def _id_segment(value: str, what: str) -> str:
    """``value`` lower-cased, with every character outside ``a-z 0-9 - _`` percent-encoded."""
    value = value.strip()
    if not value:
        raise InvalidHeaderError(f"empty {what} in a Message-ID")
    out: list[str] = []
    for char in value.lower():
        if char in _KEEP:
            out.append(char)
        else:
            out.extend(f"%{byte:02x}" for byte in char.encode("utf-8"))
    return "".join(out)


def make_message_id(context: str, number: str, task: str | None, unique: str, domain: str) -> str:
    """``<{context}.{number}[.{task}].{unique}@{domain}>`` (see the module docstring)."""
    if context not in CONTEXTS:
        raise InvalidHeaderError(f"unknown Message-ID context {context!r}")
    if not _UNIQUE.fullmatch(unique):
        raise InvalidHeaderError(f"unique part must be a dot-atom of [A-Za-z0-9_-]: {unique!r}")
    domain = domain.lower()
    if not _DOMAIN.fullmatch(domain):
        raise InvalidHeaderError(f"not a Message-ID domain: {domain!r}")
    parts = [context, _id_segment(number, "number")]
    if task is not None:
        parts.append(_id_segment(task, "task"))
    parts.append(unique)
    return require_message_id(f"<{'.'.join(parts)}@{domain}>")


def message_id_domain_for(address: str) -> str:
    """The default Message-ID domain of a mailbox: its local part before its domain
    (``coord@example.com`` -> ``coord.example.com``).

    Characters of the local part that cannot appear in a host name label become ``-``.
    """
    try:
        local, _, domain = normalize_address(address).rpartition("@")
    except InvalidAddressError as exc:
        raise InvalidHeaderError(f"no Message-ID domain for {address!r}: {exc}") from exc
    label = re.sub(r"[^a-z0-9-]+", "-", local.lower()).strip("-")[:63].strip("-")
    if not label:
        raise InvalidHeaderError(f"no Message-ID domain for {address!r}")
    return f"{label}.{domain}"
