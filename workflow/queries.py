"""Read-side views for the command line: plain dicts ready for JSON or a table."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from store.models import Request
from store.uow import SqlUnitOfWork
from workflow.acceptance import acceptances_view
from workflow.config import WorkflowConfig
from workflow.errors import NotFoundError
from workflow.execution import overdue_alerts
from workflow.plans import plans_view


def next_deadline(request: Request, uow: SqlUnitOfWork) -> datetime | None:
    """When the earliest thing the request waits for is due (its open clocks)."""
    clock = uow.clocks.next_for_request(request.id)
    return clock.due_at if clock is not None else None


def request_summary(request: Request, config: WorkflowConfig, uow: SqlUnitOfWork) -> dict[str, Any]:
    tz = config.timezone
    deadline = next_deadline(request, uow)
    return {
        "number": request.number,
        "state": request.state,
        "title": request.title,
        "requester": request.requester_email,
        "due": request.due.isoformat() if request.due else None,
        "created_at": request.created_at.astimezone(tz).isoformat(),
        "next_deadline": deadline.astimezone(tz).isoformat() if deadline else None,
    }


def list_requests(
    uow: SqlUnitOfWork, config: WorkflowConfig, state: str | None = None
) -> list[dict[str, Any]]:
    return [request_summary(r, config, uow) for r in uow.requests.list(state=state)]


def show_request(uow: SqlUnitOfWork, number: str, config: WorkflowConfig) -> dict[str, Any]:
    tz = config.timezone
    request = uow.requests.by_number(number.upper())
    if request is None:
        raise NotFoundError(f"no request numbered {number}")
    view = request_summary(request, config, uow)
    tasks = uow.minutes.tasks_of_request(request.id)
    overdue = overdue_alerts(uow, tasks)
    view.update(
        {
            "revision": request.revision,
            "profile": request.profile,
            "requester_name": request.requester_name,
            "requesting_department": request.requesting_department,
            "receiving_departments": list(request.receiving_departments),
            "lead_department": request.lead_department,
            "supporting_departments": list(request.supporting_departments),
            "background": request.background,
            "urgency": request.urgency,
            "resources": request.resources,
            "acceptance_criteria": request.acceptance_criteria,
            "meetings": [
                {
                    "kind": m.kind,
                    "uid": m.uid,
                    "sequence": m.sequence,
                    "status": m.status,
                    "start": m.start.astimezone(tz).isoformat(),
                    "end": m.end.astimezone(tz).isoformat(),
                    "attendees": [
                        {
                            "email": a.email,
                            "name": a.name,
                            "role": a.role,
                            "partstat": a.partstat,
                            "comment": a.comment,
                        }
                        for a in uow.meetings.attendees(m.id)
                        if not a.removed
                    ],
                    "proposals": [
                        {
                            "attendee": p.attendee,
                            "start": p.proposed_start.astimezone(tz).isoformat(),
                            "end": p.proposed_end.astimezone(tz).isoformat(),
                        }
                        for p in uow.meetings.pending_proposals(m.id)
                    ],
                }
                for m in uow.meetings.for_request(request.id)
            ],
            "minutes": [
                {
                    "version": m.version,
                    "state": m.state,
                    "author": m.author,
                    "confirmations": [
                        {"email": c.head, "department": c.department, "state": c.state}
                        for c in uow.minutes.confirmations(m.id)
                    ],
                }
                for m in uow.minutes.for_request(request.id)
            ],
            "tasks": [
                {
                    "id": t.ref,
                    "title": t.title,
                    "owner": t.owner_email,
                    "due": t.due.isoformat() if t.due else None,
                    "state": t.state,
                    "acknowledged": t.acknowledged_at is not None,
                    "progress": t.progress,
                    # 延期: open and past the deadline of its current due date.
                    "overdue": t.id in overdue,
                    "overdue_since": overdue[t.id].astimezone(tz).isoformat()
                    if t.id in overdue
                    else None,
                }
                for t in tasks
            ],
            "problems": [
                {
                    "id": i.id,
                    "state": i.state,
                    "task": i.task_ref,
                    "description": i.description,
                    "reporter": i.reporter_email,
                    "resolution": i.resolution,
                    "new_due": i.resolution_due.isoformat() if i.resolution_due else None,
                    "new_owner": i.resolution_owner,
                    "resolved_by": i.resolved_by,
                    "resolved_at": i.resolved_at.astimezone(tz).isoformat()
                    if i.resolved_at
                    else None,
                }
                for i in uow.issues.for_request(request.id)
            ],
            "review": _review_view(request, uow, tz),
            "plans": plans_view(request, uow, config),
            "acceptances": acceptances_view(request, uow, config),
            "communications": [
                {
                    "at": c.at.astimezone(tz).isoformat(),
                    "direction": c.direction,
                    "from": c.from_addr,
                    "to": list(c.to_addrs),
                    "subject": c.subject,
                    "kind": c.kind,
                }
                for c in uow.communications.for_request(request.id)
            ],
        }
    )
    return view


def _review_view(request: Request, uow: SqlUnitOfWork, tz: ZoneInfo) -> dict[str, Any] | None:
    """The lead's review of the request (复盘), once received; None before."""
    review = uow.reviews.for_request(request.id)
    if review is None:
        return None
    return {
        "author": review.author,
        "received_at": review.received_at.astimezone(tz).isoformat(),
        "goals": review.goals,
        "successes": review.successes,
        "shortcomings": review.shortcomings,
        "improvements": review.improvements,
        "attachments": [
            {"filename": a.filename, "size": a.size, "sha256": a.sha256}
            for a in uow.attachments.for_message(review.inbound_message_id)
        ],
        "archived_at": review.archived_at.astimezone(tz).isoformat()
        if review.archived_at
        else None,
    }


def quarantine_list(uow: SqlUnitOfWork, tz: ZoneInfo) -> list[dict[str, Any]]:
    return [
        {
            "id": m.id,
            "received_at": m.received_at.astimezone(tz).isoformat(),
            "source": m.source,
            "message_id": m.message_id,
            "kind": m.kind,
            "attempts": m.attempts,
            "reason": m.reason,
        }
        for m in uow.inbound.quarantined()
    ]


def review_list(uow: SqlUnitOfWork, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Sign-offs held for the office's review, oldest first."""
    rows = []
    for held in uow.signoffs.pending_review():
        request = uow.requests.by_id(held.request_id) if held.request_id else None
        rows.append(
            {
                "id": held.id,
                "created_at": held.created_at.astimezone(tz).isoformat(),
                "number": request.number if request else None,
                "sender": held.sender,
                "action": held.action,
                "reason": held.reason,
                "detail": held.detail,
                "inbound_message_id": held.inbound_message_id,
            }
        )
    return rows
