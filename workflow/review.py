"""Review and archive (复盘归档): the last stage of a request.

When every task of a request is accepted the request is ``delivered`` and
:func:`request_review` schedules the review meeting (复盘会) within the profile's
``review_meeting`` limit, with the lead head, the requester, the supporting heads and
the task owners; it asks the lead head for the review by mail and starts the clocks that
wait for it: ``review_meeting`` (reminder to the lead head) and ``communication_record``
from the end of the review meeting.

The lead answers with a ``[复盘] NUMBER`` (``[REVIEW]``) mail, or by replying to the
review request, with three sections: 成功经验 / 不足 / 改进措施 (Successes /
Shortcomings / Improvements). :func:`record_review` keeps it as the request's review
(its attachments stay with the inbound message), the request becomes ``reviewed``, the
clocks stop, and the request is archived: the dossier is mailed to the requester, the
lead head and the coordination office, and the request becomes ``archived``.

The dossier goes as the one self-contained HTML page of ``workflow.export`` (every form
of the seeds, Chinese or English column names per reader), not as the zip that
``liaison export --format zip`` writes: the zip carries every raw message with its
attachments and can grow to many megabytes, while the page opens in any mail client or
browser and stays small. A page larger than :data:`MAX_ATTACHMENT` is not attached at
all; the mail then names the command that exports it. A review for an unknown request,
from anybody but the lead head (or a delegate) or at the wrong stage changes nothing and
is answered with the reason.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from mail_parsers.fields import find_request_id
from mail_parsers.model import ParsedMessage
from mail_parsers.review import ReviewFields, read_review_fields
from store.models import InboundMessage, Request, Review
from store.uow import SqlUnitOfWork
from workflow import presenting
from workflow.actions import Recipient, SendMail
from workflow.clocks import start_clock, stop_clocks, stop_meeting_clocks
from workflow.config import WorkflowConfig
from workflow.directory import Directory
from workflow.export import dossier, render_html
from workflow.lookup import request_named
from workflow.meetings import Invitee, schedule
from workflow.people import language as _lang
from workflow.people import who as _who
from workflow.scheduling import agenda_earliest_start

#: The largest dossier page attached to the archive mail (bytes).
MAX_ATTACHMENT = 5 * 1024 * 1024
#: Where the review stage stands: waiting for the review, and after it.
REVIEWED_STATES = frozenset({"reviewed", "archived"})
_FILE_NAME = re.compile(r"[^A-Za-z0-9.-]+")
_SECTION_NAMES = {
    "zh": {"successes": "成功经验", "shortcomings": "不足", "improvements": "改进措施"},
    "en": {
        "successes": "Successes",
        "shortcomings": "Shortcomings",
        "improvements": "Improvements",
    },
}
_STATE_NAMES = {
    "zh": {
        "registered": "已登记",
        "accepted": "已受理",
        "minutes_confirming": "纪要确认中",
        "in_progress": "执行中",
        "delivered": "已交付",
        "reviewed": "已复盘",
        "archived": "已归档",
        "returned": "已退回",
    },
    "en": {},
}


def _name(directory: Directory, address: str) -> str | None:
    person = directory.person(address)
    return person.name if person is not None and person.name else None


def leads(request: Request, config: WorkflowConfig) -> list[str]:
    """Who writes the review: the lead head, else the coordination office."""
    head = config.directory.head_of(request.lead_department) if request.lead_department else None
    return [head.lower()] if head else [a.lower() for a in config.coordinators]


def may_review(sender: str, request: Request, config: WorkflowConfig) -> bool:
    return any(config.directory.may_sign_for(lead, sender) for lead in leads(request, config))


# --- asking for the review --------------------------------------------------------------------


def request_review(
    request: Request, *, uow: SqlUnitOfWork, now: datetime, config: WorkflowConfig
) -> list[SendMail]:
    """Every task accepted: the review meeting, the review request to the lead, the clocks."""
    directory = config.directory
    profile = config.profile
    calendar = config.calendar
    review_by = (
        profile.service_level("review_meeting").due(now, calendar)
        if profile.has_service_level("review_meeting")
        else calendar.add_working_days(now, 5)
    )
    earliest = now
    if profile.has_service_level("agenda_before_meeting"):
        earliest = max(now, agenda_earliest_start(now, profile=profile, calendar=calendar))
    lead_heads = leads(request, config)
    invitees = [Invitee(lead, _name(directory, lead), "CHAIR") for lead in lead_heads]
    invitees.append(Invitee(request.requester_email, request.requester_name))
    for department in request.supporting_departments:
        head = directory.head_of(department)
        if head:
            invitees.append(Invitee(head, _name(directory, head)))
    tasks = [t for t in uow.minutes.tasks_of_request(request.id) if t.state != "draft"]
    invitees += [
        Invitee(t.owner_email, t.owner_name or _name(directory, t.owner_email)) for t in tasks
    ]
    meeting, mails = schedule(
        "review",
        request,
        invitees,
        window=(earliest, max(review_by, earliest)),
        agenda=[
            f"复盘需求 {request.number}「{request.title}」的协作过程",
            "目标达成情况",
            "成功经验",
            "不足",
            "改进措施（明确责任人和完成时间）",
            f"会后由牵头部门负责人发送“[复盘] {request.number}”邮件提交复盘报告",
        ],
        uow=uow,
        now=now,
        config=config,
    )
    subject = f"[复盘请求] {request.number} {request.title}"
    for lead in lead_heads:
        start_clock(
            "review_meeting",
            request,
            subject="review",
            awaited=lead,
            what=f"组织复盘会并发送“[复盘] {request.number}”邮件（成功经验、不足、改进措施）",
            original_subject=subject,
            uow=uow,
            now=now,
            config=config,
        )
        start_clock(
            "communication_record",
            request,
            subject=f"meeting:{meeting.id}",
            awaited=lead,
            what=f"复盘会后发送“[复盘] {request.number}”邮件记录复盘结论",
            original_subject=subject,
            uow=uow,
            now=now,
            config=config,
            anchor=meeting.end,
        )
    problems = uow.issues.for_request(request.id)
    for lead in lead_heads:
        lang = _lang(directory, lead)
        mails.append(
            SendMail(
                template="lead/review_request",
                to=(Recipient(lead, _name(directory, lead), lang),),
                context={
                    "number": request.number,
                    "title": request.title,
                    "meeting_start": presenting.format_instant(
                        meeting.start, config.timezone, lang
                    ),
                    "location": meeting.location,
                    "review_by": presenting.format_instant(review_by, config.timezone, lang),
                    "tasks": [
                        f"{t.ref} {t.title}（{_who(directory, t.owner_email)}）"
                        if lang == "zh"
                        else f"{t.ref} {t.title} ({_who(directory, t.owner_email)})"
                        for t in tasks
                    ],
                    "problems": [f"{i.id} {i.description}" for i in problems],
                },
                request_number=request.number,
                request_id=request.id,
            )
        )
    return mails


# --- the review mail ---------------------------------------------------------------------------


def answers_review_request(parsed: ParsedMessage, uow: SqlUnitOfWork) -> bool:
    """A reply to our review request: the lead wrote the review by replying to it."""
    return _answered_request(parsed, uow) is not None


def _answered_request(parsed: ParsedMessage, uow: SqlUnitOfWork) -> int | None:
    h = parsed.headers
    for mid in ([h.in_reply_to] if h.in_reply_to else []) + list(reversed(h.references)):
        sent = uow.outbox.by_message_id(mid)
        if sent is not None and sent.kind == "lead/review_request":
            return sent.request_id
    return None


def _text(parsed: ParsedMessage) -> str:
    """The review's text: for a reply, only what is above the quoted original."""
    if parsed.kind == "reply" and parsed.reply is not None:
        return parsed.reply.new_text
    return parsed.text


def reviewed_request(
    parsed: ParsedMessage, uow: SqlUnitOfWork, numbers: re.Pattern[str] | None = None
) -> Request | None:
    """The request a review mail is about: the review request it answers, the number in
    its 所属需求 field or its subject, else in its text. ``numbers`` reads the profile's
    numbering (``config.parse_options.request_number``)."""
    answered = _answered_request(parsed, uow)
    if answered is not None:
        return uow.requests.by_id(answered)
    fields, _ = read_review_fields(_text(parsed), parsed.headers.subject, numbers)
    if fields.request:
        request = uow.requests.by_number(fields.request)
        if request is not None:
            return request
    request = request_named(parsed.headers.subject, uow, numbers)
    if request is not None:
        return request
    number = find_request_id(_text(parsed), numbers)
    return uow.requests.by_number(number) if number else None


def record_review(
    parsed: ParsedMessage,
    row: InboundMessage,
    request: Request | None,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> tuple[str | None, list[SendMail]]:
    """Keep the lead's review of ``request`` and archive the request; or say why not."""
    directory = config.directory
    sender = (parsed.headers.from_addr or "").lower()
    if not sender:
        return (request.number if request else None), []
    lang = _lang(directory, sender) if directory.person(sender) else parsed.language
    fields, errors = read_review_fields(_text(parsed), parsed.headers.subject)
    number = request.number if request is not None else None
    if request is None:
        return None, [
            _returned(
                parsed,
                None,
                [
                    "复盘报告未注明有效的需求编号（请在主题中写明“[复盘] 需求编号”）"
                    if lang == "zh"
                    else "the review names no known request number "
                    "(write '[REVIEW] NUMBER' in the subject)"
                ],
                lang,
            )
        ]
    if not may_review(sender, request, config):
        heads = "、".join(_who(directory, lead) for lead in leads(request, config))
        problem = (
            f"需求 {request.number} 的复盘报告只能由牵头部门负责人（{heads}）或其授权代理人提交"
            if lang == "zh"
            else f"only the head of the lead department ({heads}) or their delegate sends "
            f"the review of {request.number}"
        )
        return number, [_returned(parsed, request, [problem], lang)]
    if request.state in REVIEWED_STATES:
        earlier = uow.reviews.for_request(request.id)
        at = presenting.format_instant(
            earlier.received_at if earlier else request.updated_at, config.timezone, lang
        )
        problem = (
            f"需求 {request.number} 的复盘报告已于 {at} 收到，需求已归档，本邮件未作任何更改"
            if lang == "zh"
            else f"the review of {request.number} was received on {at} and the request is "
            "archived; this mail changed nothing"
        )
        return number, [_returned(parsed, request, [problem], lang)]
    if request.state != "delivered":
        state = _STATE_NAMES[lang].get(request.state, request.state)
        problem = (
            f"需求 {request.number} 当前状态为「{state}」，全部任务验收通过后才接收复盘报告"
            if lang == "zh"
            else f"request {request.number} is {state}; the review is taken once every task "
            "is accepted"
        )
        return number, [_returned(parsed, request, [problem], lang)]
    if errors:
        names = _SECTION_NAMES["en" if lang == "en" else "zh"]
        missing = [
            f"缺少“{names[e.field]}”" if lang == "zh" else f"'{names[e.field]}' is missing"
            for e in errors
        ]
        return number, [_returned(parsed, request, missing, lang)]

    review = uow.reviews.add(_review(fields, request, row, sender, now))
    request.state = "reviewed"
    request.updated_at = now
    stop_clocks(request.id, "review_meeting", uow=uow, now=now, subject="review")
    for meeting in uow.meetings.for_request(request.id):
        if meeting.kind == "review":
            stop_meeting_clocks(meeting, uow=uow, now=now)  # its communication record
    return number, archive(request, review, uow=uow, now=now, config=config)


def _review(
    fields: ReviewFields, request: Request, row: InboundMessage, author: str, now: datetime
) -> Review:
    return Review(
        request_id=request.id,
        inbound_message_id=row.id,
        author=author,
        goals=fields.goals,
        successes=fields.successes or "",
        shortcomings=fields.shortcomings or "",
        improvements=fields.improvements or "",
        received_at=now,
    )


def _returned(
    parsed: ParsedMessage, request: Request | None, problems: list[str], lang: str
) -> SendMail:
    number = request.number if request else ""
    sender = parsed.headers.from_addr or ""
    return SendMail(
        template="author/review_returned",
        to=(Recipient(sender, parsed.headers.from_name, lang),),  # type: ignore[arg-type]
        context={
            "subject": parsed.headers.subject,
            "number": number,
            "title": request.title if request else "",
            "problems": problems,
        },
        request_number=request.number if request else None,
        request_id=request.id if request else None,
    ).in_answer_to(parsed.headers.message_id)


# --- the archive ------------------------------------------------------------------------------


def archive(
    request: Request,
    review: Review,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> list[SendMail]:
    """Archive a reviewed request: the dossier to the requester, the lead head and the
    coordination office (each in their language), and the request is ``archived``."""
    directory = config.directory
    request.state = "archived"
    request.updated_at = now
    review.archived_at = now
    uow.session.flush()
    people: list[str] = []
    for address in (
        request.requester_email,
        *leads(request, config),
        *config.coordinators,
        review.author,
    ):
        if address and address.lower() not in people:
            people.append(address.lower())
    by_language: dict[Literal["zh", "en"], list[Recipient]] = {}
    for address in people:
        lang = _lang(directory, address)
        by_language.setdefault(lang, []).append(Recipient(address, _name(directory, address), lang))
    tasks = uow.minutes.tasks_of_request(request.id)
    meetings = uow.meetings.for_request(request.id)
    problems = uow.issues.for_request(request.id)
    mails: list[SendMail] = []
    for lang, recipients in by_language.items():
        page = render_html(dossier(uow, request.number, config, language=lang)).encode("utf-8")
        attached = len(page) <= MAX_ATTACHMENT
        file_name = f"{_FILE_NAME.sub('_', request.number)}-dossier.html"
        mails.append(
            SendMail(
                template="participant/archive_dossier",
                to=tuple(recipients),
                context={
                    "number": request.number,
                    "title": request.title,
                    "requester": _who(directory, request.requester_email),
                    "lead_department": request.lead_department or "",
                    "archived_at": presenting.format_instant(now, config.timezone, lang),
                    "review_author": _who(directory, review.author),
                    "successes": review.successes,
                    "shortcomings": review.shortcomings,
                    "improvements": review.improvements,
                    "meetings": str(len([m for m in meetings if m.status != "CANCELLED"])),
                    "tasks": str(len([t for t in tasks if t.state != "draft"])),
                    "problems": str(len(problems)),
                    "attached": attached,
                    "file_name": file_name,
                    "size": presenting.format_size(len(page)),
                    "export_command": f"liaison export {request.number} --format zip",
                },
                request_number=request.number,
                request_id=request.id,
                attachments=((file_name, "text/html", page),) if attached else (),
            )
        )
    return mails
