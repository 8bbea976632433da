"""The dossier of one request: the seed forms as tables, every value already a string.

``dossier(uow, number, config)`` reads what the store holds about a request and lays it
out as the forms people already know (``workflow.md``, "Records"): the request form, the
tracking item, the meetings with each attendee's answer, the minutes with each head's
confirmation, the task table, progress, the problem log, acceptance, the review and the
communication log. Column names are the forms' Chinese ones, or English ones with
``language="en"``. Instants are shown in the configured time zone as
``2026-03-16 09:00``, dates as ``2026-03-16``.

A stage without records yet (no review received) still gets its sheet, with the
headers, no rows and a note that says so: the dossier never invents a row. The problem
log carries each problem's resolution (问题与解决措施), the review sheet the lead's
review (协作复盘报告 / 任务总结) with the review meeting's time and attendees.
Progress is each task's latest report; the weekly progress reports (周进度报告) list
every 进度, 风险 and 完成 reply and every week's progress request left unanswered, and
the task table marks overdue (延期) tasks (``workflow.execution``); acceptance is built
from the owners' 完成 and the requester's decisions, or, where the profile has the explicit
acceptance form (成果验收表), from its records. The plans sheet (部门实施方案 / 跨部门协作总体方案)
is there once a plan came in, where the profile has plan approval (``workflow.plans``).

``render_html`` lays a dossier out as one self-contained page through the service's
Jinja2 environment (``templates/dossier/page/``); ``raw_messages`` lists every inbound
message of the request under a file name built from our own ids. Writing files is the
daemon's business (``daemon/export_files.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from store.models import (
    AcceptanceRecord,
    Communication,
    Issue,
    Meeting,
    Minutes,
    Plan,
    Request,
    Review,
    Signoff,
    Task,
)
from store.uow import SqlUnitOfWork
from templates.render import ENVIRONMENT
from workflow.config import WorkflowConfig
from workflow.directory import Directory
from workflow.errors import NotFoundError
from workflow.execution import ReportLine, TaskStanding, report_lines, task_standings
from workflow.presenting import format_size, urgency_label
from workflow.queries import next_deadline
from workflow.replies import action_label

LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class Sheet:
    """One form: ``name`` is the worksheet tab (at most 31 characters), ``title`` the
    form's full title; every row has one string per column."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    #: Shown under the table, e.g. why it has no rows; "" for none.
    note: str = ""
    #: A form about one record (request, tracking item): HTML shows it field by field.
    record: bool = False

    def __post_init__(self) -> None:
        if not 0 < len(self.name) <= 31 or set(self.name) & set("[]:*?/\\"):
            raise ValueError(f"not a worksheet name: {self.name!r}")
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(
                    f"sheet {self.name}: row of {len(row)} values for {len(self.columns)} columns"
                )


@dataclass(frozen=True)
class Dossier:
    number: str
    #: "XT-2026-0001 <title> 协作档案"; sender text, escaped wherever it is shown.
    title: str
    language: str
    #: The IANA name of the zone every value is shown in.
    timezone: str
    #: The latest instant recorded about the request (aware, UTC): what the dossier is
    #: "as of", and the timestamp files are given so a re-export is byte-identical.
    as_of: datetime
    sheets: tuple[Sheet, ...]
    notes: tuple[str, ...] = field(default=())

    def sheet(self, name: str) -> Sheet:
        for sheet in self.sheets:
            if sheet.name == name:
                return sheet
        raise KeyError(name)


# --- forms and labels, each as (Chinese, English) -----------------------------------------

Pair = tuple[str, str]


@dataclass(frozen=True)
class _Form:
    """One seed form: its tab name, title and columns."""

    name: Pair
    title: Pair
    columns: tuple[Pair, ...]


#: Every form of the dossier, in dossier order.
_FORMS = {
    "request": _Form(
        ("沟通协调需求表", "Request"),
        ("沟通协调需求表", "Coordination request form"),
        (
            ("需求编号", "Number"),
            ("需求名称", "Title"),
            ("发起部门", "Requesting department"),
            ("发起人", "Requester"),
            ("发起人邮箱", "Requester email"),
            ("接收部门", "Receiving departments"),
            ("背景与目标", "Background and goal"),
            ("期望完成时间", "Due"),
            ("紧急程度", "Urgency"),
            ("所需资源", "Resources"),
            ("验收标准", "Acceptance criteria"),
            ("附件", "Attachments"),
            ("状态", "State"),
            ("版本", "Revision"),
            ("登记时间", "Registered"),
        ),
    ),
    "tracking": _Form(
        ("跨部门协调事项跟踪表", "Tracking"),
        ("跨部门协调事项跟踪表", "Cross-department tracking sheet"),
        (
            ("编号", "Number"),
            ("事项", "Item"),
            ("发起部门", "Requesting department"),
            ("牵头部门", "Lead department"),
            ("配合部门", "Supporting departments"),
            ("登记时间", "Registered"),
            ("期望完成时间", "Due"),
            ("状态", "State"),
            ("下一期限", "Next deadline"),
            ("最近更新", "Last change"),
        ),
    ),
    "meetings": _Form(
        ("会议", "Meetings"),
        ("会议安排与参会答复", "Meetings and attendee answers"),
        (
            ("会议类型", "Kind"),
            ("主题", "Subject"),
            ("开始时间", "Start"),
            ("结束时间", "End"),
            ("地点", "Location"),
            ("状态", "Status"),
            ("修订次数", "Revisions"),
            ("参会人及答复", "Attendees and answers"),
        ),
    ),
    "minutes": _Form(
        ("会议纪要", "Minutes"),
        ("会议纪要", "Meeting minutes"),
        (
            ("版本", "Version"),
            ("记录人", "Author"),
            ("收到时间", "Received"),
            ("参会人员", "Attendees"),
            ("讨论要点", "Discussion"),
            ("共识事项", "Agreements"),
            ("待办事项", "Action items"),
            ("状态", "State"),
            ("各部门负责人确认", "Confirmations by department heads"),
            ("定稿时间", "Final"),
        ),
    ),
    "tasks": _Form(
        ("任务分配与进度跟踪表", "Tasks"),
        ("任务分配与进度跟踪表", "Task assignment and progress tracking"),
        (
            ("任务ID", "Task ID"),
            ("任务名称", "Task"),
            ("负责人", "Owner"),
            ("协作人", "Collaborators"),
            ("所属需求编号", "Request number"),
            ("计划交付物", "Deliverable"),
            ("交付标准", "Acceptance standard"),
            ("截止时间", "Deadline"),
            ("期限确认", "Deadline acknowledged"),
            ("当前进度", "State"),
            ("实际完成时间", "Completed"),
            ("备注（问题/风险）", "Notes (problems/risks)"),
        ),
    ),
    "progress": _Form(
        ("进度跟踪记录表", "Progress"),
        ("进度跟踪记录表", "Progress tracking record"),
        (
            ("任务ID", "Task ID"),
            ("任务名称", "Task"),
            ("负责人", "Owner"),
            ("当前状态", "State"),
            ("完成度", "Completion"),
            ("截止时间", "Deadline"),
            ("风险问题", "Risks and problems"),
            ("最近更新", "Last change"),
        ),
    ),
    "weekly": _Form(
        ("周进度报告", "Weekly progress"),
        ("周进度报告（每次进度回复）", "Weekly progress reports (every report)"),
        (
            ("时间", "Time"),
            ("任务ID", "Task ID"),
            ("任务名称", "Task"),
            ("负责人", "Owner"),
            ("类型", "Kind"),
            ("完成度", "Completion"),
            ("完成情况/存在问题/需协调事项", "Report"),
            ("周进度截止", "Weekly deadline"),
            ("是否按时", "On time"),
        ),
    ),
    "problems": _Form(
        ("问题反馈与处理记录表", "Problems"),
        ("问题反馈与处理记录表", "Problem feedback and handling record"),
        (
            ("编号", "Number"),
            ("所属任务", "Task"),
            ("问题描述", "Description"),
            ("影响范围", "Impact"),
            ("已尝试方案", "Tried"),
            ("所需支持", "Support needed"),
            ("紧急程度", "Urgency"),
            ("提出人", "Reported by"),
            ("状态", "State"),
            ("提出时间", "Reported"),
            ("解决措施", "Measures"),
            ("新完成时限", "New deadline"),
            ("负责人", "Responsible"),
            ("处理人", "Resolved by"),
            ("解决时间", "Resolved"),
        ),
    ),
    "plans": _Form(
        ("跨部门协作总体方案", "Plans"),
        ("部门实施方案 / 跨部门协作总体方案（审批版）", "Department plans / consolidated plan"),
        (
            ("类别", "Kind"),
            ("部门", "Department"),
            ("版本", "Version"),
            ("提交人", "Sent by"),
            ("提交时间", "Submitted"),
            ("方案内容", "Plan"),
            ("附件", "Attachments"),
            ("状态", "State"),
            ("审批记录", "Approvals"),
            ("审批完成时间", "Decided"),
        ),
    ),
    "acceptance": _Form(
        ("任务验收确认单", "Acceptance"),
        ("任务验收确认单 / 成果验收表", "Task acceptance confirmation / deliverable acceptance"),
        (
            ("任务ID", "Task ID"),
            ("成果名称", "Deliverable"),
            ("交付方", "Delivered by"),
            ("接收方", "Reviewed by"),
            ("验收标准", "Acceptance standard"),
            ("提交时间", "Submitted"),
            ("成果附件", "Attachments"),
            ("验收结果", "Result"),
            ("验收意见", "Comments"),
            ("签字确认", "Signed off by"),
            ("确认时间", "Signed off"),
        ),
    ),
    "review": _Form(
        ("协作复盘报告", "Review"),
        ("沟通协调总结报告 / 协作复盘报告", "Coordination summary / collaboration review"),
        (
            ("复盘时间", "Held"),
            ("参与人员", "Participants"),
            ("目标达成情况", "Goals met"),
            ("亮点（成功经验）", "Successes"),
            ("不足", "Shortcomings"),
            ("改进措施", "Improvements"),
            ("附件", "Attachments"),
            ("提交人", "Submitted by"),
            ("提交时间", "Submitted"),
            ("归档日期", "Archived"),
        ),
    ),
    "communications": _Form(
        ("沟通记录", "Communications"),
        ("跨部门沟通协作记录表（沟通记录）", "Cross-department communication log"),
        (
            ("时间", "Time"),
            ("方向", "Direction"),
            ("发件人", "From"),
            ("收件人", "To"),
            ("主题", "Subject"),
            ("结论/类型", "Conclusion/kind"),
        ),
    ),
}

_TEXT: dict[str, Pair] = {
    "dossier": ("{number} {title} 协作档案", "{number} {title}: coordination dossier"),
    "as_of": ("数据截至 {at}（{tz}）", "As of {at} ({tz})"),
    "no_records": ("暂无记录", "No records"),
    "no_review": (
        "尚未收到复盘报告（全部任务验收后，由牵头部门负责人以“[复盘] 需求编号”邮件提交）。",
        "No review has been received yet (the lead head sends it with '[REVIEW] NUMBER' "
        "once every task is accepted).",
    ),
    "progress_note": (
        "每项任务的最近一次进度；每次进度与风险回复的原文见“沟通记录”及原始邮件。",
        "The latest progress of each task; every progress and risk reply is in the "
        "communication log and the raw messages.",
    ),
    "no_progress": ("尚无已分配的任务。", "No task has been assigned yet."),
    "no_weekly": ("尚无进度回复或周进度询问。", "No progress report or request yet."),
    "weekly_note": (
        "每周在周进度截止日向未完成任务的负责人询问进度；“未回复”为截止时仍未收到答复。",
        "Each week owners of open tasks are asked for progress on the day of the weekly "
        "deadline; 'no reply' means none had arrived by the deadline.",
    ),
    "on_time": ("按时", "on time"),
    "missing_reply": ("未回复", "no reply"),
    "waiting_reply": ("待回复", "reply awaited"),
    "late_reply": ("逾期", "late"),
    "overdue_state": ("{state}（延期）", "{state} (overdue)"),
    "overdue_note": ("延期：截止 {deadline} 未完成", "overdue: not done by {deadline}"),
    "done_late": ("延期完成", "done after the deadline"),
    "risk_note": ("风险（{at}）：{note}", "risk ({at}): {note}"),
    "no_acceptance": ("尚无提交验收的成果。", "No deliverable has been submitted yet."),
    "date_change": ("申请改期至 {due}：{reason}", "new date asked: {due}: {reason}"),
    "pending_review": ("待验收", "awaiting review"),
    "no_meetings": ("尚未安排会议。", "No meeting has been scheduled."),
    "no_minutes": ("尚未收到会议纪要。", "No minutes have been received."),
    "no_tasks": (
        "尚无任务（任务由会议纪要的待办事项产生）。",
        "No tasks yet (minutes create them).",
    ),
    "no_problems": ("没有问题反馈。", "No problem has been reported."),
    "in": ("收到", "in"),
    "out": ("发出", "out"),
    "held": ("待审核：{action}", "held for review: {action}"),
    "acknowledged": ("已确认 {at}", "acknowledged {at}"),
    "not_acknowledged": ("未确认", "not acknowledged"),
    "problem": ("问题 {id}：{description}（{state}）", "problem {id}: {description} ({state})"),
    "action_item": ("{ref} {title}（{owner}，截止 {due}）", "{ref} {title} ({owner}, due {due})"),
    "role": ("（{role}）", " ({role})"),
    "sep": ("、", ", "),
    "colon": ("：", ": "),
}

_REQUEST_STATES: dict[str, Pair] = {
    "received": ("已收到", "received"),
    "registered": ("已登记", "registered"),
    "returned": ("已退回", "returned"),
    "accepted": ("已受理", "accepted"),
    "kickoff": ("启动会", "kickoff"),
    "minutes_confirming": ("纪要确认中", "minutes being confirmed"),
    "minutes_confirmed": ("纪要已确认", "minutes confirmed"),
    "in_progress": ("执行中", "in progress"),
    "delivered": ("已交付", "delivered"),
    "reviewed": ("已复盘", "reviewed"),
    "archived": ("已归档", "archived"),
}
_MINUTES_STATES: dict[str, Pair] = {
    "confirming": ("确认中", "being confirmed"),
    "objected": ("有异议", "objected to"),
    "final": ("已定稿", "final"),
    "superseded": ("已被新版本取代", "superseded"),
}
_CONFIRMATION_STATES: dict[str, Pair] = {
    "pending": ("待确认", "pending"),
    "confirmed": ("已确认", "confirmed"),
    "objected": ("有异议", "objected"),
}
_TASK_STATES: dict[str, Pair] = {
    "draft": ("待纪要定稿", "waiting for final minutes"),
    "assigned": ("已分配", "assigned"),
    "acknowledged": ("进行中", "in progress"),
    "done": ("已完成（待验收）", "done (awaiting acceptance)"),
    "accepted": ("已验收", "accepted"),
    "returned": ("已退回", "returned"),
}
_ACCEPTANCE_RESULTS: dict[str, Pair] = {
    "accept": ("验收通过", "accepted"),
    "return": ("退回", "returned"),
}
_ISSUE_STATES: dict[str, Pair] = {
    "open": ("待处理", "open"),
    "meeting_scheduled": ("已安排协调会", "meeting scheduled"),
    "resolved": ("已解决", "resolved"),
    "escalated": ("已上报", "escalated"),
}
_MEETING_KINDS: dict[str, Pair] = {
    "kickoff": ("启动会", "kickoff meeting"),
    "problem": ("问题协调会", "problem meeting"),
    "review": ("复盘会", "review meeting"),
}
_MEETING_STATUS: dict[str, Pair] = {
    "CONFIRMED": ("已确认", "confirmed"),
    "CANCELLED": ("已取消", "cancelled"),
}
_PARTSTATS: dict[str, Pair] = {
    "ACCEPTED": ("接受", "accepted"),
    "DECLINED": ("拒绝", "declined"),
    "TENTATIVE": ("暂定", "tentative"),
    "DELEGATED": ("已委托", "delegated"),
    "NEEDS-ACTION": ("未答复", "no answer yet"),
}
_ROLES: dict[str, Pair] = {
    "CHAIR": ("主持", "chair"),
    "REQ-PARTICIPANT": ("必须参加", "required"),
    "OPT-PARTICIPANT": ("可选参加", "optional"),
}
#: What each kind of communication is: inbound kinds, then outbound mail names.
_COMMUNICATION_KINDS: dict[str, Pair] = {
    "request": ("需求", "request"),
    "invalid_request": ("需求（格式有误）", "request with errors"),
    "issue": ("问题反馈", "problem report"),
    "minutes": ("会议纪要", "minutes"),
    "review": ("复盘报告", "review"),
    "plan": ("实施方案", "plan"),
    "reply": ("回复", "reply"),
    "calendar_reply": ("会议答复", "meeting answer"),
    "auto_reply": ("自动回复", "automatic reply"),
    "bounce": ("退信", "bounce"),
    "list": ("邮件列表", "mailing list"),
    "loop": ("循环邮件", "mail loop"),
    "read_receipt": ("已读回执", "read receipt"),
    "hostile": ("可疑邮件", "suspicious mail"),
    "attendee/agenda_reminder": ("会前提醒", "agenda reminder"),
    "attendee/meeting_cancelled": ("会议取消", "meeting cancelled"),
    "attendee/meeting_invitation": ("会议邀请", "meeting invitation"),
    "awaited/reminder": ("催办提醒", "reminder"),
    "author/minutes_objection": ("纪要异议通知", "objection to the minutes"),
    "author/minutes_returned": ("纪要退回", "minutes returned"),
    "lead/attendee_declined": ("参会人拒绝通知", "attendee declined"),
    "lead/date_change_request": ("改期申请", "date change request"),
    "lead/counter_proposal": ("改期提议", "new time proposed"),
    "office/delivery_failed": ("投递失败通知", "delivery failed"),
    "office/evaluation_notice": ("评估通知", "evaluation notice"),
    "office/held_for_review": ("待审核通知", "held for review"),
    "office/unknown_department": ("部门无法识别", "unknown department"),
    "owner/date_change_decided": ("改期决定", "date change decided"),
    "owner/deliverable_accepted": ("验收通过通知", "deliverable accepted"),
    "owner/deliverable_returned": ("验收退回通知", "deliverable returned"),
    "owner/task_assignment": ("任务分配", "task assignment"),
    "head/evaluation_notice": ("评估通知（部门负责人）", "evaluation notice (head)"),
    "evaluator/name_departments": ("明确牵头部门", "departments to be named"),
    "head/plan_request": ("方案征集", "plan requested"),
    "lead/department_plan": ("部门方案转交", "department plan passed on"),
    "approver/plan_approval": ("方案审批", "plan approval"),
    "lead/plan_rejected": ("方案驳回", "plan rejected"),
    "participant/plan_approved": ("方案已批准", "plan approved"),
    "sender/plan_recorded": ("方案登记回执", "plan recorded"),
    "sender/plan_not_taken": ("方案未登记", "plan not recorded"),
    "requester/acceptance_form": ("成果验收表", "acceptance form"),
    "owner/progress_request": ("周进度询问", "weekly progress request"),
    "owner/risk_warning": ("风险预警", "deadline warning"),
    "owner/overdue_notice": ("延期通知", "overdue notice"),
    "participant/weekly_digest": ("周进度汇总", "weekly digest"),
    "lead/problem_notice": ("问题处理通知", "problem notice"),
    "lead/review_request": ("复盘请求", "review request"),
    "participant/problem_resolved": ("问题解决通知", "problem resolved"),
    "participant/archive_dossier": ("归档档案", "archived dossier"),
    "author/review_returned": ("复盘报告未登记", "review not recorded"),
    "participant/minutes_final": ("纪要定稿", "minutes final"),
    "participant/minutes_for_confirmation": ("纪要确认", "minutes for confirmation"),
    "reporter/issue_acknowledged": ("问题登记回执", "problem registered"),
    "reporter/issue_invalid": ("问题反馈有误", "problem report with errors"),
    "requester/acceptance_request": ("验收通知", "acceptance request"),
    "requester/accepted": ("受理通知", "request accepted"),
    "requester/acknowledged": ("登记回执", "request registered"),
    "requester/invalid_request": ("需求有误", "request with errors"),
    "requester/returned": ("退回通知", "request returned"),
    "sender/counter_declined": ("改期提议未采纳", "proposal declined"),
    "sender/held_for_review": ("回复待审核", "reply held for review"),
    "sender/not_applicable": ("回复不适用", "reply not applicable"),
    "sender/reply_not_understood": ("回复无法识别", "reply not understood"),
    "signer/receipt": ("签收回执", "receipt"),
    "superior/escalation": ("上报", "escalation"),
}


# --- building -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Format:
    """Formats the values of one dossier: one language, one time zone, one directory."""

    language: str
    tz: ZoneInfo
    directory: Directory

    @property
    def index(self) -> int:
        return LANGUAGES.index(self.language)

    def text(self, key: str, **values: str) -> str:
        return _TEXT[key][self.index].format(**values)

    def label(self, table: Mapping[str, Pair], value: str | None) -> str:
        """The value's label, or the value itself where the table does not know it."""
        pair = table.get(value or "")
        return pair[self.index] if pair else value or ""

    def instant(self, at: datetime | None) -> str:
        return "" if at is None else at.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")

    def day(self, d: date | None) -> str:
        return "" if d is None else d.isoformat()

    def join(self, items: Iterable[str]) -> str:
        return self.text("sep").join(item for item in items if item)

    def person(self, email: str, name: str | None = None) -> str:
        """``赵磊 <zhao.lei@example.com>``, or the bare address when no name is known."""
        shown = name if name and name != email else self.directory.name_of(email)
        return email if not shown or shown.lower() == email.lower() else f"{shown} <{email}>"


def dossier(
    uow: SqlUnitOfWork, number: str, config: WorkflowConfig, *, language: str = "zh"
) -> Dossier:
    """The dossier of request ``number``; :class:`NotFoundError` if there is none."""
    if language not in LANGUAGES:
        raise ValueError(f"no dossier language {language!r} (expected zh or en)")
    request = _request(uow, number)
    fmt = _Format(language, config.timezone, config.directory)
    meetings = uow.meetings.for_request(request.id)
    minutes = uow.minutes.for_request(request.id)
    tasks = uow.minutes.tasks_of_request(request.id)
    issues = uow.issues.for_request(request.id)
    review = uow.reviews.for_request(request.id)
    log = uow.communications.for_request(request.id)
    plans = uow.plans.for_request(request.id)
    forms = uow.acceptances.for_request(request.id)

    def sheet(key: str, rows: Sequence[tuple[str, ...]], empty: str = "", note: str = "") -> Sheet:
        """Form ``key`` with ``rows``; under it the text ``note`` (when it has rows) or
        ``empty`` (when it has none)."""
        form, i = _FORMS[key], fmt.index
        shown = note if rows else empty
        return Sheet(
            form.name[i],
            form.title[i],
            tuple(column[i] for column in form.columns),
            tuple(rows),
            note=fmt.text(shown) if shown else "",
            record=key in ("request", "tracking"),
        )

    assigned = [t for t in tasks if t.state != "draft"]
    standings = task_standings(uow, request.id, assigned)

    sheets = (
        sheet("request", [_request_row(request, uow, fmt)]),
        sheet("tracking", [_tracking_row(request, uow, fmt)]),
        sheet("meetings", [_meeting_row(m, uow, fmt) for m in meetings], "no_meetings"),
        sheet("minutes", [_minutes_row(m, uow, fmt) for m in minutes], "no_minutes"),
        sheet(
            "tasks",
            [_task_row(t, request, issues, fmt, standings.get(t.id)) for t in tasks],
            "no_tasks",
        ),
        *(
            [sheet("plans", [_plan_row(plan, uow, fmt) for plan in plans])]
            if plans  # where the profile has plan approval and a plan came in
            else []
        ),
        sheet(
            "progress",
            [_progress_row(t, issues, fmt, standings.get(t.id)) for t in assigned],
            "no_progress",
            "progress_note",
        ),
        sheet(
            "weekly",
            [_report_row(line, fmt) for line in report_lines(uow, request.id, tasks)],
            "no_weekly",
            "weekly_note",
        ),
        sheet("problems", [_issue_row(i, fmt) for i in issues], "no_problems"),
        sheet(
            "acceptance",
            # The explicit form's records where the profile keeps them (成果验收表).
            [_form_row(r, uow, fmt) for r in forms]
            if forms
            else _acceptance_rows(request, tasks, uow, fmt),
            "no_acceptance",
        ),
        sheet(
            "review",
            [_review_row(review, meetings, uow, fmt)] if review is not None else [],
            "no_review",
        ),
        sheet("communications", _communication_rows(request, log, uow, fmt)),
    )
    as_of = max(
        [
            request.created_at,
            request.updated_at,
            *(m.updated_at for m in meetings),
            *(m.final_at or m.created_at for m in minutes),
            *(t.updated_at for t in tasks),
            *(i.resolved_at or i.created_at for i in issues),
            *((review.archived_at or review.received_at,) if review is not None else ()),
            *(c.at for c in log),
            *(p.decided_at or p.created_at for p in plans),
            *(r.decided_at or r.submitted_at for r in forms),
        ]
    )
    return Dossier(
        number=request.number,
        title=fmt.text("dossier", number=request.number, title=request.title),
        language=language,
        timezone=config.timezone.key,
        as_of=as_of,
        sheets=sheets,
        notes=(fmt.text("as_of", at=fmt.instant(as_of), tz=config.timezone.key),),
    )


def _request(uow: SqlUnitOfWork, number: str) -> Request:
    request = uow.requests.by_number(number.strip().upper())
    if request is None:
        raise NotFoundError(f"no request numbered {number}")
    return request


def _request_row(request: Request, uow: SqlUnitOfWork, fmt: _Format) -> tuple[str, ...]:
    attachments = uow.attachments.for_message(request.inbound_message_id)
    return (
        request.number,
        request.title,
        request.requesting_department,
        request.requester_name or fmt.directory.name_of(request.requester_email),
        request.requester_email,
        fmt.join(request.receiving_departments),
        request.background,
        fmt.day(request.due),
        urgency_label(request.urgency, fmt.language),
        request.resources or "",
        request.acceptance_criteria or "",
        "\n".join(f"{a.filename or '-'} ({format_size(a.size)})" for a in attachments),
        fmt.label(_REQUEST_STATES, request.state),
        str(request.revision),
        fmt.instant(request.created_at),
    )


def _tracking_row(request: Request, uow: SqlUnitOfWork, fmt: _Format) -> tuple[str, ...]:
    return (
        request.number,
        request.title,
        request.requesting_department,
        request.lead_department or "",
        fmt.join(request.supporting_departments),
        fmt.instant(request.created_at),
        fmt.day(request.due),
        fmt.label(_REQUEST_STATES, request.state),
        fmt.instant(next_deadline(request, uow)),
        fmt.instant(request.updated_at),
    )


def _meeting_row(meeting: Meeting, uow: SqlUnitOfWork, fmt: _Format) -> tuple[str, ...]:
    answers = [
        fmt.person(a.email, a.name)
        + fmt.text("role", role=fmt.label(_ROLES, a.role))
        + fmt.text("colon")
        + fmt.label(_PARTSTATS, a.partstat)
        + (f" — {a.comment}" if a.comment else "")
        for a in uow.meetings.attendees(meeting.id)
        if not a.removed
    ]
    return (
        fmt.label(_MEETING_KINDS, meeting.kind),
        meeting.summary,
        fmt.instant(meeting.start),
        fmt.instant(meeting.end),
        "\n".join(where for where in (meeting.location, meeting.online_url or "") if where),
        fmt.label(_MEETING_STATUS, meeting.status),
        str(meeting.sequence),
        "\n".join(answers),
    )


def _minutes_row(minutes: Minutes, uow: SqlUnitOfWork, fmt: _Format) -> tuple[str, ...]:
    items = [
        fmt.text(
            "action_item",
            ref=t.ref,
            title=t.title,
            owner=fmt.person(t.owner_email, t.owner_name),
            due=fmt.day(t.due),
        )
        for t in uow.minutes.tasks_of_minutes(minutes.id)
    ]
    confirmations = [
        fmt.person(c.head)
        + fmt.text("role", role=c.department)
        + fmt.text("colon")
        + fmt.label(_CONFIRMATION_STATES, c.state)
        + (f" {fmt.instant(c.at)}" if c.at else "")
        + (f" — {c.reason}" if c.reason else "")
        for c in uow.minutes.confirmations(minutes.id)
    ]
    return (
        str(minutes.version),
        fmt.person(minutes.author),
        fmt.instant(minutes.created_at),
        fmt.join(minutes.attendees),
        minutes.discussion,
        minutes.decisions,
        "\n".join(items),
        fmt.label(_MINUTES_STATES, minutes.state),
        "\n".join(confirmations),
        fmt.instant(minutes.final_at),
    )


def _task_notes(
    task: Task, issues: Sequence[Issue], fmt: _Format, standing: TaskStanding | None = None
) -> list[str]:
    """The problems raised about the task, a new date the owner asked for, and from the
    execution stage: overdue (延期) and the latest risk reported."""
    notes = [
        fmt.text(
            "problem",
            id=str(i.id),
            description=i.description,
            state=fmt.label(_ISSUE_STATES, i.state),
        )
        for i in issues
        if i.task_ref and i.task_ref.upper() == task.ref.upper()
    ]
    if task.requested_due is not None:
        notes.append(
            fmt.text(
                "date_change", due=fmt.day(task.requested_due), reason=task.requested_reason or ""
            )
        )
    if standing is not None:
        notes.extend(_standing_notes(standing, fmt))
    return notes


def _standing_notes(standing: TaskStanding, fmt: _Format) -> list[str]:
    notes = []
    if standing.overdue_since is not None:
        notes.append(fmt.text("overdue_note", deadline=fmt.instant(standing.overdue_since)))
    if standing.done_late:
        notes.append(fmt.text("done_late"))
    if standing.risk is not None:
        at, note = standing.risk
        notes.append(fmt.text("risk_note", at=fmt.instant(at), note=note))
    return notes


def _task_state(task: Task, fmt: _Format, standing: TaskStanding | None) -> str:
    state = fmt.label(_TASK_STATES, task.state)
    if standing is not None and standing.overdue_since is not None:
        return fmt.text("overdue_state", state=state)
    return state


def _report_row(line: ReportLine, fmt: _Format) -> tuple[str, ...]:
    """One line of 周进度报告: a report, or a week's request left unanswered."""
    if line.kind in ("missing", "waiting"):
        kind = fmt.text(f"{line.kind}_reply")
    else:
        kind = action_label(line.kind, fmt.language)
    if line.kind in ("missing", "waiting") or line.deadline is None:
        on_time = ""
    else:
        on_time = fmt.text("on_time" if line.at <= line.deadline else "late_reply")
    return (
        fmt.instant(line.at),
        line.task.ref,
        line.task.title,
        fmt.person(line.author),
        kind,
        f"{line.percent}%" if line.percent is not None else "",
        line.note,
        fmt.instant(line.deadline),
        on_time,
    )


def _task_row(
    task: Task,
    request: Request,
    issues: Sequence[Issue],
    fmt: _Format,
    standing: TaskStanding | None = None,
) -> tuple[str, ...]:
    acknowledged = (
        fmt.text("acknowledged", at=fmt.instant(task.acknowledged_at))
        if task.acknowledged_at
        else fmt.text("not_acknowledged")
    )
    return (
        task.ref,
        task.title,
        fmt.person(task.owner_email, task.owner_name),
        fmt.join(fmt.person(c) for c in task.collaborators),
        request.number,
        task.deliverable,
        task.acceptance or "",
        fmt.day(task.due),
        acknowledged,
        _task_state(task, fmt, standing),
        fmt.instant(task.done_at),
        "\n".join(_task_notes(task, issues, fmt, standing)),
    )


def _progress_row(
    task: Task, issues: Sequence[Issue], fmt: _Format, standing: TaskStanding | None = None
) -> tuple[str, ...]:
    return (
        task.ref,
        task.title,
        fmt.person(task.owner_email, task.owner_name),
        _task_state(task, fmt, standing),
        f"{task.progress}%" if task.progress is not None else "",
        fmt.day(task.due),
        "\n".join(_task_notes(task, issues, fmt, standing)),
        fmt.instant(task.updated_at),
    )


def _acceptance_rows(
    request: Request, tasks: Sequence[Task], uow: SqlUnitOfWork, fmt: _Format
) -> list[tuple[str, ...]]:
    """One row per deliverable submitted (the owner's 完成), with the requester's
    decision on it (验收通过 or 退回) once given, from the sign-offs of the request."""
    by_ref = {t.ref: t for t in tasks}
    submissions: list[tuple[Task, Signoff, Signoff | None]] = []
    waiting: dict[str, int] = {}  # task ref -> index of its undecided submission
    for s in uow.signoffs.for_request(request.id):
        if s.action not in ("done", "accept", "return"):
            continue
        task = by_ref.get(uow.outbox.get(s.outbox_id).task_ref or "")
        if task is None:
            continue
        if s.action == "done":
            waiting[task.ref] = len(submissions)
            submissions.append((task, s, None))
        elif task.ref in waiting:
            index = waiting.pop(task.ref)
            submissions[index] = (task, submissions[index][1], s)
    rows: list[tuple[str, ...]] = []
    for task, done, decision in submissions:
        files = uow.attachments.for_message(done.inbound_message_id)
        rows.append(
            (
                task.ref,
                task.deliverable,
                fmt.person(done.signer),
                fmt.person(decision.signer if decision else request.requester_email),
                task.acceptance or "",
                fmt.instant(done.at),
                "\n".join(f"{a.filename or '-'} ({format_size(a.size)})" for a in files),
                fmt.label(_ACCEPTANCE_RESULTS, decision.action)
                if decision
                else fmt.text("pending_review"),
                _signoff_text(decision) if decision and decision.action == "return" else "",
                fmt.person(decision.signer) if decision else "",
                fmt.instant(decision.at) if decision else "",
            )
        )
    return rows


def _signoff_text(signoff: Signoff) -> str:
    """The text a sign-off carried (a reason), as it was written."""
    if not signoff.value:
        return ""
    try:
        value = json.loads(signoff.value)
    except ValueError:
        return signoff.value
    return value if isinstance(value, str) else ""


def _issue_row(issue: Issue, fmt: _Format) -> tuple[str, ...]:
    return (
        str(issue.id),
        issue.task_ref or "",
        issue.description,
        issue.impact or "",
        issue.tried or "",
        issue.support or "",
        urgency_label(issue.urgency, fmt.language),
        fmt.person(issue.reporter_email),
        fmt.label(_ISSUE_STATES, issue.state),
        fmt.instant(issue.created_at),
        issue.resolution or "",
        fmt.day(issue.resolution_due),
        fmt.person(issue.resolution_owner) if issue.resolution_owner else "",
        fmt.person(issue.resolved_by) if issue.resolved_by else "",
        fmt.instant(issue.resolved_at),
    )


def _review_row(
    review: Review, meetings: Sequence[Meeting], uow: SqlUnitOfWork, fmt: _Format
) -> tuple[str, ...]:
    """The lead's review; held at the review meeting when there was one."""
    held = [m for m in meetings if m.kind == "review" and m.status != "CANCELLED"]
    meeting = held[-1] if held else None
    participants = (
        [fmt.person(a.email, a.name) for a in uow.meetings.attendees(meeting.id) if not a.removed]
        if meeting is not None
        else []
    )
    files = uow.attachments.for_message(review.inbound_message_id)
    return (
        fmt.instant(meeting.start) if meeting is not None else "",
        "\n".join(participants),
        review.goals or "",
        review.successes,
        review.shortcomings,
        review.improvements,
        "\n".join(f"{a.filename or '-'} ({format_size(a.size)})" for a in files),
        fmt.person(review.author),
        fmt.instant(review.received_at),
        fmt.day(review.archived_at.astimezone(fmt.tz).date()) if review.archived_at else "",
    )


def _communication_rows(
    request: Request, log: Sequence[Communication], uow: SqlUnitOfWork, fmt: _Format
) -> list[tuple[str, ...]]:
    # What a reply decided: the sign-off it gave, or the one held for the office's review.
    outcomes: dict[int, str] = {
        h.inbound_message_id: fmt.text("held", action=action_label(h.action, fmt.language))
        for h in uow.signoffs.pending_review()
        if h.request_id == request.id
    }
    for s in uow.signoffs.for_request(request.id):
        context = uow.outbox.get(s.outbox_id).reply_context
        outcomes[s.inbound_message_id] = action_label(s.action, fmt.language, context)
    rows: list[tuple[str, ...]] = []
    for c in log:
        kind = fmt.label(_COMMUNICATION_KINDS, c.kind)
        outcome = outcomes.get(c.inbound_message_id) if c.inbound_message_id else None
        rows.append(
            (
                fmt.instant(c.at),
                fmt.text(c.direction) if c.direction in ("in", "out") else c.direction,
                c.from_addr,
                fmt.join(c.to_addrs),
                c.subject,
                kind + fmt.text("colon") + outcome if outcome else kind,
            )
        )
    return rows


_PLAN_KINDS: dict[str, Pair] = {
    "department": ("部门实施方案", "department plan"),
    "consolidated": ("跨部门协作总体方案", "consolidated plan"),
}
_PLAN_STATES: dict[str, Pair] = {
    "submitted": ("已提交", "submitted"),
    "pending": ("审批中", "being approved"),
    "approved": ("审批通过", "approved"),
    "rejected": ("已驳回", "rejected"),
    "superseded": ("已被新版本取代", "superseded"),
}
_APPROVAL_STATES: dict[str, Pair] = {
    "waiting": ("待审批", "waiting"),
    "asked": ("审批中", "asked"),
    "approved": ("同意", "approved"),
    "rejected": ("驳回", "rejected"),
    "skipped": ("未审批", "not asked"),
}
_FORM_RESULTS: dict[str, Pair] = {
    "pending": ("待验收", "awaiting review"),
    "accepted": ("验收通过", "accepted"),
    "returned": ("退回", "returned"),
}


def _plan_row(plan: Plan, uow: SqlUnitOfWork, fmt: _Format) -> tuple[str, ...]:
    """One department plan, or one version of the consolidated plan with every
    approver's step in order."""
    files = uow.attachments.for_message(plan.inbound_message_id)
    steps = [
        f"{s.position}. {fmt.person(s.approver)}{fmt.text('colon')}"
        + fmt.label(_APPROVAL_STATES, s.state)
        + (f" {fmt.instant(s.decided_at)}" if s.decided_at else "")
        + (f" — {s.reason}" if s.reason else "")
        for s in uow.plans.approvals(plan.id)
    ]
    return (
        fmt.label(_PLAN_KINDS, plan.kind),
        plan.department,
        str(plan.version),
        fmt.person(plan.author),
        fmt.instant(plan.created_at),
        plan.text,
        "\n".join(f"{a.filename or '-'} ({format_size(a.size)})" for a in files),
        fmt.label(_PLAN_STATES, plan.state),
        "\n".join(steps),
        fmt.instant(plan.decided_at),
    )


def _form_row(record: AcceptanceRecord, uow: SqlUnitOfWork, fmt: _Format) -> tuple[str, ...]:
    """One 成果验收表 as recorded: the form's fields and the acceptor's decision."""
    files = (
        uow.attachments.for_message(record.inbound_message_id) if record.inbound_message_id else []
    )
    return (
        record.task_ref,
        record.deliverable,
        fmt.person(record.owner),
        fmt.person(record.acceptor),
        record.acceptance or "",
        fmt.instant(record.submitted_at),
        "\n".join(f"{a.filename or '-'} ({format_size(a.size)})" for a in files),
        fmt.label(_FORM_RESULTS, record.result),
        record.comments or "",
        fmt.person(record.decided_by) if record.decided_by else "",
        fmt.instant(record.decided_at),
    )


# --- raw messages -------------------------------------------------------------------------

_KIND_IN_NAME = re.compile(r"[^a-z0-9]+")


def raw_messages(uow: SqlUnitOfWork, number: str) -> list[tuple[str, bytes]]:
    """Every inbound message of request ``number`` as it arrived, oldest first, each with
    a file name ``NNN-<kind>-<id>.eml`` built from our own ids and classification only
    (never from a subject or a sender's file name)."""
    request = _request(uow, number)
    ids = {request.inbound_message_id}
    ids.update(
        c.inbound_message_id
        for c in uow.communications.for_request(request.id)
        if c.inbound_message_id is not None
    )
    rows = sorted((uow.inbound.get(i) for i in ids), key=lambda m: (m.received_at, m.id))
    named = []
    for position, row in enumerate(rows, start=1):
        kind = _KIND_IN_NAME.sub("-", (row.kind or "").lower()).strip("-") or "message"
        named.append((f"{position:03d}-{kind}-{row.id}.eml", row.raw))
    return named


# --- HTML ---------------------------------------------------------------------------------

_PAGE = "dossier/page/dossier.{language}.html.j2"


def render_html(dossier: Dossier) -> str:
    """The dossier as one self-contained HTML page (styles inline, nothing fetched)."""
    sheets = [
        {
            "anchor": f"sheet-{index}",
            "title": sheet.title,
            "note": sheet.note,
            "record": sheet.record and len(sheet.rows) == 1,
            "columns": list(sheet.columns),
            "span": str(len(sheet.columns)),
            "rows": [list(row) for row in sheet.rows],
            "fields": [
                {"label": label, "value": value}
                for row in sheet.rows[:1]
                for label, value in zip(sheet.columns, row, strict=True)
            ],
        }
        for index, sheet in enumerate(dossier.sheets, start=1)
    ]
    template = ENVIRONMENT.get_template(_PAGE.format(language=dossier.language))
    return template.render(
        title=dossier.title,
        number=dossier.number,
        notes=list(dossier.notes),
        sheets=sheets,
        no_records=_TEXT["no_records"][LANGUAGES.index(dossier.language)],
    )
