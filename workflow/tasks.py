"""A task's life by reply: acknowledged, a new date asked and decided, progress, done, accepted.

Every function here runs on a sign-off ``workflow.signoff.judge`` accepted: the owner
answering their task mail, the lead answering a date-change request, the requester
answering an acceptance request. A keyword that does not fit the task's state changes
nothing and is answered with what would apply.
"""

from __future__ import annotations

from datetime import date, datetime

from mail_parsers.model import ParsedMessage
from store.models import Request, Task
from store.uow import SqlUnitOfWork
from workflow import presenting
from workflow.actions import Applied, SendMail
from workflow.clocks import start_clock, stop_clocks
from workflow.config import WorkflowConfig
from workflow.evaluation import request_evaluator_context
from workflow.execution import record_report
from workflow.people import language as _lang
from workflow.people import recipient as _recipient
from workflow.people import who as _who
from workflow.review import request_review
from workflow.signoff import Accepted

DATE_CHANGE_KEYWORDS = {
    "zh": ["同意改期（采用新期限）", "不同意改期（维持原期限）"],
    "en": ["APPROVE (take the new date)", "REJECT (keep the current date)"],
}
ACCEPTANCE_KEYWORDS = {
    "zh": ["验收通过", "退回：理由（说明需要修改之处）"],
    "en": ["ACCEPT", "RETURN: reason"],
}
_STATE_TEXT = {
    "zh": "任务 {ref} 当前状态为「{state}」，该答复不适用，未作任何更改。",
    "en": "Task {ref} is {state}; that answer does not apply and nothing was changed.",
}


def _task(verdict: Accepted, request: Request, uow: SqlUnitOfWork) -> Task | None:
    return uow.minutes.task(request.id, verdict.outbox.task_ref or "")


def _not_applicable(
    verdict: Accepted,
    request: Request,
    parsed: ParsedMessage,
    action: str,
    task: Task | None,
    config: WorkflowConfig,
) -> Applied:
    from workflow.replies import not_applicable

    lang = _lang(config.directory, verdict.signer)
    text = _STATE_TEXT[lang].format(ref=task.ref, state=task.state) if task is not None else ""
    return Applied(
        "not_applicable",
        (not_applicable(parsed, verdict.signer, request, action, text, [], config=config),),
    )


def apply_owner_reply(
    verdict: Accepted,
    action: str,
    value: object,
    request: Request,
    parsed: ParsedMessage,
    *,
    inbound_id: int | None,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> Applied:
    """The owner answers their task mail: 收到, 申请改期, 进度, 风险, 完成."""
    task = _task(verdict, request, uow)
    if task is None:
        return _not_applicable(verdict, request, parsed, action, None, config)
    if task.owner_email.lower() != verdict.on_behalf_of.lower():
        return _no_longer_owner(verdict, request, parsed, action, task, config)
    open_states = ("assigned", "acknowledged", "returned")
    if action in ("ack", "reschedule", "done"):
        stop_clocks(request.id, "task_acknowledged", uow=uow, now=now, subject=f"task:{task.ref}")
    if action == "ack" and task.state == "assigned":
        task.state = "acknowledged"
        task.acknowledged_at = now
        task.updated_at = now
        return Applied(
            "applied",
            (),
            f"{task.ref} 已确认期限 {task.due.isoformat() if task.due else ''}".strip(),
        )
    if action == "reschedule" and task.state in open_states:
        return _request_date_change(task, value, request, parsed, verdict, now=now, config=config)
    if action in ("progress", "risk") and task.state in open_states:
        if (
            action == "progress"
            and isinstance(value, dict)
            and isinstance(value.get("percent"), int)
        ):
            task.progress = int(value["percent"])
        task.updated_at = now
        _keep_report(task, action, value, verdict, parsed, inbound_id=inbound_id, uow=uow, now=now)
        return Applied("applied", (), f"{task.ref} {action}")
    if action == "done" and task.state in open_states:
        _keep_report(task, action, value, verdict, parsed, inbound_id=inbound_id, uow=uow, now=now)
        return _report_done(
            task, value, request, parsed, inbound_id=inbound_id, uow=uow, now=now, config=config
        )
    return _not_applicable(verdict, request, parsed, action, task, config)


def _keep_report(
    task: Task,
    action: str,
    value: object,
    verdict: Accepted,
    parsed: ParsedMessage,
    *,
    inbound_id: int | None,
    uow: SqlUnitOfWork,
    now: datetime,
) -> None:
    """The progress history (workflow.execution) keeps each 进度, 风险 and 完成 that applied."""
    record_report(
        task,
        action,
        value,
        author=verdict.signer,
        text=parsed.reply.new_text if parsed.reply else "",
        inbound_id=inbound_id,
        uow=uow,
        now=now,
    )


def _no_longer_owner(
    verdict: Accepted,
    request: Request,
    parsed: ParsedMessage,
    action: str,
    task: Task,
    config: WorkflowConfig,
) -> Applied:
    """An answer to a task mail of a former owner (a problem's resolution moved the task)."""
    from workflow.replies import not_applicable

    lang = _lang(config.directory, verdict.signer)
    owner = _who(config.directory, task.owner_email)
    text = (
        f"任务 {task.ref} 已改由 {owner} 负责，您的答复未作任何更改。"
        if lang == "zh"
        else f"Task {task.ref} is now owned by {owner}; your answer changed nothing."
    )
    return Applied(
        "not_applicable",
        (not_applicable(parsed, verdict.signer, request, action, text, [], config=config),),
    )


#: Task states of work under way: a new owner starts them afresh (``assigned``).
_UNDER_WAY = ("acknowledged", "returned")


def change_due(task: Task, new_due: date, *, uow: SqlUnitOfWork, now: datetime) -> None:
    """A new deadline is in force (an approved date change, a problem's resolution); a
    date the owner asked for is settled by it. An escalation still waiting for the old
    deadline (``task_overdue``) is dropped: the new date re-arms the overdue mark."""
    task.due = new_due
    task.requested_due = None
    task.requested_reason = None
    task.updated_at = now
    stop_clocks(task.request_id, "task_overdue", uow=uow, now=now, subject=f"task:{task.ref}")


def change_owner(
    task: Task, email: str, name: str | None, *, uow: SqlUnitOfWork, now: datetime
) -> None:
    """``task`` passes to a new owner (a problem's resolution with 新负责人).

    Nothing of the former owner counts any more: their acknowledgement, the clocks that
    await them. Work under way (``acknowledged``, or ``returned`` for rework by the
    requester) becomes newly assigned work (``assigned``) that awaits the new owner's
    acknowledgement, as on the original assignment: their 收到 acknowledges it, and
    进度, 风险, 完成 or 申请改期 apply as to any open task. A draft stays a draft (its
    task mail goes out with the final minutes); ``assigned`` stays ``assigned``. The
    caller sends the new owner the task mail (``workflow.minutes.assign_task``).
    """
    subject = f"task:{task.ref}"
    stop_clocks(task.request_id, "task_acknowledged", uow=uow, now=now, subject=subject)
    stop_clocks(task.request_id, "task_overdue", uow=uow, now=now, subject=subject)
    task.owner_email = email.lower()
    task.owner_name = name or None
    task.acknowledged_at = None
    if task.state in _UNDER_WAY:
        task.state = "assigned"
    task.updated_at = now


def _request_date_change(
    task: Task,
    value: object,
    request: Request,
    parsed: ParsedMessage,
    verdict: Accepted,
    *,
    now: datetime,
    config: WorkflowConfig,
) -> Applied:
    from workflow.replies import not_applicable

    asked = value.get("date") if isinstance(value, dict) else None
    reason = str(value.get("reason") or "") if isinstance(value, dict) else ""
    try:
        new_due = date.fromisoformat(str(asked)) if asked else None
    except ValueError:
        new_due = None
    today = now.astimezone(config.timezone).date()
    if new_due is None or new_due < today:
        lang = _lang(config.directory, verdict.signer)
        text = (
            "新日期无法识别或已过去，请写成“申请改期：2026-04-30 理由”。"
            if lang == "zh"
            else "The new date is unreadable or past; write 'RESCHEDULE: 2026-04-30 reason'."
        )
        return Applied(
            "not_applicable",
            (
                not_applicable(
                    parsed, verdict.signer, request, "reschedule", text, [], config=config
                ),
            ),
        )
    task.requested_due = new_due
    task.requested_reason = reason or None
    task.updated_at = now
    directory = config.directory
    head = directory.head_of(request.lead_department) if request.lead_department else None
    deciders = [head] if head else list(config.coordinators)
    mails = tuple(
        SendMail(
            template="lead/date_change_request",
            to=(_recipient(directory, decider),),
            context={
                "number": request.number,
                "title": request.title,
                "task_ref": task.ref,
                "task_title": task.title,
                "owner": _who(directory, task.owner_email),
                "current_due": presenting.format_date(task.due, _lang(directory, decider)),
                "requested_due": presenting.format_date(new_due, _lang(directory, decider)),
                "reason": reason,
                "keywords": DATE_CHANGE_KEYWORDS[_lang(directory, decider)],
            },
            request_number=request.number,
            request_id=request.id,
            reply_context="datechange",
            task=task.ref,
        )
        for decider in deciders
    )
    return Applied("applied", mails, f"{task.ref} 申请改期至 {new_due.isoformat()}")


def decide_date_change(
    verdict: Accepted,
    action: str,
    request: Request,
    parsed: ParsedMessage,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> Applied:
    """The lead answers a date-change request: 同意改期 (new deadline) or 不同意改期."""
    task = _task(verdict, request, uow)
    if task is None or task.requested_due is None:
        return _not_applicable(verdict, request, parsed, action, task, config)
    approved = action == "approve_date"
    if approved:
        change_due(task, task.requested_due, uow=uow, now=now)
    task.requested_due = None
    task.requested_reason = None
    task.updated_at = now
    directory = config.directory
    lang = _lang(directory, task.owner_email)
    mail = SendMail(
        template="owner/date_change_decided",
        to=(_recipient(directory, task.owner_email),),
        context={
            "number": request.number,
            "task_ref": task.ref,
            "task_title": task.title,
            "approved": approved,
            "due": presenting.format_date(task.due, lang),
            "decided_by": _who(directory, verdict.signer),
        },
        request_number=request.number,
        request_id=request.id,
    )
    due = task.due.isoformat() if task.due else ""
    detail = f"{task.ref} 期限{'改为' if approved else '维持'} {due}"
    return Applied("applied", (mail,), detail.strip())


def _report_done(
    task: Task,
    value: object,
    request: Request,
    parsed: ParsedMessage,
    *,
    inbound_id: int | None,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> Applied:
    task.state = "done"
    task.done_at = now
    stop_clocks(request.id, "task_overdue", uow=uow, now=now, subject=f"task:{task.ref}")
    start_clock(
        "acceptance_review",
        request,
        subject=f"task:{task.ref}",
        awaited=request.requester_email,
        what=f"验收任务 {task.ref}「{task.title}」的成果（回复“验收通过”或“退回：理由”）",
        original_subject=f"[验收] {request.number}/{task.ref} {task.title}",
        uow=uow,
        now=now,
        config=config,
    )
    task.done_message_id = inbound_id
    task.updated_at = now
    directory = config.directory
    reviewer = request.requester_email
    lang = _lang(directory, reviewer)
    deadline = config.profile.service_level("acceptance_review").due(now, config.calendar)
    files = [
        f"{a.filename or '(unnamed)'} ({presenting.format_size(a.size)})"
        for a in parsed.attachments
    ]
    mail = SendMail(
        template="requester/acceptance_request",
        to=(_recipient(directory, reviewer),),
        context={
            "number": request.number,
            "title": request.title,
            "task_ref": task.ref,
            "task_title": task.title,
            "owner": _who(directory, task.owner_email),
            "deliverable": task.deliverable,
            "acceptance": task.acceptance or "",
            "attachments": files,
            "note": parsed.reply.new_text.strip()[:2000] if parsed.reply else "",
            "keywords": ACCEPTANCE_KEYWORDS[lang],
            "deadline": presenting.format_instant(deadline, config.timezone, lang),
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
    if config.profile.stages.explicit_acceptance_form:  # 成果验收表 (seed 002)
        from workflow.acceptance import acceptance_form

        mail = acceptance_form(
            task,
            request,
            parsed,
            inbound_id=inbound_id,
            deadline=deadline,
            uow=uow,
            now=now,
            config=config,
        )
    return Applied("applied", (mail,), f"{task.ref} 完成，待验收")


def review_deliverable(
    verdict: Accepted,
    action: str,
    value: object,
    request: Request,
    parsed: ParsedMessage,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> Applied:
    """The requester accepts (验收通过) or returns (退回：理由) a delivered task."""
    task = _task(verdict, request, uow)
    if task is None or task.state != "done" or action not in ("accept", "return"):
        return _not_applicable(verdict, request, parsed, action, task, config)
    directory = config.directory
    lang = _lang(directory, task.owner_email)
    reviewer = _who(directory, verdict.signer)
    task.updated_at = now
    stop_clocks(request.id, "acceptance_review", uow=uow, now=now, subject=f"task:{task.ref}")
    from workflow.acceptance import record_decision

    record_decision(task, action, value, verdict.signer, uow=uow, now=now)  # 成果验收表, if any
    if action == "return":
        task.state = "returned"
        reason = str(value or "").strip()
        mail = SendMail(
            template="owner/deliverable_returned",
            to=(_recipient(directory, task.owner_email),),
            context={
                "number": request.number,
                "task_ref": task.ref,
                "task_title": task.title,
                "reviewer": reviewer,
                "reason": reason or ("（未说明）" if lang == "zh" else "(none given)"),
                "due": presenting.format_date(task.due, lang),
            },
            request_number=request.number,
            request_id=request.id,
            reply_context="task",
            task=task.ref,
        )
        return Applied("applied", (mail,), f"{task.ref} 退回：{reason}")
    task.state = "accepted"
    task.accepted_at = now
    mail = SendMail(
        template="owner/deliverable_accepted",
        to=(_recipient(directory, task.owner_email),),
        context={
            "number": request.number,
            "task_ref": task.ref,
            "task_title": task.title,
            "reviewer": reviewer,
            "at": presenting.format_instant(now, config.timezone, lang),
        },
        request_number=request.number,
        request_id=request.id,
    )
    if all(
        t.state == "accepted"
        for t in uow.minutes.tasks_of_request(request.id)
        if t.state != "draft"
    ):
        request.state = "delivered"
        request.updated_at = now
        review_mails = request_review(request, uow=uow, now=now, config=config)
        return Applied("applied", (mail, *review_mails), f"{task.ref} 验收通过，全部任务已验收")
    return Applied("applied", (mail,), f"{task.ref} 验收通过")
