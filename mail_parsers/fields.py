"""Labelled fields in a body: label matching, value extent, lists, urgency, and the request
and issue forms.

A label line is optional leading white space, a known label, optional white space, then
``:`` or ``：``. Labels are compared after NFKC folding (full-width → half-width), without
case and without white space, so ``Ｔｉｔｌｅ :`` and ``主　题：`` match ``Title``/``主题``.
A value runs from the rest of its label line through the following lines up to the next
label line, a blank line, a signature separator, the start of quoted text or the end.

Request numbers are found by the pattern the caller passes (``ParseOptions.request_number``:
the configured profile's numbering, e.g. ``XZ-2026-001`` or ``2026-财务-001``); without one,
by the default ``XT-2026-0015``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from mail_parsers.dates import parse_date
from mail_parsers.model import FieldError, IssueFields, RequestFields
from mail_parsers.text import WHITESPACE, is_blank

Urgency = Literal["normal", "urgent", "critical"]

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_COLON = re.compile(r"[:：﹕︰]")
#: A label is short; anything longer before the colon is prose.
_MAX_LABEL = 40
_SEPARATOR_CHARS = "-_—=*─~－━═–"
_SEPARATOR = re.compile(f"[{re.escape(_SEPARATOR_CHARS)}]{{4,}}")
_LIST_SEPARATORS = "、,，;；\n"
_LIST_SPLIT = re.compile(f"[{_LIST_SEPARATORS}]")
_QUOTE_BANNER = re.compile(
    r"-{2,}\s*(?:原始邮件|原邮件|转发邮件|Original Message|Forwarded message)\s*-{2,}", re.I
)
_FROM_LINE = re.compile(r"(?:发件人|From)\s*[:：]", re.I)
_HEADER_LINE = re.compile(
    r"(?:发送时间|时间|Sent|Date|日期|收件人|To|抄送|Cc|主\s*题|Subject)\s*[:：]", re.I
)
_ATTRIBUTION = re.compile(r"(?:写道|wrote)\s*[:：]\s*$", re.I)
_TASK_ID = re.compile(r"(?<![A-Za-z0-9])RW-\d+(?![0-9])", re.I)
#: The default numbering's request numbers, when the caller passes no pattern.
_REQUEST_ID = re.compile(r"(?<![A-Za-z0-9])XT-\d{4}-\d+(?![0-9])", re.I)

_URGENCY: dict[str, Urgency] = {
    "一般": "normal",
    "normal": "normal",
    "紧急": "urgent",
    "urgent": "urgent",
    "特急": "critical",
    "critical": "critical",
}


def label_key(text: str) -> str:
    """Comparison key of a label: NFKC-folded, case-folded, white space removed."""
    folded = unicodedata.normalize("NFKC", text)
    if not folded.isascii():
        folded = folded.translate(_ZERO_WIDTH)
    return "".join(folded.split()).casefold()


class LabelTable:
    """The labels of one form: spelling → field name."""

    def __init__(self, labels: Mapping[str, Iterable[str]]) -> None:
        self.fields = tuple(labels)
        self._by_key: dict[str, str] = {}
        for field, spellings in labels.items():
            for spelling in spellings:
                self._by_key[label_key(spelling)] = field

    def lookup(self, label: str) -> str | None:
        return self._by_key.get(label_key(label))

    def match(self, line: str) -> tuple[str, str] | None:
        """``(field, rest of line)`` when ``line`` is a label line of this table."""
        colon = _COLON.search(line, 0, _MAX_LABEL + 8)
        if colon is None:
            return None
        candidate = line[: colon.start()]
        if not candidate.strip(WHITESPACE) or len(candidate.strip(WHITESPACE)) > _MAX_LABEL:
            return None
        field = self._by_key.get(label_key(candidate))
        if field is None:
            return None
        return field, line[colon.end() :]


REQUEST_LABELS = LabelTable(
    {
        "title": ("需求名称", "标题", "Title"),
        "requesting_department": (
            "发起部门",
            "Requesting department",
            "From department",
            "Requesting dept",
        ),
        "receiving_departments": (
            "接收部门",
            "协作部门",
            "Receiving departments",
            "Receiving department",
            "To departments",
            "To department",
        ),
        "background": (
            "背景与目标",
            "需求背景",
            "Background",
            "Background and goal",
            "Background and goals",
        ),
        "due": ("期望完成时间", "截止时间", "Due", "Due date"),
        "urgency": ("紧急程度", "Urgency", "Priority"),
        "resources": ("所需资源", "Resources", "Resources needed", "Required resources"),
        "acceptance_criteria": ("验收标准", "Acceptance criteria"),
    }
)

ISSUE_LABELS = LabelTable(
    {
        "task": ("所属任务", "Task"),
        "request": ("所属需求", "Request"),
        "description": ("问题描述", "Description"),
        "impact": ("影响范围", "Impact"),
        "tried": ("已尝试方案", "Tried"),
        "support": ("所需支持", "Support needed", "Support"),
        "urgency": ("紧急程度", "Urgency", "Priority"),
    }
)


def strip_text(text: str) -> str:
    return text.strip(WHITESPACE)


def is_separator(line: str) -> bool:
    """A signature separator: ``--``, ``-- `` or 4+ of ``- _ — = * ─ ~``."""
    stripped = line.strip(WHITESPACE)
    if not stripped or stripped[0] not in _SEPARATOR_CHARS:
        return False
    return stripped == "--" or _SEPARATOR.fullmatch(stripped) is not None


def is_quote_start(lines: Sequence[str], index: int) -> bool:
    """Whether quoted text (a reply's or forward's original) starts at ``lines[index]``."""
    line = lines[index].strip(WHITESPACE)
    if not line:
        return False
    head = line[0]
    if head == ">":
        return True
    if head == "-" and _QUOTE_BANNER.fullmatch(line) is not None:
        return True
    if line[-1] in ":：" and _ATTRIBUTION.search(line) is not None:
        return True
    if head in "发Ff" and _FROM_LINE.match(line) is not None:
        for follower in lines[index + 1 : index + 4]:
            if _HEADER_LINE.match(follower.strip(WHITESPACE)) is not None:
                return True
    return False


@dataclass(frozen=True, slots=True)
class Labelled:
    """One field as found: its value (``None`` when empty) and where it sat."""

    value: str | None
    label_line: int
    end: int  # index of the first line after the value


def ends_value(lines: Sequence[str], index: int, table: LabelTable) -> bool:
    line = lines[index]
    return (
        is_blank(line)
        or is_separator(line)
        or is_quote_start(lines, index)
        or table.match(line) is not None
    )


def extract(lines: Sequence[str], table: LabelTable) -> dict[str, Labelled]:
    """Every field of ``table`` found in ``lines``; the first occurrence of a label wins."""
    found: dict[str, Labelled] = {}
    index = 0
    count = len(lines)
    while index < count:
        matched = table.match(lines[index])
        if matched is None:
            index += 1
            continue
        field, rest = matched
        parts = [strip_text(rest)] if strip_text(rest) else []
        end = index + 1
        while end < count and not ends_value(lines, end, table):
            parts.append(strip_text(lines[end]))
            end += 1
        if field not in found:
            found[field] = Labelled("\n".join(parts) or None, index, end)
        index = end
    return found


def split_list(value: str | None) -> tuple[str, ...]:
    """Split on ``、 , ， ; ；`` (and line breaks), trimming each item.

    Separators inside parentheses do not split: ``王强（市场部, 品牌组）`` stays one item.
    """
    if not value:
        return ()
    if "(" in value or "（" in value:
        pieces = _split_outside_parentheses(value)
    else:
        pieces = _LIST_SPLIT.split(value)
    return tuple(item for item in (strip_text(p) for p in pieces) if item)


def _split_outside_parentheses(value: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    depth = 0
    for index, char in enumerate(value):
        if char in "(（":
            depth += 1
        elif char in ")）":
            depth = max(depth - 1, 0)
        elif depth == 0 and char in _LIST_SEPARATORS:
            pieces.append(value[start:index])
            start = index + 1
    pieces.append(value[start:])
    return pieces


def parse_urgency(value: str) -> Urgency | None:
    """The urgency of a whole value (``一般/紧急/特急`` or ``normal/urgent/critical``)."""
    return _URGENCY.get(unicodedata.normalize("NFKC", value).strip(WHITESPACE).casefold())


def read_urgency(found: Mapping[str, Labelled], errors: list[FieldError]) -> Urgency | None:
    item = found.get("urgency")
    if item is None or item.value is None:
        return "normal"  # absent (or left blank): the default
    urgency = parse_urgency(item.value)
    if urgency is None:
        errors.append(FieldError("urgency", "invalid_urgency", item.value))
    return urgency


def _value(found: Mapping[str, Labelled], field: str) -> str | None:
    item = found.get(field)
    return item.value if item is not None else None


def read_request_fields(
    text: str, today: date | None
) -> tuple[RequestFields, tuple[FieldError, ...]]:
    """The request form in ``text``, with every problem found."""
    errors: list[FieldError] = []
    if is_blank(text):
        errors.append(FieldError("body", "empty"))
    found = extract(text.split("\n"), REQUEST_LABELS)
    for field in ("title", "requesting_department", "receiving_departments", "background"):
        if _value(found, field) is None:
            errors.append(FieldError(field, "missing"))
    receiving = split_list(_value(found, "receiving_departments"))
    if not receiving and _value(found, "receiving_departments") is not None:
        errors.append(FieldError("receiving_departments", "missing"))
    due_text = _value(found, "due")
    due: date | None = None
    if due_text is None:
        errors.append(FieldError("due", "missing"))
    else:
        due = parse_date(due_text, today)
        if due is None:
            errors.append(FieldError("due", "invalid_date", due_text))
    urgency = read_urgency(found, errors)
    fields = RequestFields(
        title=_value(found, "title"),
        requesting_department=_value(found, "requesting_department"),
        receiving_departments=receiving,
        background=_value(found, "background"),
        due=due,
        urgency=urgency,
        resources=_value(found, "resources"),
        acceptance_criteria=_value(found, "acceptance_criteria"),
    )
    return fields, tuple(errors)


def read_issue_fields(
    text: str, numbers: re.Pattern[str] | None = None
) -> tuple[IssueFields, tuple[FieldError, ...]]:
    """The issue form in ``text``: a task (``RW-…`` or ``XT-…/RW-…``) or a request is needed.

    ``numbers`` finds request numbers (see :func:`find_request_id`).
    """
    errors: list[FieldError] = []
    if is_blank(text):
        errors.append(FieldError("body", "empty"))
    found = extract(text.split("\n"), ISSUE_LABELS)
    task_text = _value(found, "task")
    request_text = _value(found, "request")
    task = _first_id(_TASK_ID, task_text)
    request = find_request_id(request_text, numbers) or find_request_id(task_text, numbers)
    if task is None and request is None:
        errors.append(FieldError("task", "missing", task_text or request_text))
    if _value(found, "description") is None:
        errors.append(FieldError("description", "missing"))
    urgency = read_urgency(found, errors)
    fields = IssueFields(
        task=task,
        request=request,
        description=_value(found, "description"),
        impact=_value(found, "impact"),
        tried=_value(found, "tried"),
        support=_value(found, "support"),
        urgency=urgency,
    )
    return fields, tuple(errors)


def _first_id(pattern: re.Pattern[str], text: str | None) -> str | None:
    if not text:
        return None
    match = pattern.search(unicodedata.normalize("NFKC", text))
    return match.group(0).upper() if match is not None else None


def find_request_id(text: str | None, numbers: re.Pattern[str] | None = None) -> str | None:
    """The first request number in ``text`` (NFKC-folded), upper-case.

    ``numbers`` is what a request number looks like under the configured profile
    (``ParseOptions.request_number``); without it, the default ``XT-YYYY-NNNN``.
    """
    return _first_id(numbers or _REQUEST_ID, text)
