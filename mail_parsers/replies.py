"""How a reply to one of the coordination mailbox's mails reads.

``read_reply`` takes the decoded bodies and thread headers of a message already known to
be a reply and returns a :class:`~mail_parsers.model.ReplyReading`:

* the **context** (what mail it answers) comes from the nearest Message-ID of ours in
  ``In-Reply-To``, then ``References`` (last to first); ids have the form
  ``<{context}.{request}[.{task}].{unique}@{message_id_domain}>`` (request and task
  lower-cased, percent-encoded beyond ``a-z 0-9 - _``). Only when no id of
  ours is there does the subject tag decide (``[纪要]``/``[MINUTES]`` …);
* the **request** is read from the subject (or an id of ours of no known context) by
  ``options.request_number``, the configured profile's numbering; without one, by the
  shapes of the shipped profiles (``XT-2026-0012``, ``XZ-2026-001``, ``2026-研发部-001``);
* the **new text** is the text above the first quote marker (plain text when there is
  any, otherwise the HTML with its quote cut off, converted to text);
* the **action** follows the keyword rule of :mod:`mail_parsers.reply_keywords`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final
from urllib.parse import unquote

from mail_parsers._html_quote import html_to_text
from mail_parsers.model import ParseOptions, ReplyReading
from mail_parsers.quote_markers import new_text as _new_text_of
from mail_parsers.reply_keywords import CONTEXTS, read_keyword

__all__ = ["ReplyContext", "reply_context", "reply_new_text", "read_reply"]

_ANGLE_ID: Final = re.compile(r"<([^<>\s]+)>")
_BARE_ID: Final = re.compile(r"[^<>\s,;]+@[^<>\s,;]+")
# Other spellings of our context names in Message-IDs.
_CONTEXT_ALIASES: Final = {"date-change": "datechange", "date_change": "datechange"}
_TASK_TOKEN: Final = re.compile(r"[a-z]{1,6}-\d{1,8}", re.IGNORECASE)

_SUBJECT_TAG: Final = re.compile(
    r"[\[【]\s*(纪要|MINUTES|任务|TASK|验收|ACCEPTANCE|评估|EVALUATION|审批|APPROVAL)\s*[\]】]",
    re.IGNORECASE,
)
_TAG_CONTEXT: Final = {
    "纪要": "minutes",
    "minutes": "minutes",
    "任务": "task",
    "task": "task",
    "验收": "deliverable",
    "acceptance": "deliverable",
    "评估": "evaluation",
    "evaluation": "evaluation",
    "审批": "approval",
    "approval": "approval",
}
# Request numbers when the options name no profile's numbering: XT-2026-0012 (standard),
# XZ-2026-001 (intra-department), 2026-研发部-001 (task-record profile). Tasks: RW-0003.
_REQUEST_IN_TEXT: Final = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{2,4}-\d{4}-\d{3,4}(?!\d)"
    r"|(?<![\dA-Za-z])\d{4}-[^\s\d\-/\\\[\]【】()（）<>.@,，;；:：]{1,20}-\d{3,4}(?!\d)"
)
_TASK_IN_TEXT: Final = re.compile(r"(?<![A-Za-z0-9])RW-\d{3,6}(?!\d)", re.IGNORECASE)


@dataclass(frozen=True)
class ReplyContext:
    """What a reply answers: the context and the request/task it is about."""

    context: str | None
    request: str | None
    task: str | None


def _message_ids(header: str | None) -> list[str]:
    """The ids in a header value, in order, without angle brackets."""
    if not header:
        return []
    ids = _ANGLE_ID.findall(header)
    return ids if ids else _BARE_ID.findall(header)


def _nearest_first(in_reply_to: str | None, references: Sequence[str]) -> Iterator[str]:
    yield from _message_ids(in_reply_to)
    for ref in reversed(references):
        yield from reversed(_message_ids(ref))


def _first_match(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(unicodedata.normalize("NFKC", text))
    return match.group(0).upper() if match else None


def _context_of_id(local: str, numbers: re.Pattern[str]) -> ReplyContext:
    # Number and task are percent-encoded when they hold more than ``a-z 0-9 - _``
    # (``2026-%e7%a0%94%e5%8f%91%e9%83%a8-001`` is ``2026-研发部-001``).
    parts = [unquote(part) for part in local.split(".")]
    local = ".".join(parts)
    name = parts[0].lower()
    name = _CONTEXT_ALIASES.get(name, name)
    if name not in CONTEXTS:
        # One of ours, but nothing that takes a sign-off (an invitation, a digest …).
        request = _first_match(numbers, local)
        return ReplyContext(None, request, _first_match(_TASK_IN_TEXT, local))
    request = parts[1].upper() if len(parts) >= 2 and parts[1] else None
    task = None
    if len(parts) >= 4 and _TASK_TOKEN.fullmatch(parts[2]):
        task = parts[2].upper()
    return ReplyContext(name, request, task)


def reply_context(
    in_reply_to: str | None,
    references: Sequence[str],
    subject: str,
    message_id_domain: str,
    numbers: re.Pattern[str] | None = None,
) -> ReplyContext:
    """The context of a reply: our nearest Message-ID decides, else the subject tag.

    ``numbers`` finds a request number in the subject (``ParseOptions.request_number``);
    without it, any of the shipped profiles' shapes.
    """
    numbers = numbers or _REQUEST_IN_TEXT
    domain = message_id_domain.lower()
    for msg_id in _nearest_first(in_reply_to, references):
        local, _, id_domain = msg_id.rpartition("@")
        if local and id_domain.lower() == domain:
            return _context_of_id(local, numbers)
    tag = _SUBJECT_TAG.search(subject)
    context = _TAG_CONTEXT[tag.group(1).lower()] if tag else None
    return ReplyContext(
        context, _first_match(numbers, subject), _first_match(_TASK_IN_TEXT, subject)
    )


def reply_new_text(text_plain: str | None, html: str | None) -> str:
    """The new text of a reply: plain text when it has any, else the HTML above its quote."""
    if text_plain is not None and text_plain.strip():
        return _new_text_of(text_plain)
    if html:
        return _new_text_of(html_to_text(html, cut_quote=True))
    return ""


def _first_id(header: str | None) -> str | None:
    if header is None:
        return None
    match = _ANGLE_ID.search(header)
    if match:
        return match.group(0)
    return header.strip() or None


def read_reply(
    text_plain: str | None,
    html: str | None,
    *,
    in_reply_to: str | None,
    references: tuple[str, ...],
    subject: str,
    options: ParseOptions,
    today: date | None = None,
) -> ReplyReading:
    """Read a reply: context, request/task, new text and the sign-off it carries.

    ``today`` is the local date of the message's ``Date:`` header; relative dates such as
    ``3月31日`` in a value need it and give ``None`` without it.

    ``in_reply_to`` of the result is the message's own ``In-Reply-To`` id (as the corpus
    schema has it), even when the context came from ``References``.
    """
    where = reply_context(
        in_reply_to, references, subject, options.message_id_domain, options.request_number
    )
    text = reply_new_text(text_plain, html)
    if where.context is None:
        action, value = "none", None
    else:
        action, value = read_keyword(text, where.context, today=today)
    return ReplyReading(
        action=action,
        value=value,
        context=where.context,
        request=where.request,
        task=where.task,
        in_reply_to=_first_id(in_reply_to),
        new_text=text,
    )
