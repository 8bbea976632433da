"""Where the quoted part of a plain-text reply begins.

The markers are those of ``shared/corpus/README.md`` ("Replies"), written by the mail
clients seen in Chinese companies and abroad:

* a ``>`` line (Gmail, Apple Mail, Thunderbird, 163/126);
* a separator such as ``-----原始邮件-----``, ``------------------ 原始邮件 ------------------``
  (QQ/Foxmail/Exmail), ``----- 原始邮件 -----`` or ``-----Original Message-----``;
* a ``____…`` or ``----…`` rule followed by a ``From:``/``发件人:`` line (Outlook, DingTalk);
* a ``发件人:``/``From:`` line followed within three lines by ``发送时间``, ``Sent``, ``Date``,
  ``日期``, ``收件人``, ``To``, ``主题``/``主　题`` or ``Subject`` (Outlook, Foxmail, Lark);
* an attribution line ending in ``写道:``/``写道：``/``wrote:`` (Gmail, Apple Mail,
  Thunderbird and 163 in Chinese and English).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["find_quote_start", "is_quote_line", "new_text"]

_QUOTE_LINE = re.compile(r"^\s*>")
_DASHES = r"[-_=—─‐‑‒–―~*]"
_SEPARATOR = re.compile(
    rf"^\s*{_DASHES}{{2,}}\s*"
    r"(?:原始邮件|原邮件|邮件原文|原始信息|原始消息|转发邮件(?:信息)?|转发的(?:邮件|消息)|回复的原邮件"
    r"|Original\s+Message|Original\s+Email|Forwarded\s+Message|Replied\s+Message|Reply\s+Message)"
    rf"\s*{_DASHES}{{2,}}\s*$",
    re.IGNORECASE,
)
_FORWARD_INTRO = re.compile(
    r"^\s*(?:Begin forwarded message|转发的邮件|下面是被转发的邮件)\s*[:：]\s*$", re.IGNORECASE
)
_RULE = re.compile(r"^\s*(?:_{5,}|-{5,}|—{3,}|─{5,})\s*$")
_FROM = re.compile(r"^\s*\**\s*(?:发件人|寄件人|寄件者|From)\s*\**\s*[:：]", re.IGNORECASE)
_HEADER_AFTER_FROM = re.compile(
    r"^\s*\**\s*(?:发送时间|发送日期|日期|时间|收件人|抄\s*送|主\s*题|Sent|Date|To|Cc|Subject)"
    r"\s*\**\s*[:：]",
    re.IGNORECASE,
)
_ATTRIBUTION = re.compile(
    r"(?:写道|寫道|wrote|a\s+écrit|schrieb|escribió)\s*[:：]\s*$", re.IGNORECASE
)
# The first half of an attribution that a client wrapped onto two lines.
_ATTRIBUTION_START = re.compile(r"^\s*(?:On|At|Le|Am|El|在)\s", re.IGNORECASE)
#: How many following lines may hold the second header of a From block.
_FROM_WINDOW = 3


def is_quote_line(line: str) -> bool:
    """A line of ``>``-quoted text."""
    return _QUOTE_LINE.match(line) is not None


def _next_nonblank(lines: Sequence[str], start: int, limit: int) -> list[str]:
    found: list[str] = []
    for line in lines[start:]:
        if line.strip():
            found.append(line)
            if len(found) == limit:
                break
    return found


def _marker_at(lines: Sequence[str], i: int) -> int | None:
    """If a quote starts at line ``i``, the index of its first line (may be ``i - 1``)."""
    line = lines[i]
    if _QUOTE_LINE.match(line) or _SEPARATOR.match(line) or _FORWARD_INTRO.match(line):
        return i
    if _RULE.match(line):
        following = _next_nonblank(lines, i + 1, 1)
        if following and _FROM.match(following[0]):
            return i
        return None
    if _FROM.match(line):
        if any(_HEADER_AFTER_FROM.match(x) for x in _next_nonblank(lines, i + 1, _FROM_WINDOW)):
            return i
        return None
    if _ATTRIBUTION.search(line):
        if (
            i > 0
            and lines[i - 1].strip()
            and _ATTRIBUTION_START.match(lines[i - 1])
            and not _ATTRIBUTION_START.match(line)
        ):
            return i - 1
        return i
    return None


def find_quote_start(lines: Sequence[str]) -> int:
    """Index of the first quoted line, ``len(lines)`` when nothing is quoted."""
    for i in range(len(lines)):
        start = _marker_at(lines, i)
        if start is not None:
            return start
    return len(lines)


def _bottom_posted(lines: Sequence[str], start: int) -> list[str] | None:
    """Unquoted lines written below a ``>`` quote (bottom-posting), up to the next marker.

    ``None`` when the quote at ``start`` is not a ``>`` quote or attribution line (an
    Outlook-style header block quotes everything below it).
    """
    first = lines[start]
    if _QUOTE_LINE.match(first):
        body_from = start
    elif _ATTRIBUTION.search(first):
        body_from = start + 1
    elif start + 1 < len(lines) and _ATTRIBUTION.search(lines[start + 1]):
        body_from = start + 2
    else:
        return None
    kept: list[str] = []
    for i in range(body_from, len(lines)):
        line = lines[i]
        if _QUOTE_LINE.match(line):
            continue
        if _marker_at(lines, i) is not None or (
            i + 1 < len(lines) and _marker_at(lines, i + 1) == i
        ):
            break
        kept.append(line)
    return kept


def new_text(text: str) -> str:
    """The text above the first quote marker (what the sender wrote in this message).

    When nothing but blank lines stands above a ``>`` quote or its attribution line, the
    sender wrote below the quote (bottom-posting); the unquoted lines there are the new
    text.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start = find_quote_start(lines)
    above: list[str] = lines[:start]
    if start < len(lines) and not any(line.strip() for line in above):
        below = _bottom_posted(lines, start)
        if below is not None:
            above = below
    return "\n".join(above).strip("\n").rstrip()
