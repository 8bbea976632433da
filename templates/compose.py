"""Turn one rendered outbound mail into the bytes a transport delivers.

Pure: the same :class:`OutboundMail` always gives the same bytes (MIME boundaries are
derived from the Message-ID), so a mail written to the outbox and sent twice after a
crash is the same message twice.

Layout::

    multipart/mixed                      (only when there are attachments)
      multipart/alternative
        text/plain; charset=utf-8        7bit when ASCII, else quoted-printable or base64
        text/html; charset=utf-8
        <extra parts>                    e.g. text/calendar; method=REQUEST
      <attachments>                      base64, RFC 2231 file names

Every header value is built by :mod:`templates.headers` as finished ASCII and stored
raw, so no sender text can become a header of its own (see that module). Lines end in
CRLF. As a last guard the bytes are parsed back and must show exactly the headers we
wrote, with no bare CR or LF anywhere.

``In-Reply-To`` and ``References`` usually name Message-IDs chosen by other mail
programs: malformed ones are dropped (the mail still goes out, only less well
threaded); ``In-Reply-To`` is added to the end of ``References`` when missing; more than
``MAX_REFERENCES`` are cut to the first and the most recent ones.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.generator import BytesGenerator
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from email.utils import format_datetime
from typing import Literal

from templates.errors import ComposeError, InvalidHeaderError
from templates.headers import (
    MAX_LINE,
    encode_unstructured,
    file_name_params,
    format_address,
    format_address_list,
    is_valid_message_id,
    require_message_id,
    require_token,
    sanitize_header_value,
)
from templates.message_ids import make_message_id, message_id_domain_for

__all__ = [
    "AddressPair",
    "Attachment",
    "ExtraPart",
    "LOOP_HEADER",
    "OutboundMail",
    "compose",
    "make_message_id",
    "message_id_domain_for",
    "sanitize_header_value",
]

#: ``(display name or None, address)``
AddressPair = tuple[str | None, str]
#: ``(file name, content type, data)``
Attachment = tuple[str, str, bytes]
AutoSubmitted = Literal["auto-generated", "auto-replied"]

#: The daemon's own loop header; inbound mail carrying it is ours (noise, never answered).
LOOP_HEADER = "X-Liaison-Loop"
AUTO_RESPONSE_SUPPRESS = "OOF, AutoReply"
MAX_REFERENCES = 20

_POLICY = policy.default.clone(
    linesep="\r\n", cte_type="7bit", refold_source="none", max_line_length=MAX_LINE
)
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
_PARAM_NAME = re.compile(r"[a-z][a-z0-9-]*")
_PARAM_VALUE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+")
_BODY_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PATH_PARTS = re.compile(r"(?:[/\\]|\.{2,})+")


@dataclass(frozen=True)
class ExtraPart:
    """One more alternative after the HTML part, e.g. an iTIP invitation:
    ``ExtraPart("text/calendar", ics, (("charset", "utf-8"), ("method", "REQUEST")))``."""

    content_type: str
    data: bytes = field(repr=False)
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class OutboundMail:
    kind: str  # the template it was rendered from, e.g. "requester/acknowledged"
    from_addr: str
    from_name: str | None
    to: tuple[AddressPair, ...]
    cc: tuple[AddressPair, ...]
    subject: str
    text: str
    html: str  # "" for a text-only mail
    message_id: str
    in_reply_to: str | None
    references: tuple[str, ...]
    auto_submitted: AutoSubmitted
    reply_to: str | None
    date: datetime  # aware
    loop_id: str
    attachments: tuple[Attachment, ...] = field(default=(), repr=False)
    extra_parts: tuple[ExtraPart, ...] = field(default=(), repr=False)


def compose(mail: OutboundMail) -> bytes:
    """The complete message, CRLF line endings, ready for SMTP ``DATA`` or a Maildir."""
    headers = _top_headers(mail)
    body = _body(mail)
    root = EmailMessage(policy=_POLICY)
    for name, value in headers:
        root.set_raw(name, value)
    root.set_raw("MIME-Version", "1.0")
    for name, value in body.raw_items():
        root.set_raw(name, value)
    root.set_payload(body.get_payload())

    buffer = io.BytesIO()
    BytesGenerator(buffer, mangle_from_=False, policy=_POLICY).flatten(root)
    raw = buffer.getvalue()
    _verify(raw, [name for name, _ in root.raw_items()])
    return raw


# --- headers --------------------------------------------------------------------------


def _top_headers(mail: OutboundMail) -> list[tuple[str, str]]:
    if not mail.to:
        raise ComposeError(f"{mail.kind}: a mail needs at least one To address")
    if mail.date.tzinfo is None or mail.date.utcoffset() is None:
        raise InvalidHeaderError(f"{mail.kind}: Date must be an aware datetime")
    if mail.auto_submitted not in ("auto-generated", "auto-replied"):
        raise InvalidHeaderError(f"Auto-Submitted must not be {mail.auto_submitted!r}")
    headers = [
        ("From", format_address(mail.from_name, mail.from_addr)),
        ("To", format_address_list(mail.to)),
    ]
    if mail.cc:
        headers.append(("Cc", format_address_list(mail.cc)))
    if mail.reply_to:
        headers.append(("Reply-To", format_address(None, mail.reply_to)))
    headers += [
        ("Subject", encode_unstructured(mail.subject, "Subject")),
        ("Date", format_datetime(mail.date)),
        ("Message-ID", require_message_id(mail.message_id)),
    ]
    in_reply_to = mail.in_reply_to
    if in_reply_to is not None and not is_valid_message_id(in_reply_to):
        in_reply_to = None
    references = _references(mail.references, in_reply_to)
    if in_reply_to:
        headers.append(("In-Reply-To", in_reply_to))
    if references:
        headers.append(("References", "\n ".join(references)))
    headers += [
        ("Auto-Submitted", mail.auto_submitted),
        ("X-Auto-Response-Suppress", AUTO_RESPONSE_SUPPRESS),
        (LOOP_HEADER, require_token(mail.loop_id, "loop id")),
    ]
    return headers


def _references(given: tuple[str, ...], in_reply_to: str | None) -> list[str]:
    ids: list[str] = []
    for mid in (*given, *((in_reply_to,) if in_reply_to else ())):
        if is_valid_message_id(mid) and mid not in ids:
            ids.append(mid)
    if len(ids) > MAX_REFERENCES:
        ids = [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
    return ids


# --- body -----------------------------------------------------------------------------


def _clean_body(text: str) -> str:
    """Text without control characters other than tab and line breaks."""
    # Lone surrogates (undecodable input bytes) become "?" rather than failing to encode.
    text = text.encode("utf-8", "replace").decode("utf-8")
    return _BODY_CONTROLS.sub("", text)


def _text_part(text: str, subtype: str) -> MIMEPart:
    part = MIMEPart(policy=_POLICY)
    part.set_content(_clean_body(text), subtype=subtype, charset="utf-8")
    return part


def _content_type(value: str) -> str:
    value = value.strip().lower()
    if not _CONTENT_TYPE.fullmatch(value):
        raise InvalidHeaderError(f"not a content type: {value!r}")
    return value


def _extra_part(extra: ExtraPart) -> MIMEPart:
    ctype = _content_type(extra.content_type)
    params = []
    for name, value in extra.params:
        if not _PARAM_NAME.fullmatch(name) or not _PARAM_VALUE.fullmatch(value):
            raise InvalidHeaderError(f"bad parameter {name}={value!r} for {ctype}")
        params.append(f"{name}={value}")
    part = MIMEPart(policy=_POLICY)
    part.set_raw("Content-Type", ";\n ".join([ctype, *params]))
    if extra.data.isascii() and all(len(line) <= 998 for line in extra.data.splitlines()):
        part.set_raw("Content-Transfer-Encoding", "7bit")
        part.set_payload(extra.data.decode("ascii"))
    else:
        part.set_raw("Content-Transfer-Encoding", "base64")
        part.set_payload(base64.encodebytes(extra.data).decode("ascii"))
    return part


def _attachment_part(file_name: str, content_type: str, data: bytes) -> MIMEPart:
    # Never a path: separators and ".." (which receiving parsers rightly flag) go.
    name = _PATH_PARTS.sub("_", sanitize_header_value(file_name)).strip(". ") or "attachment"
    try:
        ctype = _content_type(content_type)
    except InvalidHeaderError:
        ctype = "application/octet-stream"
    if ctype.startswith(("multipart/", "message/")):
        # Composite types may not be base64-encoded; ship the bytes as an opaque file.
        ctype = "application/octet-stream"
    part = MIMEPart(policy=_POLICY)
    part.set_raw("Content-Type", ";\n ".join([ctype, *file_name_params("name", name)]))
    part.set_raw("Content-Transfer-Encoding", "base64")
    part.set_raw(
        "Content-Disposition", ";\n ".join(["attachment", *file_name_params("filename", name)])
    )
    part.set_payload(base64.encodebytes(data).decode("ascii"))
    return part


def _multipart(subtype: str, children: list[MIMEPart], boundary: str) -> MIMEPart:
    part = MIMEPart(policy=_POLICY)
    part.set_raw("Content-Type", f'multipart/{subtype};\n boundary="{boundary}"')
    for child in children:
        part.attach(child)
    return part


def _boundary(message_id: str, label: str, salt: int) -> str:
    digest = hashlib.sha256(f"{message_id}|{label}|{salt}".encode()).hexdigest()
    # "=_" never occurs in quoted-printable or base64 output.
    return f"=_{label}_{digest[:32]}"


def _body(mail: OutboundMail) -> MIMEPart:
    alternatives = [_text_part(mail.text, "plain")]
    if mail.html:
        alternatives.append(_text_part(mail.html, "html"))
    alternatives += [_extra_part(extra) for extra in mail.extra_parts]
    files = [_attachment_part(*attachment) for attachment in mail.attachments]
    leaves = "\n".join(str(p.get_payload()) for p in (*alternatives, *files))

    salt = 0
    while True:
        alt_boundary = _boundary(mail.message_id, "alt", salt)
        mix_boundary = _boundary(mail.message_id, "mix", salt)
        if alt_boundary not in leaves and mix_boundary not in leaves:
            break
        salt += 1
    body = alternatives[0]
    if len(alternatives) > 1:
        body = _multipart("alternative", alternatives, alt_boundary)
    if files:
        body = _multipart("mixed", [body, *files], mix_boundary)
    return body


# --- the last guard -------------------------------------------------------------------


_HEADER_PARSER = BytesParser(policy=policy.default)


def _verify(raw: bytes, header_names: list[str]) -> None:
    """Refuse bytes that carry a bare CR/LF, an over-long line, or any top-level header
    other than the ones we wrote (what ``verify_generated_headers`` would catch)."""
    lines = raw.split(b"\r\n")
    if any(b"\r" in line or b"\n" in line for line in lines):
        raise ComposeError("generated message contains a bare CR or LF")
    if any(len(line) > 998 for line in lines):
        raise ComposeError("generated message has a line longer than 998 octets")
    # Only the header block can carry an injected header: parse just that part
    # (the body is our own generator's output and parsing it doubled the cost).
    parsed = _HEADER_PARSER.parsebytes(raw, headersonly=True)
    found = parsed.keys()
    if [n.lower() for n in found] != [n.lower() for n in header_names]:
        raise ComposeError(f"generated headers {found} differ from the ones written {header_names}")
    if parsed.defects:
        raise ComposeError(f"generated message has defects: {parsed.defects}")
