"""Meeting minutes: the four sections and the action item lines.

An action item is one line, its parts separated by ``|`` or ``｜``::

    - <title> | 负责人：<name> <email> | 截止：<date> | 交付物：<deliverable>
      [| 协作人：<people>] [| 验收标准：<text>]

Part labels may be Chinese or English in any mix; the owner's email may be bare or in
``<...>``; collaborators are split like departments.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from mail_parsers.dates import parse_date
from mail_parsers.fields import (
    LabelTable,
    extract,
    find_request_id,
    is_quote_start,
    is_separator,
    split_list,
    strip_text,
)
from mail_parsers.model import ActionItem, FieldError, MinutesFields, Person
from mail_parsers.text import is_blank

MINUTES_LABELS = LabelTable(
    {
        "request": ("所属需求", "需求编号", "Request"),
        "attendees": ("参会人员", "参会人", "与会人员", "出席人员", "Attendees", "Participants"),
        "discussion": ("讨论要点", "Discussion", "Discussion points"),
        "decisions": ("共识事项", "Decisions"),
        "action_items": ("待办事项", "Action items", "Action item"),
    }
)

PART_LABELS = LabelTable(
    {
        "owner": ("负责人", "Owner"),
        "due": ("截止", "截止时间", "截止日期", "Due", "Due date"),
        "deliverable": ("交付物", "Deliverable", "Deliverables"),
        "collaborators": ("协作人", "协作人员", "Collaborators", "Collaborator"),
        "acceptance": ("验收标准", "Acceptance", "Acceptance criteria"),
    }
)

_BAR = re.compile(r"\s*[|｜]\s*")
_BULLET = re.compile(
    r"^[\s\u00a0\u3000]*(?:[-*•·●○▪◦–—]|\d{1,3}[.)、．]|[（(]\d{1,3}[)）])[\s\u00a0\u3000]*"
)
_EMAIL = re.compile(
    r"<?\s*(?:mailto:)?([A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)\s*>?",
    re.I,
)
_POSITIONAL = ("owner", "due", "deliverable")


def parse_person(text: str) -> Person:
    """``名字 name@example.com``, ``Name <name@example.com>``, a bare name or a bare address."""
    text = strip_text(text)
    match = _EMAIL.search(text)
    email: str | None = None
    if match is not None:
        email = match.group(1).lower()
        text = text[: match.start()] + " " + text[match.end() :]
    name = strip_text(text).strip("\"'“”‘’,，;；")
    name = " ".join(name.split())
    return Person(name=name or None, email=email)


def _is_item_line(line: str) -> bool:
    return "|" in line or "｜" in line or _BULLET.match(line) is not None


def item_lines(lines: Sequence[str], label_line: int) -> list[str]:
    """The action item lines of the section whose label sits on ``lines[label_line]``.

    Items may be separated by blank lines; a line with neither a bar nor a bullet continues
    the previous item (a wrapped line). The section ends at the next section label, a
    separator, quoted text, or a blank line not followed by another item.
    """
    rest = MINUTES_LABELS.match(lines[label_line])
    found: list[str] = []
    if rest is not None and ("|" in rest[1] or "｜" in rest[1]):
        found.append(strip_text(rest[1]))
    index = label_line + 1
    count = len(lines)
    while index < count:
        line = lines[index]
        if is_separator(line) or is_quote_start(lines, index) or MINUTES_LABELS.match(line):
            break
        if is_blank(line):
            ahead = index + 1
            while ahead < count and is_blank(lines[ahead]):
                ahead += 1
            if (
                found
                and ahead < count
                and ("|" in lines[ahead] or "｜" in lines[ahead])
                and not (MINUTES_LABELS.match(lines[ahead]) or is_quote_start(lines, ahead))
            ):
                index = ahead
                continue
            break
        if _is_item_line(line):
            found.append(strip_text(line))
        elif found:
            found[-1] = found[-1] + " " + strip_text(line)
        index += 1
    return found


def parse_action_item(
    line: str, number: int, today: date | None
) -> tuple[ActionItem, list[FieldError]]:
    """One action item line; ``number`` (1-based) names it in the errors."""
    pieces = _BAR.split(strip_text(line))
    title = strip_text(_BULLET.sub("", pieces[0], count=1))
    parts: dict[str, str] = {}
    unlabelled: list[str] = []
    for piece in pieces[1:]:
        if not strip_text(piece):
            continue
        matched = PART_LABELS.match(piece)
        if matched is None:
            unlabelled.append(strip_text(piece))
        elif matched[0] not in parts:
            parts[matched[0]] = strip_text(matched[1])
    # Parts written without labels fill owner, due and deliverable in that order.
    for field in _POSITIONAL:
        if field not in parts and unlabelled:
            parts[field] = unlabelled.pop(0)

    prefix = f"action_items[{number}]"
    errors: list[FieldError] = []
    if not title:
        errors.append(FieldError(f"{prefix}.title", "missing", line))
    owner = parse_person(parts.get("owner", ""))
    if owner.name is None and owner.email is None:
        errors.append(FieldError(f"{prefix}.owner", "missing", line))
    due_text = parts.get("due") or None
    due: date | None = None
    if due_text is None:
        errors.append(FieldError(f"{prefix}.due", "missing", line))
    else:
        due = parse_date(due_text, today)
        if due is None:
            errors.append(FieldError(f"{prefix}.due", "invalid_date", due_text))
    deliverable = parts.get("deliverable") or None
    if deliverable is None:
        errors.append(FieldError(f"{prefix}.deliverable", "missing", line))
    collaborators = tuple(
        person
        for person in (parse_person(p) for p in split_list(parts.get("collaborators")))
        if person.name is not None or person.email is not None
    )
    item = ActionItem(
        title=title,
        owner=owner,
        due=due,
        deliverable=deliverable,
        collaborators=collaborators,
        acceptance=parts.get("acceptance") or None,
        line=strip_text(line),
    )
    return item, errors


def read_minutes_fields(
    text: str, subject: str, today: date | None, numbers: re.Pattern[str] | None = None
) -> tuple[MinutesFields, tuple[FieldError, ...]]:
    """The minutes in ``text``; the request number comes from a label, else the subject,
    else the body. ``numbers`` finds it (the profile's numbering,
    ``ParseOptions.request_number``; by default ``XT-YYYY-NNNN``)."""
    errors: list[FieldError] = []
    if is_blank(text):
        errors.append(FieldError("body", "empty"))
    lines = text.split("\n")
    found = extract(lines, MINUTES_LABELS)

    request_item = found.get("request")
    request = find_request_id(request_item.value if request_item else None, numbers)
    request = request or find_request_id(subject, numbers) or find_request_id(text, numbers)
    if request is None:
        errors.append(FieldError("request", "missing"))

    items: list[ActionItem] = []
    section = found.get("action_items")
    if section is not None:
        for number, line in enumerate(item_lines(lines, section.label_line), start=1):
            item, item_errors = parse_action_item(line, number, today)
            items.append(item)
            errors.extend(item_errors)
    if not items:
        errors.append(FieldError("action_items", "missing"))

    attendees = found.get("attendees")
    discussion = found.get("discussion")
    decisions = found.get("decisions")
    fields = MinutesFields(
        request=request,
        attendees=split_list(attendees.value if attendees else None),
        discussion=discussion.value if discussion else None,
        decisions=decisions.value if decisions else None,
        action_items=tuple(items),
    )
    return fields, tuple(errors)
