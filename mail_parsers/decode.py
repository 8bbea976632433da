"""Charset handling and tolerant header decoding.

Everything here is total: a wrong, unknown or missing charset label, broken base64 or
8-bit bytes in a header give the best readable text, never an exception.

The labels gb2312, gbk and x-gbk (and their aliases) are decoded as GB18030: Outlook labels
GBK bytes such as 喆 or 镕 as gb2312, and GB18030 is a superset of both.
"""

from __future__ import annotations

import binascii
import codecs
import re
from functools import lru_cache

_GB_ALIASES = frozenset(
    {
        "gb2312",
        "gbk",
        "x-gbk",
        "cp936",
        "ms936",
        "windows-936",
        "gb_2312",
        "gb_2312-80",
        "gb2312-80",
        "csgb2312",
        "csgb231280",
        "euc-cn",
        "x-euc-cn",
        "euccn",
        "chinese",
        "iso-ir-58",
        "gb18030",
        "gb18030-2000",
        "gb-18030",
        "hz-gb-2312-gbk",
    }
)

# Labels whose Python codec differs from what mail clients mean by them (WHATWG-style).
_ALIASES = {
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "big5": "big5hkscs",
    "x-x-big5": "big5hkscs",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-sjis": "cp932",
    "sjis": "cp932",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
    "us-ascii": "ascii",
    "ascii": "ascii",
    "ansi_x3.4-1968": "ascii",
    "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874",
    "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
    "x-unknown": "",
    "unknown-8bit": "",
    "default": "",
}

_NOT_CHARSETS = frozenset({"idna", "punycode", "raw_unicode_escape", "unicode_escape", "mbcs"})
_SURROGATE = re.compile("[\udc80-\udcff]")
# RFC 2047 encoded word; the charset may carry an RFC 2231 language suffix (utf-8*zh).
_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?]*?)\?=")
_BLANK_BETWEEN = re.compile(r"[ \t\r\n]*\Z")


@lru_cache(maxsize=256)
def normalize_charset(label: str | None) -> str | None:
    """The Python codec name for a MIME charset label, or ``None`` when unknown or absent."""
    if not label:
        return None
    name = label.strip().strip("\"'").strip().lower()
    if "*" in name:  # RFC 2231 language suffix
        name = name.split("*", 1)[0]
    if name in _GB_ALIASES:
        return "gb18030"
    name = _ALIASES.get(name, name)
    if not name:
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        return None
    # Binary transforms (base64_codec, rot13, ...) are codecs but not charsets.
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


def _decode_undeclared(data: bytes) -> str:
    """Bytes with no usable charset: UTF-8, then GB18030 (the usual Chinese mislabelling)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace")


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode body or header bytes given a (possibly wrong) charset label."""
    if not data:
        return ""
    codec = normalize_charset(charset)
    if codec is None or codec == "ascii":
        if data.isascii():
            return data.decode("ascii")
        return _decode_undeclared(data)
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        pass
    except (LookupError, ValueError, TypeError):  # a codec that cannot decode this at all
        return _decode_undeclared(data)
    if codec != "utf-8":
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode(codec, "replace")
    except (LookupError, ValueError, TypeError):
        return data.decode("utf-8", "replace")


def raw_header_text(value: str) -> str:
    """A header value as read by ``email`` from bytes: undo surrogate escapes of raw 8-bit."""
    if not _SURROGATE.search(value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    return _decode_undeclared(data)


def unfold(value: str) -> str:
    """RFC 5322 unfolding: a line break followed by white space is removed.

    In a value read by the ``email`` parser every inner line break is a fold (the parser
    starts a new header at any line that does not begin with white space), so all of
    them go; a trailing one is dropped too.
    """
    if "\n" in value:
        value = value.replace("\r\n", "").replace("\n", "")
    if "\r" in value:
        value = value.replace("\r", "")
    return value


def _word_bytes(encoding: str, text: str) -> bytes | None:
    try:
        if encoding in "bB":
            text = text.strip()
            text += "=" * (-len(text) % 4)
            return binascii.a2b_base64(text.encode("ascii", "replace"))
        return binascii.a2b_qp(text.encode("ascii", "replace"), header=True)
    except (binascii.Error, ValueError):
        return None


def decode_encoded_words(text: str) -> str:
    """Decode RFC 2047 encoded words anywhere in ``text`` (also inside quoted strings).

    White space between adjacent encoded words is dropped; adjacent words in the same
    charset are joined as bytes first, so a character split across two words survives.
    """
    if "=?" not in text:
        return text
    out: list[str] = []
    pending = bytearray()
    pending_charset: str | None = None
    pos = 0
    previous_was_word = False
    for match in _ENCODED_WORD.finditer(text):
        data = _word_bytes(match.group(2), match.group(3))
        if data is None:
            continue  # leave the malformed word as literal text
        between = text[pos : match.start()]
        charset = normalize_charset(match.group(1)) or ""
        if not (previous_was_word and _BLANK_BETWEEN.match(between)):
            if pending_charset is not None:
                out.append(decode_bytes(bytes(pending), pending_charset or None))
                pending.clear()
                pending_charset = None
            out.append(between)
        elif pending_charset is not None and pending_charset != charset:
            out.append(decode_bytes(bytes(pending), pending_charset or None))
            pending.clear()
        pending_charset = charset
        pending += data
        pos = match.end()
        previous_was_word = True
    if pending_charset is not None:
        out.append(decode_bytes(bytes(pending), pending_charset or None))
    out.append(text[pos:])
    return "".join(out)


def decode_header_value(value: str) -> str:
    """A raw header value fully decoded: 8-bit bytes, folding, encoded words.

    Line breaks produced by decoding (CR/LF inside an encoded word) are kept: they are
    a sign of header injection and the classifier needs to see them.
    """
    return decode_encoded_words(unfold(raw_header_text(value)))
