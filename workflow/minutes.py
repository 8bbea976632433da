"""Minutes: recorded from the lead's mail, confirmed by every head, then the tasks go out.

A minutes mail (``[纪要] XT-…``) becomes a new version of the request's minutes with one
draft task per action item, provided every owner resolves to exactly one person;
otherwise the minutes go back to their author with the lines that failed and nothing
is recorded. The formatted minutes are mailed to every participant, and each head of
the lead and supporting departments is asked to confirm (``确认``) or object
(``异议：理由``) by reply. An objection goes back to the author, whose next version
restarts confirmation. When every head has confirmed, the minutes are final and each
owner receives their task, to acknowledge by reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from mail_parsers.model import ActionItem, MinutesFields, ParsedMessage
from store.models import InboundMessage, Minutes, MinutesConfirmation, Request, Task
from store.uow import SqlUnitOfWork
from workflow import presenting
from workflow.actions import Applied, Recipient, SendMail
from workflow.clocks import start_clock, stop_clocks
from workflow.config import WorkflowConfig
from workflow.directory import Ambiguous, Conflict, Directory, Person, Resolved, Unknown
from workflow.lookup import request_named
from workflow.people import language as _lang
from workflow.plans import ask_for_plans
from workflow.signoff import Accepted

OPEN_STATES = frozenset({"accepted", "minutes_confirming", "in_progress"})
MINUTES_KEYWORDS = {
    "zh": ["确认（同意纪要内容）", "异议：理由（说明需要修改之处）"],
    "en": ["CONFIRM (the minutes are right)", "OBJECT: reason (what must change)"],
}
TASK_KEYWORDS = {
    "zh": [
        "收到（确认期限）",
        "申请改期：日期 理由",
        "进度：60% 说明",
        "风险：说明",
        "完成（附交付物）",
    ],
    "en": [
        "ACK (deadline accepted)",
        "RESCHEDULE: date reason",
        "PROGRESS: 60% note",
        "RISK: note",
        "DONE (deliverable attached)",
    ],
}


def record_minutes(
    parsed: ParsedMessage,
    row: InboundMessage,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> tuple[str | None, list[SendMail]]:
    """Record a minutes mail as the request's next version, or return it with its problems."""
    fields = parsed.fields
    author = (parsed.headers.from_addr or "").lower()
    request = (
        uow.requests.by_number(fields.request.upper())
        if isinstance(fields, MinutesFields) and fields.request
        else None
    )
    # The parser reads the profile's numbering; any other number the store has (one
    # given before the profile changed) is found in the subject.
    request = request or request_named(
        parsed.headers.subject, uow, config.parse_options.request_number
    )
    problems: list[str] = []
    lang = _lang(config.directory, author) if author else parsed.language
    if request is None:
        problems.append(
            "纪要未注明有效的需求编号"
            if lang == "zh"
            else "the minutes name no known request number"
        )
    elif request.state not in OPEN_STATES:
        problems.append(
            f"需求 {request.number} 当前状态为「{request.state}」，不接收纪要"
            if lang == "zh"
            else f"request {request.number} is {request.state} and takes no minutes"
        )
    problems += [
        _error_text(e.field, e.code, e.raw, lang)
        for e in parsed.errors
        if not (e.field == "request" and request is not None)
    ]
    owners: list[tuple[ActionItem, Person]] = []
    if isinstance(fields, MinutesFields):
        for number, item in enumerate(fields.action_items, start=1):
            person, problem = _owner(item, config.directory, lang)
            if problem is not None:
                problems.append(
                    f"第{number}项「{item.line or item.title}」：{problem}"
                    if lang == "zh"
                    else f"item {number} '{item.line or item.title}': {problem}"
                )
            elif person is not None:
                owners.append((item, person))
    if request is not None:
        row.request_id = request.id
    if problems or request is None or not isinstance(fields, MinutesFields):
        return (request.number if request else None), [_returned(parsed, request, problems, lang)]

    stop_clocks(request.id, "minutes_sent", uow=uow, now=now)  # the minutes arrived
    previous = [m for m in uow.minutes.for_request(request.id)]
    for old in previous:
        if old.state in ("confirming", "objected"):
            old.state = "superseded"
            stop_clocks(
                request.id, "minutes_confirmed", uow=uow, now=now, subject=f"minutes:{old.id}"
            )
            for task in uow.minutes.tasks_of_minutes(old.id):
                if task.state == "draft":
                    uow.minutes.delete_task(task)
    uow.session.flush()
    minutes = uow.minutes.add(
        Minutes(
            request_id=request.id,
            version=max((m.version for m in previous), default=0) + 1,
            state="confirming",
            author=author,
            inbound_message_id=row.id,
            attendees=list(fields.attendees),
            discussion=fields.discussion or "",
            decisions=fields.decisions or "",
            created_at=now,
        )
    )
    used = [int(t.ref.split("-")[1]) for t in uow.minutes.tasks_of_request(request.id)]
    next_ref = max(used, default=0) + 1
    for offset, (item, person) in enumerate(owners):
        uow.minutes.add_task(
            Task(
                request_id=request.id,
                minutes_id=minutes.id,
                ref=f"RW-{next_ref + offset:04d}",
                title=item.title,
                owner_email=person.email,
                owner_name=person.name,
                collaborators=_collaborators(item, config.directory),
                deliverable=item.deliverable or "",
                acceptance=item.acceptance,
                due=item.due,
                state="draft",
                created_at=now,
                updated_at=now,
            )
        )
    heads = _heads(request, config)
    for department, head in heads:
        uow.minutes.add_confirmation(
            MinutesConfirmation(
                minutes_id=minutes.id, head=head, department=department, state="pending"
            )
        )
    request.state = "minutes_confirming"
    request.updated_at = now
    uow.session.flush()
    for _, head in heads:
        start_clock(
            "minutes_confirmed",
            request,
            subject=f"minutes:{minutes.id}",
            awaited=head,
            what=f"确认第{minutes.version}版会议纪要（回复“确认”或“异议：理由”）",
            original_subject=f"[纪要] {request.number} {request.title}（第{minutes.version}版）",
            uow=uow,
            now=now,
            config=config,
        )
    return request.number, _for_confirmation(
        minutes, request, heads, uow=uow, now=now, config=config
    )


def _owner(item: ActionItem, directory: Directory, lang: str) -> tuple[Person | None, str | None]:
    """The one person an action item's owner names, or what is wrong with it."""
    name, email = item.owner.name, item.owner.email
    if not directory.people:
        # No directory configured: an address is needed, and taken as written.
        if email:
            return Person(email=email.lower(), name=name or ""), None
        return None, ("负责人需写明邮箱地址" if lang == "zh" else "the owner needs an address")
    found = directory.resolve_parts(name, email)
    if isinstance(found, Resolved):
        return found.person, None
    if isinstance(found, Ambiguous):
        who = "、".join(f"{p.name or ''} {p.email}".strip() for p in found.candidates)
        text = (
            f"负责人“{found.text}”在通讯录中不唯一（{who}）"
            if lang == "zh"
            else f"owner '{found.text}' is ambiguous ({who})"
        )
        return None, text
    if isinstance(found, Conflict):
        text = (
            f"负责人“{found.text}”的姓名与邮箱不是同一人"
            if lang == "zh"
            else f"owner '{found.text}': name and address are different people"
        )
        return None, text
    assert isinstance(found, Unknown)
    text = (
        f"负责人“{found.text}”不在通讯录中"
        if lang == "zh"
        else f"owner '{found.text}' is not in the directory"
    )
    return None, text


def _collaborators(item: ActionItem, directory: Directory) -> list[str]:
    """Collaborators as addresses where the directory knows them (they are copied on the
    task); a name it cannot place is kept as written, for the record only."""
    found: list[str] = []
    for person in item.collaborators:
        if not (person.email or person.name):
            continue
        resolved = directory.resolve_parts(person.name, person.email) if directory.people else None
        if isinstance(resolved, Resolved):
            found.append(resolved.person.email)
        else:
            found.append(
                (person.email or person.name or "").lower() if person.email else person.name or ""
            )
    return found


def _error_text(field: str, code: str, raw: str | None, lang: str) -> str:
    if lang == "zh":
        what = "缺失" if code == "missing" else "无法识别"
        return f"{field}：{what}" + (f"（{raw}）" if raw else "")
    what = "missing" if code == "missing" else "unreadable"
    return f"{field}: {what}" + (f" ({raw})" if raw else "")


def _heads(request: Request, config: WorkflowConfig) -> list[tuple[str, str]]:
    """(department, head) of the lead and every supporting department; the office when
    the directory names no head at all."""
    heads: list[tuple[str, str]] = []
    for department in [request.lead_department, *request.supporting_departments]:
        head = config.directory.head_of(department) if department else None
        if head and head.lower() not in [h for _, h in heads]:
            heads.append((department or "", head.lower()))
    if not heads:
        heads = [("协调办公室", a.lower()) for a in config.coordinators]
    return heads


def _returned(
    parsed: ParsedMessage, request: Request | None, problems: list[str], lang: str
) -> SendMail:
    number = request.number if request else ""
    sender = parsed.headers.from_addr or ""
    return SendMail(
        template="author/minutes_returned",
        to=(Recipient(sender, parsed.headers.from_name, lang),),  # type: ignore[arg-type]
        context={
            "number": number,
            "title": request.title if request else "",
            "problems": problems,
            "how_to_fix": (
                f"请修改后以主题“[纪要] {number}”重新发送整份纪要。"
                if lang == "zh"
                else "Please correct them and send the whole minutes again with the subject "
                f"'[MINUTES] {number}'."
            ),
        },
        request_number=request.number if request else None,
        request_id=request.id if request else None,
    ).in_answer_to(parsed.headers.message_id)


def _item_line(task: Task, tz: object, lang: str) -> str:
    owner = f"{task.owner_name or ''} {task.owner_email}".strip()
    due = presenting.format_date(task.due, lang)
    if lang == "zh":
        return f"{task.ref} {task.title}｜负责人：{owner}｜截止：{due}｜交付物：{task.deliverable}"
    return (
        f"{task.ref} {task.title} | owner: {owner} | due: {due} | deliverable: {task.deliverable}"
    )


def _participants(
    minutes: Minutes, request: Request, heads: Sequence[tuple[str, str]], uow: SqlUnitOfWork
) -> list[str]:
    people = [h for _, h in heads]
    for meeting in uow.meetings.for_request(request.id):
        if meeting.kind == "kickoff":
            people += [a.email for a in uow.meetings.attendees(meeting.id) if not a.removed]
    people += [request.requester_email.lower(), minutes.author]
    seen: list[str] = []
    for p in people:
        if p and p.lower() not in seen:
            seen.append(p.lower())
    return seen


def _for_confirmation(
    minutes: Minutes,
    request: Request,
    heads: Sequence[tuple[str, str]],
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> list[SendMail]:
    directory = config.directory
    deadline = config.profile.service_level("minutes_confirmed").due(now, config.calendar)
    tasks = uow.minutes.tasks_of_minutes(minutes.id)
    head_set = {h for _, h in heads}
    mails = []
    for person in _participants(minutes, request, heads, uow):
        lang = _lang(directory, person)
        asks = person in head_set
        person_info = directory.person(person)
        mails.append(
            SendMail(
                template="participant/minutes_for_confirmation",
                to=(Recipient(person, person_info.name if person_info else None, lang),),
                context={
                    "number": request.number,
                    "title": request.title,
                    "version": str(minutes.version),
                    "author": minutes.author,
                    "attendees": list(minutes.attendees),
                    "discussion": minutes.discussion,
                    "decisions": minutes.decisions,
                    "action_items": [_item_line(t, config.timezone, lang) for t in tasks],
                    "asks_signoff": asks,
                    "keywords": MINUTES_KEYWORDS[lang],
                    "deadline": presenting.format_instant(deadline, config.timezone, lang),
                },
                request_number=request.number,
                request_id=request.id,
                # Heads answer with a sign-off; the mail names the version it asks about.
                reply_context="minutes" if asks else None,
                task=f"m{minutes.id}" if asks else None,
            )
        )
    return mails


# --- answers ----------------------------------------------------------------------------------


def apply_confirmation(
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
    """A head confirms or objects to the version of the minutes the answered mail carried."""
    from workflow.replies import not_applicable

    ref = verdict.outbox.task_ref or ""
    minutes = uow.minutes.get(int(ref[1:])) if ref.startswith("m") and ref[1:].isdigit() else None
    lang = _lang(config.directory, verdict.signer)
    if minutes is None or minutes.state != "confirming" or action not in ("confirm", "object"):
        text = (
            "这一版纪要已不在确认中（已有新版本、已确认或已被提出异议），未作任何更改。"
            if lang == "zh"
            else "This version of the minutes is no longer being confirmed; nothing was changed."
        )
        return Applied(
            "not_applicable",
            (not_applicable(parsed, verdict.signer, request, action, text, [], config=config),),
        )
    head = verdict.on_behalf_of
    confirmation = next((c for c in uow.minutes.confirmations(minutes.id) if c.head == head), None)
    if confirmation is None or confirmation.state != "pending":
        return Applied(
            "not_applicable",
            (not_applicable(parsed, verdict.signer, request, action, "", [], config=config),),
        )
    confirmation.at = now
    stop_clocks(
        request.id,
        "minutes_confirmed",
        uow=uow,
        now=now,
        subject=f"minutes:{minutes.id}",
        awaited=head,
    )
    if action == "object":
        confirmation.state = "objected"
        confirmation.reason = str(value or "").strip() or None
        minutes.state = "objected"
        author_lang = _lang(config.directory, minutes.author)
        who = f"{config.directory.name_of(head)} <{head}>"
        mail = SendMail(
            template="author/minutes_objection",
            to=(Recipient(minutes.author, None, author_lang),),
            context={
                "number": request.number,
                "title": request.title,
                "version": str(minutes.version),
                "head": who,
                "reason": confirmation.reason
                or ("（未说明）" if author_lang == "zh" else "(none given)"),
                "how_to_fix": (
                    f"请修改后以主题“[纪要] {request.number}”发送新版本，确认将重新开始。"
                    if author_lang == "zh"
                    else f"Send a new version with the subject '[MINUTES] {request.number}'; "
                    "confirmation starts again."
                ),
            },
            request_number=request.number,
            request_id=request.id,
        )
        return Applied("applied", (mail,), f"第{minutes.version}版纪要：异议")
    confirmation.state = "confirmed"
    pending = [c for c in uow.minutes.confirmations(minutes.id) if c.state != "confirmed"]
    if pending:
        return Applied("applied", (), f"第{minutes.version}版纪要：已确认")
    return Applied(
        "applied",
        tuple(_finalise(minutes, request, uow=uow, now=now, config=config)),
        f"第{minutes.version}版纪要：已确认，纪要生效",
    )


def assign_task(
    task: Task, request: Request, *, uow: SqlUnitOfWork, now: datetime, config: WorkflowConfig
) -> SendMail:
    """The task mail to its owner (collaborators in copy), and the clock that waits for
    the owner's acknowledgement: on final minutes, and again for a new owner."""
    directory = config.directory
    ack_deadline = config.profile.service_level("task_acknowledged").due(now, config.calendar)
    start_clock(
        "task_acknowledged",
        request,
        subject=f"task:{task.ref}",
        awaited=task.owner_email,
        what=f"确认任务 {task.ref}「{task.title}」的期限（回复“收到”或“申请改期：日期 理由”）",
        original_subject=f"[任务] {request.number}/{task.ref} {task.title}",
        uow=uow,
        now=now,
        config=config,
    )
    lang = _lang(directory, task.owner_email)
    cc = tuple(Recipient(c, None, _lang(directory, c)) for c in task.collaborators if "@" in c)
    return SendMail(
        template="owner/task_assignment",
        to=(Recipient(task.owner_email, task.owner_name, lang),),
        cc=cc,
        context={
            "number": request.number,
            "title": request.title,
            "task_ref": task.ref,
            "task_title": task.title,
            "due": presenting.format_date(task.due, lang),
            "deliverable": task.deliverable,
            "acceptance": task.acceptance or "",
            "collaborators": list(task.collaborators),
            "lead_department": request.lead_department or "",
            "keywords": TASK_KEYWORDS[lang],
            "ack_deadline": presenting.format_instant(ack_deadline, config.timezone, lang),
        },
        request_number=request.number,
        request_id=request.id,
        reply_context="task",
        task=task.ref,
    )


def expect_minutes(
    request: Request, *, uow: SqlUnitOfWork, now: datetime, config: WorkflowConfig
) -> None:
    """The kickoff is set (or moved): the lead's head owes the minutes the profile's
    ``minutes_sent`` limit after the meeting ends. Restarts the clock for the current
    kickoff; nothing when there is none or the minutes arrived already."""
    stop_clocks(request.id, "minutes_sent", uow=uow, now=now)
    kickoffs = [
        m
        for m in uow.meetings.for_request(request.id)
        if m.kind == "kickoff" and m.status != "CANCELLED"
    ]
    if not kickoffs or uow.minutes.for_request(request.id):
        return
    meeting = max(kickoffs, key=lambda m: (m.created_at, m.id))
    head = config.directory.head_of(request.lead_department) if request.lead_department else None
    for awaited in [head] if head else list(config.coordinators):
        start_clock(
            "minutes_sent",
            request,
            subject=f"meeting:{meeting.id}",
            awaited=awaited,
            what=f"会后以主题“[纪要] {request.number}”发送启动会纪要",
            original_subject="",  # a new mail, not a reply
            uow=uow,
            now=now,
            config=config,
            anchor=meeting.end,
        )


def _finalise(
    minutes: Minutes, request: Request, *, uow: SqlUnitOfWork, now: datetime, config: WorkflowConfig
) -> list[SendMail]:
    """Every head confirmed: the minutes are final and each owner gets their task."""
    minutes.state = "final"
    minutes.final_at = now
    request.state = "in_progress"
    request.updated_at = now
    directory = config.directory
    tasks = uow.minutes.tasks_of_minutes(minutes.id)
    mails: list[SendMail] = []
    for task in tasks:
        task.state = "assigned"
        task.updated_at = now
        mails.append(assign_task(task, request, uow=uow, now=now, config=config))
    confirmations = [
        f"{directory.name_of(c.head)}（{c.department}）"
        + presenting.format_instant(c.at, config.timezone, "zh")
        for c in uow.minutes.confirmations(minutes.id)
        if c.at is not None
    ]
    for person in _participants(minutes, request, [], uow):
        lang = _lang(directory, person)
        mails.append(
            SendMail(
                template="participant/minutes_final",
                to=(Recipient(person, None, lang),),
                context={
                    "number": request.number,
                    "title": request.title,
                    "version": str(minutes.version),
                    "confirmations": confirmations,
                    "tasks": [_item_line(t, config.timezone, lang) for t in tasks],
                },
                request_number=request.number,
                request_id=request.id,
            )
        )
    mails += ask_for_plans(request, uow=uow, now=now, config=config)  # where the profile has it
    return mails
