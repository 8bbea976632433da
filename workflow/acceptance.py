"""The explicit acceptance form (成果验收表 / 任务验收确认单, seed 002).

Where the profile has ``[stages] explicit_acceptance_form`` (enterprise), the acceptance
request for a delivered task is the form itself: task, deliverable, acceptance standard,
who delivered and who accepts, the dates (assigned, due, submitted, review deadline) and
the files. Each submission becomes an :class:`~store.models.AcceptanceRecord`, and the
acceptor's ``验收通过`` or ``退回：理由`` is recorded on it (result, comments, who signed,
when). ``liaison show --json`` lists the records as ``acceptances``; the dossier's
acceptance sheet is made of them. Other profiles keep the plain acceptance request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mail_parsers.model import ParsedMessage
from store.models import AcceptanceRecord, Request, Task
from store.uow import SqlUnitOfWork
from workflow import presenting
from workflow.actions import SendMail
from workflow.config import WorkflowConfig
from workflow.evaluation import request_evaluator_context
from workflow.people import language as _lang
from workflow.people import recipient as _recipient
from workflow.people import who as _who

FORM_KEYWORDS = {
    "zh": ["验收通过（验收结果：通过）", "退回：理由（验收结果：不通过，写明需要修改之处）"],
    "en": ["ACCEPT (result: accepted)", "RETURN: reason (result: not accepted, what must change)"],
}


def acceptance_form(
    task: Task,
    request: Request,
    parsed: ParsedMessage,
    *,
    inbound_id: int | None,
    deadline: datetime,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> SendMail:
    """The owner reported ``task`` done: its acceptance form to the acceptor, recorded as
    a pending acceptance record."""
    directory = config.directory
    acceptor = request.requester_email
    minutes = uow.minutes.get(task.minutes_id)
    record = uow.acceptances.add(
        AcceptanceRecord(
            request_id=request.id,
            task_id=task.id,
            task_ref=task.ref,
            task_title=task.title,
            deliverable=task.deliverable,
            acceptance=task.acceptance,
            owner=task.owner_email.lower(),
            acceptor=acceptor.lower(),
            assigned_at=minutes.final_at,
            due=task.due,
            submitted_at=now,
            review_due=deadline,
            inbound_message_id=inbound_id,
            result="pending",
        )
    )
    lang = _lang(directory, acceptor)
    return SendMail(
        template="requester/acceptance_form",
        to=(_recipient(directory, acceptor),),
        context={
            "number": request.number,
            "title": request.title,
            "task_ref": task.ref,
            "task_title": task.title,
            "deliverable": task.deliverable,
            "acceptance": task.acceptance or "",
            "owner": _who(directory, task.owner_email),
            "acceptor": _who(directory, acceptor),
            "assigned": presenting.format_instant(record.assigned_at, config.timezone, lang)
            if record.assigned_at
            else "",
            "due": presenting.format_date(task.due, lang),
            "submitted": presenting.format_instant(now, config.timezone, lang),
            "deadline": presenting.format_instant(deadline, config.timezone, lang),
            "attachments": [
                f"{a.filename or '(unnamed)'} ({presenting.format_size(a.size)})"
                for a in parsed.attachments
            ],
            "note": parsed.reply.new_text.strip()[:2000] if parsed.reply else "",
            "keywords": FORM_KEYWORDS[lang],
            **request_evaluator_context(request, config, lang),  # the signature
        },
        request_number=request.number,
        request_id=request.id,
        reply_context="deliverable",
        task=task.ref,
        attachments=tuple(
            (a.filename or "deliverable", a.content_type, a.data) for a in parsed.attachments
        ),
    )


def record_decision(
    task: Task, action: str, value: object, signer: str, *, uow: SqlUnitOfWork, now: datetime
) -> None:
    """The acceptor decided on the task's pending submission: the form's result, comments,
    signature and date. Nothing when the task has no pending form (other profiles)."""
    record = uow.acceptances.pending_for_task(task.id)
    if record is None:
        return
    record.result = "accepted" if action == "accept" else "returned"
    reason = str(value or "").strip() if action == "return" else ""
    record.comments = reason or None
    record.decided_by = signer.lower()
    record.decided_at = now


def acceptances_view(
    request: Request, uow: SqlUnitOfWork, config: WorkflowConfig
) -> list[dict[str, Any]]:
    """The ``acceptances`` entry of ``liaison show --json``: one per form sent."""
    tz = config.timezone

    def at(value: datetime | None) -> str | None:
        return value.astimezone(tz).isoformat() if value is not None else None

    return [
        {
            "task": r.task_ref,
            "task_title": r.task_title,
            "deliverable": r.deliverable,
            "acceptance_standard": r.acceptance,
            "owner": r.owner,
            "acceptor": r.acceptor,
            "assigned_at": at(r.assigned_at),
            "due": r.due.isoformat() if r.due else None,
            "submitted_at": at(r.submitted_at),
            "review_due": at(r.review_due),
            "attachments": [
                a.filename or ""
                for a in (
                    uow.attachments.for_message(r.inbound_message_id)
                    if r.inbound_message_id
                    else []
                )
            ],
            "result": r.result,
            "comments": r.comments,
            "decided_by": r.decided_by,
            "decided_at": at(r.decided_at),
        }
        for r in uow.acceptances.for_request(request.id)
    ]
