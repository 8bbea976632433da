"""The clocks the service runs every minute (``liaison tick`` runs them once).

Every service level the workflow waits on is a stored clock (``store.models.ClockItem``):
started when a mail asks someone for something, stopped when the awaited reply
arrives. A sweep fires what is due: first a reminder to the awaited person, then, if the
profile says so, an escalation to the roles it names. Each fires once per clock and
level, and only within working hours (outside them it waits for the next working
period). The agenda reminder the working day before each meeting runs here too.

Some clocks count from a meeting (``minutes_sent``, ``communication_record``: their
anchor in :data:`~workflow.service_levels.CLOCKS` is the meeting's start or end; their
subject ``meeting:<id>``). They follow the meeting: moved, they start again from the new
time (:func:`rearm_meeting_clocks`); cancelled, they stop (:func:`stop_meeting_clocks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from store.models import ClockItem, Meeting, Request
from store.uow import SqlUnitOfWork
from workflow import presenting
from workflow.actions import Recipient, SendMail
from workflow.config import WorkflowConfig
from workflow.execution import run_execution
from workflow.meetings import send_agenda_reminders
from workflow.outbound import queue_mail
from workflow.people import language, recipient
from workflow.service_levels import CLOCKS

#: The anchors of the clocks that count from a meeting.
MEETING_ANCHORS = frozenset({"meeting_start", "meeting_end"})


@dataclass(frozen=True)
class TickReport:
    mails: int
    reminders: int  # agenda reminders
    clock_reminders: int = 0
    escalations: int = 0
    #: The execution stage (workflow/execution.py): weekly progress, digests, warnings.
    progress_requests: int = 0
    progress_reminders: int = 0
    digests: int = 0
    risk_warnings: int = 0
    overdue: int = 0


def start_clock(
    name: str,
    request: Request,
    *,
    subject: str,
    awaited: str,
    what: str,
    original_subject: str,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
    anchor: datetime | None = None,
) -> int | None:
    """Start the profile's clock ``name`` waiting for ``awaited``; its id, or None if the
    profile has no such clock. The limit counts from ``anchor`` (the clock's anchor event, e.g.
    the end of a meeting), by default from ``now``."""
    if not config.profile.has_service_level(name):
        return None
    level = config.profile.service_level(name)
    anchor = anchor or now
    due = level.due(anchor, config.calendar)
    return uow.clocks.record(
        name=name,
        request_id=request.id,
        subject=subject,
        awaited=awaited.lower(),
        what=what,
        original_subject=original_subject,
        started_at=now,
        due_at=due,
        escalate_at=level.escalation_due(anchor, config.calendar),
        level=0,
        next_at=due,
        state="open",
    )


def stop_clocks(
    request_id: int,
    name: str,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    subject: str | None = None,
    awaited: str | None = None,
) -> int:
    """Stop the matching open clocks (the awaited reply arrived); how many stopped."""
    stopped = uow.clocks.open_for(request_id, name, subject, awaited)
    for clock in stopped:
        clock.state = "stopped"
        clock.stopped_at = now
        clock.next_at = None
    return len(stopped)


def meeting_clocks(meeting: Meeting, *, uow: SqlUnitOfWork) -> list[ClockItem]:
    """The open clocks that count from ``meeting`` (subject ``meeting:<id>``)."""
    subject = f"meeting:{meeting.id}"
    return [
        clock
        for name, definition in CLOCKS.items()
        if definition.anchor in MEETING_ANCHORS
        for clock in uow.clocks.open_for(meeting.request_id, name, subject)
    ]


def stop_meeting_clocks(meeting: Meeting, *, uow: SqlUnitOfWork, now: datetime) -> int:
    """The meeting will not take place: stop every clock that counts from it."""
    stopped = meeting_clocks(meeting, uow=uow)
    for clock in stopped:
        clock.state = "stopped"
        clock.stopped_at = now
        clock.next_at = None
    return len(stopped)


def rearm_meeting_clocks(
    meeting: Meeting,
    request: Request,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> int:
    """The meeting moved: each open clock that counts from it stops, and a new one waits
    for the same person from the meeting's new start or end (nothing fired yet; the
    stopped row stays as the history). Returns how many were started again."""
    started = 0
    for clock in meeting_clocks(meeting, uow=uow):
        clock.state = "stopped"
        clock.stopped_at = now
        clock.next_at = None
        anchor = meeting.start if CLOCKS[clock.name].anchor == "meeting_start" else meeting.end
        again = start_clock(
            clock.name,
            request,
            subject=clock.subject,
            awaited=clock.awaited,
            what=clock.what,
            original_subject=clock.original_subject,
            uow=uow,
            now=now,
            config=config,
            anchor=anchor,
        )
        started += again is not None
    return started


def tick(
    *, uow: SqlUnitOfWork, now: datetime, config: WorkflowConfig, dry_run: bool = False
) -> TickReport:
    """Run every clock once as of ``now``; with ``dry_run`` decide but record nothing."""
    mails = send_agenda_reminders(uow=uow, now=now, config=config)
    agenda = len(mails)
    reminded = escalated = 0
    if config.calendar.in_working_hours(now):
        for clock in uow.clocks.due(now):
            fired = _fire(clock, uow=uow, now=now, config=config)
            mails += fired
            if fired and clock.level == 1:
                reminded += 1
            elif fired and clock.level == 2:
                escalated += 1
    execution = run_execution(uow=uow, now=now, config=config, dry_run=dry_run)
    mails += execution.mails
    queued = 0
    if not dry_run:
        for mail in mails:
            queued += len(queue_mail(mail, uow=uow, now=now, config=config))
    return TickReport(
        mails=queued if not dry_run else len(mails),
        reminders=agenda,
        clock_reminders=reminded,
        escalations=escalated,
        progress_requests=execution.progress_requests,
        progress_reminders=execution.progress_reminders,
        digests=execution.digests,
        risk_warnings=execution.risk_warnings,
        overdue=execution.overdue,
    )


def _fire(
    clock: ClockItem, *, uow: SqlUnitOfWork, now: datetime, config: WorkflowConfig
) -> list[SendMail]:
    request = uow.requests.get(clock.request_id)
    directory = config.directory
    level = config.profile.service_level(clock.name)
    # A level without ``remind`` roles goes straight to its escalation (the problem
    # meeting: 24 hours, then the lead head and superior hear of it).
    reminded = bool(level.remind)
    if not reminded and clock.escalate_at is not None and clock.escalate_at > now:
        clock.next_at = clock.escalate_at  # nobody to remind: wait for the escalation
        return []
    if clock.level == 0 and reminded:
        clock.level = 1
        clock.next_at = clock.escalate_at
        to = recipient(directory, clock.awaited)
        lang = to.language
        return [
            SendMail(
                template="awaited/reminder",
                to=(to,),
                context={
                    "number": request.number,
                    "title": request.title,
                    "what": clock.what,
                    "since": presenting.format_instant(clock.started_at, config.timezone, lang),
                    "due": presenting.format_instant(clock.due_at, config.timezone, lang),
                    "how": _how(clock.name, request.number, lang),
                    "original_subject": clock.original_subject,
                },
                request_number=request.number,
                request_id=request.id,
            )
        ]
    clock.level = 2
    clock.next_at = None
    if clock.name in _PROBLEM_CLOCKS:
        _mark_problem_escalated(clock, uow)
    targets = _escalation_targets(clock, request, config, reminded=reminded)
    if not targets:
        return []
    awaited_person = directory.person(clock.awaited)
    awaited = (
        f"{awaited_person.name} <{clock.awaited}>"
        if awaited_person and awaited_person.name
        else clock.awaited
    )
    days = max(config.calendar.working_days_between(clock.due_at, now), 0)
    hours = max(int((now - clock.started_at).total_seconds() // 3600), 0)
    mails = []
    for target in targets:
        lang = language(directory, target)
        if level.unit == "hours":
            overdue = (
                f"已过去 {hours} 小时（时限 {level.limit} 小时）"
                if lang == "zh"
                else f"{hours} hours since it started (limit {level.limit} hours)"
            )
        else:
            overdue = (
                f"已超期 {days} 个工作日" if lang == "zh" else f"{days} working day(s) overdue"
            )
        mails.append(
            SendMail(
                template="superior/escalation",
                to=(Recipient(target, None, lang),),
                context={
                    "number": request.number,
                    "title": request.title,
                    "awaited": awaited,
                    "what": clock.what,
                    "since": presenting.format_instant(clock.started_at, config.timezone, lang),
                    "due": presenting.format_instant(clock.due_at, config.timezone, lang),
                    "overdue": overdue,
                    # Whether a reminder to the awaited person came first.
                    "reminded": reminded,
                },
                request_number=request.number,
                request_id=request.id,
            )
        )
    return mails


#: Clocks that wait for the resolution of a problem (subject ``issue:<id>``).
_PROBLEM_CLOCKS = frozenset({"problem_meeting", "problem_escalation"})


def _mark_problem_escalated(clock: ClockItem, uow: SqlUnitOfWork) -> None:
    """An unresolved problem past its limit is escalated (问题上报)."""
    kind, _, ident = clock.subject.partition(":")
    issue = uow.issues.by_id(int(ident)) if kind == "issue" and ident.isdigit() else None
    if issue is not None and issue.state != "resolved":
        issue.state = "escalated"


#: Clocks whose awaited answer is a new mail with a subject tag (zh, en), not a reply.
_NEW_MAIL_TAGS = {
    "minutes_sent": ("[纪要]", "[MINUTES]"),
    "department_plans": ("[方案]", "[PLAN]"),
    "consolidated_plan": ("[方案]", "[PLAN]"),
    "review_meeting": ("[复盘]", "[REVIEW]"),
}


def _how(name: str, number: str, lang: str) -> str:
    """How the awaited person answers: by reply, or with a new tagged mail."""
    tags = _NEW_MAIL_TAGS.get(name)
    if tags is None:
        return (
            "请直接回复原邮件，并把关键词写在正文第一行。"
            if lang == "zh"
            else "Reply to the original mail with the keyword on the first line."
        )
    if lang == "zh":
        return f"请另发一封新邮件到协调邮箱，主题写“{tags[0]} {number}”，正文和附件即为所交内容。"
    return (
        f"Send a new mail to the coordination mailbox with the subject '{tags[1]} {number}'; "
        "its text and attachments are what you hand in."
    )


def _escalation_targets(
    clock: ClockItem, request: Request, config: WorkflowConfig, *, reminded: bool = True
) -> list[str]:
    """The addresses the profile's escalation roles stand for, for this clock.

    The awaited person is left out when they were reminded already; a clock that
    reminds nobody escalates to them as well when the roles name them (the lead head
    of an unresolved problem)."""
    directory = config.directory
    level = config.profile.service_level(clock.name)
    awaited_department = directory.department_of(clock.awaited)
    found: list[str] = []
    for role in level.escalate_to:
        addresses: list[str | None] = []
        if role == "office_head":
            addresses = (
                [directory.office_head] if directory.office_head else list(config.coordinators)
            )
        elif role == "coordination_office":
            addresses = list(config.coordinators)
        elif role == "lead_head":
            addresses = [
                directory.head_of(request.lead_department) if request.lead_department else None
            ]
        elif role == "lead_superior":
            addresses = [
                directory.superior_of(request.lead_department) if request.lead_department else None
            ]
        elif role in ("owner_head", "pending_heads"):
            addresses = [awaited_department.head if awaited_department else None]
        elif role in (
            "owner_superior",
            "pending_superiors",
            "acceptor_superior",
            "requester_superior",
        ):
            addresses = [awaited_department.superior if awaited_department else None]
        elif role == "requester_head":
            department = directory.department_of(request.requester_email)
            addresses = [department.head if department else None]
        for address in addresses:
            if (
                address
                and (address.lower() != clock.awaited or not reminded)
                and address.lower() not in found
            ):
                found.append(address.lower())
    if not found:  # nobody the directory can name: the coordination office hears of it
        found = [a.lower() for a in config.coordinators if a.lower() != clock.awaited]
    return found
