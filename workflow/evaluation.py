"""Evaluation: the request is accepted naming the departments, or returned.

The evaluator is the coordination office, or, where the profile has no office step
(``[stages] evaluation_by_office = false``, intra-department), the head of the
requester's department: the evaluation notice goes to them and their ``受理``/``退回``
decides (:func:`ask_for_evaluation`).

Called with a sign-off already judged trustworthy (``workflow.signoff``). A keyword that
does not fit the request's state, or names a department the directory does not know,
changes nothing and is answered with what would apply.

A ``受理`` that names no lead department accepts the request without scheduling
anything: the evaluator is asked, in a new mail of its own (one decision per asking
mail), to name the departments (``name_departments`` clock). The ``受理 牵头部门：…``
answer to that mail stops the clock and schedules the kickoff; the kickoff starts the
``minutes_sent`` clock, due the profile's limit after the meeting ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from mail_parsers.model import Attachment, ParsedMessage
from store.models import Request
from store.uow import SqlUnitOfWork
from workflow import presenting
from workflow.actions import Applied, Recipient, SendMail
from workflow.clocks import start_clock, stop_clocks
from workflow.config import WorkflowConfig
from workflow.meetings import cancel_meetings, schedule_kickoff
from workflow.minutes import expect_minutes
from workflow.people import evaluating_department, signature
from workflow.people import language as _lang
from workflow.people import recipient as _recipient
from workflow.people import who as _who
from workflow.signoff import Accepted

EVALUATION_KEYWORDS = {
    "zh": ["受理 牵头部门：X 配合部门：Y、Z", "退回：理由"],
    "en": ["ACCEPT lead: X support: Y, Z", "RETURN: reason"],
}
_STATE_TEXT = {
    "zh": "需求 {number} 当前状态为「{state}」，不再接受评估答复，未作任何更改。",
    "en": (
        "Request {number} is {state} and no longer takes an evaluation answer; nothing was changed."
    ),
}


def evaluators(request: Request, config: WorkflowConfig) -> tuple[str, ...]:
    """Who evaluates ``request``: the coordination office; where the profile has no
    office step, the head of the requester's department (:func:`evaluating_department`),
    and the office again when the directory names no such head."""
    department = evaluating_department(
        request.requester_email, request.requesting_department, config
    )
    if department is not None:
        return (department.head.lower(),)
    return tuple(a.lower() for a in config.coordinators)


def evaluator_context(
    requester: str, requesting_department: str, config: WorkflowConfig, language: str
) -> dict[str, str]:
    """How the requester's mails name who evaluates their request and who signs them,
    in ``language`` (the ``evaluator`` and ``signature`` of ``templates/requester/``).

    The coordination office evaluates: "协调办公室" / "the coordination office", signed
    "协调办公室" / "Coordination office". The head of the requester's department does
    (no office step): "财务部负责人何军" / "何军 (head of 财务部)", and the mail, sent by
    the coordination mailbox for that department, is signed "财务部协调邮箱" /
    "财务部 coordination mailbox" rather than by an office that has no part in it."""
    department = evaluating_department(requester, requesting_department, config)
    english = language == "en"
    signed = signature(department, language)
    if department is None:
        return {
            "evaluator": "the coordination office" if english else "协调办公室",
            "signature": signed,
        }
    head = config.directory.person(department.head)
    name = head.name if head is not None and head.name else ""
    if english:
        evaluator = (
            f"{name} (head of {department.name})" if name else f"the head of {department.name}"
        )
        return {"evaluator": evaluator, "signature": signed}
    space = " " if name[:1].isascii() else ""  # 财务部负责人何军, 市场部负责人 Emily Clark
    return {"evaluator": f"{department.name}负责人{space}{name}", "signature": signed}


def request_evaluator_context(
    request: Request, config: WorkflowConfig, language: str
) -> dict[str, str]:
    """:func:`evaluator_context` for the requester of ``request``."""
    return evaluator_context(
        request.requester_email, request.requesting_department, config, language
    )


def ask_for_evaluation(
    request: Request,
    attachments: Sequence[Attachment],
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> SendMail:
    """The evaluation notice of a registered request, and a clock per evaluator (a
    resubmitted request restarts them)."""
    deadline = config.profile.service_level("evaluate_request").due(now, config.calendar)
    if request.revision > 1:  # a new request has no clock to stop
        stop_clocks(request.id, "evaluate_request", uow=uow, now=now)
    who = evaluators(request, config)
    for person in who:
        start_clock(
            "evaluate_request",
            request,
            subject="request",
            awaited=person,
            what=f"评估需求 {request.number}，回复“受理 牵头部门：… 配合部门：…”或“退回：理由”",
            original_subject=f"[评估] {request.number} {request.title}",
            uow=uow,
            now=now,
            config=config,
        )
    office = {a.lower() for a in config.coordinators}
    if config.profile.stages.evaluation_by_office or set(who) <= office:
        return SendMail(
            template="office/evaluation_notice",
            to=tuple(Recipient(addr, None, "zh") for addr in config.coordinators),
            context=presenting.request_context(
                request, attachments, deadline, config.timezone, "zh"
            ),
            request_number=request.number,
            request_id=request.id,
            reply_context="evaluation",
        )
    directory = config.directory
    recipients = [_recipient(directory, head) for head in who]
    lang = recipients[0].language
    context = presenting.request_context(request, attachments, deadline, config.timezone, lang)
    department = directory.department_of(who[0])
    context["department"] = department.name if department else request.requesting_department
    return SendMail(
        template="head/evaluation_notice",
        to=tuple(recipients),
        context=context,
        request_number=request.number,
        request_id=request.id,
        reply_context="evaluation",
    )


def apply(
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
    from workflow.replies import not_applicable

    lang = _lang(config.directory, verdict.signer)
    evaluating = request.state == "registered" or _unnamed(request)
    if not evaluating or action not in ("evaluate_accept", "reject", "return"):
        state_text = _STATE_TEXT[lang].format(number=request.number, state=request.state)
        keywords = EVALUATION_KEYWORDS[lang] if evaluating else []
        return Applied(
            "not_applicable",
            (
                not_applicable(
                    parsed, verdict.signer, request, action, state_text, keywords, config=config
                ),
            ),
        )
    if action == "evaluate_accept":
        return _accept(
            verdict, value, request, parsed, uow=uow, now=now, config=config, language=lang
        )
    reason = str(value or "").strip()
    return _return(request, reason, uow=uow, now=now, config=config)


def _accept(
    verdict: Accepted,
    value: object,
    request: Request,
    parsed: ParsedMessage,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
    language: str,
) -> Applied:
    named = value if isinstance(value, dict) else {}
    lead_text = str(named.get("lead") or "").strip()
    support_texts = [str(s).strip() for s in named.get("support") or [] if str(s).strip()]
    problems: list[str] = []
    lead = _department(lead_text, config, problems)
    support = [name for name in (_department(t, config, problems) for t in support_texts) if name]
    naming = _unnamed(request)  # accepted earlier without departments: now they are named
    if not lead_text and naming:
        problems.append("牵头部门：未填写" if language == "zh" else "lead: missing")
    if problems:
        return Applied(
            "not_applicable",
            (
                SendMail(
                    template="office/unknown_department",
                    to=(Recipient(verdict.signer, parsed.headers.from_name, language),),  # type: ignore[arg-type]
                    context={
                        "subject": parsed.headers.subject,
                        "number": request.number,
                        "names": problems,
                        "keywords": list(EVALUATION_KEYWORDS[language]),
                    },
                    request_number=request.number,
                    request_id=request.id,
                ).in_answer_to(parsed.headers.message_id),
            ),
        )
    if lead is None:
        return _accept_unnamed(support, request, uow=uow, now=now, config=config)
    if naming and not support_texts:
        support = list(request.supporting_departments)  # as named with the acceptance
    request.lead_department = lead
    request.supporting_departments = [s for s in support if s != lead]
    request.state = "accepted"
    request.updated_at = now
    stop_clocks(request.id, "evaluate_request", uow=uow, now=now)
    stop_clocks(request.id, "name_departments", uow=uow, now=now)
    req_lang = request.language if request.language in ("zh", "en") else "zh"
    deadline = config.profile.service_level("kickoff_meeting").due(now, config.calendar)
    sep = "、" if req_lang == "zh" else ", "
    next_step = (
        "启动会正在安排，会议邀请将另行发送。"
        if req_lang == "zh"
        else "The kickoff meeting is being scheduled; the invitation follows separately."
    )
    mail = SendMail(
        template="requester/accepted",
        to=(Recipient(request.requester_email, request.requester_name, req_lang),),  # type: ignore[arg-type]
        context={
            "number": request.number,
            "title": request.title,
            "lead_department": lead,
            "supporting_departments": sep.join(request.supporting_departments),
            "next_step": next_step,
            "deadline": presenting.format_instant(deadline, config.timezone, req_lang),
            **request_evaluator_context(request, config, req_lang),
        },
        request_number=request.number,
        request_id=request.id,
    )
    kickoff = schedule_kickoff(request, uow=uow, now=now, config=config)
    expect_minutes(request, uow=uow, now=now, config=config)
    detail = f"牵头部门：{lead}；配合部门：{'、'.join(request.supporting_departments) or '无'}"
    return Applied("applied", (mail, *kickoff), detail)


def _unnamed(request: Request) -> bool:
    """Accepted without a lead department: the departments are still to be named."""
    return request.state == "accepted" and not request.lead_department


def _accept_unnamed(
    support: Sequence[str],
    request: Request,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> Applied:
    """``受理`` without a lead department: accepted, nothing scheduled yet; the evaluator
    is asked to name the departments (``name_departments``)."""
    request.state = "accepted"
    request.supporting_departments = list(support)
    request.updated_at = now
    stop_clocks(request.id, "evaluate_request", uow=uow, now=now)
    deadline = config.profile.service_level("name_departments").due(now, config.calendar)
    subject = f"[评估] {request.number} {request.title}（待明确牵头部门）"
    directory = config.directory
    mails: list[SendMail] = []
    for person in evaluators(request, config):
        start_clock(
            "name_departments",
            request,
            subject="request",
            awaited=person,
            what=(
                f"明确需求 {request.number} 的牵头部门及配合部门"
                "（回复“受理 牵头部门：… 配合部门：…”）"
            ),
            original_subject=subject,
            uow=uow,
            now=now,
            config=config,
        )
        lang = _lang(directory, person)
        mails.append(
            SendMail(
                template="evaluator/name_departments",
                to=(_recipient(directory, person),),
                context={
                    "number": request.number,
                    "title": request.title,
                    "requester": _who(directory, request.requester_email, request.requester_name),
                    "requesting_department": request.requesting_department,
                    "receiving_departments": ("、" if lang == "zh" else ", ").join(
                        request.receiving_departments
                    ),
                    "supporting_departments": ("、" if lang == "zh" else ", ").join(support),
                    "deadline": presenting.format_instant(deadline, config.timezone, lang),
                    "keywords": list(EVALUATION_KEYWORDS[lang][:1]),
                },
                request_number=request.number,
                request_id=request.id,
                reply_context="evaluation",
            )
        )
    req_lang = request.language if request.language in ("zh", "en") else "zh"
    sep = "、" if req_lang == "zh" else ", "
    mails.append(
        SendMail(
            template="requester/accepted",
            to=(Recipient(request.requester_email, request.requester_name, req_lang),),  # type: ignore[arg-type]
            context={
                "number": request.number,
                "title": request.title,
                "lead_department": "（待定）" if req_lang == "zh" else "(to be named)",
                "supporting_departments": sep.join(support),
                "next_step": (
                    "牵头部门和配合部门明确后将安排启动会，会议邀请将另行发送。"
                    if req_lang == "zh"
                    else (
                        "The kickoff meeting is scheduled once the lead and supporting "
                        "departments are named; the invitation follows."
                    )
                ),
                "deadline": presenting.format_instant(deadline, config.timezone, req_lang),
                **request_evaluator_context(request, config, req_lang),
            },
            request_number=request.number,
            request_id=request.id,
        )
    )
    return Applied("applied", tuple(mails), "已受理，牵头部门待明确")


def _department(text: str, config: WorkflowConfig, problems: list[str]) -> str | None:
    """The directory's name for a department named in a reply; problems collected."""
    if not text:
        return None
    if not config.directory.departments:
        return text  # no directory configured: take the name as written
    found = config.directory.department(text)
    if found is None:
        problems.append(f"{text}: unknown")
        return None
    return found.name


def _return(
    request: Request, reason: str, *, uow: SqlUnitOfWork, now: datetime, config: WorkflowConfig
) -> Applied:
    request.state = "returned"
    request.updated_at = now
    stop_clocks(request.id, "evaluate_request", uow=uow, now=now)
    stop_clocks(request.id, "name_departments", uow=uow, now=now)
    cancelled = cancel_meetings(request, reason, uow=uow, now=now, config=config)
    lang = request.language if request.language in ("zh", "en") else "zh"
    labels = presenting.REQUEST_LABELS[lang]
    values = presenting.registered_values(request, lang)
    form: Sequence[tuple[str, str]] = [(label, values.get(key, "")) for key, label in labels]
    mail = SendMail(
        template="requester/returned",
        to=(Recipient(request.requester_email, request.requester_name, lang),),  # type: ignore[arg-type]
        context={
            "number": request.number,
            "title": request.title,
            "reason": reason or ("（未说明）" if lang == "zh" else "(none given)"),
            "form": list(form),
            "tag": "[需求]" if lang == "zh" else "[REQUEST]",
            **request_evaluator_context(request, config, lang),
        },
        request_number=request.number,
        request_id=request.id,
    )
    return Applied("applied", (mail, *cancelled), f"理由：{reason}" if reason else "")
