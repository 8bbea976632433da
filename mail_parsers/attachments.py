"""Attachments: what was attached, content-addressed.

The file name is kept for display only (it may be ``../../etc/passwd``); the store keys
attachments by their SHA-256. Calendar parts, report machinery and the inline resources
of an HTML body are not attachments.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from email import policy
from email.message import Message

from mail_parsers.mime import Part, part_bytes
from mail_parsers.model import Attachment

_VERBATIM = policy.default.clone(refold_source="none", linesep="\r\n")


def _message_bytes(part: Message) -> bytes:
    """The bytes of an attached message (message/rfc822), as it was sent."""
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(inner, Message):
        return b""
    try:
        return inner.as_bytes(policy=_VERBATIM)
    except Exception:  # noqa: BLE001 - a malformed attached message is kept empty
        return b""


def collect_attachments(parts: Iterable[Part]) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    for part in parts:
        if not part.is_attachment:
            continue
        if part.content_type.startswith("message/"):
            data = _message_bytes(part.part)
        else:
            data = part_bytes(part.part)
        found.append(
            Attachment(
                filename=part.filename,
                content_type=part.content_type,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                data=data,
            )
        )
    return tuple(found)
