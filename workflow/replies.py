"""Replies to our mails: sign-offs applied, untrusted ones held, keyword-less ones answered once.

``record_reply`` is the intake handler for the kind ``reply``. It asks
``workflow.signoff.judge`` whether the reply may change state, then:

- accepted: the stage rule for the answered mail's context runs (today: the office's
  evaluation of a request); a keyword that does not fit the current state changes
  nothing and is answered with what would apply; a sign-off that applied is recorded
  (single use) and confirmed to the signer with a short receipt;
- held: kept in the review queue with its reason; the sender is told it was held and
  the coordination office is asked to review it;
- no keyword for what it answers: recorded and answered once (per sender and day).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from mail_parsers.model import ParsedMessage
from mail_parsers.reply_keywords import read_keyword
from store.models import HeldSignoff, InboundMessage, OutboxMessage, Request, Signoff
from store.uow import SqlUnitOfWork
from workflow import presenting
from workflow.actions import Applied, Recipient, SendMail
from workflow.config import WorkflowConfig
from workflow.lookup import request_of
from workflow.people import language as _lang
from workflow.signoff import (
    REPORT_ACTIONS,
    SIGNOFF_ACTIONS,
    Accepted,
    Held,
    Verdict,
    judge,
    reason_text,
)

#: Held-for-review notices per sender and day (the office always hears of each): one for
#: replies that match nothing of ours, a few for replies to a real mail.
HELD_NOTICES_PER_DAY = {"subject_only": 1, "unknown_reference": 1}
HELD_NOTICES_PER_DAY_DEFAULT = 3

_ACTION_LABELS = {
    "zh": {
        "evaluate_accept": "需求受理",
        "reject": "需求退回",
        "return": "退回",
        "confirm": "纪要确认",
        "object": "纪要异议",
        "ack": "任务确认收到",
        "reschedule": "申请改期",
        "done": "任务完成",
        "accept": "验收通过",
        "approve": "审批同意",
        "approve_date": "同意改期",
        "reject_date": "不同意改期",
        "reschedule_meeting": "会议改期",
        "resolve": "问题解决",
        "progress": "进度",
        "risk": "风险",
    },
    "en": {
        "evaluate_accept": "request accepted",
        "reject": "request returned",
        "return": "returned",
        "confirm": "minutes confirmed",
        "object": "objection to the minutes",
        "ack": "task acknowledged",
        "reschedule": "new date requested",
        "done": "task done",
        "accept": "deliverable accepted",
        "approve": "approved",
        "approve_date": "date change approved",
        "reject_date": "date change refused",
        "reschedule_meeting": "meeting moved",
        "resolve": "problem resolved",
        "progress": "progress",
        "risk": "risk",
    },
}


#: Labels that depend on what was answered (``reject`` is a returned request in an
#: evaluation, a rejected plan in an approval).
_CONTEXT_LABELS = {
    ("approval", "reject"): {"zh": "审批驳回", "en": "plan rejected"},
}


def action_label(action: str, language: str, context: str | None = None) -> str:
    lang = "en" if language == "en" else "zh"
    special = _CONTEXT_LABELS.get((context or "", action))
    if special is not None:
        return special[lang]
    return _ACTION_LABELS[lang].get(action, action)


@dataclass(frozen=True)
class ReplyOutcome:
    request_number: str | None
    mails: Sequence[SendMail]
    #: "applied", "held", "not_applicable", "recorded", "not_understood"
    result: str


def record_reply(
    parsed: ParsedMessage,
    row: InboundMessage,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> ReplyOutcome:
    verdict: Verdict = judge(parsed, uow=uow, config=config)
    answered = verdict.outbox
    context = answered.reply_context if answered is not None else None
    action, value = _reading(parsed, context, config)
    if (
        isinstance(verdict, Accepted)
        and action in SIGNOFF_ACTIONS
        and _already_answered(verdict.outbox.id, context, action, uow)
    ):
        verdict = Held(
            "replayed", f"{verdict.outbox.message_id} was answered so already", verdict.outbox
        )
    request = _request_of(answered, parsed, uow, config)
    row.request_id = request.id if request else None
    number = request.number if request else None

    if action == "none":
        if _looks_like_an_absence_notice(parsed):
            # An out-of-office text without RFC 3834 headers: recorded, never answered,
            # so a vacation responder cannot start a loop.
            return ReplyOutcome(number, [], "recorded")
        if answered is None and _answers_ours(parsed, uow):
            # A reply to a mail that asked nothing (an acknowledgement, a receipt): recorded.
            # Answering would feed vacation responders that send no RFC 3834 headers.
            return ReplyOutcome(number, [], "recorded")
        return ReplyOutcome(
            number, _not_understood(parsed, uow=uow, now=now, config=config), "not_understood"
        )
    if action in REPORT_ACTIONS and isinstance(verdict, Accepted):
        # Progress and risk notes update the task; they may be repeated, are not a
        # sign-off and ask for no receipt.
        if request is not None:
            _apply(
                verdict,
                action,
                value,
                request,
                parsed,
                inbound_id=row.id,
                uow=uow,
                now=now,
                config=config,
            )
        return ReplyOutcome(number, [], "recorded")
    if isinstance(verdict, Held):
        mails = _hold(parsed, row, verdict, action, value, request, uow=uow, now=now, config=config)
        row.state = "held"
        return ReplyOutcome(number, mails, "held")

    assert isinstance(verdict, Accepted) and action in SIGNOFF_ACTIONS
    applied = _apply(
        verdict, action, value, request, parsed, inbound_id=row.id, uow=uow, now=now, config=config
    )
    if applied.result == "applied":
        uow.signoffs.add(
            Signoff(
                outbox_id=verdict.outbox.id,
                inbound_message_id=row.id,
                request_id=request.id if request else None,
                signer=verdict.signer,
                on_behalf_of=verdict.on_behalf_of,
                action=action,
                value=json.dumps(value, ensure_ascii=False) if value is not None else None,
                at=now,
                via="trusted",
            )
        )
        uow.session.flush()
        receipt = _receipt(
            verdict.signer,
            parsed,
            action,
            applied.detail,
            request,
            now=now,
            config=config,
            context=context,
        )
        return ReplyOutcome(number, [*applied.mails, receipt], "applied")
    return ReplyOutcome(number, applied.mails, applied.result)


def apply_reviewed(
    held_id: int,
    *,
    approve: bool,
    reviewer: str,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> ReplyOutcome:
    """``liaison review approve|reject ID``: the office decides on a held reply."""
    from workflow.errors import NotFoundError

    held = uow.signoffs.held(held_id)
    if held is None or held.state != "pending":
        raise NotFoundError(f"no sign-off waiting for review with id {held_id}")
    held.decided_at = now
    held.decided_by = reviewer
    if not approve:
        held.state = "rejected"
        return ReplyOutcome(None, [], "rejected")
    if held.outbox_id is None:
        raise NotFoundError(
            f"held reply {held_id} answers no mail of ours ({held.reason}); it can only be rejected"
        )
    answered = uow.outbox.get(held.outbox_id)
    if _already_answered(answered.id, answered.reply_context, held.action, uow):
        raise NotFoundError(
            f"{answered.message_id} was signed off already; reject {held_id} instead"
        )
    inbound = uow.inbound.get(held.inbound_message_id)
    from mail_parsers.message import parse_message

    parsed = parse_message(inbound.raw, config.parse_options)
    request = uow.requests.by_id(answered.request_id) if answered.request_id else None
    value = json.loads(held.value) if held.value else None
    verdict = Accepted(answered, held.sender, answered.reply_recipient or held.sender)
    applied = _apply(
        verdict,
        held.action,
        value,
        request,
        parsed,
        inbound_id=inbound.id,
        uow=uow,
        now=now,
        config=config,
    )
    if applied.result != "applied":
        return ReplyOutcome(request.number if request else None, applied.mails, applied.result)
    held.state = "approved"
    uow.signoffs.add(
        Signoff(
            outbox_id=answered.id,
            inbound_message_id=inbound.id,
            request_id=request.id if request else None,
            signer=held.sender,
            on_behalf_of=verdict.on_behalf_of,
            action=held.action,
            value=held.value,
            at=now,
            via="review",
        )
    )
    receipt = _receipt(
        held.sender,
        parsed,
        held.action,
        applied.detail,
        request,
        now=now,
        config=config,
        context=answered.reply_context,
    )
    return ReplyOutcome(request.number if request else None, [*applied.mails, receipt], "applied")


# --- reading --------------------------------------------------------------------------------


def _reading(
    parsed: ParsedMessage, context: str | None, config: WorkflowConfig
) -> tuple[str, object]:
    """The keyword in the context of the mail actually answered (not of the subject)."""
    reply = parsed.reply
    if reply is None:
        return "none", None
    if context is None or context == reply.context:
        return reply.action, reply.value
    today = parsed.headers.date.astimezone(config.timezone).date() if parsed.headers.date else None
    return read_keyword(reply.new_text, context, today=today)


_ABSENCE = re.compile(
    r"(休假|年假|不在办公室|外出|出差中|自动回复|自动答复|暂时无法回复|返回后(?:再)?回复"
    r"|out of (?:the )?office|on (?:annual |parental |sick )?leave|on vacation|on holiday"
    r"|away from (?:the |my )?(?:office|desk|email)|(?:will|shall) be back|returning on"
    r"|automatic reply|auto-?reply)",
    re.IGNORECASE,
)


def _looks_like_an_absence_notice(parsed: ParsedMessage) -> bool:
    """Out-of-office wording in the first lines of a reply that carries no keyword."""
    text = parsed.reply.new_text if parsed.reply else ""
    lines = [ln for ln in text.splitlines() if ln.strip()][:3]
    return any(_ABSENCE.search(ln) for ln in lines)


#: Contexts whose mail asks for several distinct answers over time (收到, later 完成);
#: every other asking mail takes one decision, whichever keyword gives it.
_MANY_ANSWERS = frozenset({"task"})


def _already_answered(outbox_id: int, context: str | None, action: str, uow: SqlUnitOfWork) -> bool:
    """A replay: this mail already carried this sign-off (for a task mail: this action)."""
    if context in _MANY_ANSWERS:
        return uow.signoffs.for_outbox(outbox_id, action) is not None
    return uow.signoffs.for_outbox(outbox_id) is not None


def _answers_ours(parsed: ParsedMessage, uow: SqlUnitOfWork) -> bool:
    h = parsed.headers
    ids = ([h.in_reply_to] if h.in_reply_to else []) + list(h.references)
    return any(uow.outbox.by_message_id(mid) is not None for mid in ids)


def _request_of(
    answered: OutboxMessage | None,
    parsed: ParsedMessage,
    uow: SqlUnitOfWork,
    config: WorkflowConfig,
) -> Request | None:
    """The request of the mail answered; without one (a reply typed afresh, a progress
    note), the one whose number the subject carries, in the profile's numbering or not."""
    if answered is not None and answered.request_id is not None:
        return uow.requests.by_id(answered.request_id)
    number = parsed.reply.request if parsed.reply is not None else None
    return request_of(number, parsed.headers.subject, uow, config.parse_options.request_number)


# --- applying -------------------------------------------------------------------------------


def _apply(
    verdict: Accepted,
    action: str,
    value: object,
    request: Request | None,
    parsed: ParsedMessage,
    *,
    inbound_id: int | None = None,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> Applied:
    from workflow import evaluation, meetings, minutes, problems, tasks

    context = verdict.outbox.reply_context
    if context == "notice" and request is not None:
        return problems.apply_resolution(
            verdict, action, value, request, parsed, uow=uow, now=now, config=config
        )
    if context == "evaluation" and request is not None:
        return evaluation.apply(
            verdict, action, value, request, parsed, uow=uow, now=now, config=config
        )
    if context == "approval" and request is not None:
        from workflow.plans import apply_approval

        return apply_approval(
            verdict, action, value, request, parsed, uow=uow, now=now, config=config
        )
    if context == "minutes" and action in ("confirm", "object") and request is not None:
        return minutes.apply_confirmation(
            verdict, action, value, request, parsed, uow=uow, now=now, config=config
        )
    if context == "task" and request is not None:
        return tasks.apply_owner_reply(
            verdict,
            action,
            value,
            request,
            parsed,
            inbound_id=inbound_id,
            uow=uow,
            now=now,
            config=config,
        )
    if context == "deliverable" and request is not None:
        return tasks.review_deliverable(
            verdict, action, value, request, parsed, uow=uow, now=now, config=config
        )
    if (
        context == "datechange"
        and action in ("approve_date", "reject_date")
        and request is not None
        and not (verdict.outbox.task_ref or "").startswith("p")
    ):
        if not meetings.may_move(verdict.signer, request, config):
            return Applied(
                "not_applicable",
                (not_applicable(parsed, verdict.signer, request, action, "", [], config=config),),
            )
        return tasks.decide_date_change(
            verdict, action, request, parsed, uow=uow, now=now, config=config
        )
    if context == "meeting" and action == "reschedule_meeting" and request is not None:
        return meetings.reschedule_by_reply(
            verdict, value, request, parsed, uow=uow, now=now, config=config
        )
    if (
        context == "datechange"
        and action in ("approve_date", "reject_date")
        and request is not None
        and (verdict.outbox.task_ref or "").startswith("p")
    ):
        return meetings.decide_proposal(
            verdict, action, request, parsed, uow=uow, now=now, config=config
        )
    return Applied(
        "not_applicable",
        (not_applicable(parsed, verdict.signer, request, action, "", [], config=config),),
    )


def not_applicable(
    parsed: ParsedMessage,
    to: str,
    request: Request | None,
    action: str,
    state_text: str,
    keywords: Sequence[str],
    *,
    config: WorkflowConfig,
) -> SendMail:
    language = _lang(config.directory, to) if to else parsed.language
    if not state_text:
        state_text = (
            "该邮件所属环节目前不接受此关键词，未作任何更改。"
            if language == "zh"
            else "This step does not take that keyword now; nothing was changed."
        )
    return SendMail(
        template="sender/not_applicable",
        to=(Recipient(to, parsed.headers.from_name, language),),
        context={
            "subject": parsed.headers.subject,
            "number": request.number if request else "",
            "keyword": action_label(action, language),
            "state_text": state_text,
            "keywords": list(keywords),
        },
        request_number=request.number if request else None,
        request_id=request.id if request else None,
    ).in_answer_to(parsed.headers.message_id)


def _receipt(
    signer: str,
    parsed: ParsedMessage,
    action: str,
    detail: str,
    request: Request | None,
    *,
    now: datetime,
    config: WorkflowConfig,
    context: str | None = None,
) -> SendMail:
    language = _lang(config.directory, signer)
    return SendMail(
        template="signer/receipt",
        to=(Recipient(signer, parsed.headers.from_name, language),),
        context={
            "number": request.number if request else "",
            "title": request.title if request else "",
            "action_label": action_label(action, language, context),
            "detail": detail,
            "at": presenting.format_instant(now, config.timezone, language),
        },
        request_number=request.number if request else None,
        request_id=request.id if request else None,
    ).in_answer_to(parsed.headers.message_id)


# --- holding ----------------------------------------------------------------------------------


def _hold(
    parsed: ParsedMessage,
    row: InboundMessage,
    verdict: Held,
    action: str,
    value: object,
    request: Request | None,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> list[SendMail]:
    sender = (parsed.headers.from_addr or "").lower()
    held = uow.signoffs.hold(
        HeldSignoff(
            inbound_message_id=row.id,
            outbox_id=verdict.outbox.id if verdict.outbox else None,
            request_id=request.id if request else None,
            sender=sender,
            reason=verdict.reason,
            detail=verdict.detail[:2000],
            action=action,
            value=json.dumps(value, ensure_ascii=False) if value is not None else None,
            state="pending",
            created_at=now,
        )
    )
    uow.session.flush()
    number = request.number if request else ""
    mails: list[SendMail] = []
    office = tuple(Recipient(a, None, _lang(config.directory, a)) for a in config.coordinators)
    if office:
        mails.append(
            SendMail(
                template="office/held_for_review",
                to=office,
                context={
                    "number": number,
                    "sender": sender or "(none)",
                    "subject": parsed.headers.subject,
                    "reason_code": verdict.reason,
                    "reason_text": reason_text(verdict.reason, "zh"),
                    "action_label": action_label(action, "zh"),
                    "review_id": str(held.id),
                    "command": f"liaison review approve {held.id}",
                    "reject_command": f"liaison review reject {held.id}",
                },
                request_number=request.number if request else None,
                request_id=request.id if request else None,
            )
        )
    notify_sender = (
        parsed.headers.from_count == 1
        and sender
        and verdict.reason not in ("automatic", "unauthenticated")
        and uow.communications.count_sent_since(
            "sender/held_for_review", sender, now - timedelta(days=1)
        )
        < HELD_NOTICES_PER_DAY.get(verdict.reason, HELD_NOTICES_PER_DAY_DEFAULT)
    )
    if notify_sender:
        language = (
            _lang(config.directory, sender) if config.directory.person(sender) else parsed.language
        )
        mails.append(
            SendMail(
                template="sender/held_for_review",
                to=(Recipient(sender, parsed.headers.from_name, language),),
                context={
                    "subject": parsed.headers.subject,
                    "reason_text": reason_text(verdict.reason, language),
                    "number": number,
                },
                request_number=request.number if request else None,
                request_id=request.id if request else None,
            ).in_answer_to(parsed.headers.message_id)
        )
    return mails


def _not_understood(
    parsed: ParsedMessage, *, uow: SqlUnitOfWork, now: datetime, config: WorkflowConfig
) -> list[SendMail]:
    sender = parsed.headers.from_addr
    if not sender:
        return []
    since = now - timedelta(days=1)
    if (
        uow.communications.count_sent_since("sender/reply_not_understood", sender, since)
        >= config.not_understood_per_day
    ):
        return []
    recipient = Recipient(sender, parsed.headers.from_name, parsed.language)
    return [
        SendMail(
            template="sender/reply_not_understood",
            to=(recipient,),
            context=presenting.not_understood_context(parsed, parsed.language),
        ).in_answer_to(parsed.headers.message_id)
    ]
