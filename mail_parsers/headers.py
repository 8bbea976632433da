"""Reading the top-level header block defensively.

Headers are read from the raw values (``Message.raw_items``), never through the
``policy.default`` header objects: those are slow on large address lists and raise
``ValueError`` when a decoded display name contains CR or LF.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.message import Message
from email.utils import parsedate_to_datetime

from mail_parsers.decode import decode_encoded_words, raw_header_text, unfold
from mail_parsers.model import Address, Headers

RawHeaders = dict[str, list[str]]

# One token of an address list: a quoted string, a comment, an angle address, a separator,
# or a run of anything else.
_ADDR_TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"?'  # quoted string (an unterminated one runs to the end)
    r"|\((?:[^()\\]|\\.)*\)?"  # comment (not nested; rare in the wild)
    r"|<[^>]*>?"  # angle address
    r"|[,;:]"
    r'|[^"(<,;:\s]+'
    r"|\s+",
    re.S,
)
_MSG_ID = re.compile(r"<[^<>\s]*>")
_QUOTED_PAIR = re.compile(r"\\(.)", re.S)
_WSP = re.compile(r"\s+")
_WSP_RUN = re.compile(r"[ \t]+")
# "Name" <addr>, Name <addr>, <addr> or a bare addr-spec: nothing that needs the tokenizer.
_SIMPLE_ADDRESS = re.compile(r"[ \t]*(?:([^<>:]*?)[ \t]*<([^<>]*)>|([^\s<>:\"]+))[ \t]*", re.S)
# The common form "Mon, 09 Mar 2026 01:32:17 +0000 (CST)"; anything else goes to email.utils.
_DATE = re.compile(
    r"\s*(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?"
    r"\s+([+-])(\d{4})(?:\s*\([^()]*\))?\s*"
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_DELIVERY_HEADERS = ("delivered-to", "x-original-to", "envelope-to", "x-envelope-to")


def raw_headers(msg: Message) -> RawHeaders:
    """Header name (lower-case) → raw values, in order of appearance."""
    out: RawHeaders = {}
    for name, value in msg.raw_items():
        out.setdefault(name.lower(), []).append(value if isinstance(value, str) else str(value))
    return out


def first(headers: RawHeaders, name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None


def plain_value(headers: RawHeaders, name: str) -> str | None:
    """First value of a structured header, unfolded and stripped (no RFC 2047 decoding)."""
    value = first(headers, name)
    if value is None:
        return None
    return unfold(raw_header_text(value)).strip()


@dataclass(frozen=True, slots=True)
class AddressList:
    addresses: tuple[Address, ...]
    #: A decoded display name contained CR or LF.
    injected: bool = False


def _unquote(text: str) -> str:
    return _QUOTED_PAIR.sub(r"\1", text[1:-1] if text.endswith('"') and len(text) > 1 else text[1:])


def _make_address(words: list[str], angle: str | None) -> tuple[Address, bool] | None:
    if angle is not None:
        spec = angle
        raw_name = "".join(words)
    else:
        spec = "".join(w for w in words if not w.isspace())
        raw_name = ""
    spec = spec.strip()
    if spec.startswith("@") and ":" in spec:  # obsolete source route
        spec = spec.rsplit(":", 1)[1]
    if spec[:7].lower() == "mailto:":
        spec = spec[7:]
    spec = "".join(spec.split())
    if not spec:
        return None
    name = decode_encoded_words(raw_name.strip(" \t")) if raw_name else ""
    injected = "\r" in name or "\n" in name
    name = _WSP_RUN.sub(" ", name).strip() if not injected else name.strip(" \t")
    return Address(email=spec.lower(), name=name or None), injected


def _single_address(text: str) -> AddressList | None:
    """Fast path for the usual one-address header; ``None`` when it needs the tokenizer."""
    if "," in text or ";" in text or "(" in text or "\\" in text:
        return None
    match = _SIMPLE_ADDRESS.fullmatch(text)
    if match is None:
        return None
    phrase, angle, bare = match.group(1), match.group(2), match.group(3)
    if angle is None:
        made = _make_address([bare], None)
    else:
        words: list[str] = []
        if phrase:
            if phrase.startswith('"'):
                if phrase.count('"') != 2 or not phrase.endswith('"'):
                    return None
                phrase = phrase[1:-1]
            elif '"' in phrase:
                return None
            words.append(phrase)
        made = _make_address(words, angle)
    if made is None:
        return AddressList(())
    return AddressList((made[0],), made[1])


def parse_address_list(value: str) -> AddressList:
    """Parse an address header (raw value) into addresses with decoded display names.

    Comments never become names (``MAILER-DAEMON@x (Mail Delivery System)`` has no name),
    groups are flattened, and nothing here raises.
    """
    text = unfold(raw_header_text(value))
    simple = _single_address(text)
    if simple is not None:
        return simple
    addresses: list[Address] = []
    injected = False
    words: list[str] = []
    angle: str | None = None

    def finish() -> None:
        nonlocal angle, injected
        made = _make_address(words, angle)
        if made is not None:
            addresses.append(made[0])
            injected = injected or made[1]
        words.clear()
        angle = None

    for match in _ADDR_TOKEN.finditer(text):
        token = match.group(0)
        head = token[0]
        if head == '"':
            words.append(_unquote(token))
        elif head == "(":
            continue
        elif head == "<":
            if angle is None:
                angle = token[1:-1] if token.endswith(">") else token[1:]
        elif token == "," or token == ";":
            finish()
        elif token == ":":
            if angle is None:  # group name ("undisclosed-recipients:"): drop it
                words.clear()
        elif head.isspace():
            if words:
                words.append(" ")
        else:
            words.append(token)
    finish()
    return AddressList(tuple(addresses), injected)


def msg_ids(value: str | None) -> tuple[str, ...]:
    """All ``<...>`` ids of a Message-ID / In-Reply-To / References value."""
    if not value:
        return ()
    return tuple(_MSG_ID.findall(unfold(raw_header_text(value))))


def first_msg_id(value: str | None) -> str | None:
    if value is None:
        return None
    ids = msg_ids(value)
    if ids:
        return ids[0]
    text = _WSP.sub(" ", unfold(raw_header_text(value))).strip()
    return text or None


def parse_date(value: str | None) -> datetime | None:
    """The Date header as an aware datetime (``-0000`` and missing zones read as UTC)."""
    if not value:
        return None
    quick = _DATE.fullmatch(value)
    if quick is not None:
        month = _MONTHS.get(quick.group(2).lower())
        if month is not None:
            sign = 1 if quick.group(7) == "+" else -1
            offset = sign * (int(quick.group(8)[:2]) * 60 + int(quick.group(8)[2:]))
            try:
                return datetime(
                    int(quick.group(3)),
                    month,
                    int(quick.group(1)),
                    int(quick.group(4)),
                    int(quick.group(5)),
                    int(quick.group(6) or 0),
                    tzinfo=timezone(timedelta(minutes=offset)) if offset else UTC,
                )
            except (ValueError, OverflowError):
                pass
    try:
        parsed = parsedate_to_datetime(unfold(raw_header_text(value)).strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:  # pragma: no cover - older Pythons returned None
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _addresses(headers: RawHeaders, name: str) -> AddressList:
    values = headers.get(name)
    if not values:
        return AddressList(())
    if len(values) == 1:
        return parse_address_list(values[0])
    parts = [parse_address_list(v) for v in values]
    return AddressList(tuple(a for p in parts for a in p.addresses), any(p.injected for p in parts))


def count_at_signs(headers: RawHeaders, names: Iterable[str]) -> int:
    """Upper bound of the number of addresses in the named headers (cheap)."""
    return sum(v.count("@") for n in names for v in headers.get(n, ()))


@dataclass(frozen=True, slots=True)
class HeaderReading:
    headers: Headers
    #: CR or LF in the decoded subject or in a decoded display name.
    injected: bool
    injected_where: str | None
    recipients: int


def read_headers(headers: RawHeaders, *, max_recipients: int) -> HeaderReading:
    """Build :class:`Headers` from the raw top-level header block.

    When To+Cc plainly hold far more addresses than ``max_recipients`` (a recipient flood),
    they are counted but not kept, so nothing downstream can ever write to them.
    """
    subject_raw = first(headers, "subject")
    subject = decode_encoded_words(unfold(raw_header_text(subject_raw))) if subject_raw else ""
    subject = subject.strip(" \t")
    injected_where: str | None = "subject" if ("\r" in subject or "\n" in subject) else None

    from_list = _addresses(headers, "from")
    reply_to = _addresses(headers, "reply-to")
    if injected_where is None and from_list.injected:
        injected_where = "from"

    at_signs = count_at_signs(headers, ("to", "cc"))
    if at_signs > 4 * max_recipients:
        to: tuple[Address, ...] = ()
        cc: tuple[Address, ...] = ()
        recipients = at_signs
    else:
        to_list = _addresses(headers, "to")
        cc_list = _addresses(headers, "cc")
        to, cc = to_list.addresses, cc_list.addresses
        recipients = len(to) + len(cc)
        if injected_where is None and (to_list.injected or cc_list.injected):
            injected_where = "to" if to_list.injected else "cc"
    if injected_where is None and reply_to.injected:
        injected_where = "reply-to"

    delivered: list[str] = []
    for name in _DELIVERY_HEADERS:
        for value in headers.get(name, ()):
            delivered.extend(a.email for a in parse_address_list(value).addresses)

    from_addresses = from_list.addresses
    sender = from_addresses[0] if from_addresses else None
    references = msg_ids(first(headers, "references"))
    built = Headers(
        from_addr=sender.email if sender is not None and "@" in sender.email else None,
        from_name=sender.name if sender is not None else None,
        from_count=len(from_addresses),
        subject=subject,
        message_id=first_msg_id(first(headers, "message-id")),
        in_reply_to=first_msg_id(first(headers, "in-reply-to")),
        references=references,
        date=parse_date(first(headers, "date")),
        to=to,
        cc=cc,
        reply_to=reply_to.addresses,
        delivered_to=tuple(dict.fromkeys(delivered)),
    )
    return HeaderReading(built, injected_where is not None, injected_where, recipients)
