"""Header values written byte for byte, safe against header injection.

This Python (3.11.7) has no ``policy.verify_generated_headers``, and its header folder
decodes encoded-words found in the text it is given: a title such as
``=?utf-8?q?x=0D=0ABcc:_evil@example.net?=`` would come out as a real ``Bcc:`` line if
it went through ``msg["Subject"] = title``. So every header value is produced here as
finished ASCII text, folded with ``"\\n "`` between lines, and stored raw:

* outside text (subjects, display names, file names) first goes through
  :func:`sanitize_header_value`, which leaves no line break or control character;
* text that is not plain printable ASCII, or that contains ``=?``, is written as
  RFC 2047 encoded-words, so a literal encoded-word from a sender is only ever data;
* addresses, Message-IDs and tokens we generate are validated, never repaired.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable
from email.charset import Charset
from functools import lru_cache
from urllib.parse import quote

from templates.errors import InvalidAddressError, InvalidHeaderError

#: Longest header line we write (RFC 5322 recommends 78 characters).
MAX_LINE = 78
#: Longest display name we write, in characters.
MAX_DISPLAY_NAME = 128
_UTF8 = Charset("utf-8")

_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SURROGATES = re.compile("[\ud800-\udfff]")
_SPACE_RUNS = re.compile(r"\s+")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
_PHRASE_SPECIALS = re.compile(r'[][\\()<>@,:;".]')
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_MSG_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>")
_MAX_MSG_ID = 250
_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+./:=?@^_`{|}~-]+")


def sanitize_header_value(value: str) -> str:
    """``value`` on one line: every CR, LF, other C0/C1 control, U+2028 and U+2029
    becomes a space, every run of white space (any Unicode space, the ideographic one
    included) becomes one ASCII space, the ends are trimmed. Lone surrogates
    (undecodable bytes) become U+FFFD."""
    value = _SURROGATES.sub("\ufffd", value)
    value = _CONTROLS.sub(" ", value)
    return _SPACE_RUNS.sub(" ", value).strip()


def _is_plain(text: str) -> bool:
    """Printable ASCII that no decoder could take for an encoded-word."""
    return _PRINTABLE_ASCII.fullmatch(text) is not None and "=?" not in text


def _fold_words(words: list[str], first_room: int) -> str:
    """Join ``words`` with spaces, breaking lines (``"\\n "``) before a word that would
    make a line longer than ``MAX_LINE``; the first line has ``first_room`` characters."""
    lines: list[str] = []
    current = ""
    room = first_room
    for word in words:
        candidate = f"{current} {word}" if current else word
        if current and len(candidate) > room:
            lines.append(current)
            current = word
            room = MAX_LINE - 1  # continuation lines start with one space
        else:
            current = candidate
    lines.append(current)
    return "\n ".join(lines)


def encode_unstructured(text: str, header_name: str) -> str:
    """A folded, ASCII value for an unstructured header such as ``Subject``."""
    text = sanitize_header_value(text)
    first_room = MAX_LINE - len(header_name) - 2
    words = text.split(" ")
    if _is_plain(text) and all(len(w) <= MAX_LINE - 1 for w in words):
        return _fold_words(words, first_room) if text else ""
    return _encoded_words(text, first_room)


#: Longest encoded-word (RFC 2047, 2), and what ``=?utf-8?b?...?=`` adds to its payload.
_MAX_WORD = 75
_WORD_OVERHEAD = len("=?utf-8?b??=")


def _encoded_words(text: str, first_room: int) -> str:
    """``text`` as base64 encoded-words of UTF-8, folded (``"\n "``) between words.

    Each word holds whole characters (RFC 2047 forbids splitting one) and at most
    ``_MAX_WORD`` characters; the first also fits the ``first_room`` left on the
    header's first line. The white space that folds them is not part of the text when
    it is decoded.
    """
    words: list[str] = []
    room = min(_MAX_WORD, first_room)
    limit = max((room - _WORD_OVERHEAD) // 4 * 3, 4)  # octets that fit, at least a character
    chunk = b""
    for char in text:
        octets = char.encode("utf-8")
        if chunk and len(chunk) + len(octets) > limit:
            words.append(_encoded_word(chunk))
            chunk = b""
            limit = (_MAX_WORD - _WORD_OVERHEAD) // 4 * 3
        chunk += octets
    words.append(_encoded_word(chunk))
    return "\n ".join(words)


def _encoded_word(octets: bytes) -> str:
    return f"=?utf-8?b?{binascii.b2a_base64(octets, newline=False).decode('ascii')}?="


def encode_display_name(name: str | None) -> str:
    """A display name as an RFC 5322 phrase: atoms, a quoted string, or one encoded-word.

    One encoded-word, even past RFC 2047's 75 characters, as ``email.utils.formataddr``
    does: Python's address parser (3.11) puts a space between adjacent encoded-words of a
    display name. Names are cut to ``MAX_DISPLAY_NAME`` characters so the line stays short.
    """
    name = sanitize_header_value(name or "")[:MAX_DISPLAY_NAME].strip()
    if not name:
        return ""
    if _is_plain(name):
        if _PHRASE_SPECIALS.search(name):
            return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return name
    return _UTF8.header_encode(name)


@lru_cache(maxsize=4096)
def normalize_address(address: str) -> str:
    """``address`` checked as a plain ``local@domain`` (the domain lower-cased and
    IDNA-encoded). Anything else raises :class:`InvalidAddressError`: an address is
    never repaired, since a repaired address is somebody else's."""
    if not isinstance(address, str) or address != address.strip() or "@" not in address:
        raise InvalidAddressError(f"not an email address: {address!r}")
    local, _, domain = address.rpartition("@")
    if not _LOCAL_PART.fullmatch(local) or "=?" in local or len(local) > 64:
        raise InvalidAddressError(f"unsupported local part in {address!r}")
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise InvalidAddressError(f"invalid domain in {address!r}") from exc
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        raise InvalidAddressError(f"invalid domain in {address!r}")
    return f"{local}@{ascii_domain}"


def format_address(name: str | None, address: str) -> str:
    """One mailbox: ``Display Name <local@domain>``, or the bare address without a name."""
    addr = normalize_address(address)
    display = encode_display_name(name)
    return f"{display} <{addr}>" if display else addr


def format_address_list(pairs: Iterable[tuple[str | None, str]]) -> str:
    """Mailboxes for To/Cc, one per line."""
    return ",\n ".join(format_address(name, address) for name, address in pairs)


def is_valid_message_id(value: str) -> bool:
    """``<left@right>`` in printable ASCII without spaces, brackets or encoded-words."""
    return (
        isinstance(value, str)
        and len(value) <= _MAX_MSG_ID
        and _MSG_ID.fullmatch(value) is not None
        and "=?" not in value
    )


def require_message_id(value: str) -> str:
    if not is_valid_message_id(value):
        raise InvalidHeaderError(f"not a Message-ID: {value!r}")
    return value


def require_token(value: str, what: str) -> str:
    """A header value we generate ourselves that must be one printable token."""
    if (
        not isinstance(value, str)
        or not _TOKEN.fullmatch(value)
        or "=?" in value
        or len(value) > 200
    ):
        raise InvalidHeaderError(f"{what} must be one printable ASCII token: {value!r}")
    return value


def _percent_chunks(text: str, size: int) -> list[str]:
    """``text`` percent-encoded (RFC 2231 attribute-chars kept), cut into pieces of at
    most ``size`` characters without splitting an escape."""
    encoded = quote(text, safe="!#$&+-.^_`|~", encoding="utf-8")
    pieces = re.findall(r"%[0-9A-F]{2}|.", encoded)
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if len(current) + len(piece) > size:
            chunks.append(current)
            current = ""
        current += piece
    if current or not chunks:
        chunks.append(current)
    return chunks


def file_name_params(param: str, file_name: str) -> list[str]:
    """``filename``/``name`` parameters for a file name from outside.

    Short plain names are one quoted parameter; anything else uses RFC 2231 (UTF-8,
    percent-encoded, continued over several lines when long)."""
    simple = (
        _is_plain(file_name)
        and '"' not in file_name
        and "\\" not in file_name
        and len(file_name) <= 50
    )
    if simple:
        return [f'{param}="{file_name}"']
    chunks = _percent_chunks(file_name, 50)
    if len(chunks) == 1:
        return [f"{param}*=utf-8''{chunks[0]}"]
    return [
        f"{param}*{i}*=utf-8''{chunk}" if i == 0 else f"{param}*{i}*={chunk}"
        for i, chunk in enumerate(chunks)
    ]
