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
CRLF. The bytes are written directly (the encodings are the ones the standard library's
``set_content`` chooses under a 7-bit policy, at a fifth of its cost); as a last guard
the header block is read back the way a receiving parser splits it and must show
exactly the headers we wrote, with no bare CR or LF anywhere.

``In-Reply-To`` and ``References`` usually name Message-IDs chosen by other mail
programs: malformed ones are dropped (the mail still goes out, only less well
threaded); ``In-Reply-To`` is added to the end of ``References`` when missing; more than
``MAX_REFERENCES`` are cut to the first and the most recent ones.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
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

_CRLF = "\r\n"
_FIELD_NAME = re.compile(rb"[!-9;-~]+")
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
_PARAM_NAME = re.compile(r"[a-z][a-z0-9-]*")
_PARAM_VALUE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+")
_BODY_CONTROLS = re.compile(b"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
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
    out: list[str] = []
    for name, value in headers:
        _header(out, name, value)
    _header(out, "MIME-Version", "1.0")
    _body(mail, out)
    raw = "".join(out).encode("ascii")
    _verify(raw, [name for name, _ in headers])
    return raw


def _header(out: list[str], name: str, value: str) -> None:
    """One header line as written: the value is finished, folded ASCII from
    :mod:`templates.headers`; its line breaks become CRLF."""
    out.append(f"{name}: {_CRLF.join(value.splitlines())}{_CRLF}")


def _lines(out: list[str], text: str) -> None:
    """Body text with every line ending (CR, LF or CRLF) written as CRLF."""
    out.append(text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", _CRLF))


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


_ASCII_OCTETS = bytes(range(128))


def _clean_body(text: str) -> bytes:
    """Text as UTF-8 without control characters other than tab and line breaks."""
    # Lone surrogates (undecodable input bytes) become "?" rather than failing to encode;
    # the controls are ASCII, so they are removed from the bytes directly.
    return _BODY_CONTROLS.sub(b"", text.encode("utf-8", "replace"))


def _encode_text(text: str) -> tuple[str, str]:
    """``(Content-Transfer-Encoding, payload)`` of a UTF-8 text part.

    7bit when every line is ASCII and short enough; otherwise quoted-printable or base64,
    whichever comes out shorter. Quoted-printable writes an 8-bit octet as three
    characters and base64 three octets as four, so the octets are counted rather than
    encoded twice; both encoders are the C ones of ``binascii``.
    """
    lines = _clean_body(text).splitlines()
    body = b"\n".join(lines) + b"\n"
    if body.isascii() and max((len(x) for x in lines), default=0) <= MAX_LINE:
        return "7bit", body.decode("ascii")
    eight_bit = len(body.translate(None, _ASCII_OCTETS))
    if 3 * eight_bit + (len(body) - eight_bit) > len(body) * 4 // 3:
        # Lines of MAX_LINE characters: what encoding MAX_LINE // 4 * 3 octets at a time
        # gives, in one call.
        encoded = binascii.b2a_base64(body, newline=False).decode("ascii")
        step = MAX_LINE // 4 * 4
        return "base64", "".join(f"{encoded[i : i + step]}\n" for i in range(0, len(encoded), step))
    return "quoted-printable", binascii.b2a_qp(body, istext=True).decode("ascii")


@dataclass(frozen=True)
class _Part:
    """A leaf of the MIME tree: its headers (name, finished value) and its ASCII payload."""

    headers: tuple[tuple[str, str], ...]
    payload: str

    def write(self, out: list[str]) -> None:
        for name, value in self.headers:
            _header(out, name, value)
        out.append(_CRLF)
        _lines(out, self.payload)


def _text_part(text: str, subtype: str) -> _Part:
    cte, payload = _encode_text(text)
    return _Part(
        (("Content-Type", f'text/{subtype}; charset="utf-8"'), ("Content-Transfer-Encoding", cte)),
        payload,
    )


def _content_type(value: str) -> str:
    value = value.strip().lower()
    if not _CONTENT_TYPE.fullmatch(value):
        raise InvalidHeaderError(f"not a content type: {value!r}")
    return value


def _extra_part(extra: ExtraPart) -> _Part:
    ctype = _content_type(extra.content_type)
    params = []
    for name, value in extra.params:
        if not _PARAM_NAME.fullmatch(name) or not _PARAM_VALUE.fullmatch(value):
            raise InvalidHeaderError(f"bad parameter {name}={value!r} for {ctype}")
        params.append(f"{name}={value}")
    content_type = ("Content-Type", ";\n ".join([ctype, *params]))
    if extra.data.isascii() and all(len(line) <= 998 for line in extra.data.splitlines()):
        return _Part(
            (content_type, ("Content-Transfer-Encoding", "7bit")), extra.data.decode("ascii")
        )
    return _Part(
        (content_type, ("Content-Transfer-Encoding", "base64")),
        base64.encodebytes(extra.data).decode("ascii"),
    )


def _attachment_part(file_name: str, content_type: str, data: bytes) -> _Part:
    # Never a path: separators and ".." (which receiving parsers rightly flag) go.
    name = _PATH_PARTS.sub("_", sanitize_header_value(file_name)).strip(". ") or "attachment"
    try:
        ctype = _content_type(content_type)
    except InvalidHeaderError:
        ctype = "application/octet-stream"
    if ctype.startswith(("multipart/", "message/")):
        # Composite types may not be base64-encoded; ship the bytes as an opaque file.
        ctype = "application/octet-stream"
    # A text file's charset defaults to US-ASCII (RFC 2046): name UTF-8 where it is UTF-8
    # (the archive dossier is a UTF-8 HTML page).
    charset = ["charset=utf-8"] if ctype.startswith("text/") and _is_utf8(data) else []
    return _Part(
        (
            ("Content-Type", ";\n ".join([ctype, *charset, *file_name_params("name", name)])),
            ("Content-Transfer-Encoding", "base64"),
            (
                "Content-Disposition",
                ";\n ".join(["attachment", *file_name_params("filename", name)]),
            ),
        ),
        base64.encodebytes(data).decode("ascii"),
    )


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True)
class _Multipart:
    """A multipart entity: its Content-Type, then each child between delimiter lines."""

    subtype: str
    children: tuple[_Part | _Multipart, ...]
    boundary: str

    def write(self, out: list[str]) -> None:
        _header(out, "Content-Type", f'multipart/{self.subtype};\n boundary="{self.boundary}"')
        out.append(_CRLF)
        delimiter = f"--{self.boundary}{_CRLF}"
        for i, child in enumerate(self.children):
            out.append(delimiter if i == 0 else _CRLF + delimiter)
            child.write(out)
        out.append(f"{_CRLF}--{self.boundary}--{_CRLF}")


def _boundary(message_id: str, label: str, salt: int) -> str:
    digest = hashlib.sha256(f"{message_id}|{label}|{salt}".encode()).hexdigest()
    # "=_" never occurs in quoted-printable or base64 output.
    return f"=_{label}_{digest[:32]}"


def _body(mail: OutboundMail, out: list[str]) -> None:
    """The body entity (its headers first), appended to ``out``."""
    alternatives = [_text_part(mail.text, "plain")]
    if mail.html:
        alternatives.append(_text_part(mail.html, "html"))
    alternatives += [_extra_part(extra) for extra in mail.extra_parts]
    files = [_attachment_part(*attachment) for attachment in mail.attachments]
    leaves = "\n".join(p.payload for p in (*alternatives, *files))

    salt = 0
    while True:
        alt_boundary = _boundary(mail.message_id, "alt", salt)
        mix_boundary = _boundary(mail.message_id, "mix", salt)
        if alt_boundary not in leaves and mix_boundary not in leaves:
            break
        salt += 1

    body: _Part | _Multipart = alternatives[0]
    if len(alternatives) > 1:
        body = _Multipart("alternative", tuple(alternatives), alt_boundary)
    if files:
        body = _Multipart("mixed", (body, *files), mix_boundary)
    body.write(out)


# --- the last guard -------------------------------------------------------------------


def _verify(raw: bytes, header_names: list[str]) -> None:
    """Refuse bytes that carry a bare CR/LF, an over-long line, or any top-level header
    other than the ones we wrote (what ``verify_generated_headers`` would catch).

    The header block is read the way a receiving parser reads it: a line that does not
    start with white space starts a header, so each such line must be the next header we
    wrote, in order, and nothing else.
    """
    crlf = raw.count(b"\r\n")
    if raw.count(b"\r") != crlf or raw.count(b"\n") != crlf:
        raise ComposeError("generated message contains a bare CR or LF")
    lines = raw.split(b"\r\n")
    if max(map(len, lines)) > 998:
        raise ComposeError("generated message has a line longer than 998 octets")
    expected = [*header_names, "MIME-Version", "Content-Type"]
    found: list[str] = []
    for line in lines:
        if not line:
            break
        if line[:1] in (b" ", b"\t"):
            if not found:
                raise ComposeError("generated message starts with a continuation line")
            continue
        name, colon, _ = line.partition(b":")
        if not colon or not _FIELD_NAME.fullmatch(name):
            raise ComposeError(f"generated header line {line[:40]!r} is not a header")
        found.append(name.decode("ascii"))
    found_lower = [n.lower() for n in found]
    wanted = [n.lower() for n in expected]
    if found_lower[: len(wanted)] != wanted or any(
        n not in ("content-transfer-encoding",) for n in found_lower[len(wanted) :]
    ):
        raise ComposeError(f"generated headers {found} differ from the ones written {expected}")
