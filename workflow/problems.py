"""Problems (问题反馈): the problem notice to the lead, the resolution by reply, its clocks.

An issue mail about a task or a request that is under way opens a problem record
(``workflow.intake``); :func:`open_problem` then

- schedules the problem meeting with the reporter, the task owner and the lead head
  (``workflow.meetings``),
- mails the lead head (the coordination office where the directory names no head) a
  problem notice that asks for the resolution by reply, one copy per person with its
  own Message-ID (context ``notice``, task ``i<issue id>``),
- starts the clocks that wait for that reply: ``problem_meeting`` (24 hours, then the
  lead head and superior hear of it), ``problem_escalation`` where the profile has it,
  and ``communication_record`` from the end of the problem meeting.

:func:`apply_resolution` runs on the lead's accepted reply
``解决：措施 新期限：日期 新负责人：姓名/地址`` (``RESOLVED: measures due: date owner:
name``; the deadline and the owner are optional). It records the resolution on the
problem; a new deadline becomes the task's deadline and a new owner takes the task over
(resolved through the directory to exactly one person; they get the task mail and the
acknowledgement clock, as on the original assignment). The reporter, the owner (the
former one too) and the lead are told, and the clocks stop. A problem meeting that has
not begun yet is called off (a calendar CANCEL to its attendees, as for a withdrawn
request); one under way or over is left as it was. A second resolution, one
from anybody but the lead head or their delegate, or one that cannot be applied changes
nothing and is answered with the reason.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from mail_parsers.model import ParsedMessage
from store.models import Issue, Request, Task
from store.uow import SqlUnitOfWork
from workflow import presenting
from workflow.actions import Applied, Recipient, SendMail
from workflow.clocks import start_clock, stop_clocks, stop_meeting_clocks
from workflow.config import WorkflowConfig
from workflow.directory import Ambiguous, Conflict, Directory, Person, Resolved, Unknown
from workflow.meetings import cancel_meeting, schedule_problem_meeting
from workflow.minutes import assign_task
from workflow.people import language as _lang
from workflow.people import recipient as _recipient
from workflow.people import who as _who
from workflow.signoff import Accepted
from workflow.tasks import change_due, change_owner

RESOLVE_KEYWORDS = {
    "zh": [
        "解决：解决措施",
        "新期限：日期（可选，任务的新截止时间）",
        "新负责人：姓名或邮箱（可选，改由此人负责任务）",
    ],
    "en": [
        "RESOLVED: the measures",
        "due: date (optional, the task's new deadline)",
        "owner: name or address (optional, who takes the task over)",
    ],
}
#: Clocks that wait for a problem's resolution (subject ``issue:<id>``).
PROBLEM_CLOCKS = ("problem_meeting", "problem_escalation")
#: Task states a resolution may still move (a new deadline or owner).
_OPEN_TASK_STATES = frozenset({"draft", "assigned", "acknowledged", "returned"})
_TASK_REF = re.compile(r"RW-(\d+)", re.IGNORECASE)
_SUMMARY_LENGTH = 30


def task_ref(text: str | None) -> str | None:
    """``RW-3``, ``rw-0003`` or ``XT-2026-0012/RW-0003`` as the stored ``RW-0003``."""
    match = _TASK_REF.search(text or "")
    return f"RW-{int(match.group(1)):04d}" if match else None


def issue_task(issue: Issue, request: Request, uow: SqlUnitOfWork) -> Task | None:
    """The task the problem is about, if it names one of the request's tasks."""
    ref = task_ref(issue.task_ref)
    return uow.minutes.task(request.id, ref) if ref else None


def reference(issue: Issue, request: Request) -> str:
    """``XT-2026-0001/RW-0002``, or the request number for a problem about the request."""
    ref = task_ref(issue.task_ref)
    return f"{request.number}/{ref}" if ref else request.number


def deciders(request: Request, config: WorkflowConfig) -> list[str]:
    """Who answers a problem notice: the lead head, else the coordination office."""
    head = config.directory.head_of(request.lead_department) if request.lead_department else None
    return [head.lower()] if head else [a.lower() for a in config.coordinators]


def may_resolve(sender: str, request: Request, config: WorkflowConfig) -> bool:
    """The lead head (or the office without one), or a delegate named in the directory."""
    return any(config.directory.may_sign_for(d, sender) for d in deciders(request, config))


def _summary(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _SUMMARY_LENGTH else line[: _SUMMARY_LENGTH - 1] + "…"


def notice_subject(issue: Issue, request: Request, language: str) -> str:
    """The subject of the problem notice (as its template writes it), for reminders."""
    ref = reference(issue, request)
    if language == "en":
        return f"[Problem] {ref} problem {issue.id}: {_summary(issue.description)}"
    return f"[问题处理] {ref} 问题{issue.id}：{_summary(issue.description)}"


# --- opening --------------------------------------------------------------------------------


def open_problem(
    issue: Issue, request: Request, *, uow: SqlUnitOfWork, now: datetime, config: WorkflowConfig
) -> list[SendMail]:
    """The problem meeting, the notice to the lead and the clocks waiting for the resolution."""
    task = issue_task(issue, request, uow)
    mails = schedule_problem_meeting(
        issue,
        request,
        uow=uow,
        now=now,
        config=config,
        owner=task.owner_email if task is not None else None,
    )
    meeting = next(
        (m for m in uow.meetings.for_request(request.id) if m.issue_id == issue.id), None
    )
    profile = config.profile
    resolve_by = (
        profile.service_level("problem_meeting").due(now, config.calendar)
        if profile.has_service_level("problem_meeting")
        else now + timedelta(hours=24)
    )
    subject = notice_subject(issue, request, "zh")
    what = (
        f"答复问题{issue.id}（{reference(issue, request)}）的解决措施："
        "回复问题处理通知“解决：措施 新期限：日期”"
    )
    for decider in deciders(request, config):
        for name in PROBLEM_CLOCKS:
            start_clock(
                name,
                request,
                subject=f"issue:{issue.id}",
                awaited=decider,
                what=what,
                original_subject=subject,
                uow=uow,
                now=now,
                config=config,
            )
        if meeting is not None:
            start_clock(
                "communication_record",
                request,
                subject=f"meeting:{meeting.id}",
                awaited=decider,
                what=(
                    f"问题协调会后记录沟通结论（问题{issue.id}）："
                    "回复问题处理通知“解决：措施 新期限：日期”"
                ),
                original_subject=subject,
                uow=uow,
                now=now,
                config=config,
                anchor=meeting.end,
            )
    mails += [
        _notice(
            issue,
            request,
            task,
            decider,
            meeting_start=meeting.start if meeting else None,
            resolve_by=resolve_by,
            config=config,
        )
        for decider in deciders(request, config)
    ]
    return mails


def _notice(
    issue: Issue,
    request: Request,
    task: Task | None,
    decider: str,
    *,
    meeting_start: datetime | None,
    resolve_by: datetime,
    config: WorkflowConfig,
) -> SendMail:
    directory = config.directory
    lang = _lang(directory, decider)
    tz = config.timezone
    return SendMail(
        template="lead/problem_notice",
        to=(_recipient(directory, decider),),
        context={
            "number": request.number,
            "title": request.title,
            "problem_id": str(issue.id),
            "reference": reference(issue, request),
            "summary": _summary(issue.description),
            "task_ref": task.ref if task is not None else "",
            "task_title": task.title if task is not None else "",
            "owner": _who(directory, task.owner_email) if task is not None else "",
            "current_due": presenting.format_date(task.due, lang) if task is not None else "",
            "reporter": _who(directory, issue.reporter_email),
            "reported_at": presenting.format_instant(issue.created_at, tz, lang),
            "description": issue.description,
            "impact": issue.impact or "",
            "tried": issue.tried or "",
            "support": issue.support or "",
            "urgency": presenting.urgency_label(issue.urgency, lang),
            "meeting_start": presenting.format_instant(meeting_start, tz, lang)
            if meeting_start
            else "",
            "resolve_by": presenting.format_instant(resolve_by, tz, lang),
            "keywords": RESOLVE_KEYWORDS[lang],
        },
        request_number=request.number,
        request_id=request.id,
        reply_context="notice",
        task=f"i{issue.id}",
    )


# --- the resolution -------------------------------------------------------------------------


def _refused(
    verdict: Accepted,
    request: Request,
    parsed: ParsedMessage,
    texts: tuple[str, str],
    *,
    config: WorkflowConfig,
    keywords: bool = False,
) -> Applied:
    from workflow.replies import not_applicable

    lang = _lang(config.directory, verdict.signer)
    text = texts[1] if lang == "en" else texts[0]
    listed = list(RESOLVE_KEYWORDS[lang]) if keywords else []
    return Applied(
        "not_applicable",
        (not_applicable(parsed, verdict.signer, request, "resolve", text, listed, config=config),),
    )


def _issue_of(verdict: Accepted, request: Request, uow: SqlUnitOfWork) -> Issue | None:
    ref = verdict.outbox.task_ref or ""
    issue = uow.issues.by_id(int(ref[1:])) if ref.startswith("i") and ref[1:].isdigit() else None
    return issue if issue is not None and issue.request_id == request.id else None


def apply_resolution(
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
    """The lead answers a problem notice with ``解决：…``."""
    directory = config.directory
    tz = config.timezone
    issue = _issue_of(verdict, request, uow)
    if issue is None or action != "resolve":
        return _refused(
            verdict,
            request,
            parsed,
            (
                "该通知所述问题不存在，或此关键词不适用于问题处理通知，未作任何更改。",
                "That problem does not exist, or the keyword does not answer a problem notice; "
                "nothing was changed.",
            ),
            config=config,
            keywords=True,
        )
    if not may_resolve(verdict.signer, request, config):
        heads = "、".join(_who(directory, d) for d in deciders(request, config))
        return _refused(
            verdict,
            request,
            parsed,
            (
                f"问题{issue.id}的解决措施只能由牵头部门负责人（{heads}）或其授权代理人答复，未作任何更改。",
                f"Only the head of the lead department ({heads}) or their delegate answers "
                f"problem {issue.id}; nothing was changed.",
            ),
            config=config,
        )
    if issue.state == "resolved":
        lang = _lang(directory, verdict.signer)
        at = presenting.format_instant(issue.resolved_at or now, tz, lang)
        by = _who(directory, issue.resolved_by or "")
        return _refused(
            verdict,
            request,
            parsed,
            (
                f"问题{issue.id}已于 {at} 由 {by} 答复解决（措施：{issue.resolution}），"
                "本次答复未作任何更改。",
                f"Problem {issue.id} was resolved on {at} by {by} (measures: {issue.resolution}); "
                "this answer changed nothing.",
            ),
            config=config,
        )
    reading = value if isinstance(value, dict) else {}
    measures = str(reading.get("measures") or "").strip()
    if not measures:
        return _refused(
            verdict,
            request,
            parsed,
            (
                "未写明解决措施，请在“解决：”之后写明措施，"
                "例如“解决：更换备用供应商 新期限：2026-04-10”。",
                "No measures were given: write them after 'RESOLVED:', e.g. "
                "'RESOLVED: switch to the backup vendor due: 2026-04-10'.",
            ),
            config=config,
            keywords=True,
        )
    if reading.get("due_text") is not None:
        written = str(reading.get("due_text"))
        return _refused(
            verdict,
            request,
            parsed,
            (
                f"新期限“{written}”无法识别，请写成“新期限：2026-04-10”。",
                f"The new deadline '{written}' is unreadable; write 'due: 2026-04-10'.",
            ),
            config=config,
            keywords=True,
        )
    new_due = _date(reading.get("due"))
    today = now.astimezone(tz).date()
    if new_due is not None and new_due < today:
        return _refused(
            verdict,
            request,
            parsed,
            (
                f"新期限 {new_due.isoformat()} 已经过去，未作任何更改。",
                f"The new deadline {new_due.isoformat()} is in the past; nothing was changed.",
            ),
            config=config,
        )
    lang = _lang(directory, verdict.signer)
    new_owner: Person | None = None
    owner_text = str(reading.get("owner") or "").strip()
    if owner_text:
        new_owner, problem = _person(owner_text, directory, lang)
        if problem is not None:
            return _refused(verdict, request, parsed, (problem, problem), config=config)
    task = issue_task(issue, request, uow)
    if task is not None and (new_due or new_owner) and task.state not in _OPEN_TASK_STATES:
        return _refused(
            verdict,
            request,
            parsed,
            (
                f"任务 {task.ref} 已完成或已验收，不能再调整期限或负责人；"
                "如只需记录措施，请只写“解决：措施”。",
                f"Task {task.ref} is done or accepted: its deadline and owner no longer change. "
                "To record the measures only, write 'RESOLVED: measures'.",
            ),
            config=config,
        )

    issue.state = "resolved"
    issue.resolution = measures
    issue.resolution_due = new_due
    issue.resolution_owner = new_owner.email if new_owner is not None else None
    issue.resolved_at = now
    issue.resolved_by = verdict.signer
    mails: list[SendMail] = []
    previous_owner: str | None = None
    if task is None and new_due is not None and new_due != request.due:
        # A problem about the whole request: its deadline is the request's.
        request.due = new_due
        request.updated_at = now
    if task is not None:
        if new_due is not None and new_due != task.due:
            change_due(task, new_due, uow=uow, now=now)
        if new_owner is not None and new_owner.email.lower() != task.owner_email.lower():
            previous_owner = task.owner_email
            mails += _hand_over(task, new_owner, request, uow=uow, now=now, config=config)
    for name in PROBLEM_CLOCKS:
        stop_clocks(request.id, name, uow=uow, now=now, subject=f"issue:{issue.id}")
    called_off = 0
    for meeting in uow.meetings.for_request(request.id):
        if meeting.issue_id != issue.id:
            continue
        stop_meeting_clocks(meeting, uow=uow, now=now)  # its communication record
        if meeting.status != "CANCELLED" and meeting.start > now:
            # Resolved before the meeting: nothing left to meet about.
            reason = {
                "zh": f"问题{issue.id}已在会前答复解决（措施：{measures}），会议不再召开。",
                "en": f"Problem {issue.id} was resolved before the meeting (measures: "
                f"{measures}); the meeting is no longer needed.",
            }
            mails += cancel_meeting(meeting, request, reason, uow=uow, now=now, config=config)
            called_off += 1
    mails += _resolved_notices(issue, request, task, previous_owner, config=config, now=now)
    detail = f"问题{issue.id}已解决"
    if called_off:
        detail += "，问题协调会已取消"
    if new_due is not None:
        detail += f"，新期限 {new_due.isoformat()}"
    if new_owner is not None:
        detail += f"，新负责人 {_who(directory, new_owner.email)}"
    return Applied("applied", tuple(mails), detail)


def _date(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _person(text: str, directory: Directory, lang: str) -> tuple[Person | None, str | None]:
    """The one person ``text`` names, or what is wrong with it (in ``lang``)."""
    if not directory.people:
        # No directory configured: an address is needed, and taken as written.
        address = next((w.strip("<>") for w in text.split() if "@" in w), None)
        if address:
            return Person(email=address.lower(), name=""), None
        return None, (
            "新负责人需写明邮箱地址，未作任何更改。"
            if lang == "zh"
            else "The new owner needs an address. Nothing was changed."
        )
    found = directory.resolve_person(text)
    if isinstance(found, Resolved):
        return found.person, None
    if isinstance(found, Ambiguous):
        who = "、".join(f"{p.name or ''} {p.email}".strip() for p in found.candidates)
        return None, (
            f"新负责人“{found.text}”在通讯录中不唯一（{who}），请写明邮箱地址；未作任何更改。"
            if lang == "zh"
            else f"The new owner '{found.text}' is ambiguous ({who}): write the address. "
            "Nothing was changed."
        )
    if isinstance(found, Conflict):
        return None, (
            f"新负责人“{found.text}”的姓名与邮箱不是同一人，未作任何更改。"
            if lang == "zh"
            else f"The new owner '{found.text}': name and address are different people. "
            "Nothing was changed."
        )
    assert isinstance(found, Unknown)
    return None, (
        f"新负责人“{found.text}”不在通讯录中，未作任何更改。"
        if lang == "zh"
        else f"The new owner '{found.text}' is not in the directory. Nothing was changed."
    )


def _hand_over(
    task: Task,
    person: Person,
    request: Request,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> list[SendMail]:
    """The task passes to ``person``: the former owner's acknowledgement no longer counts,
    the new owner gets the task mail and the acknowledgement clock."""
    change_owner(task, person.email, person.name, uow=uow, now=now)
    if task.state == "draft":
        return []  # the minutes are not final yet: the task mail goes out with them
    return [assign_task(task, request, uow=uow, now=now, config=config)]


def _resolved_notices(
    issue: Issue,
    request: Request,
    task: Task | None,
    previous_owner: str | None,
    *,
    config: WorkflowConfig,
    now: datetime,
) -> list[SendMail]:
    """The reporter, the owner (and the former one) and the lead hear of the resolution;
    for a problem about the whole request, also whoever the lead made responsible for it,
    and the requester when the request's deadline moved."""
    directory = config.directory
    people: list[str] = []
    request_level = task is None
    for address in (
        issue.reporter_email,
        task.owner_email if task is not None else None,
        previous_owner,
        issue.resolution_owner if request_level else None,
        request.requester_email if request_level and issue.resolution_due else None,
        *deciders(request, config),
    ):
        if address and address.lower() not in people:
            people.append(address.lower())
    by_language: dict[str, list[Recipient]] = {}
    for address in people:
        recipient = _recipient(directory, address)
        by_language.setdefault(recipient.language, []).append(recipient)
    mails: list[SendMail] = []
    for lang, recipients in by_language.items():
        mails.append(
            SendMail(
                template="participant/problem_resolved",
                to=tuple(recipients),
                context={
                    "number": request.number,
                    "title": request.title,
                    "problem_id": str(issue.id),
                    "reference": reference(issue, request),
                    "summary": _summary(issue.description),
                    "description": issue.description,
                    "measures": issue.resolution or "",
                    "resolved_by": _who(directory, issue.resolved_by or ""),
                    "resolved_at": presenting.format_instant(now, config.timezone, lang),
                    "task_ref": task.ref if task is not None else "",
                    "task_title": task.title if task is not None else "",
                    "new_due": presenting.format_date(issue.resolution_due, lang),
                    "owner": _who(directory, task.owner_email) if task is not None else "",
                    "new_owner": _who(directory, issue.resolution_owner)
                    if issue.resolution_owner
                    else "",
                    "previous_owner": _who(directory, previous_owner) if previous_owner else "",
                },
                request_number=request.number,
                request_id=request.id,
            )
        )
    return mails
