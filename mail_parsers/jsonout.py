"""``to_json``: a :class:`ParsedMessage` in the schema of ``shared/corpus/expected.json``
(also the output of ``liaison parse --json``, which adds ``"file"``)."""

from __future__ import annotations

from dataclasses import fields as dataclass_fields
from dataclasses import is_dataclass
from datetime import date, datetime
from typing import Any

from mail_parsers.dates import local_zone
from mail_parsers.model import (
    ActionItem,
    CalendarReply,
    IssueFields,
    MinutesFields,
    ParsedMessage,
    Person,
    ReplyReading,
    RequestFields,
)

DEFAULT_TIMEZONE = "Asia/Shanghai"


def _instant(value: datetime | None, timezone: str) -> str | None:
    if value is None:
        return None
    return value.astimezone(local_zone(timezone)).isoformat()


def _plain(value: object, timezone: str) -> object:
    """Dates to ISO text, tuples to lists, dataclasses to dicts, recursively."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime):
        return _instant(value, timezone)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v, timezone) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, timezone) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name), timezone) for f in dataclass_fields(value)}
    return str(value)


def _person(person: Person) -> dict[str, Any]:
    return {"name": person.name, "email": person.email}


def _action_item(item: ActionItem) -> dict[str, Any]:
    return {
        "title": item.title,
        "owner": _person(item.owner),
        "due": item.due.isoformat() if item.due else None,
        "deliverable": item.deliverable,
        "collaborators": [_person(p) for p in item.collaborators],
        "acceptance": item.acceptance,
    }


def _fields(p: ParsedMessage) -> dict[str, Any]:
    f = p.fields
    if isinstance(f, RequestFields):
        return {
            "title": f.title,
            "requesting_department": f.requesting_department,
            "receiving_departments": list(f.receiving_departments) or None,
            "background": f.background,
            "due": f.due.isoformat() if f.due else None,
            "urgency": f.urgency,
            "resources": f.resources,
            "acceptance_criteria": f.acceptance_criteria,
        }
    if isinstance(f, IssueFields):
        return {
            "task": f.task,
            "request": f.request,
            "description": f.description,
            "impact": f.impact,
            "tried": f.tried,
            "support": f.support,
            "urgency": f.urgency,
        }
    if isinstance(f, MinutesFields):
        return {
            "request": f.request,
            "attendees": list(f.attendees),
            "discussion": f.discussion,
            "decisions": f.decisions,
            "action_items": [_action_item(i) for i in f.action_items],
        }
    return {}


def _reply(reply: ReplyReading, timezone: str) -> dict[str, Any]:
    return {
        "action": reply.action,
        "value": _plain(reply.value, timezone),
        "context": reply.context,
        "request": reply.request,
        "task": reply.task,
        "in_reply_to": reply.in_reply_to,
    }


def _calendar(cal: CalendarReply, timezone: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "method": cal.method,
        "uid": cal.uid,
        "attendee": cal.attendee,
        "partstat": cal.partstat,
        "sequence": cal.sequence,
        "organizer": cal.organizer,
        "dtstart": _instant(cal.dtstart, timezone),
        "comment": cal.comment,
        "ics_parts": cal.ics_parts,
        "distinct_replies": cal.distinct_replies,
    }
    if cal.proposed_start is not None or cal.method.upper() == "COUNTER":
        out["proposed_start"] = _instant(cal.proposed_start, timezone)
        out["proposed_end"] = _instant(cal.proposed_end, timezone)
    return out


def to_json(p: ParsedMessage, *, timezone: str = DEFAULT_TIMEZONE) -> dict[str, Any]:
    """The expected.json shape of ``p``; instants are rendered in ``timezone``."""
    h = p.headers
    out: dict[str, Any] = {
        "kind": p.kind,
        "headers": {
            "from": h.from_addr,
            "from_name": h.from_name,
            "subject": h.subject,
            "message_id": h.message_id,
            "in_reply_to": h.in_reply_to,
            "date": _instant(h.date, timezone),
        },
        "fields": _fields(p),
        "errors": [
            {"field": e.field, "code": e.code, **({"raw": e.raw} if e.raw is not None else {})}
            for e in p.errors
        ],
        "reply": _reply(p.reply, timezone) if p.reply is not None else None,
        "calendar": _calendar(p.calendar, timezone) if p.calendar is not None else None,
    }
    if p.attachments:
        out["attachments"] = [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
            }
            for a in p.attachments
        ]
    if p.bounce is not None:
        out["bounce"] = _plain(p.bounce, timezone)
    if p.mdn is not None:
        out["mdn"] = _plain(p.mdn, timezone)
    if p.list_id is not None:
        out["list_id"] = p.list_id
    if p.hostile is not None:
        out["hostile"] = {"type": p.hostile.type, "detail": p.hostile.detail}
    return out
