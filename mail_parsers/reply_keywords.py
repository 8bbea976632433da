"""The sign-off keyword rule: which action the first lines of a reply's new text ask for.

Rule (``shared/corpus/README.md`` "Replies", ``shared/spec/mail.md``): of the first three
non-empty lines of the new text, the first that starts with a keyword decides; lines
without one (greetings) are skipped. The longest keyword wins, looked up across every
context, so ``确认收到`` is never read as the minutes' ``确认``; a line whose longest
keyword belongs to another context is skipped as well. English keywords are
case-insensitive and must not run on into a letter (``Disagree`` and ``Agreed`` are not
``AGREE``). A line that starts with a negated keyword (``不同意``, ``没收到``,
``Disagree``, ``not approve``) decides ``none``.

The value is the rest of the keyword line after leading ``: ： , ， 、 ; - —``, spaces and
full stops, parsed per action.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Final, Literal

from mail_parsers._reply_dates import find_date, find_time, to_halfwidth

__all__ = ["CONTEXTS", "KEYWORD_LINES", "read_keyword"]

ValueKind = Literal["none", "text", "reschedule", "progress", "evaluate", "datetime", "resolve"]

#: How many non-empty lines of the new text may carry the keyword.
KEYWORD_LINES: Final = 3

# context -> keyword -> (action, kind of value). Chinese keywords are written as matched;
# English ones in lower case (they are matched case-insensitively).
_TABLE: Final[dict[str, dict[str, tuple[str, ValueKind]]]] = {
    "minutes": {
        "确认": ("confirm", "none"),
        "同意": ("confirm", "none"),
        "无异议": ("confirm", "none"),
        "confirm": ("confirm", "none"),
        "agree": ("confirm", "none"),
        "异议": ("object", "text"),
        "有异议": ("object", "text"),
        "object": ("object", "text"),
    },
    "task": {
        "收到": ("ack", "none"),
        "确认收到": ("ack", "none"),
        "ack": ("ack", "none"),
        "申请改期": ("reschedule", "reschedule"),
        "reschedule": ("reschedule", "reschedule"),
        "进度": ("progress", "progress"),
        "progress": ("progress", "progress"),
        "风险": ("risk", "text"),
        "risk": ("risk", "text"),
        "完成": ("done", "none"),
        "done": ("done", "none"),
    },
    "deliverable": {
        "验收通过": ("accept", "none"),
        "accept": ("accept", "none"),
        "退回": ("return", "text"),
        "return": ("return", "text"),
    },
    "evaluation": {
        "受理": ("evaluate_accept", "evaluate"),
        "accept": ("evaluate_accept", "evaluate"),
        "退回": ("reject", "text"),
        "return": ("reject", "text"),
        "reject": ("reject", "text"),
    },
    "approval": {
        "同意": ("approve", "none"),
        "批准": ("approve", "none"),
        "approve": ("approve", "none"),
        "驳回": ("reject", "text"),
        "reject": ("reject", "text"),
    },
    "meeting": {
        "改期": ("reschedule_meeting", "datetime"),
        "move": ("reschedule_meeting", "datetime"),
    },
    "notice": {
        "解决": ("resolve", "resolve"),
        "resolved": ("resolve", "resolve"),
        "resolve": ("resolve", "resolve"),
    },
    "datechange": {
        "同意改期": ("approve_date", "none"),
        "不同意改期": ("reject_date", "text"),
        "approve": ("approve_date", "none"),
        "reject": ("reject_date", "text"),
    },
}

#: The reply contexts this module knows.
CONTEXTS: Final = frozenset(_TABLE)


def _is_english(keyword: str) -> bool:
    return keyword.isascii()


# Every keyword of every context, longest first; one regex finds the longest at the start.
_ALL_KEYWORDS: Final = sorted(
    {keyword for table in _TABLE.values() for keyword in table}, key=len, reverse=True
)
_NOT_A_LATIN_LETTER = r"(?![A-Za-z\u00C0-\u024F])"


def _alternation(keywords: Iterable[str]) -> str:
    parts = []
    for keyword in keywords:
        if _is_english(keyword):
            parts.append(re.escape(keyword) + _NOT_A_LATIN_LETTER)
        else:
            parts.append(re.escape(keyword))
    return "|".join(parts)


_KEYWORD_AT_START: Final = re.compile(f"(?:{_alternation(_ALL_KEYWORDS)})", re.IGNORECASE)
_NEGATED_AT_START: Final = re.compile(
    r"(?:不予|不|未|没有|没|无法|拒绝"
    r"|dis|not\s+|do\s+not\s+|don't\s+|does\s+not\s+|doesn't\s+|cannot\s+|can't\s+"
    r"|can\s+not\s+|won't\s+|unable\s+to\s+)"
    f"(?:{_alternation(_ALL_KEYWORDS)})",
    re.IGNORECASE,
)
# Leading characters dropped before a value: ``: ： , ， 、 ; - —``, spaces and full stops.
_VALUE_LEAD: Final = ":：,，、;；-—–.。 \t\u00a0\u3000"
_TRAILING_SEPARATORS: Final = ",，、;；。. \t\u00a0\u3000"
_INVISIBLE: Final = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")

_PERCENT: Final = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*[%％]")
_LEAD_LABEL: Final = re.compile(
    r"(?:牵头部门|牵头单位|牵头|主责部门|lead(?:ing)?(?:\s+dep(?:artmen)?t)?)\s*[:：]",
    re.IGNORECASE,
)
_SUPPORT_LABEL: Final = re.compile(
    r"(?:配合部门|协作部门|支持部门|配合单位|配合|support(?:ing)?(?:\s+dep(?:artmen)?ts?)?)\s*[:：]",
    re.IGNORECASE,
)
_DUE_LABEL: Final = re.compile(
    r"(?:新期限|新截止(?:时间|日期)?|期限|截止(?:时间|日期)?|new\s+due(?:\s+date)?|due(?:\s+date)?)\s*[:：]",
    re.IGNORECASE,
)
_OWNER_LABEL: Final = re.compile(
    r"(?:新负责人|新责任人|负责人|责任人|(?<![A-Za-z-])(?:new\s+)?owner)\s*[:：]", re.IGNORECASE
)
_LIST_SPLIT: Final = re.compile(r"[、,，;；]")
_NONE_WORDS: Final = frozenset({"无", "没有", "none", "n/a", "na", "-", "—"})
_AFTER_DATE: Final = re.compile(r"^\s*(?:之前|以前|前)")


def _clean(text: str) -> str | None:
    """``text`` without leading value punctuation and trailing blanks; ``None`` if empty."""
    value = text.lstrip(_VALUE_LEAD).rstrip()
    return value or None


def _trim_item(text: str) -> str:
    return text.strip().strip(_TRAILING_SEPARATORS)


def _text_value(rest: str) -> str | None:
    return _clean(rest)


def _reschedule_value(rest: str, today: date | None) -> dict[str, object]:
    body = rest.lstrip(_VALUE_LEAD)
    found = find_date(body, today=today)
    if found is None:
        return {"date": None, "reason": _clean(body)}
    iso = found.value.isoformat() if found.value is not None else None
    if body[: found.start].strip():
        # The date sits inside the sentence: the whole sentence is the reason.
        reason = _clean(body)
    else:
        after = _AFTER_DATE.sub("", body[found.end :], count=1)
        reason = _clean(after)
    return {"date": iso, "reason": reason}


def _progress_value(rest: str) -> dict[str, object]:
    body = rest.lstrip(_VALUE_LEAD)
    match = _PERCENT.search(to_halfwidth(body))
    if match is None:
        return {"percent": None, "note": _clean(body)}
    number = int(float(match.group(1)))
    percent = number if 0 <= number <= 100 else None
    # A percentage inside the sentence leaves the whole sentence as the note.
    inside = bool(body[: match.start()].strip())
    return {"percent": percent, "note": _clean(body if inside else body[match.end() :])}


def _evaluate_value(rest: str) -> dict[str, object]:
    lead_match = _LEAD_LABEL.search(rest)
    support_match = _SUPPORT_LABEL.search(rest)
    lead: str | None = None
    support: list[str] = []
    if lead_match is not None:
        end = len(rest)
        if support_match is not None and support_match.start() > lead_match.start():
            end = support_match.start()
        lead = _trim_item(rest[lead_match.end() : end]) or None
    if support_match is not None:
        end = len(rest)
        if lead_match is not None and lead_match.start() > support_match.start():
            end = lead_match.start()
        items = (_trim_item(x) for x in _LIST_SPLIT.split(rest[support_match.end() : end]))
        support = [x for x in items if x and x.lower() not in _NONE_WORDS]
    return {"lead": lead, "support": support}


def _datetime_value(rest: str, today: date | None) -> str | None:
    body = to_halfwidth(rest)
    found = find_date(body, today=today)
    if found is None or found.value is None:
        return None
    clock = find_time(body[found.end :].lstrip("Tt"))
    if clock is None:
        return None
    hour, minute = clock
    return f"{found.value.isoformat()}T{hour:02d}:{minute:02d}"


def _resolve_value(rest: str, today: date | None) -> dict[str, object]:
    """``解决：措施 新期限：日期 新负责人：姓名/地址`` (the labels optional, in any order).

    ``{"measures", "due", "owner"}``: ``due`` is an ISO date or None, ``owner`` the text
    after the owner label (a name, an address or both) or None. When a deadline label
    is there but no date can be read from it, ``"due_text"`` holds what was written.
    """
    labels = sorted(
        [(m, "due") for m in _DUE_LABEL.finditer(rest)]
        + [(m, "owner") for m in _OWNER_LABEL.finditer(rest)],
        key=lambda found: found[0].start(),
    )
    first = labels[0][0].start() if labels else len(rest)
    measures = _clean(rest[:first])
    if measures is not None:
        measures = measures.rstrip(_TRAILING_SEPARATORS) or None
    value: dict[str, object] = {"measures": measures, "due": None, "owner": None}
    for index, (match, name) in enumerate(labels):
        end = labels[index + 1][0].start() if index + 1 < len(labels) else len(rest)
        part = rest[match.end() : end]
        if name == "owner" and value["owner"] is None:
            owner = _clean(part)
            value["owner"] = (owner.rstrip(_TRAILING_SEPARATORS) or None) if owner else None
        elif name == "due" and value["due"] is None and "due_text" not in value:
            found = find_date(part, today=today)
            if found is not None and found.value is not None:
                value["due"] = found.value.isoformat()
            else:
                value["due_text"] = (_clean(part) or "").rstrip(_TRAILING_SEPARATORS)
    return value


def _value(kind: ValueKind, rest: str, today: date | None) -> object:
    if kind == "none":
        return None
    if kind == "text":
        return _text_value(rest)
    if kind == "reschedule":
        return _reschedule_value(rest, today)
    if kind == "progress":
        return _progress_value(rest)
    if kind == "evaluate":
        return _evaluate_value(rest)
    if kind == "datetime":
        return _datetime_value(rest, today)
    return _resolve_value(rest, today)


def _first_lines(text: str, count: int) -> list[str]:
    lines: list[str] = []
    for raw in text.splitlines():
        line = _INVISIBLE.sub("", raw).strip()
        if line:
            lines.append(line)
            if len(lines) == count:
                break
    return lines


def read_keyword(new_text: str, context: str, *, today: date | None = None) -> tuple[str, object]:
    """``(action, value)`` for the new text of a reply in ``context``; ``("none", None)``."""
    table = _TABLE.get(context)
    if table is None:
        return "none", None
    for line in _first_lines(new_text, KEYWORD_LINES):
        probe = to_halfwidth(line)  # same length: positions carry over to ``line``
        match = _KEYWORD_AT_START.match(probe)
        if match is None:
            if _NEGATED_AT_START.match(probe):
                return "none", None
            continue
        entry = table.get(match.group(0).lower())
        if entry is None:
            continue  # the longest keyword belongs to another context
        action, kind = entry
        return action, _value(kind, line[match.end() :], today)
    return "none", None
