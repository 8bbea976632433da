"""MIME structure: parameters (RFC 2045/2231), a bounded walk over the parts, and a cheap
pre-scan of the nesting depth that runs before the full parse of suspicious input."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from functools import lru_cache
from types import MappingProxyType

from mail_parsers.decode import decode_bytes, decode_encoded_words, raw_header_text, unfold

_MIME_HEADERS = frozenset({"content-type", "content-disposition", "content-id"})
_SECTION = re.compile(r"^([^*]+)\*(?:(\d+)(\*)?|(\*)?)$")
_QUOTED_PAIR = re.compile(r"\\(.)", re.S)
# name=value, the value quoted (possibly unterminated) or running to the next ";".
_PARAM = re.compile(r'([^\s=;"]+)\s*=\s*("(?:[^"\\]|\\.)*"?|[^;]*)')
_BOUNDARY = re.compile(rb'boundary\s*=\s*(?:"([^"\r\n]+)"|([^\s;"]+))', re.I)
_DASH_LINE = re.compile(rb"^--([^\r\n]*)", re.M)

#: Content types that are report or calendar machinery, never user attachments.
_NOT_ATTACHMENT_TYPES = frozenset(
    {
        "text/rfc822-headers",
        "text/calendar",
        "application/ics",
        "message/delivery-status",
        "message/disposition-notification",
        "message/global-delivery-status",
        "message/global-disposition-notification",
        "message/global-headers",
        "application/pgp-signature",
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
    }
)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        inner = value[1:-1]
        return _QUOTED_PAIR.sub(r"\1", inner) if "\\" in inner else inner
    if value.startswith('"'):
        return value[1:]
    return value


def parse_header_params(raw: str | None) -> tuple[str, Mapping[str, str]]:
    """``(main value lower-case, {param: decoded value})`` of a Content-Type-like header.

    Handles RFC 2231 (``name*=charset''...`` and continuations ``name*0*=``, joined as bytes
    before decoding, so a split UTF-8 sequence survives) and RFC 2047 words in quoted values.
    The result is cached and shared: treat the mapping as read-only.
    """
    if not raw:
        return "", _NO_PARAMS
    if len(raw) > 512:
        return _parse_header_params(raw)
    return _cached_header_params(raw)


_NO_PARAMS: Mapping[str, str] = MappingProxyType({})


@lru_cache(maxsize=2048)
def _cached_header_params(raw: str) -> tuple[str, Mapping[str, str]]:
    return _parse_header_params(raw)


def _parse_header_params(raw: str) -> tuple[str, Mapping[str, str]]:
    text = unfold(raw_header_text(raw))
    main, _sep, rest = text.partition(";")
    main = main.strip().lower()
    params: dict[str, str] = {}
    if not rest:
        return main, _NO_PARAMS
    sections: dict[str, dict[int, tuple[str, bool]]] = {}
    for found in _PARAM.finditer(rest):
        name = found.group(1).lower()
        value = found.group(2)
        match = _SECTION.match(name) if "*" in name else None
        if match is None:
            if name not in params:
                params[name] = decode_encoded_words(_unquote(value))
            continue
        base = match.group(1)
        if match.group(2) is not None:
            index, extended = int(match.group(2)), bool(match.group(3))
        else:
            index, extended = 0, True
        sections.setdefault(base, {}).setdefault(index, (_unquote(value), extended))
    for base, parts in sections.items():
        params[base] = _join_sections(parts)
    return main, MappingProxyType(params)


def _join_sections(parts: dict[int, tuple[str, bool]]) -> str:
    charset: str | None = None
    data = bytearray()
    for position, index in enumerate(sorted(parts)):
        value, extended = parts[index]
        if extended:
            if position == 0 and value.count("'") >= 2:
                charset, _lang, value = value.split("'", 2)
            data += urllib.parse.unquote_to_bytes(value)
        else:
            data += value.encode("utf-8", "surrogateescape")
    return decode_bytes(bytes(data), charset or "utf-8")


def part_header(part: Message, name: str) -> str | None:
    """First raw value of a header of one part (``name`` lower-case)."""
    for key, value in part.raw_items():
        if key.lower() == name:
            return value if isinstance(value, str) else str(value)
    return None


@dataclass(frozen=True, slots=True)
class Part:
    """One leaf part of the message, with what the parsers need to know about it."""

    part: Message
    content_type: str  # "type/subtype", lower-case
    params: Mapping[str, str]
    disposition: str  # "attachment", "inline" or ""
    filename: str | None
    depth: int  # the top-level message is 1
    #: Inside an embedded message (message/rfc822): not our body, not our attachment.
    embedded: bool
    #: An inline resource of an HTML body (multipart/related with a Content-ID).
    related_inline: bool

    @property
    def is_attachment(self) -> bool:
        if self.embedded or self.related_inline:
            return False
        if self.content_type in _NOT_ATTACHMENT_TYPES:
            return False
        if self.content_type.startswith("message/"):
            return self.disposition == "attachment"  # a forwarded message, kept whole
        if self.disposition == "attachment" or self.filename is not None:
            return True
        # An unnamed non-text part (an image, a document) is still something attached.
        return not self.content_type.startswith("text/")

    @property
    def is_body_candidate(self) -> bool:
        return (
            not self.embedded
            and self.disposition != "attachment"
            and self.filename is None
            and self.content_type in ("text/plain", "text/html")
        )


@dataclass(frozen=True, slots=True)
class Structure:
    parts: tuple[Part, ...]
    depth: int  # deepest level seen (bounded by the limit + 1)
    too_deep: bool
    has_calendar: bool
    #: Content type and parameters of the top-level message.
    root_type: str = "text/plain"
    root_params: tuple[tuple[str, str], ...] = ()


def _part_headers(part: Message) -> dict[str, str]:
    """The MIME headers of one part that the walk needs (first occurrence of each)."""
    found: dict[str, str] = {}
    for key, value in part.raw_items():
        name = key.lower()
        if name in _MIME_HEADERS and name not in found:
            found[name] = value if isinstance(value, str) else str(value)
    return found


def _content_type(raw: str | None) -> tuple[str, Mapping[str, str]]:
    main, params = parse_header_params(raw)
    if main.count("/") != 1 or " " in main:
        return "text/plain", params
    return main, params


def walk(msg: Message, max_depth: int) -> Structure:
    """Every leaf part in order, without recursion, stopping below ``max_depth`` levels."""
    leaves: list[Part] = []
    deepest = 0
    too_deep = False
    has_calendar = False
    # (part, depth, embedded, in_related)
    stack: list[tuple[Message, int, bool, bool]] = [(msg, 1, False, False)]
    root_type, root_params = _content_type(part_header(msg, "content-type"))
    while stack:
        part, depth, embedded, in_related = stack.pop()
        deepest = max(deepest, depth)
        if depth > max_depth:
            too_deep = True
            continue
        mime_headers = _part_headers(part) if part is not msg else {}
        if part is msg:
            ctype, params = root_type, root_params
        else:
            ctype, params = _content_type(mime_headers.get("content-type"))
        payload = part.get_payload()
        if isinstance(payload, list):
            related = ctype == "multipart/related"
            child_embedded = embedded or ctype.startswith("message/")
            children = [c for c in payload if isinstance(c, Message)]
            for child in reversed(children):
                stack.append((child, depth + 1, child_embedded, related))
            if ctype.startswith("message/") and not embedded:
                # The embedded message itself is still a leaf of ours (e.g. a forwarded .eml).
                leaves.append(_leaf(part, mime_headers, ctype, params, depth, embedded, in_related))
            continue
        if ctype in ("text/calendar", "application/ics"):
            has_calendar = True
        if part is msg:
            mime_headers = _part_headers(part)
        leaves.append(_leaf(part, mime_headers, ctype, params, depth, embedded, in_related))
    return Structure(
        tuple(leaves), deepest, too_deep, has_calendar, root_type, tuple(root_params.items())
    )


def _leaf(
    part: Message,
    mime_headers: dict[str, str],
    ctype: str,
    params: Mapping[str, str],
    depth: int,
    embedded: bool,
    in_related: bool,
) -> Part:
    disposition, dparams = parse_header_params(mime_headers.get("content-disposition"))
    filename = dparams.get("filename") or params.get("name") or None
    related_inline = in_related and disposition != "attachment" and "content-id" in mime_headers
    return Part(
        part=part,
        content_type=ctype,
        params=params,
        disposition=disposition if disposition in ("attachment", "inline") else "",
        filename=filename,
        depth=depth,
        embedded=embedded,
        related_inline=related_inline,
    )


def part_bytes(part: Message) -> bytes:
    """The decoded payload of a leaf part (transfer encoding undone), never raising."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - malformed input must not stop the parse
        payload = None
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


def prescan_depth(raw: bytes, limit: int) -> int:
    """Estimate the multipart nesting depth from the boundary lines alone.

    Runs only when the raw bytes mention ``multipart/`` more than ``limit`` times, so
    ordinary mail pays one regex count. Returns 0 when no estimate was needed.
    """
    if raw.count(b"ultipart/") + raw.count(b"ULTIPART/") <= limit:
        return 0
    boundaries = {m.group(1) or m.group(2) for m in _BOUNDARY.finditer(raw)}
    boundaries = {b.strip() for b in boundaries if b}
    open_stack: list[bytes] = []
    deepest = 0
    for match in _DASH_LINE.finditer(raw):
        token = match.group(1).rstrip()
        if token in boundaries:
            if token in open_stack:
                # A delimiter of an outer part implicitly ends any part opened inside it.
                del open_stack[open_stack.index(token) + 1 :]
            else:
                open_stack.append(token)
                deepest = max(deepest, len(open_stack))
        elif token.endswith(b"--") and token[:-2] in boundaries:
            closing = token[:-2]
            if closing in open_stack:
                del open_stack[open_stack.index(closing) :]
    return deepest + 1 if deepest else 0
