"""Plan approval (方案审批, seed 004): department plans, the consolidated plan, the approvers.

Where the profile has the stage (``[stages] plan_approval``), final minutes ask the head
of each supporting department for their department's plan (``department_plans``, one
clock each) and the lead's head for the consolidated plan (``consolidated_plan``,
counted from the last department plan, or from the final minutes when no supporting
department has a head). Plans come as new mails ``[方案] NUMBER`` (kind ``plan``): free
text and attachments, kept with the record.

- From a supporting head: that department's plan (a later one is its next version),
  passed to the lead's head with its files. Its clock stops; the last one starts the
  consolidated plan's clock.
- From the lead's head: the next version of the consolidated plan. It goes to the
  directory's approvers (``[roles] approvers``) in order, first approver first
  (``[审批]``, context ``approval``, a Message-ID per approver). ``同意``/``批准`` passes
  it on to the next approver; the last approval marks it approved and tells the lead,
  the requester and the coordination office. ``驳回：理由`` sends it back to the lead with
  the reason (and restarts the consolidated plan's clock); the lead's next ``[方案]``
  starts a new version from the first approver. A new version supersedes one still
  being approved.

A ``[方案]`` mail from anybody else, for an unknown request, before the minutes are final,
or where the profile has no plan approval is answered with the reason and changes
nothing; so is an answer to a superseded version or from someone other than the approver
asked. Approval does not hold up the tasks: they go out with the final minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mail_parsers.message import parse_message
from mail_parsers.model import Attachment, ParsedMessage
from store.models import InboundMessage, Plan, PlanApproval, Request
from store.uow import SqlUnitOfWork
from workflow import presenting
from workflow.actions import Applied, Recipient, SendMail
from workflow.clocks import start_clock, stop_clocks
from workflow.config import WorkflowConfig
from workflow.directory import Directory
from workflow.lookup import request_named
from workflow.people import language as _lang
from workflow.people import recipient as _recipient
from workflow.people import who as _who
from workflow.signoff import CLOSED_STATES, Accepted

APPROVAL_KEYWORDS = {
    "zh": ["同意（或：批准）", "驳回：理由（说明需要修改之处）"],
    "en": ["APPROVE", "REJECT: reason (what must change)"],
}
#: Longest plan text kept and shown in mails; the files travel as attachments.
_TEXT_LIMIT = 10_000


def _is(person: str | None, sender: str, directory: Directory) -> bool:
    """``sender`` is ``person`` or signs for them (a delegate)."""
    return person is not None and directory.may_sign_for(person, sender)


# --- who sends what ---------------------------------------------------------------------


def lead_heads(request: Request, config: WorkflowConfig) -> list[str]:
    """Who sends the consolidated plan: the lead department's head (the coordination
    office when the directory names none)."""
    head = config.directory.head_of(request.lead_department) if request.lead_department else None
    return [head.lower()] if head else [a.lower() for a in config.coordinators]


def supporting_heads(request: Request, config: WorkflowConfig) -> list[tuple[str, str]]:
    """(department, head) of every supporting department whose head is not the lead's."""
    leads = lead_heads(request, config)
    found: list[tuple[str, str]] = []
    for department in request.supporting_departments:
        head = config.directory.head_of(department)
        if head and head.lower() not in leads and head.lower() not in [h for _, h in found]:
            found.append((department, head.lower()))
    return found


def approvers(config: WorkflowConfig) -> list[str]:
    """The approvers in order: the directory's, else the coordination office."""
    listed = config.directory.approvers or tuple(config.coordinators)
    return [a.lower() for a in listed]


# --- final minutes: the plans are asked for ------------------------------------------------


def ask_for_plans(
    request: Request, *, uow: SqlUnitOfWork, now: datetime, config: WorkflowConfig
) -> list[SendMail]:
    """The minutes are final: where the profile has plan approval, each supporting head
    is asked for their department's plan and the lead's head for the consolidated plan."""
    if not config.profile.stages.plan_approval or uow.plans.for_request(request.id):
        return []
    supporting = supporting_heads(request, config)
    mails: list[SendMail] = []
    for department, head in supporting:
        start_clock(
            "department_plans",
            request,
            subject=f"plan:{department}",
            awaited=head,
            what=f"以主题“[方案] {request.number}”发送{department}的实施方案",
            original_subject="",  # a new mail, not a reply
            uow=uow,
            now=now,
            config=config,
        )
        mails.append(_plan_request(request, head, department, False, supporting, now, config))
    if not supporting:
        _expect_consolidated(request, uow=uow, now=now, config=config)
    for head in lead_heads(request, config):
        department = request.lead_department or ""
        mails.append(_plan_request(request, head, department, True, supporting, now, config))
    return mails


def _plan_request(
    request: Request,
    head: str,
    department: str,
    consolidated: bool,
    supporting: Sequence[tuple[str, str]],
    now: datetime,
    config: WorkflowConfig,
) -> SendMail:
    directory = config.directory
    lang = _lang(directory, head)
    # Both clocks are set wherever the stage is on (workflow.profiles.CLOCKS_OF_STAGE).
    limit = config.profile.service_level("department_plans").due(now, config.calendar)
    if consolidated:
        # Counted from the last department plan: at the latest its limit after theirs.
        base = limit if supporting else now
        limit = config.profile.service_level("consolidated_plan").due(base, config.calendar)
    sep = "、" if lang == "zh" else ", "
    return SendMail(
        template="head/plan_request",
        to=(_recipient(directory, head),),
        context={
            "number": request.number,
            "title": request.title,
            "consolidated": consolidated,
            "department": department,
            "lead_department": request.lead_department or "",
            "supporting_departments": sep.join(d for d, _ in supporting),
            "approvers": sep.join(_who(directory, a) for a in approvers(config)),
            "deadline": presenting.format_instant(limit, config.timezone, lang),
            "tag": f"[方案] {request.number}" if lang == "zh" else f"[PLAN] {request.number}",
        },
        request_number=request.number,
        request_id=request.id,
    )


def _expect_consolidated(
    request: Request, *, uow: SqlUnitOfWork, now: datetime, config: WorkflowConfig
) -> None:
    stop_clocks(request.id, "consolidated_plan", uow=uow, now=now)
    for head in lead_heads(request, config):
        start_clock(
            "consolidated_plan",
            request,
            subject="plan:consolidated",
            awaited=head,
            what=f"以主题“[方案] {request.number}”发送跨部门协作总体方案",
            original_subject="",  # a new mail, not a reply
            uow=uow,
            now=now,
            config=config,
        )


# --- a [方案] mail ----------------------------------------------------------------------------


def record_plan(
    parsed: ParsedMessage,
    row: InboundMessage,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> tuple[str | None, list[SendMail]]:
    """A ``[方案] NUMBER`` mail: a department plan, the next version of the consolidated
    plan, or (anything else) an answer saying why nothing was recorded."""
    directory = config.directory
    sender = (parsed.headers.from_addr or "").lower()
    lang = _lang(directory, sender) if directory.person(sender) else parsed.language
    request = request_named(parsed.headers.subject, uow, config.parse_options.request_number)
    if request is not None:
        row.request_id = request.id
    refusal = _refusal(request, sender, uow=uow, config=config, lang=lang)
    if refusal is not None or request is None:
        return (request.number if request else None), _not_taken(parsed, request, refusal, lang)
    if any(_is(head, sender, directory) for head in lead_heads(request, config)):
        return request.number, _consolidated(parsed, row, request, uow=uow, now=now, config=config)
    department = next(
        d for d, head in supporting_heads(request, config) if _is(head, sender, directory)
    )
    return request.number, _department_plan(
        parsed, row, request, department, uow=uow, now=now, config=config
    )


def _refusal(
    request: Request | None,
    sender: str,
    *,
    uow: SqlUnitOfWork,
    config: WorkflowConfig,
    lang: str,
) -> str | None:
    """Why a plan mail cannot be recorded; None when it can."""
    zh = lang == "zh"
    if request is None:
        return (
            "邮件主题中没有可识别的需求编号。"
            if zh
            else "The subject names no request number we know."
        )
    if not config.profile.stages.plan_approval:
        return (
            f"当前流程（{config.profile.title}）不设方案审批环节，方案未予登记。"
            if zh
            else f"The process in use ({config.profile.name}) has no plan approval; "
            "the plan was not recorded."
        )
    if request.state in CLOSED_STATES or request.state in ("registered", "returned"):
        return (
            f"需求 {request.number} 当前状态为「{request.state}」，不接收方案。"
            if zh
            else f"Request {request.number} is {request.state} and takes no plan."
        )
    if not any(m.state == "final" for m in uow.minutes.for_request(request.id)):
        return (
            f"需求 {request.number} 的会议纪要尚未定稿；纪要定稿后再提交方案。"
            if zh
            else f"The minutes of request {request.number} are not final yet; send the plan "
            "once they are."
        )
    directory = config.directory
    if any(_is(head, sender, directory) for head in lead_heads(request, config)) or any(
        _is(head, sender, directory) for _, head in supporting_heads(request, config)
    ):
        return None
    return (
        f"只有需求 {request.number} 牵头部门和配合部门的负责人可以提交方案，方案未予登记。"
        if zh
        else f"Only the heads of the lead and supporting departments of request "
        f"{request.number} send its plans; the plan was not recorded."
    )


def _not_taken(
    parsed: ParsedMessage, request: Request | None, reason: str | None, lang: str
) -> list[SendMail]:
    sender = parsed.headers.from_addr
    if not sender:
        return []
    return [
        SendMail(
            template="sender/plan_not_taken",
            to=(Recipient(sender, parsed.headers.from_name, lang),),  # type: ignore[arg-type]
            context={
                "subject": parsed.headers.subject,
                "number": request.number if request else "",
                "reason": reason or "",
            },
            request_number=request.number if request else None,
            request_id=request.id if request else None,
        ).in_answer_to(parsed.headers.message_id)
    ]


def _text(parsed: ParsedMessage) -> str:
    return parsed.text.strip()[:_TEXT_LIMIT]


def _files(attachments: Sequence[Attachment]) -> list[str]:
    return [f"{a.filename or '(unnamed)'} ({presenting.format_size(a.size)})" for a in attachments]


def _department_plan(
    parsed: ParsedMessage,
    row: InboundMessage,
    request: Request,
    department: str,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> list[SendMail]:
    sender = (parsed.headers.from_addr or "").lower()
    earlier = [
        p for p in uow.plans.for_request(request.id, "department") if p.department == department
    ]
    for old in earlier:
        old.state = "superseded"
    plan = uow.plans.add(
        Plan(
            request_id=request.id,
            kind="department",
            department=department,
            version=len(earlier) + 1,
            state="submitted",
            author=sender,
            text=_text(parsed),
            inbound_message_id=row.id,
            created_at=now,
        )
    )
    stop_clocks(request.id, "department_plans", uow=uow, now=now, subject=f"plan:{department}")
    submitted = {p.department for p in uow.plans.for_request(request.id, "department")}
    missing = [d for d, _ in supporting_heads(request, config) if d not in submitted]
    if not missing and not uow.plans.for_request(request.id, "consolidated"):
        _expect_consolidated(request, uow=uow, now=now, config=config)
    directory = config.directory
    files = _files(parsed.attachments)
    mails: list[SendMail] = []
    for head in lead_heads(request, config):
        lang = _lang(directory, head)
        mails.append(
            SendMail(
                template="lead/department_plan",
                to=(_recipient(directory, head),),
                context={
                    "number": request.number,
                    "title": request.title,
                    "department": department,
                    "author": _who(directory, sender),
                    "version": str(plan.version),
                    "text": plan.text,
                    "attachments": files,
                    "missing": ("、" if lang == "zh" else ", ").join(missing),
                    "tag": f"[方案] {request.number}"
                    if lang == "zh"
                    else f"[PLAN] {request.number}",
                },
                request_number=request.number,
                request_id=request.id,
                attachments=tuple(
                    (a.filename or "plan", a.content_type, a.data) for a in parsed.attachments
                ),
            )
        )
    lang = _lang(directory, sender)
    next_step = (
        "已转交牵头部门负责人汇总，纳入跨部门协作总体方案后报审批人审批。"
        if lang == "zh"
        else "It has been passed to the lead department's head, whose consolidated plan "
        "goes to the approvers."
    )
    mails.append(_recorded(parsed, request, plan, files, next_step, lang))
    return mails


def _consolidated(
    parsed: ParsedMessage,
    row: InboundMessage,
    request: Request,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> list[SendMail]:
    sender = (parsed.headers.from_addr or "").lower()
    earlier = uow.plans.for_request(request.id, "consolidated")
    for old in earlier:
        if old.state == "pending":
            old.state = "superseded"
            for step in uow.plans.approvals(old.id):
                if step.state in ("waiting", "asked"):
                    step.state = "skipped"
    plan = uow.plans.add(
        Plan(
            request_id=request.id,
            kind="consolidated",
            department=request.lead_department or "",
            version=len(earlier) + 1,
            state="pending",
            author=sender,
            text=_text(parsed),
            inbound_message_id=row.id,
            created_at=now,
        )
    )
    stop_clocks(request.id, "consolidated_plan", uow=uow, now=now)
    stop_clocks(request.id, "department_plans", uow=uow, now=now)  # consolidated without them
    steps = [
        uow.plans.add_approval(
            PlanApproval(plan_id=plan.id, position=position, approver=approver, state="waiting")
        )
        for position, approver in enumerate(approvers(config), start=1)
    ]
    directory = config.directory
    lang = _lang(directory, sender)
    files = _files(parsed.attachments)
    if not steps:  # nobody to ask: approved as sent
        plan.state = "approved"
        plan.decided_at = now
        return [
            _recorded(parsed, request, plan, files, "", lang),
            *_approved(plan, request, uow=uow, config=config),
        ]
    sep = "、" if lang == "zh" else ", "
    order = sep.join(_who(directory, s.approver) for s in steps)
    next_step = (
        f"已按顺序送审批人审批：{order}。审批结果将另行通知。"
        if lang == "zh"
        else f"It has gone to the approvers in this order: {order}. You will hear of the result."
    )
    return [
        _recorded(parsed, request, plan, files, next_step, lang),
        _ask(steps[0], plan, request, uow=uow, now=now, config=config, parsed=parsed),
    ]


def _recorded(
    parsed: ParsedMessage,
    request: Request,
    plan: Plan,
    files: list[str],
    next_step: str,
    lang: str,
) -> SendMail:
    sender = parsed.headers.from_addr or plan.author
    return SendMail(
        template="sender/plan_recorded",
        to=(Recipient(sender, parsed.headers.from_name, lang),),  # type: ignore[arg-type]
        context={
            "number": request.number,
            "title": request.title,
            "consolidated": plan.kind == "consolidated",
            "department": plan.department,
            "version": str(plan.version),
            "attachments": files,
            "next_step": next_step,
        },
        request_number=request.number,
        request_id=request.id,
    ).in_answer_to(parsed.headers.message_id)


# --- approvers ----------------------------------------------------------------------------


def _plan_attachments(
    plan: Plan, uow: SqlUnitOfWork, config: WorkflowConfig, parsed: ParsedMessage | None
) -> tuple[Attachment, ...]:
    """The plan's files: from the mail at hand, else read again from the stored message."""
    if parsed is not None:
        return parsed.attachments
    raw = uow.inbound.get(plan.inbound_message_id).raw
    return parse_message(raw, config.parse_options).attachments


def _ask(
    step: PlanApproval,
    plan: Plan,
    request: Request,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
    parsed: ParsedMessage | None = None,
) -> SendMail:
    """The approval request to the approver of ``step``."""
    step.state = "asked"
    step.asked_at = now
    directory = config.directory
    lang = _lang(directory, step.approver)
    steps = uow.plans.approvals(plan.id)
    earlier = [
        _decision_line(s, directory, config, lang)
        for s in steps
        if s.position < step.position and s.state == "approved"
    ]
    files = _plan_attachments(plan, uow, config, parsed)
    department_plans = [
        _department_line(p, directory, config, lang)
        for p in uow.plans.for_request(request.id, "department")
        if p.state == "submitted"
    ]
    return SendMail(
        template="approver/plan_approval",
        to=(_recipient(directory, step.approver),),
        context={
            "number": request.number,
            "title": request.title,
            "version": str(plan.version),
            "lead_department": request.lead_department or "",
            "author": _who(directory, plan.author),
            "submitted": presenting.format_instant(plan.created_at, config.timezone, lang),
            "position": f"第 {step.position} 位（共 {len(steps)} 位）"
            if lang == "zh"
            else f"{step.position} of {len(steps)}",
            "text": plan.text,
            "attachments": _files(files),
            "department_plans": department_plans,
            "earlier": earlier,
            "keywords": APPROVAL_KEYWORDS[lang],
        },
        request_number=request.number,
        request_id=request.id,
        reply_context="approval",
        task=f"a{step.id}",
        attachments=tuple((a.filename or "plan", a.content_type, a.data) for a in files),
    )


def _decision_line(
    step: PlanApproval, directory: Directory, config: WorkflowConfig, lang: str
) -> str:
    at = (
        presenting.format_instant(step.decided_at, config.timezone, lang) if step.decided_at else ""
    )
    if lang == "zh":
        verdict = {"approved": "同意", "rejected": "驳回"}.get(step.state, step.state)
        return f"{_who(directory, step.approver)}：{verdict} {at}".rstrip()
    verdict = {"approved": "approved", "rejected": "rejected"}.get(step.state, step.state)
    return f"{_who(directory, step.approver)}: {verdict} {at}".rstrip()


def _department_line(plan: Plan, directory: Directory, config: WorkflowConfig, lang: str) -> str:
    at = presenting.format_instant(plan.created_at, config.timezone, lang)
    if lang == "zh":
        return f"{plan.department}：{_who(directory, plan.author)}，第{plan.version}版，{at}"
    return f"{plan.department}: {_who(directory, plan.author)}, version {plan.version}, {at}"


def apply_approval(
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
    """An approver answers an approval request: 同意/批准 or 驳回：理由."""
    from workflow.replies import not_applicable

    ref = verdict.outbox.task_ref or ""
    step = uow.plans.approval(int(ref[1:])) if ref.startswith("a") and ref[1:].isdigit() else None
    plan = uow.plans.get(step.plan_id) if step is not None else None
    lang = _lang(config.directory, verdict.signer)
    text = _not_open_text(step, plan, verdict, request, uow=uow, lang=lang)
    if step is None or plan is None or text is not None or action not in ("approve", "reject"):
        keywords = APPROVAL_KEYWORDS[lang] if text is None and step is not None else []
        return Applied(
            "not_applicable",
            (
                not_applicable(
                    parsed, verdict.signer, request, action, text or "", keywords, config=config
                ),
            ),
        )
    step.decided_at = now
    step.decided_by = verdict.signer
    if action == "reject":
        return _reject(
            step, plan, request, str(value or "").strip(), uow=uow, now=now, config=config
        )
    step.state = "approved"
    following = [s for s in uow.plans.approvals(plan.id) if s.state == "waiting"]
    if following:
        mail = _ask(following[0], plan, request, uow=uow, now=now, config=config)
        return Applied("applied", (mail,), f"第{plan.version}版总体方案：同意，已转下一位审批人")
    plan.state = "approved"
    plan.decided_at = now
    return Applied(
        "applied",
        tuple(_approved(plan, request, uow=uow, config=config)),
        f"第{plan.version}版总体方案：同意，审批通过",
    )


def _not_open_text(
    step: PlanApproval | None,
    plan: Plan | None,
    verdict: Accepted,
    request: Request,
    *,
    uow: SqlUnitOfWork,
    lang: str,
) -> str | None:
    """Why this approval request takes no decision now; None when it does."""
    zh = lang == "zh"
    if step is None or plan is None:
        return None  # not ours to explain: the generic answer
    if plan.state == "superseded":
        latest = max(p.version for p in uow.plans.for_request(request.id, "consolidated"))
        return (
            f"第{plan.version}版总体方案已被第{latest}版取代，对旧版本的答复不再生效，未作任何更改。"
            if zh
            else f"Version {plan.version} of the plan was superseded by version {latest}; "
            "an answer about it changes nothing."
        )
    if step.approver != verdict.on_behalf_of.lower():
        return (
            "该审批请求不是发给您的，只有被请求的审批人可以作出决定，未作任何更改。"
            if zh
            else "This approval request was not sent to you; only the approver asked decides. "
            "Nothing was changed."
        )
    if step.state != "asked" or plan.state != "pending":
        return (
            f"第{plan.version}版总体方案的这一审批步骤已结束（{step.state}），未作任何更改。"
            if zh
            else f"This approval step of version {plan.version} is over ({step.state}); "
            "nothing was changed."
        )
    return None


def _reject(
    step: PlanApproval,
    plan: Plan,
    request: Request,
    reason: str,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> Applied:
    step.state = "rejected"
    step.reason = reason or None
    plan.state = "rejected"
    plan.decided_at = now
    for later in uow.plans.approvals(plan.id):
        if later.state == "waiting":
            later.state = "skipped"
    _expect_consolidated(request, uow=uow, now=now, config=config)
    directory = config.directory
    mails = []
    for head in lead_heads(request, config):
        lang = _lang(directory, head)
        mails.append(
            SendMail(
                template="lead/plan_rejected",
                to=(_recipient(directory, head),),
                context={
                    "number": request.number,
                    "title": request.title,
                    "version": str(plan.version),
                    "approver": _who(directory, step.approver),
                    "reason": reason or ("（未说明）" if lang == "zh" else "(none given)"),
                    "tag": f"[方案] {request.number}"
                    if lang == "zh"
                    else f"[PLAN] {request.number}",
                },
                request_number=request.number,
                request_id=request.id,
            )
        )
    detail = f"第{plan.version}版总体方案：驳回" + (f"，理由：{reason}" if reason else "")
    return Applied("applied", tuple(mails), detail)


def _approved(
    plan: Plan, request: Request, *, uow: SqlUnitOfWork, config: WorkflowConfig
) -> list[SendMail]:
    """The last approver approved: the lead, the requester and the office are told."""
    directory = config.directory
    people: list[str] = []
    for address in [
        *lead_heads(request, config),
        request.requester_email.lower(),
        *(a.lower() for a in config.coordinators),
    ]:
        if address not in people:
            people.append(address)
    steps = uow.plans.approvals(plan.id)
    mails = []
    for person in people:
        lang = _lang(directory, person)
        mails.append(
            SendMail(
                template="participant/plan_approved",
                to=(_recipient(directory, person),),
                context={
                    "number": request.number,
                    "title": request.title,
                    "version": str(plan.version),
                    "author": _who(directory, plan.author),
                    "approvals": [_decision_line(s, directory, config, lang) for s in steps],
                },
                request_number=request.number,
                request_id=request.id,
            )
        )
    return mails


# --- the read side ----------------------------------------------------------------------------


def plans_view(request: Request, uow: SqlUnitOfWork, config: WorkflowConfig) -> dict[str, Any]:
    """The ``plans`` entry of ``liaison show --json``: whether the stage runs, where it
    stands, each department plan and each consolidated version with every approver's
    decision."""
    tz = config.timezone

    def at(value: datetime | None) -> str | None:
        return value.astimezone(tz).isoformat() if value is not None else None

    def files(plan: Plan) -> list[str]:
        return [a.filename or "" for a in uow.attachments.for_message(plan.inbound_message_id)]

    department = uow.plans.for_request(request.id, "department")
    consolidated = uow.plans.for_request(request.id, "consolidated")
    if consolidated:
        state: str | None = consolidated[-1].state
    elif config.profile.stages.plan_approval and any(
        m.state == "final" for m in uow.minutes.for_request(request.id)
    ):
        state = "awaiting_plans"
    else:
        state = None
    return {
        "required": config.profile.stages.plan_approval,
        "state": state,
        "department_plans": [
            {
                "department": p.department,
                "author": p.author,
                "version": p.version,
                "state": p.state,
                "submitted_at": at(p.created_at),
                "attachments": files(p),
            }
            for p in department
        ],
        "versions": [
            {
                "version": p.version,
                "state": p.state,
                "author": p.author,
                "submitted_at": at(p.created_at),
                "decided_at": at(p.decided_at),
                "attachments": files(p),
                "approvals": [
                    {
                        "position": s.position,
                        "approver": s.approver,
                        "state": s.state,
                        "reason": s.reason,
                        "decided_by": s.decided_by,
                        "asked_at": at(s.asked_at),
                        "decided_at": at(s.decided_at),
                    }
                    for s in uow.plans.approvals(p.id)
                ],
            }
            for p in consolidated
        ],
    }
