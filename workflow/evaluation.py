"""The coordination office evaluates a request: accept it naming the departments, or return it.

Called with a sign-off already judged trustworthy (``workflow.signoff``). A keyword that
does not fit the request's state, or names a department the directory does not know,
changes nothing and is answered with what would apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from mail_parsers.model import ParsedMessage
from store.models import Request
from store.uow import SqlUnitOfWork
from workflow import presenting
from workflow.actions import Applied, Recipient, SendMail
from workflow.clocks import stop_clocks
from workflow.config import WorkflowConfig
from workflow.meetings import cancel_meetings, schedule_kickoff
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

    language = config.directory.language_of(verdict.signer)
    lang = "en" if language == "en" else "zh"
    if request.state != "registered" or action not in ("evaluate_accept", "reject", "return"):
        state_text = _STATE_TEXT[lang].format(number=request.number, state=request.state)
        keywords = EVALUATION_KEYWORDS[lang] if request.state == "registered" else []
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
    if not lead_text:
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
    assert lead is not None
    request.lead_department = lead
    request.supporting_departments = [s for s in support if s != lead]
    request.state = "accepted"
    request.updated_at = now
    stop_clocks(request.id, "evaluate_request", uow=uow, now=now)
    req_lang = request.language if request.language in ("zh", "en") else "zh"
    deadline = config.profile.service_level("kickoff_meeting").due(now, config.calendar)
    sep = "、" if req_lang == "zh" else ", "
    next_step = (
        "协调办公室将在两个工作日内安排启动会，会议邀请将另行发送。"
        if req_lang == "zh"
        else (
            "The coordination office will schedule a kickoff meeting within two working days; "
            "the invitation follows."
        )
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
        },
        request_number=request.number,
        request_id=request.id,
    )
    kickoff = schedule_kickoff(request, uow=uow, now=now, config=config)
    detail = f"牵头部门：{lead}；配合部门：{'、'.join(request.supporting_departments) or '无'}"
    return Applied("applied", (mail, *kickoff), detail)


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
        },
        request_number=request.number,
        request_id=request.id,
    )
    return Applied("applied", (mail, *cancelled), f"理由：{reason}" if reason else "")
