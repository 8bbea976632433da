"""``liaison demo``: one request of the standard profile, from the request mail to the archive.

The real service (LMTP listener, isolated parser, pipeline, store, outbox, Maildir
transport) runs on the embedded defaults in a scratch directory with the shipped example
directory of departments, on a frozen clock that the demo moves forward: three working
weeks pass in a few seconds. Like a mail server would, the demo delivers over LMTP what
people send from their mail clients (:mod:`daemon.demo_mail`): the request, the office's
evaluation, a calendar Accept, the minutes, an objection and the second version, the
confirmations, acknowledgements and a date change, the department plans, the consolidated
plan and the approvals, a progress report, an issue and its resolution, two deliverables
(one returned, then accepted) and the review. Between them it runs the clocks as
``liaison tick --now`` would, so reminders, an escalation, the weekly progress requests
and the weekly digest come due.

It prints a timeline: when, who sent what, how the request's state changed, and every
mail the daemon sent (its kind, recipients and subject); then the archived request.
"""

from __future__ import annotations

import smtplib
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from daemon import demo_mail
from daemon.bootstrap import build_app
from daemon.demo_mail import File
from daemon.service import Service
from daemon.settings import load_settings
from store.uow import SqlUnitOfWork
from workflow.clock import FrozenClock
from workflow.clocks import tick
from workflow.queries import show_request

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAILBOX = demo_mail.MAILBOX
OFFICE = "office@example.com"
REQUESTER = ("吴芳", "wu.fang@example.com")  # 财务部
LEAD = ("赵磊", "zhao.lei@example.com")  # head of 研发部, the lead department
FINANCE = ("何军", "finance.lead@example.com")  # head of 财务部; the first approver
ADMIN = ("周敏", "zhou.min@example.com")  # head of 行政部; the office's head
GM = ("黄伟", "gm@example.com")  # the second approver
LI_NA = ("李娜", "li.na@example.com")  # owner of RW-0001
WANG = ("王强", "wang.qiang@example.com")  # owner of RW-0002
OFFICE_PERSON = ("协调办公室", OFFICE)

STAGES = (
    "需求发起 Request",
    "接收评估 Evaluation",
    "沟通协商 Kickoff",
    "会议纪要 Minutes",
    "任务分解与分配 Tasks",
    "方案审批 Plan approval",
    "执行跟踪 Execution",
    "问题反馈 Problems",
    "成果验收 Acceptance",
    "复盘归档 Review and archive",
)
_WEEKDAYS = "一二三四五六日"


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A local time of the demo's three weeks (March 2026; Qingming falls after them)."""
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


START = at(3, 16, 9)  # a Monday, 09:00


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Mail:
    """One mail the daemon sent, as the outbox recorded it."""

    kind: str
    recipients: tuple[str, ...]
    subject: str
    raw: bytes
    calendar: bool
    attachments: tuple[str, ...]


class _Demo:
    def __init__(
        self,
        root: Path,
        port: int,
        service: Service,
        clock: FrozenClock,
        write: Callable[[str], object],
    ) -> None:
        self.root = root
        self.port = port
        self.service = service
        self.clock = clock
        self.write = write
        self.number = ""
        self.mails: list[Mail] = []
        self._last_outbox = 0
        self._stage = 0
        self._states: dict[str, str] = {}

    @property
    def app(self) -> Any:
        return self.service.app

    # -- what happens ---------------------------------------------------------------------

    def stage(self) -> None:
        self._stage += 1
        self.write(f"\n== {self._stage}. {STAGES[self._stage - 1]}\n")

    def send(self, who: tuple[str, str], when: datetime, raw: bytes, said: str) -> list[Mail]:
        """``who`` mails the coordination mailbox at ``when``; it arrives over LMTP."""
        self.clock.set(when)
        subject = str(demo_mail.parse(raw)["Subject"])
        self.write(f"\n{self._when(when)}  {who[0]} <{who[1]}>: {subject}\n")
        if said:
            self.write(f"{'':19}“{said}”\n")
        with smtplib.LMTP("127.0.0.1", self.port, timeout=30) as lmtp:
            refused = lmtp.sendmail(who[1], [MAILBOX], raw)
        if refused:
            raise RuntimeError(f"the listener refused the mail: {refused}")
        return self._after()

    def tick(self, when: datetime, why: str) -> list[Mail]:
        """The clocks run at ``when`` (what ``liaison tick --now`` does)."""
        self.clock.set(when)
        self.write(f"\n{self._when(when)}  clock: liaison tick — {why}\n")
        with SqlUnitOfWork(self.app.session_factory) as uow:
            tick(uow=uow, now=self.clock.now(), config=self.app.workflow)
            uow.commit()
        return self._after()

    def _after(self) -> list[Mail]:
        self._drain()
        mails = self._new_mail()
        self._show_states()
        self._show_mails(mails)
        return mails

    def _drain(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with SqlUnitOfWork(self.app.session_factory) as uow:
                if uow.outbox.pending_count() == 0:
                    return
            self.service.dispatcher.wakeup.set()
            time.sleep(0.01)
        raise RuntimeError("the outbox was not sent within 20 s")

    def _new_mail(self) -> list[Mail]:
        found: list[Mail] = []
        with SqlUnitOfWork(self.app.session_factory) as uow:
            rows = [r for r in uow.outbox.in_state("sent") if r.id > self._last_outbox]
            for row in sorted(rows, key=lambda r: r.id):
                self._last_outbox = max(self._last_outbox, row.id)
                if row.kind.startswith("calendar/"):
                    continue  # the team-calendar copy, not a mail
                message = demo_mail.parse(row.raw)
                found.append(
                    Mail(
                        kind=row.kind,
                        recipients=tuple(row.recipients),
                        subject=str(message["Subject"]),
                        raw=row.raw,
                        calendar=any(
                            p.get_content_type() == "text/calendar" for p in message.walk()
                        ),
                        attachments=tuple(
                            p.get_filename() or ""
                            for p in message.iter_attachments()
                            if p.get_content_type() != "application/ics"
                        ),
                    )
                )
            if not self.number:
                numbers = [r.number for r in uow.requests.list()]
                self.number = numbers[0] if numbers else ""
        self.mails += found
        return found

    # -- reading ---------------------------------------------------------------------------

    def view(self) -> dict[str, Any]:
        with SqlUnitOfWork(self.app.session_factory) as uow:
            return show_request(uow, self.number, self.app.workflow)

    def sent(self, kind: str, to: str | None = None, containing: str = "") -> bytes:
        """The latest mail of ``kind`` (to ``to``, ``containing`` in its subject)."""
        for mail in reversed(self.mails):
            if (
                mail.kind == kind
                and (to is None or to in mail.recipients)
                and containing in mail.subject
            ):
                return mail.raw
        raise RuntimeError(f"no {kind} to {to} was sent")

    # -- printing -----------------------------------------------------------------------------

    @staticmethod
    def _when(when: datetime) -> str:
        local = when.astimezone(SHANGHAI)
        return f"{local:%m-%d} 周{_WEEKDAYS[local.weekday()]} {local:%H:%M}"

    def _show_mails(self, mails: Sequence[Mail]) -> None:
        """One line per kind and subject (an invitation to five people is one line)."""
        groups: dict[tuple[str, str], list[Mail]] = {}
        for mail in mails:
            groups.setdefault((mail.kind, mail.subject), []).append(mail)
        for (kind, subject), same in groups.items():
            people = [r for mail in same for r in mail.recipients]
            marks = []
            if any(m.calendar for m in same):
                marks.append("calendar invitation")
            files = sorted({f for m in same for f in m.attachments})
            if files:
                marks.append("attached: " + ", ".join(files))
            extra = f"  ({'; '.join(marks)})" if marks else ""
            self.write(f"{'':19}→ {kind} to {', '.join(people)}\n")
            self.write(f"{'':21}{subject}{extra}\n")

    def _show_states(self) -> None:
        """What changed: the request's state, each minutes version, task, problem, plan."""
        if not self.number:
            return
        view = self.view()
        states = {self.number: str(view["state"])}
        for minutes in view["minutes"]:
            states[f"minutes v{minutes['version']}"] = minutes["state"]
        for task in view["tasks"]:
            states[task["id"]] = task["state"]
            states[f"{task['id']} due"] = str(task["due"])
        for problem in view["problems"]:
            states[f"problem {problem['id']}"] = problem["state"]
        plans = view["plans"]
        if plans["state"]:
            states["plan"] = plans["state"]
        changes = [
            f"{name}: {self._states[name]} → {state}"
            if name in self._states
            else f"{name}: {state}"
            for name, state in states.items()
            if self._states.get(name) != state
            # A due date is news when it changes, not when the task appears.
            and (name in self._states or not name.endswith(" due"))
        ]
        self._states = states
        if changes:
            self.write(f"{'':19}* {'; '.join(changes)}\n")


def run_demo(workdir: Path | None = None, out: TextIO | None = None) -> int:
    write = (out or sys.stdout).write
    with (
        tempfile.TemporaryDirectory(prefix="liaison-demo-") as tmp,
        resources.as_file(resources.files("daemon.examples") / "directory.toml") as directory,
    ):
        root = workdir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        settings = load_settings(
            None,
            environ={
                "LIAISON_STORE_URL": f"sqlite:///{root / 'liaison.db'}",
                "LIAISON_STORE_ATTACHMENTS_DIR": str(root / "attachments"),
                "LIAISON_OUTBOUND_MAILDIR": str(root / "sent"),
                "LIAISON_MAILBOX_LISTENER_PORT": str(port),
                "LIAISON_DIRECTORY_FILE": str(directory),
            },
        )
        clock = FrozenClock(START)
        service = Service(build_app(settings, clock=clock))
        service.start()
        demo = _Demo(root, port, service, clock, write)
        try:
            return _scenario(demo)
        finally:
            service.stop()


def _scenario(demo: _Demo) -> int:
    started = time.monotonic()
    write = demo.write
    profile = demo.app.workflow.profile
    write(
        f"Liaison demo: profile {profile.name} ({profile.title}), embedded defaults\n"
        f"Working files in {demo.root}; mail arrives over LMTP at 127.0.0.1:{demo.port} and "
        "leaves through the Maildir sent/.\n"
        "The clock is frozen and moved forward by the demo: three working weeks follow.\n"
    )
    _request_and_evaluation(demo)
    if not demo.number:
        write("\nnothing was registered\n")
        return 1
    number = demo.number
    _kickoff_and_minutes(demo, number)
    _tasks(demo)
    _plans(demo, number)
    _execution(demo)
    _problem(demo, number)
    _acceptance(demo)
    _review(demo, number)
    return _summary(demo, time.monotonic() - started)


def _request_and_evaluation(demo: _Demo) -> None:
    demo.stage()
    raw = demo_mail.compose(
        REQUESTER[1],
        "[需求] 供应商对账流程线上化",
        demo_mail.REQUEST.format(due="2026-05-29"),
        at=START,
        name=REQUESTER[0],
    )
    demo.send(REQUESTER, START, raw, "需求名称：供应商对账流程线上化 … 期望完成时间：2026-05-29")
    if demo.number:
        demo.write(f"{'':19}Registered as {demo.number} (state: registered)\n")

    demo.stage()
    if not demo.number:
        return
    demo.tick(at(3, 17, 17), "the evaluation is due by the end of Tuesday: nothing yet")
    demo.tick(at(3, 18, 9, 30), "one working day passed without an evaluation")
    demo.tick(at(3, 19, 9, 30), "two working days: the office's head hears of it")
    notice = demo.sent("office/evaluation_notice")
    accept = "受理 牵头部门：研发部 配合部门：财务部、行政部"
    demo.send(
        OFFICE_PERSON,
        at(3, 19, 10),
        demo_mail.reply(notice, OFFICE, accept, at=at(3, 19, 10)),
        accept,
    )


def _kickoff_and_minutes(demo: _Demo, number: str) -> None:
    demo.stage()
    invitation = demo.sent("attendee/meeting_invitation", to=FINANCE[1])
    demo.send(
        FINANCE,
        at(3, 19, 11),
        demo_mail.calendar_accept(invitation, FINANCE[1], at=at(3, 19, 11)),
        "Accept (Outlook, an iTIP REPLY)",
    )
    view = demo.view()
    demo.write(
        f"{'':19}{number} now: state {view['state']}, lead {view['lead_department']}, "
        f"supporting {'、'.join(view['supporting_departments'])}\n"
    )
    for meeting in view["meetings"]:
        demo.write(f"{'':19}{meeting['kind']} meeting {meeting['start']} (UID {meeting['uid']})\n")
        for attendee in meeting["attendees"]:
            demo.write(
                f"{'':21}{attendee['partstat']:<13} {attendee['email']} ({attendee['role']})\n"
            )

    demo.stage()
    first, second = "2026-04-10", "2026年4月17日"
    items = [item.format(first=first, second=second) for item in demo_mail.ITEMS]
    demo.send(
        LEAD,
        at(3, 23, 14),
        demo_mail.compose(
            LEAD[1],
            f"[纪要] {number} 启动会纪要",
            demo_mail.minutes(items),
            at=at(3, 23, 14),
            name=LEAD[0],
        ),
        "待办事项：RW-0001 对账规则整理（李娜），RW-0002 系统接口开发（王强）",
    )
    ask = demo.sent("participant/minutes_for_confirmation", to=FINANCE[1], containing="第1版")
    objection = "异议：接口开发截止时间太紧"
    demo.send(
        FINANCE,
        at(3, 23, 15),
        demo_mail.reply(ask, FINANCE[1], objection, at=at(3, 23, 15)),
        objection,
    )
    items = [item.format(first=first, second="2026年4月24日") for item in demo_mail.ITEMS]
    demo.send(
        LEAD,
        at(3, 23, 16),
        demo_mail.compose(
            LEAD[1],
            f"[纪要] {number} 启动会纪要（第二版）",
            demo_mail.minutes(items, "（第二版）"),
            at=at(3, 23, 16),
            name=LEAD[0],
        ),
        "第二版：系统接口开发截止改为 2026年4月24日",
    )
    for head, when in ((LEAD, at(3, 23, 17)), (FINANCE, at(3, 23, 17, 5))):
        ask = demo.sent("participant/minutes_for_confirmation", to=head[1], containing="第2版")
        demo.send(head, when, demo_mail.reply(ask, head[1], "确认", at=when), "确认")
    demo.tick(at(3, 25, 9, 30), "行政部 has not confirmed within one working day")
    ask = demo.sent("participant/minutes_for_confirmation", to=ADMIN[1], containing="第2版")
    demo.send(
        ADMIN, at(3, 25, 10), demo_mail.reply(ask, ADMIN[1], "同意", at=at(3, 25, 10)), "同意"
    )


def _tasks(demo: _Demo) -> None:
    demo.stage()
    task = demo.sent("owner/task_assignment", to=LI_NA[1])
    demo.send(
        LI_NA, at(3, 25, 11), demo_mail.reply(task, LI_NA[1], "收到", at=at(3, 25, 11)), "收到"
    )
    task = demo.sent("owner/task_assignment", containing="RW-0002")
    change = "申请改期：2026-05-08 接口联调需要更多时间"
    demo.send(
        WANG,
        at(3, 25, 11, 30),
        demo_mail.reply(task, WANG[1], change, at=at(3, 25, 11, 30)),
        change,
    )
    asked = demo.sent("lead/date_change_request")
    demo.send(
        LEAD,
        at(3, 25, 14),
        demo_mail.reply(asked, LEAD[1], "同意改期", at=at(3, 25, 14)),
        "同意改期",
    )


def _plans(demo: _Demo, number: str) -> None:
    demo.stage()
    word = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    for head, text, files in (
        (
            FINANCE,
            "财务部实施方案：提供三家试点供应商近一年的对账数据。",
            [File("财务部方案.docx", word, b"finance plan")],
        ),
        (ADMIN, "行政部实施方案：安排供应商来访与会议室。", []),
    ):
        demo.send(
            head,
            at(3, 26, 10),
            demo_mail.compose(
                head[1],
                f"[方案] {number} 实施方案",
                text,
                at=at(3, 26, 10),
                name=head[0],
                files=files,
            ),
            text,
        )
    text = "总体方案：规则整理、接口开发、试运行三个阶段。"
    demo.send(
        LEAD,
        at(3, 26, 14),
        demo_mail.compose(
            LEAD[1],
            f"[方案] {number} 跨部门协作总体方案",
            text,
            at=at(3, 26, 14),
            name=LEAD[0],
            files=[File("总体方案.pdf", "application/pdf", b"%PDF-1.4 plan")],
        ),
        text,
    )
    for approver, word_said, when in (
        (FINANCE, "同意", at(3, 26, 15)),
        (GM, "批准", at(3, 26, 16)),
    ):
        asked = demo.sent("approver/plan_approval", to=approver[1])
        demo.send(
            approver, when, demo_mail.reply(asked, approver[1], word_said, at=when), word_said
        )


def _execution(demo: _Demo) -> None:
    demo.stage()
    demo.tick(at(3, 27, 9), "Friday: the weekly progress requests")
    asked = demo.sent("owner/progress_request", to=LI_NA[1])
    report = "进度：60% 规则初稿完成"
    demo.send(
        LI_NA, at(3, 27, 10), demo_mail.reply(asked, LI_NA[1], report, at=at(3, 27, 10)), report
    )
    demo.tick(at(3, 30, 9), "Monday: 王强's report is missing; the week's digest")


def _problem(demo: _Demo, number: str) -> None:
    demo.stage()
    demo.send(
        WANG,
        at(3, 30, 15),
        demo_mail.compose(
            WANG[1],
            f"[问题] {number} 供应商接口文档缺失",
            demo_mail.issue(number, "RW-0002"),
            at=at(3, 30, 15),
            name=WANG[0],
        ),
        "问题描述：供应商接口文档缺失，联调无法开始",
    )
    notice = demo.sent("lead/problem_notice")
    resolution = "解决：财务部本周内协调供应商提供接口文档 新期限：2026-05-15"
    demo.send(
        LEAD,
        at(3, 30, 16),
        demo_mail.reply(notice, LEAD[1], resolution, at=at(3, 30, 16)),
        resolution,
    )


def _acceptance(demo: _Demo) -> None:
    demo.stage()
    word = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    task = demo.sent("owner/task_assignment", to=LI_NA[1])
    demo.send(
        LI_NA,
        at(3, 31, 10),
        demo_mail.reply(
            task,
            LI_NA[1],
            "完成，对账规则说明见附件",
            at=at(3, 31, 10),
            files=[File("对账规则说明.docx", word, b"rules, version 1")],
        ),
        "完成，对账规则说明见附件",
    )
    review = demo.sent("requester/acceptance_request", containing="RW-0001")
    returned = "退回：缺少异常处理规则"
    demo.send(
        REQUESTER,
        at(3, 31, 14),
        demo_mail.reply(review, REQUESTER[1], returned, at=at(3, 31, 14)),
        returned,
    )
    again = demo.sent("owner/deliverable_returned")
    demo.send(
        LI_NA,
        at(4, 1, 10),
        demo_mail.reply(
            again,
            LI_NA[1],
            "完成，已补充异常处理规则",
            at=at(4, 1, 10),
            files=[File("对账规则说明-第二版.docx", word, b"rules, version 2")],
        ),
        "完成，已补充异常处理规则",
    )
    task = demo.sent("owner/task_assignment", containing="RW-0002")
    demo.send(
        WANG,
        at(4, 1, 11),
        demo_mail.reply(
            task,
            WANG[1],
            "完成",
            at=at(4, 1, 11),
            files=[File("接口测试报告.pdf", "application/pdf", b"%PDF-1.4 report")],
        ),
        "完成",
    )
    for ref, when in (("RW-0001", at(4, 1, 14)), ("RW-0002", at(4, 1, 15))):
        review = demo.sent("requester/acceptance_request", containing=ref)
        demo.send(
            REQUESTER, when, demo_mail.reply(review, REQUESTER[1], "验收通过", at=when), "验收通过"
        )


def _review(demo: _Demo, number: str) -> None:
    demo.stage()
    demo.send(
        LEAD,
        at(4, 3, 10),
        demo_mail.compose(
            LEAD[1],
            f"[复盘] {number} 供应商对账流程线上化",
            demo_mail.REVIEW,
            at=at(4, 3, 10),
            name=LEAD[0],
        ),
        "成功经验 / 不足 / 改进措施",
    )


def _summary(demo: _Demo, seconds: float) -> int:
    write = demo.write
    view = demo.view()
    write(f"\n== {view['number']} {view['title']}: {view['state']}\n")
    write(
        f"requester {view['requester_name'] or ''} <{view['requester']}> "
        f"({view['requesting_department']}); "
        f"lead {view['lead_department']}, supporting {'、'.join(view['supporting_departments'])}\n"
    )
    for meeting in view["meetings"]:
        accepted = sum(a["partstat"] == "ACCEPTED" for a in meeting["attendees"])
        write(
            f"meeting  {meeting['kind']:<8} {meeting['start']}  "
            f"{len(meeting['attendees'])} invited, {accepted} accepted\n"
        )
    for minutes in view["minutes"]:
        confirmed = sum(c["state"] == "confirmed" for c in minutes["confirmations"])
        objected = [c["department"] for c in minutes["confirmations"] if c["state"] == "objected"]
        write(
            f"minutes  v{minutes['version']} {minutes['state']}, "
            f"{confirmed}/{len(minutes['confirmations'])} heads confirmed"
            + (f", objected: {'、'.join(objected)}" if objected else "")
            + "\n"
        )
    plans = view["plans"]
    if plans["versions"]:
        approvals = ", ".join(
            f"{a['approver']} {a['state']}" for a in plans["versions"][-1]["approvals"]
        )
        write(
            f"plan     {plans['state']} "
            f"({len(plans['department_plans'])} department plans; {approvals})\n"
        )
    for task in view["tasks"]:
        write(
            f"task     {task['id']} {task['title']}  {task['owner']}  "
            f"due {task['due']}  {task['state']}\n"
        )
    for problem in view["problems"]:
        write(
            f"problem  {problem['id']} {problem['task']} {problem['state']}: "
            f"{problem['resolution']} (new due {problem['new_due']})\n"
        )
    review = view["review"]
    if review:
        write(f"review   成功经验：{review['successes']}\n")
        write(f"         不足：{review['shortcomings']}\n")
        write(f"         archived {review['archived_at']}\n")
    write(
        f"{len(view['communications'])} communication records; "
        f"{len(demo.mails)} mails sent to the Maildir; {seconds:.1f} s\n"
    )
    ok = (
        view["state"] == "archived"
        and bool(view["tasks"])
        and all(t["state"] == "accepted" for t in view["tasks"])
        and review is not None
    )
    write("\nDemo finished: " + ("ok\n" if ok else "something was missing\n"))
    return 0 if ok else 1
