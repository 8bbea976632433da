"""The execution stage (执行跟踪): weekly progress requests, the weekly digest, risk
warnings before a task's deadline and overdue (延期) marks after it.

``run_execution`` is called by ``workflow.clocks.tick`` once per tick. It does nothing
outside working hours and, within them, only what is due:

Weekly progress (the profile's ``weekly_progress`` level: a weekday and a time, e.g.
Friday at the end of working hours, or Monday 12:00)
    On the working day of the week's deadline, from the start of working hours until
    the deadline, the owner of every open task gets one progress request for that week
    (``owner/progress_request``, a task mail: 进度/风险/完成 answer it like the task
    assignment). A 进度, 风险 or 完成 from the owner after it answers it; otherwise,
    once the deadline has passed, the owner is reminded once (``awaited/reminder``).
    The week is keyed by the local date of its deadline.
Weekly digest
    At the first tick in working hours after a week's deadline (and before the next
    week's requests go out), every live request with tasks gets one digest to the
    requester, the lead head and the coordination office: the task table
    (任务分配与进度跟踪表) with this week's reply of each owner, or 未回复 where a progress
    request went unanswered.
Risk warning (the ``risk_warning`` level, e.g. 1 working day)
    From the start of working hours on the working day that lies ``limit`` working days
    before a task's due date (or ``limit`` hours before its deadline), an open task gets
    one warning to the level's ``remind`` roles (the owner and the lead head), once per
    task and due date: a new due date re-arms it.
Overdue (the ``task_overdue`` level)
    A task still open after the end of working hours on its due date is marked overdue
    (a ``task_alerts`` row), once per task and due date. The level's ``remind`` roles get
    the overdue notice (the owner and the lead head in the shipped profiles); its
    ``escalate_to`` roles hear of it ``escalate_after`` working days after the deadline:
    with ``0`` (the shipped profiles: the owner's department head and superior) at once,
    leaving out whoever had the notice; later, through a stored clock (``task_overdue``,
    subject ``task:<ref>``, awaiting the owner) that the clock sweep escalates unless
    the task is reported done, given a new due date or a new owner first. A task is
    shown overdue while it is open and marked for its current due date.

Every one-off is claimed in the store (``store.execution``) before its mail is built, so
repeated ticks and several replicas send it once. With ``dry_run`` nothing is claimed
or recorded: the mails that would go out are returned.

``record_report`` is the other entry point: ``workflow.tasks`` calls it for each 进度,
风险 or 完成 that applied, to keep the progress history and answer the week's request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from store.execution import OPEN_TASK_STATES
from store.models import ClockItem, ProgressRecord, ProgressRequest, Request, Task
from store.uow import SqlUnitOfWork
from workflow import presenting
from workflow.actions import SendMail
from workflow.config import WorkflowConfig
from workflow.directory import Directory
from workflow.people import language as _lang
from workflow.people import recipient as _recipient
from workflow.people import who as _who
from workflow.service_levels import ServiceLevel
from workflow.signoff import CLOSED_STATES
from workflow.workdays import WorkingCalendar

__all__ = [
    "ExecutionReport",
    "Week",
    "record_report",
    "run_execution",
    "weeks_around",
]

#: Rows handled per job and tick; a sweep that found fewer is complete.
BATCH = 200
#: Every tick re-checks tasks that fell due this recently (a task reopened after its
#: due date); older ones are swept once a day.
RECENT_DAYS = 14

JOB_PROGRESS = "progress_requests"
JOB_DIGEST = "weekly_digest"
JOB_OVERDUE = "overdue"

_TASK_STATES = {
    "zh": {
        "assigned": "已分配（未确认）",
        "acknowledged": "进行中",
        "returned": "已退回（修改中）",
        "done": "已完成（待验收）",
        "accepted": "已验收",
    },
    "en": {
        "assigned": "assigned (not acknowledged)",
        "acknowledged": "in progress",
        "returned": "returned (being reworked)",
        "done": "done (awaiting acceptance)",
        "accepted": "accepted",
    },
}
_REPORT_KINDS = {
    "zh": {"progress": "进度", "risk": "风险", "done": "完成"},
    "en": {"progress": "progress", "risk": "risk", "done": "done"},
}
_TEXT = {
    "zh": {
        "missing": "未回复",
        "not_asked": "—",
        "overdue": "是（截止 {due}）",
        "overdue_done": "延期完成（截止 {due}）",
        "sep": "；",
        "how": "请直接回复原邮件，在正文第一行写明“进度：60% 说明”、“风险：说明”或“完成”。",
        "what": "提交任务 {ref}「{title}」本周进度（回复“进度：60% 说明”、“风险：说明”或“完成”）",
        "task_what": "完成任务 {ref}「{title}」并提交交付物（截止 {due}）",
        "days_overdue": "已超期 {days} 个工作日",
        "progress_missing": "本周进度未按时提交（截止 {due}）",
    },
    "en": {
        "missing": "no reply",
        "not_asked": "—",
        "overdue": "yes (due {due})",
        "overdue_done": "done late (due {due})",
        "sep": "; ",
        "how": (
            "Reply to the original mail with 'PROGRESS: 60% note', 'RISK: note' or 'DONE' "
            "on the first line."
        ),
        "what": "this week's progress on task {ref} {title} (PROGRESS, RISK or DONE)",
        "task_what": "completion of task {ref} {title} with its deliverable (due {due})",
        "days_overdue": "{days} working day(s) overdue",
        "progress_missing": "this week's progress report is missing (due {due})",
    },
}
PROGRESS_KEYWORDS = {
    "zh": [
        "进度：60% 说明（本周完成情况、下一步计划）",
        "风险：说明（存在问题、需协调事项）",
        "完成（附交付物）",
        "申请改期：日期 理由",
    ],
    "en": [
        "PROGRESS: 60% note (done this week, next steps)",
        "RISK: note (problems, what needs coordinating)",
        "DONE (deliverable attached)",
        "RESCHEDULE: date reason",
    ],
}
ALERT_KEYWORDS = {
    "zh": ["完成（附交付物）", "申请改期：日期 理由", "进度：60% 说明", "风险：说明"],
    "en": [
        "DONE (deliverable attached)",
        "RESCHEDULE: date reason",
        "PROGRESS: 60% note",
        "RISK: note",
    ],
}


@dataclass(frozen=True)
class ExecutionReport:
    """What one pass decided: the mails, and how many of each kind of event."""

    mails: tuple[SendMail, ...] = field(default=(), repr=False)
    progress_requests: int = 0
    progress_reminders: int = 0
    digests: int = 0
    risk_warnings: int = 0
    overdue: int = 0


# --- weeks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Week:
    """One week of the weekly progress clock, named by its deadline."""

    deadline: datetime  # UTC
    key: date  # the local date of the deadline: the week's key in the store
    previous: datetime  # the deadline of the week before (the period is (previous, deadline])
    opens: datetime  # progress requests go out from here: start of work on the deadline day


def _weekly(level: ServiceLevel) -> tuple[int, time | None]:
    assert level.weekday is not None, "a weekly level has a weekday"
    return level.weekday, level.at


def _week(deadline: datetime, previous: datetime, calendar: WorkingCalendar) -> Week:
    day = calendar.local(deadline).date()
    opens = calendar.start_of_work(day)
    if opens >= deadline:  # a deadline at or before the start of work: the day before
        opens = calendar.start_of_work(calendar.previous_working_day(day))
    return Week(deadline=deadline, key=day, previous=previous, opens=opens)


def weeks_around(
    now: datetime, level: ServiceLevel, calendar: WorkingCalendar
) -> tuple[Week | None, Week]:
    """The last weekly deadline at or before ``now`` (None if none in the last 15 days)
    and the next one after it, as :class:`Week` values."""
    weekday, at = _weekly(level)
    before_last: datetime | None = None
    last: datetime | None = None
    cursor = calendar.next_weekly(now - timedelta(days=15), weekday, at)
    while cursor <= now:
        before_last, last = last, cursor
        cursor = calendar.next_weekly(cursor, weekday, at)
    upcoming = _week(cursor, last or cursor - timedelta(days=7), calendar)
    if last is None:
        return None, upcoming
    return _week(last, before_last or last - timedelta(days=7), calendar), upcoming


def task_deadline(due: date, calendar: WorkingCalendar) -> datetime:
    """A task's deadline: the end of working hours on its due date (UTC)."""
    return calendar.end_of_work(due)


def risk_warning_at(due: date, level: ServiceLevel, calendar: WorkingCalendar) -> datetime:
    """When a task due on ``due`` is warned: the start of working hours ``limit`` working
    days before the due date, or ``limit`` hours before its deadline."""
    if level.unit == "hours":
        return task_deadline(due, calendar) - timedelta(hours=level.limit)
    day = due
    for _ in range(level.limit):
        day = calendar.previous_working_day(day)
    return calendar.start_of_work(day)


# --- the pass -------------------------------------------------------------------------------


@dataclass
class _Pass:
    uow: SqlUnitOfWork
    now: datetime
    config: WorkflowConfig
    dry_run: bool
    mails: list[SendMail] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def directory(self) -> Directory:
        return self.config.directory

    @property
    def today(self) -> date:
        return self.config.calendar.local(self.now).date()

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def finish(self, job: str, day: date, found: int) -> None:
        if not self.dry_run and found < BATCH:
            self.uow.execution.finish_sweep(job, day, self.now)


def run_execution(
    *, uow: SqlUnitOfWork, now: datetime, config: WorkflowConfig, dry_run: bool = False
) -> ExecutionReport:
    """Everything of the execution stage that is due at ``now`` (see the module doc)."""
    if not config.calendar.in_working_hours(now):
        return ExecutionReport()
    run = _Pass(uow, now, config, dry_run)
    profile = config.profile
    # Marks first, so that a digest of the same tick shows them.
    _mark_overdue(run, profile.service_level("task_overdue"))
    if profile.has_service_level("risk_warning"):
        _warn_risks(run, profile.service_level("risk_warning"))
    if profile.has_service_level("weekly_progress"):
        level = profile.service_level("weekly_progress")
        last, upcoming = weeks_around(now, level, config.calendar)
        _remind_progress(run, level)
        if last is not None and now < upcoming.opens:
            _send_digests(run, last)
        if now >= upcoming.opens:
            _ask_progress(run, upcoming)
    return ExecutionReport(
        mails=tuple(run.mails),
        progress_requests=run.counts.get("progress_requests", 0),
        progress_reminders=run.counts.get("progress_reminders", 0),
        digests=run.counts.get("digests", 0),
        risk_warnings=run.counts.get("risk_warnings", 0),
        overdue=run.counts.get("overdue", 0),
    )


# --- progress requests and reminders --------------------------------------------------------


def _ask_progress(run: _Pass, week: Week) -> None:
    repo = run.uow.execution
    if repo.sweep_done(JOB_PROGRESS, week.key):
        return
    found = repo.tasks_to_ask(week.key, BATCH, CLOSED_STATES)
    for task, request in found:
        # In a dry run nothing is claimed: everything due counts as taken.
        if not (
            run.dry_run
            or repo.claim_progress_request(
                task=task, week=week.key, deadline=week.deadline, now=run.now
            )
        ):
            continue
        run.mails.append(_progress_request(run, task, request, week))
        run.count("progress_requests")
    run.finish(JOB_PROGRESS, week.key, len(found))


def progress_subject(language: str, number: str, task: Task) -> str:
    """The subject of a progress request (the reminder names it)."""
    if language == "en":
        return f"[TASK] {number}/{task.ref} Weekly progress: {task.title}"
    return f"[任务] {number}/{task.ref} 周进度：{task.title}"


def _progress_request(run: _Pass, task: Task, request: Request, week: Week) -> SendMail:
    lang = _lang(run.directory, task.owner_email)
    latest = _latest_report(run.uow, task)
    return SendMail(
        template="owner/progress_request",
        to=(_recipient(run.directory, task.owner_email, task.owner_name),),
        context={
            "number": request.number,
            "title": request.title,
            "task_ref": task.ref,
            "task_title": task.title,
            "due": presenting.format_date(task.due, lang),
            "deadline": presenting.format_instant(week.deadline, run.config.timezone, lang),
            "progress": f"{task.progress}%" if task.progress is not None else "",
            "last_report": _report_text(latest, run.config, lang) if latest else "",
            "keywords": PROGRESS_KEYWORDS[lang],
        },
        request_number=request.number,
        request_id=request.id,
        reply_context="task",
        task=task.ref,
    )


def _remind_progress(run: _Pass, level: ServiceLevel) -> None:
    repo = run.uow.execution
    for pending in repo.due_reminders(run.now, BATCH):
        task = run.uow.session.get(Task, pending.task_id)
        request = run.uow.requests.by_id(pending.request_id)
        still_asked = (
            task is not None
            and request is not None
            and task.state in OPEN_TASK_STATES
            and task.owner_email.lower() == pending.owner
            and request.state not in CLOSED_STATES
        )
        if not still_asked or task is None or request is None:
            if not run.dry_run:
                repo.claim_reminder(pending.id, run.now, remind=False)
            continue
        if not (run.dry_run or repo.claim_reminder(pending.id, run.now, remind=True)):
            continue
        run.mails.extend(_progress_reminders(run, level, pending, task, request))
        run.count("progress_reminders")


def _progress_reminders(
    run: _Pass, level: ServiceLevel, pending: ProgressRequest, task: Task, request: Request
) -> list[SendMail]:
    directory, tz = run.directory, run.config.timezone
    mails: list[SendMail] = []
    for address in _role_addresses(level.remind, task, request, run.config):
        lang = _lang(directory, address)
        text = _TEXT[lang]
        if address == task.owner_email.lower():
            mails.append(
                SendMail(
                    template="awaited/reminder",
                    to=(_recipient(directory, address, task.owner_name),),
                    context={
                        "number": request.number,
                        "title": request.title,
                        "what": text["what"].format(ref=task.ref, title=task.title),
                        "since": presenting.format_instant(pending.sent_at, tz, lang),
                        "due": presenting.format_instant(pending.deadline, tz, lang),
                        "how": text["how"],
                        "original_subject": progress_subject(lang, request.number, task),
                    },
                    request_number=request.number,
                    request_id=request.id,
                )
            )
            continue
        # Anyone else the profile names hears that the owner's report is missing.
        mails.append(
            SendMail(
                template="superior/escalation",
                to=(_recipient(directory, address),),
                context={
                    "number": request.number,
                    "title": request.title,
                    "awaited": _who(directory, task.owner_email),
                    "what": text["what"].format(ref=task.ref, title=task.title),
                    "since": presenting.format_instant(pending.sent_at, tz, lang),
                    "due": presenting.format_instant(pending.deadline, tz, lang),
                    "overdue": text["progress_missing"].format(
                        due=presenting.format_instant(pending.deadline, tz, lang)
                    ),
                    "reminded": True,
                },
                request_number=request.number,
                request_id=request.id,
            )
        )
    return mails


# --- the weekly digest ----------------------------------------------------------------------


def _send_digests(run: _Pass, week: Week) -> None:
    repo = run.uow.execution
    if repo.sweep_done(JOB_DIGEST, week.key):
        return
    found = repo.requests_to_digest(week.key, week.deadline, week.previous, BATCH, CLOSED_STATES)
    for request in found:
        if not (run.dry_run or repo.claim_digest(request.id, week.key, run.now)):
            continue
        mails = _digest(run, request, week)
        if mails:
            run.mails.extend(mails)
            run.count("digests")
    run.finish(JOB_DIGEST, week.key, len(found))


def digest_recipients(request: Request, config: WorkflowConfig) -> list[str]:
    """Requester, lead head and coordination office, once each."""
    directory = config.directory
    lead_head = directory.head_of(request.lead_department) if request.lead_department else None
    return _unique([request.requester_email, lead_head, *config.coordinators])


def _digest(run: _Pass, request: Request, week: Week) -> list[SendMail]:
    """One digest mail per language among the recipients (the rows are prepared in it)."""
    recipients = [_recipient(run.directory, a) for a in digest_recipients(request, run.config)]
    mails: list[SendMail] = []
    for lang in sorted({r.language for r in recipients}, reverse=True):  # zh first
        rows = digest_rows(run.uow, request, week, run.now, run.config, lang)
        mails.append(
            SendMail(
                template="participant/weekly_digest",
                to=tuple(r for r in recipients if r.language == lang),
                context=_digest_context(request, week, rows, run.config, lang),
                request_number=request.number,
                request_id=request.id,
            )
        )
    return mails


@dataclass(frozen=True)
class DigestRow:
    """One task of the digest, every value a string in the reader's language."""

    task_state: str  # the stored state, for the counts
    ref: str
    title: str
    owner: str
    collaborators: str
    due: str
    state: str
    progress: str
    note: str
    reply: str
    risk: str
    overdue: str
    missing: bool
    late: bool

    def as_context(self) -> dict[str, object]:
        return {
            "ref": self.ref,
            "title": self.title,
            "owner": self.owner,
            "collaborators": self.collaborators,
            "due": self.due,
            "state": self.state,
            "progress": self.progress,
            "note": self.note,
            "reply": self.reply,
            "risk": self.risk,
            "overdue": self.overdue,
            "missing": self.missing,
            "late": self.late,
        }


def digest_rows(
    uow: SqlUnitOfWork,
    request: Request,
    week: Week,
    now: datetime,
    config: WorkflowConfig,
    language: str,
) -> list[DigestRow]:
    """The rows of the digest of ``request`` for ``week``, as of ``now``."""
    lang = "en" if language == "en" else "zh"
    text = _TEXT[lang]
    directory = config.directory
    tasks = [t for t in uow.minutes.tasks_of_request(request.id) if t.state != "draft"]
    records = uow.execution.progress_of_request(request.id)
    asked = {
        p.task_id: p
        for p in uow.execution.progress_requests_of_request(request.id)
        if p.week == week.key
    }
    overdue = {
        (a.task_id, a.due): a
        for a in uow.execution.alerts_of_tasks([t.id for t in tasks], "overdue")
    }
    rows: list[DigestRow] = []
    for task in tasks:
        mine = [r for r in records if r.task_id == task.id]
        latest = mine[-1] if mine else None
        # This week's reply: what came since the week's progress request (the reminder
        # counts the same way), or since the week began where none was sent.
        request_row = asked.get(task.id)
        since = request_row.sent_at if request_row is not None else week.previous
        this_week = [r for r in mine if since <= r.at <= now and r.at > week.previous]
        risks = [r.note or _REPORT_KINDS[lang]["risk"] for r in this_week if r.kind == "risk"]
        missing = request_row is not None and request_row.answered_at is None
        if this_week:
            reply = _report_text(this_week[-1], config, lang, with_note=False)
        elif missing:
            reply = text["missing"]
        else:
            reply = text["not_asked"]
        mark = overdue.get((task.id, task.due)) if task.due else None
        if mark is not None and task.state in OPEN_TASK_STATES:
            late_text = text["overdue"].format(due=presenting.format_date(task.due, lang))
        elif mark is not None:
            late_text = text["overdue_done"].format(due=presenting.format_date(task.due, lang))
        else:
            late_text = ""
        rows.append(
            DigestRow(
                task_state=task.state,
                ref=task.ref,
                title=task.title,
                owner=_who(directory, task.owner_email, task.owner_name),
                collaborators=text["sep"].join(_who(directory, c) for c in task.collaborators),
                due=presenting.format_date(task.due, lang),
                state=_TASK_STATES[lang].get(task.state, task.state),
                progress=f"{task.progress}%" if task.progress is not None else "",
                note=latest.note if latest else "",
                reply=reply,
                risk=text["sep"].join(risks),
                overdue=late_text,
                missing=missing,
                late=mark is not None and task.state in OPEN_TASK_STATES,
            )
        )
    return rows


def _digest_context(
    request: Request, week: Week, rows: Sequence[DigestRow], config: WorkflowConfig, lang: str
) -> dict[str, object]:
    tz = config.timezone
    done = sum(1 for r in rows if r.task_state == "done")
    accepted = sum(1 for r in rows if r.task_state == "accepted")
    return {
        "number": request.number,
        "title": request.title,
        "week": presenting.format_date(week.key, lang),
        "period_start": presenting.format_instant(week.previous, tz, lang),
        "period_end": presenting.format_instant(week.deadline, tz, lang),
        "lead_department": request.lead_department or "",
        "tasks": str(len(rows)),
        "open": str(len(rows) - done - accepted),
        "done": str(done),
        "accepted": str(accepted),
        "overdue_count": str(sum(1 for r in rows if r.late)),
        "missing_count": str(sum(1 for r in rows if r.missing)),
        "has_overdue": any(r.late for r in rows),
        "has_missing": any(r.missing for r in rows),
        "rows": [r.as_context() for r in rows],
    }


# --- risk warnings and overdue marks -----------------------------------------------------


def _warn_risks(run: _Pass, level: ServiceLevel) -> None:
    calendar = run.config.calendar
    if level.unit == "hours":
        last = calendar.local(run.now + timedelta(hours=level.limit)).date()
    else:
        last = run.today
        for _ in range(level.limit):
            last = calendar.next_working_day(last)
    repo = run.uow.execution
    for task, request in repo.tasks_due_between("risk", run.today, last, BATCH, CLOSED_STATES):
        assert task.due is not None
        deadline = task_deadline(task.due, calendar)
        if not risk_warning_at(task.due, level, calendar) <= run.now < deadline:
            continue
        if not (
            run.dry_run
            or repo.claim_alert(
                task=task, kind="risk", due=task.due, deadline=deadline, now=run.now
            )
        ):
            continue
        run.mails.extend(_alert_mails(run, "owner/risk_warning", level.remind, task, request))
        run.count("risk_warnings")


def _mark_overdue(run: _Pass, level: ServiceLevel) -> None:
    repo = run.uow.execution
    yesterday = run.today - timedelta(days=1)
    full = not repo.sweep_done(JOB_OVERDUE, run.today)
    first = None if full else run.today - timedelta(days=RECENT_DAYS)
    found = repo.tasks_due_between("overdue", first, yesterday, BATCH, CLOSED_STATES)
    calendar = run.config.calendar
    for task, request in found:
        assert task.due is not None
        deadline = task_deadline(task.due, calendar)
        if run.now < deadline:
            continue
        if not (
            run.dry_run
            or repo.claim_alert(
                task=task, kind="overdue", due=task.due, deadline=deadline, now=run.now
            )
        ):
            continue
        run.mails.extend(_alert_mails(run, "owner/overdue_notice", level.remind, task, request))
        if level.escalate_to and not level.escalate_after:
            run.mails.extend(_overdue_escalations(run, level, task, request, deadline))
        elif level.escalate_to and not run.dry_run:
            _expect_completion(run, level, task, request, deadline)
        run.count("overdue")
    if full:
        run.finish(JOB_OVERDUE, run.today, len(found))


def _alert_mails(
    run: _Pass, template: str, roles: Iterable[str], task: Task, request: Request
) -> list[SendMail]:
    """A risk warning or an overdue notice: the owner's copy is a task mail (they may
    answer it with 完成, 申请改期, 进度 or 风险); everybody else's only informs."""
    assert task.due is not None
    directory, config = run.directory, run.config
    deadline = task_deadline(task.due, config.calendar)
    latest = _latest_report(run.uow, task)
    mails: list[SendMail] = []
    for address in _role_addresses(roles, task, request, config):
        lang = _lang(directory, address)
        for_owner = address == task.owner_email.lower()
        mails.append(
            SendMail(
                template=template,
                to=(_recipient(directory, address, task.owner_name if for_owner else None),),
                context={
                    "number": request.number,
                    "title": request.title,
                    "task_ref": task.ref,
                    "task_title": task.title,
                    "owner": _who(directory, task.owner_email, task.owner_name),
                    "due": presenting.format_date(task.due, lang),
                    "deadline": presenting.format_instant(deadline, config.timezone, lang),
                    "state": _TASK_STATES[lang].get(task.state, task.state),
                    "progress": f"{task.progress}%" if task.progress is not None else "",
                    "last_report": _report_text(latest, config, lang) if latest else "",
                    "for_owner": for_owner,
                    "keywords": ALERT_KEYWORDS[lang],
                },
                request_number=request.number,
                request_id=request.id,
                reply_context="task" if for_owner else None,
                task=task.ref if for_owner else None,
            )
        )
    return mails


def _overdue_escalations(
    run: _Pass, level: ServiceLevel, task: Task, request: Request, deadline: datetime
) -> list[SendMail]:
    """The level's ``escalate_to`` roles (the owner's department head and superior) hear
    of an overdue task with its notice, unless the notice already went to them; when
    the directory names nobody for them: the office."""
    assert task.due is not None
    directory, config = run.directory, run.config
    told = set(_role_addresses(level.remind, task, request, config))
    named = _role_addresses(level.escalate_to, task, request, config)
    targets = [a for a in named if a not in told]
    if not named:
        targets = [a for a in _unique(config.coordinators) if a not in told]
    warned = run.uow.execution.alerts_of_tasks([task.id], "risk")
    reminded = any(a.due == task.due for a in warned)
    minutes = run.uow.minutes.get(task.minutes_id)
    since = minutes.final_at or task.created_at
    days = max(config.calendar.working_days_between(deadline, run.now), 1)
    mails: list[SendMail] = []
    for address in targets:
        lang = _lang(directory, address)
        text = _TEXT[lang]
        mails.append(
            SendMail(
                template="superior/escalation",
                to=(_recipient(directory, address),),
                context={
                    "number": request.number,
                    "title": request.title,
                    "awaited": _who(directory, task.owner_email, task.owner_name),
                    "what": text["task_what"].format(
                        ref=task.ref,
                        title=task.title,
                        due=presenting.format_date(task.due, lang),
                    ),
                    "since": presenting.format_instant(since, config.timezone, lang),
                    "due": presenting.format_instant(deadline, config.timezone, lang),
                    "overdue": text["days_overdue"].format(days=days),
                    "reminded": reminded,
                },
                request_number=request.number,
                request_id=request.id,
            )
        )
    return mails


def _expect_completion(
    run: _Pass, level: ServiceLevel, task: Task, request: Request, deadline: datetime
) -> None:
    """An escalation ``escalate_after`` working days after the deadline: a stored clock
    that awaits the owner, already past its reminder (the overdue notice was it), which
    the clock sweep escalates to the level's ``escalate_to`` roles. It stops when the
    task is reported done, gets a new due date or a new owner (``workflow.tasks``)."""
    assert task.due is not None and level.escalate_after
    escalate_at = level.escalation_due(deadline, run.config.calendar)
    due = presenting.format_date(task.due, "zh")
    run.uow.clocks.add(
        ClockItem(
            name=level.name,
            request_id=request.id,
            subject=f"task:{task.ref}",
            awaited=task.owner_email.lower(),
            what=_TEXT["zh"]["task_what"].format(ref=task.ref, title=task.title, due=due),
            original_subject=f"[任务] {request.number}/{task.ref} {task.title}",
            started_at=run.now,
            due_at=deadline,
            escalate_at=escalate_at,
            level=1,  # the overdue notice was the reminder
            next_at=escalate_at,
            state="open",
        )
    )


# --- the owner's reports -------------------------------------------------------------------


def record_report(
    task: Task,
    action: str,
    value: object,
    *,
    author: str,
    text: str,
    inbound_id: int | None,
    uow: SqlUnitOfWork,
    now: datetime,
) -> ProgressRecord:
    """Keep a 进度, 风险 or 完成 of the owner that applied, and answer the progress
    requests of the task sent so far (no reminder for them)."""
    percent: int | None = None
    note = ""
    if action == "progress" and isinstance(value, dict):
        given = value.get("percent")
        percent = given if isinstance(given, int) and not isinstance(given, bool) else None
        note = str(value.get("note") or "")
    elif action == "risk":
        note = str(value or "")
    else:
        note = next((line.strip() for line in text.splitlines() if line.strip()), "")
    record = uow.execution.add_progress(
        ProgressRecord(
            request_id=task.request_id,
            task_id=task.id,
            at=now,
            kind=action,
            percent=percent,
            note=note[:2000],
            author=author.lower(),
            inbound_message_id=inbound_id,
        )
    )
    uow.execution.mark_answered(task.id, now)
    return record


# --- helpers ---------------------------------------------------------------------------------


def _latest_report(uow: SqlUnitOfWork, task: Task) -> ProgressRecord | None:
    return uow.execution.latest_progress(task.id)


def _report_text(
    record: ProgressRecord, config: WorkflowConfig, lang: str, *, with_note: bool = True
) -> str:
    """``2026年3月20日（周五） 15:30 进度 60%：规则初稿完成``."""
    kind = _REPORT_KINDS["en" if lang == "en" else "zh"].get(record.kind, record.kind)
    head = f"{presenting.format_instant(record.at, config.timezone, lang)} {kind}"
    if record.percent is not None:
        head += f" {record.percent}%"
    if with_note and record.note:
        return head + ("：" if lang == "zh" else ": ") + record.note
    return head


def _role_addresses(
    roles: Iterable[str], task: Task, request: Request, config: WorkflowConfig
) -> list[str]:
    """The addresses the profile's roles stand for, about one task, once each."""
    directory = config.directory
    owner_department = directory.department_of(task.owner_email)
    requester_department = directory.department_of(request.requester_email)
    found: list[str | None] = []
    for role in roles:
        if role == "owner":
            found.append(task.owner_email)
        elif role == "owner_head":
            found.append(owner_department.head if owner_department else None)
        elif role == "owner_superior":
            found.append(owner_department.superior if owner_department else None)
        elif role == "lead_head":
            found.append(
                directory.head_of(request.lead_department) if request.lead_department else None
            )
        elif role == "lead_superior":
            found.append(
                directory.superior_of(request.lead_department) if request.lead_department else None
            )
        elif role in ("requester", "acceptor"):
            found.append(request.requester_email)
        elif role == "requester_head":
            found.append(requester_department.head if requester_department else None)
        elif role == "requester_superior":
            found.append(requester_department.superior if requester_department else None)
        elif role == "supporting_heads":
            found.extend(directory.head_of(d) for d in request.supporting_departments)
        elif role == "coordination_office":
            found.extend(config.coordinators)
        elif role == "office_head":
            found.extend(
                [directory.office_head] if directory.office_head else list(config.coordinators)
            )
    return _unique(found)


def _unique(addresses: Iterable[str | None]) -> list[str]:
    seen: list[str] = []
    for address in addresses:
        if address and address.lower() not in seen:
            seen.append(address.lower())
    return seen


# --- read side ---------------------------------------------------------------------------------


def overdue_alerts(uow: SqlUnitOfWork, tasks: Sequence[Task]) -> dict[int, datetime]:
    """Which of ``tasks`` are overdue now (open, marked for their current due date): task
    id -> the deadline they missed. A task done later, or given a new due date, is not;
    its marks stay in ``task_alerts`` as history."""
    by_id = {t.id: t for t in tasks if t.state in OPEN_TASK_STATES and t.due is not None}
    return {
        a.task_id: a.deadline
        for a in uow.execution.alerts_of_tasks(list(by_id), "overdue")
        if by_id[a.task_id].due == a.due
    }


@dataclass(frozen=True)
class TaskStanding:
    """What the execution stage knows of one task, for the dossier."""

    #: The deadline it missed while it is open and marked overdue for its due date.
    overdue_since: datetime | None
    #: It was marked overdue for its current due date and is done (or accepted) since.
    done_late: bool
    #: The latest risk reported, while the task is not accepted: (when, note).
    risk: tuple[datetime, str] | None


def task_standings(
    uow: SqlUnitOfWork, request_id: int, tasks: Sequence[Task]
) -> dict[int, TaskStanding]:
    """Per task id: overdue, done late, latest risk."""
    marked = {
        (a.task_id, a.due): a
        for a in uow.execution.alerts_of_tasks([t.id for t in tasks], "overdue")
    }
    risks: dict[int, ProgressRecord] = {}
    for record in uow.execution.progress_of_request(request_id):
        if record.kind == "risk":
            risks[record.task_id] = record
    standings: dict[int, TaskStanding] = {}
    for task in tasks:
        mark = marked.get((task.id, task.due)) if task.due is not None else None
        is_open = task.state in OPEN_TASK_STATES
        risk = risks.get(task.id)
        standings[task.id] = TaskStanding(
            overdue_since=mark.deadline if mark is not None and is_open else None,
            done_late=mark is not None and task.state in ("done", "accepted"),
            risk=(risk.at, risk.note) if risk is not None and task.state != "accepted" else None,
        )
    return standings


@dataclass(frozen=True)
class ReportLine:
    """One line of the weekly progress reports (周进度报告): a report of the owner, or a
    week's progress request that went unanswered (``kind`` ``missing``) or is still
    awaited (``waiting``)."""

    at: datetime  # when reported; for missing/waiting, the week's deadline
    task: Task
    author: str
    kind: str  # progress | risk | done | missing | waiting
    percent: int | None
    note: str
    #: The weekly deadline the report answered, if it answered a progress request.
    deadline: datetime | None


def report_lines(uow: SqlUnitOfWork, request_id: int, tasks: Sequence[Task]) -> list[ReportLine]:
    """Every report on the request's tasks and every unanswered progress request, in time
    order."""
    by_id = {t.id: t for t in tasks}
    asked = uow.execution.progress_requests_of_request(request_id)
    answered = {(p.task_id, p.answered_at): p for p in asked if p.answered_at is not None}
    lines: list[ReportLine] = []
    for record in uow.execution.progress_of_request(request_id):
        task = by_id.get(record.task_id)
        if task is None:
            continue
        week = answered.get((record.task_id, record.at))
        lines.append(
            ReportLine(
                at=record.at,
                task=task,
                author=record.author,
                kind=record.kind,
                percent=record.percent,
                note=record.note,
                deadline=week.deadline if week is not None else None,
            )
        )
    for pending in asked:
        task = by_id.get(pending.task_id)
        if task is None or pending.answered_at is not None:
            continue
        lines.append(
            ReportLine(
                at=pending.deadline,
                task=task,
                author=pending.owner,
                kind="waiting" if pending.remind_at is not None else "missing",
                percent=None,
                note="",
                deadline=pending.deadline,
            )
        )
    return sorted(lines, key=lambda line: (line.at, line.task.ref))
