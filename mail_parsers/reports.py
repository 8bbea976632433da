"""Delivery reports about mail we sent: bounces (DSN/NDR) and read receipts (MDN).

``read_bounce`` reads an RFC 3464 ``multipart/report; report-type=delivery-status``
(Postfix, Exim, Exchange, Gmail …): ``Final-Recipient``, ``Action`` and ``Status`` of the
failed recipient and the ``Message-ID`` of the returned message (``message/rfc822`` or
``text/rfc822-headers``). Non-delivery reports that are not ``multipart/report`` (older
Exchange ``未送达:``/``Undeliverable:`` notices, qmail ``failure notice`` …) are read from
what they carry: ``X-Failed-Recipients``, the notice text, the attached original and the
``In-Reply-To`` Exchange sets to it.

``read_mdn`` reads an RFC 8098 ``message/disposition-notification``:
``Original-Message-ID``, ``Final-Recipient`` and the disposition type (``displayed``,
``deleted`` …).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.policy import default as default_policy
from typing import Final

from mail_parsers._html_quote import html_to_text
from mail_parsers.model import Bounce, Mdn

__all__ = ["read_bounce", "read_mdn"]

#: How deep the report's MIME tree is searched (reports are shallow; hostile mail is not).
_MAX_DEPTH: Final = 20
_DSN_TYPES: Final = frozenset({"message/delivery-status", "message/global-delivery-status"})
_MDN_TYPES: Final = frozenset(
    {"message/disposition-notification", "message/global-disposition-notification"}
)
_RETURNED_MESSAGE_TYPES: Final = frozenset({"message/rfc822", "message/global"})
_RETURNED_HEADER_TYPES: Final = frozenset({"text/rfc822-headers", "message/global-headers"})

_ANGLE_ID: Final = re.compile(r"<[^<>\s]+>")
_ADDRESS: Final = re.compile(r"[A-Za-z0-9._%+\-=/!#$&'*?^`{|}~]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_STATUS: Final = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.])")
_NDR_SENDER: Final = re.compile(
    r"^(?:mailer-daemon|mail-daemon|postmaster|mdaemon|microsoftexchange[0-9a-f]*)@", re.IGNORECASE
)
_NDR_SUBJECT: Final = re.compile(
    r"^\s*(?:未送达|无法送达|无法投递|投递失败|发送失败|退信|系统退信|邮件退信|"
    r"Undeliverable|Undelivered|Delivery Status Notification|Delivery Failure|"
    r"Delivery has failed|Mail delivery failed|Returned mail|failure notice|"
    r"Non[- ]?delivery|Mail System Error)",
    re.IGNORECASE,
)
# Where a notice's text names the recipients that failed.
_FAILED_RECIPIENTS_INTRO: Final = re.compile(
    r"传递到这些收件人或组失败|无法传递到以下收件人|以下收件人|邮件无法发送到|"
    r"Delivery has failed to these recipients or groups|could not be delivered to|"
    r"following (?:address(?:es)?|recipients?) failed|"
    r"message wasn't delivered to|couldn't be delivered to",
    re.IGNORECASE,
)
_POSTFIX_RECIPIENT: Final = re.compile(r"^\s*<([^<>\s]+@[^<>\s]+)>\s*:", re.MULTILINE)
_MESSAGE_ID_LINE: Final = re.compile(r"^\s*Message-ID\s*:\s*(<[^<>\s]+>)", re.I | re.M)
#: How far after an introduction the failed address is looked for.
_INTRO_WINDOW: Final = 600

_header_parser = HeaderParser(policy=default_policy)


# -- reading headers and parts safely ----------------------------------------------------


def _header(msg: Message, name: str) -> str | None:
    """A header as text; ``None`` when absent or unreadable (hostile display names raise)."""
    try:
        value = msg.get(name)
    except (ValueError, TypeError, IndexError, AttributeError):
        # Fall back to the raw, undecoded value.
        for key, raw in msg.raw_items():
            if key.lower() == name.lower():
                return str(raw)
        return None
    return None if value is None else str(value)


def _parts(msg: Message) -> Iterator[Message]:
    """Every part of the report's own MIME tree; attached messages are not entered."""
    stack: list[tuple[Message, int]] = [(msg, 0)]
    while stack:
        part, depth = stack.pop()
        yield part
        if part.is_multipart() and part.get_content_maintype() == "multipart":
            if depth >= _MAX_DEPTH:
                continue
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(
                    (child, depth + 1) for child in reversed(payload) if isinstance(child, Message)
                )


def _decoded_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    charset = (part.get_content_charset() or "utf-8").lower()
    if charset in ("gb2312", "gbk", "x-gbk"):
        charset = "gb18030"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _field_blocks(part: Message) -> list[Message]:
    """The header blocks of a ``message/delivery-status``-like part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    text = _decoded_text(part).replace("\r\n", "\n")
    return [_header_parser.parsestr(block) for block in re.split(r"\n\s*\n", text) if block.strip()]


def _first_id(value: str | None) -> str | None:
    if value is None:
        return None
    match = _ANGLE_ID.search(value)
    if match:
        return match.group(0)
    return value.strip() or None


def _typed_address(value: str | None) -> str | None:
    """``rfc822; someone@example.com`` → ``someone@example.com`` (lower case)."""
    if value is None:
        return None
    text = value.split(";", 1)[1] if ";" in value else value
    match = _ADDRESS.search(text)
    if match:
        return match.group(0).lower()
    return text.strip().strip("<>").lower() or None


def _returned_message_id(msg: Message) -> str | None:
    """``Message-ID`` of the returned original (full message or its headers)."""
    for part in _parts(msg):
        content_type = part.get_content_type()
        if content_type in _RETURNED_MESSAGE_TYPES:
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                found = _first_id(_header(payload[0], "Message-ID"))
                if found:
                    return found
        elif content_type in _RETURNED_HEADER_TYPES:
            headers = _header_parser.parsestr(_decoded_text(part))
            found = _first_id(_header(headers, "Message-ID"))
            if found:
                return found
    return None


def _notice_text(msg: Message) -> str:
    """The human-readable text of a report (plain parts, else HTML converted)."""
    plain: list[str] = []
    html: list[str] = []
    for part in _parts(msg):
        if part.get_content_disposition() == "attachment":
            continue
        content_type = part.get_content_type()
        if content_type == "text/plain":
            plain.append(_decoded_text(part))
        elif content_type == "text/html":
            html.append(html_to_text(_decoded_text(part)))
    return "\n".join(plain or html)


# -- bounces ------------------------------------------------------------------------------


def _dsn_recipient_block(msg: Message) -> Message | None:
    """The per-recipient block of the first failed (else first) recipient."""
    candidates: list[Message] = []
    for part in _parts(msg):
        if part.get_content_type() not in _DSN_TYPES:
            continue
        for block in _field_blocks(part):
            if _header(block, "Final-Recipient") or _header(block, "Original-Recipient"):
                candidates.append(block)
    for block in candidates:
        if (_header(block, "Action") or "").strip().lower() == "failed":
            return block
    return candidates[0] if candidates else None


def _looks_like_ndr(msg: Message) -> bool:
    if "X-Failed-Recipients" in msg or "X-MS-Exchange-Message-Is-Ndr" in msg:
        return True
    sender = _typed_address(_header(msg, "From"))
    if sender and _NDR_SENDER.match(sender):
        return True
    return bool(_NDR_SUBJECT.match(_header(msg, "Subject") or ""))


def _recipient_in_text(text: str) -> str | None:
    intro = _FAILED_RECIPIENTS_INTRO.search(text)
    if intro:
        found = _ADDRESS.search(text, intro.end(), intro.end() + _INTRO_WINDOW)
        if found:
            return found.group(0).lower()
    postfix = _POSTFIX_RECIPIENT.search(text)
    return postfix.group(1).lower() if postfix else None


def _action_for(status: str | None) -> str:
    if status is not None and status.startswith("4"):
        return "delayed"
    if status is not None and status.startswith("2"):
        return "delivered"
    return "failed"


def read_bounce(msg: EmailMessage) -> Bounce | None:
    """The failed recipient, action, status and original Message-ID of a bounce.

    ``None`` when ``msg`` is neither a delivery-status report nor a recognisable
    non-delivery notice.
    """
    block = _dsn_recipient_block(msg)
    if block is None and not _looks_like_ndr(msg):
        return None
    recipient = action = status = None
    if block is not None:
        recipient = _typed_address(
            _header(block, "Final-Recipient") or _header(block, "Original-Recipient")
        )
        action = (_header(block, "Action") or "").strip().lower() or None
        for name in ("Status", "Diagnostic-Code"):
            found = _STATUS.search(_header(block, name) or "")
            if found:
                status = found.group(1)
                break
    text = ""
    if recipient is None or status is None:
        text = _notice_text(msg)
    if recipient is None:
        failed = _header(msg, "X-Failed-Recipients")
        recipient = _typed_address(failed) if failed else _recipient_in_text(text)
    if status is None:
        found = _STATUS.search(text)
        status = found.group(1) if found else None
    original = (
        _returned_message_id(msg)
        or _first_id(_header(msg, "In-Reply-To"))
        or _message_id_in_text(text or _notice_text(msg))
    )
    return Bounce(
        recipient=recipient,
        action=action or _action_for(status),
        status=status,
        original_message_id=original,
    )


def _message_id_in_text(text: str) -> str | None:
    match = _MESSAGE_ID_LINE.search(text)
    return match.group(1) if match else None


# -- read receipts ------------------------------------------------------------------------


def _disposition_type(value: str | None) -> str | None:
    """``manual-action/MDN-sent-manually; displayed`` → ``displayed``."""
    if value is None:
        return None
    kind = value.split(";", 1)[1] if ";" in value else value
    kind = kind.split("/", 1)[0].strip().lower()
    return kind or None


def read_mdn(msg: EmailMessage) -> Mdn | None:
    """Original Message-ID, final recipient and disposition of a read receipt, or ``None``."""
    for part in _parts(msg):
        if part.get_content_type() not in _MDN_TYPES:
            continue
        for block in _field_blocks(part):
            disposition = _header(block, "Disposition")
            original = _header(block, "Original-Message-ID")
            recipient = _header(block, "Final-Recipient") or _header(block, "Original-Recipient")
            if disposition is None and original is None and recipient is None:
                continue
            return Mdn(
                original_message_id=_first_id(original)
                or _returned_message_id(msg)
                or _first_id(_header(msg, "In-Reply-To")),
                final_recipient=_typed_address(recipient),
                disposition=_disposition_type(disposition),
            )
    return None
