"""Every shipped profile, end to end: one request from the request mail to the archive.

The real service reads a real Dovecot mailbox and sends to an SMTP sink (``tests.e2e``);
the test is everybody else. It mails the request, the evaluation, the minutes, the
objection and the new version, the confirmations, the acknowledgements, a date change,
the plans and their approvals (where the profile has them), a weekly progress report, an
issue and its resolution, two deliverables (one returned, then accepted) and the review,
and moves the frozen clock over working days so that reminders, an escalation, the weekly
progress requests and the digest come due. After every step it checks the exact multiset
of mails that went out, as (kind, recipient, request number), and the request's state.

The scenario is the same for all five profiles; where a profile differs (who evaluates
and who hears of a late evaluation, the numbering, plan approval, the acceptance form,
the weekday of the weekly progress) the :class:`Case` says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from daemon.inbound import Arrival, Outcome, SourceRef
from daemon.pipeline import Pipeline
from store.uow import SqlUnitOfWork
from tests.e2e import File, Flow, Sent, Step, expected, new_mail, reply
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp_sink import SmtpSink
from tests.support import ROOT_EXAMPLES, SHANGHAI, build_reply, parse_mail, scratch_app, text_of
from tests.test_meetings import calendar_mail, itip_reply
from workflow.queries import show_request

OFFICE = "office@example.com"
OFFICE_HEAD = "zhou.min@example.com"  # also the head of 行政部
REQUESTER = "wu.fang@example.com"  # 财务部
LEAD = "zhao.lei@example.com"  # 研发部 head, the lead department
FINANCE = "finance.lead@example.com"  # 财务部 head, supporting; first approver
ADMIN = "zhou.min@example.com"  # 行政部 head, supporting
GM = "gm@example.com"  # second approver; superior of 财务部
LI_NA = "li.na@example.com"  # owner of RW-0001
WANG = "wang.qiang@example.com"  # owner of RW-0002, collaborator on RW-0001

HEADS = (LEAD, FINANCE, ADMIN)
#: Who the minutes go to: the heads, the requester, and the office (kickoff attendee).
MINUTES_READERS = (*HEADS, REQUESTER, OFFICE)
#: Who is invited to the kickoff.
KICKOFF = (REQUESTER, *HEADS, OFFICE)
#: Requester, lead head and coordination office: the digest and the archive.
REPORTED_TO = (REQUESTER, LEAD, OFFICE)


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


@dataclass(frozen=True)
class Case:
    profile: str
    number: str
    #: Who evaluates the request, with which notice, and who hears of it when late.
    evaluator: str
    notice: str
    escalated_to: str
    plan_approval: bool
    acceptance: str  # the acceptance request's kind
    #: Weekly progress: when the requests go out, when the owner answers, and the first
    #: tick after the week's deadline (reminder and digest). By default the deadline is
    #: Friday at the end of the working day, and Monday 09:00 the first tick after it.
    progress_asked: datetime = at(3, 27, 9)
    progress_answered: datetime = at(3, 27, 10)
    progress_due: datetime = at(3, 30, 9)
    #: The minutes of the Friday kickoff are due one working day after it (seed 001: two).
    minutes_due: datetime = at(3, 23, 18)
    #: Run the escalation tick as ``liaison tick --now`` in a subprocess.
    cli_tick: bool = False


CASES = [
    Case(
        "standard",
        "XT-2026-0001",
        evaluator=OFFICE,
        notice="office/evaluation_notice",
        escalated_to=OFFICE_HEAD,
        plan_approval=True,
        acceptance="requester/acceptance_request",
        cli_tick=True,
    ),
    Case(
        # No office step: the head of the requester's department (财务部) evaluates,
        # and their superior hears of a late evaluation.
        "intra-department",
        "XZ-2026-001",
        evaluator=FINANCE,
        notice="head/evaluation_notice",
        escalated_to=GM,
        plan_approval=True,
        acceptance="requester/acceptance_request",
    ),
    Case(
        "cross-department",
        "XT-2026-0001",
        evaluator=OFFICE,
        notice="office/evaluation_notice",
        escalated_to=OFFICE_HEAD,
        plan_approval=False,
        acceptance="requester/acceptance_request",
        # The materials go out with the invitation two working days ahead, so the
        # kickoff is on Monday; the minutes are due two working days after it.
        minutes_due=at(3, 25, 18),
    ),
    Case(
        "enterprise",
        "XT-2026-0001",
        evaluator=OFFICE,
        notice="office/evaluation_notice",
        escalated_to=OFFICE_HEAD,
        plan_approval=True,
        acceptance="requester/acceptance_form",
    ),
    Case(
        # Numbered by year and the requesting department's code; progress by Monday 12:00.
        "task-record",
        "2026-财务-001",
        evaluator=OFFICE,
        notice="office/evaluation_notice",
        escalated_to=OFFICE_HEAD,
        plan_approval=True,
        acceptance="requester/acceptance_request",
        progress_asked=at(3, 30, 9),
        progress_answered=at(3, 30, 10),
        progress_due=at(3, 30, 13),
    ),
]

# --- what people write ------------------------------------------------------------------------

REQUEST_BODY = """各位好：

为统一供应商对账口径，申请跨部门协作如下。

需求名称：供应商对账流程线上化
发起部门：财务部
接收部门：研发部、行政部
背景与目标：目前每月对账依赖线下表格，差错率高；希望迁移到系统中，按期试运行。
期望完成时间：2026-05-29
紧急程度：紧急
所需资源：研发 2 人周，行政部提供历史对账数据
验收标准：三家试点供应商连续一个月线上对账无差错

谢谢！
吴芳
"""
ITEMS = [
    "- 对账规则整理 | 负责人：李娜 li.na@example.com | 截止：2026-04-10 | "
    "交付物：对账规则说明 | 协作人：王强",
    "- 系统接口开发 | 负责人：王强 | 截止：2026年4月17日 | "
    "交付物：接口与测试报告 | 验收标准：三家试点零差错",
]
#: Version 2: the objection to RW-0002's date is taken.
ITEMS_V2 = [ITEMS[0], ITEMS[1].replace("2026年4月17日", "2026年4月24日")]
ISSUE_BODY = """所属任务：{number}/RW-0002
问题描述：供应商接口文档缺失，联调无法开始
影响范围：RW-0002 系统接口开发
已尝试方案：两次邮件联系供应商
所需支持：请财务部协调供应商提供接口文档
紧急程度：紧急

王强
"""
REVIEW_BODY = """各位好，复盘如下。

成功经验：每周进度同步及时，问题当天协调
不足：启动会前材料准备不足
改进措施：
1. 启动会前两天发送材料清单
2. 接口文档纳入供应商准入要求

赵磊
"""


def minutes(number: str, items: list[str], note: str, when: datetime) -> bytes:
    body = "\n".join(
        [
            f"各位好，启动会纪要如下。{note}",
            "",
            "参会人员：赵磊、何军、周敏、吴芳",
            "讨论要点：对账口径统一；试点供应商三家",
            "共识事项：月底前试运行",
            "待办事项：",
            *items,
            "",
            "赵磊",
            "",
        ]
    )
    return new_mail(LEAD, f"[纪要] {number} 启动会纪要{note}", body, at=when, name="赵磊")


def docx(name: str, data: bytes) -> File:
    return File(
        name, "application/vnd.openxmlformats-officedocument.wordprocessingml.document", data
    )


# --- the test -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.profile for c in CASES])
def test_a_request_goes_from_the_request_mail_to_the_archive(
    case: Case, tmp_path: Path, imap_server: DovecotServer, smtp_sink: SmtpSink
) -> None:
    flow = Flow(tmp_path, imap_server, smtp_sink, profile=case.profile, start=at(3, 16, 9))
    flow.start()
    try:
        Scenario(case, flow).run()
    finally:
        flow.stop()


class Scenario:
    def __init__(self, case: Case, flow: Flow) -> None:
        self.case = case
        self.flow = flow
        self.number = case.number
        self.expected_state = "registered"

    # -- helpers -----------------------------------------------------------------------

    def sends(
        self, step: Step, *pairs: tuple[str, str | tuple[str, ...]], state: str | None = None
    ) -> None:
        """``step`` sent exactly these mails (kind, recipients), all about our request, and
        left the request in ``state`` (by default: the state it was in)."""
        assert step.triples() == expected(self.number, *pairs), step.label
        if state is not None:
            self.expected_state = state
        assert self.state() == self.expected_state, step.label

    def receipt(self, *signers: str) -> tuple[str, tuple[str, ...]]:
        return ("signer/receipt", signers)

    def view(self) -> dict[str, Any]:
        return self.flow.view(self.number)

    def state(self) -> str:
        return self.flow.state(self.number)

    def task(self, ref: str) -> dict[str, Any]:
        return next(t for t in self.view()["tasks"] if t["id"] == ref)

    def answer(self, mail: Sent, sender: str, body: str, when: datetime, **kw: Any) -> bytes:
        return reply(mail, sender=sender, body=body, at=when, **kw)

    # -- the scenario ----------------------------------------------------------------------

    def run(self) -> None:
        self.intake_and_evaluation()
        self.kickoff_and_minutes()
        self.tasks_and_a_date_change()
        if self.case.plan_approval:
            self.plan_approval()
        else:
            assert self.view()["plans"] == {
                "required": False,
                "state": None,
                "department_plans": [],
                "versions": [],
            }
        self.weekly_progress()
        self.a_problem()
        self.acceptance()
        self.review_and_archive()
        self.every_mail()

    def intake_and_evaluation(self) -> None:
        case, flow = self.case, self.flow
        step = flow.deliver(
            new_mail(
                REQUESTER,
                "[需求] 供应商对账流程线上化",
                REQUEST_BODY,
                at=at(3, 16, 9),
                name="吴芳",
            ),
            at=at(3, 16, 9),
        )
        self.sends(
            step,
            ("requester/acknowledged", REQUESTER),
            (case.notice, case.evaluator),
            state="registered",
        )
        assert step.one("requester/acknowledged").subject.startswith(f"[需求已登记] {self.number} ")
        assert step.one(case.notice).subject == f"[评估] {self.number} 供应商对账流程线上化"

        # Due by the end of Tuesday: nothing yet; Wednesday 09:30 a reminder, once;
        # Thursday 09:30 (two working days late) the escalation.
        self.sends(flow.tick(at(3, 17, 17)))
        step = flow.tick(at(3, 18, 9, 30))
        self.sends(step, ("awaited/reminder", case.evaluator))
        assert step.one("awaited/reminder").subject.startswith(f"[催办] {self.number} ")
        self.sends(flow.tick(at(3, 18, 14)))
        step = flow.tick(at(3, 19, 9, 30), cli=case.cli_tick)
        self.sends(step, ("superior/escalation", case.escalated_to))
        assert case.evaluator in step.one("superior/escalation").subject

        notice = flow.sent(case.notice)
        step = flow.deliver(
            self.answer(
                notice,
                case.evaluator,
                "受理 牵头部门：研发部 配合部门：财务部、行政部\n",
                at(3, 19, 10),
            ),
            at=at(3, 19, 10),
        )
        self.sends(
            step,
            ("requester/accepted", REQUESTER),
            ("attendee/meeting_invitation", KICKOFF),
            self.receipt(case.evaluator),
            state="accepted",
        )
        view = self.view()
        assert (view["state"], view["lead_department"], view["supporting_departments"]) == (
            "accepted",
            "研发部",
            ["财务部", "行政部"],
        )
        [kickoff] = view["meetings"]
        assert kickoff["kind"] == "kickoff" and kickoff["status"] == "CONFIRMED"
        # Within two working days of the acceptance, in working hours; the lead owes
        # the minutes the profile's limit after it.
        assert at(3, 19, 10) < datetime.fromisoformat(kickoff["start"]) <= at(3, 23, 18)
        assert view["next_deadline"] == case.minutes_due.isoformat()
        # The head of 财务部 presses Accept in Outlook: recorded, nothing sent.
        ics = itip_reply(kickoff, FINANCE, "ACCEPTED", dtstamp="20260319T030000Z")
        self.sends(flow.deliver(calendar_mail(FINANCE, ics), at=at(3, 19, 11)))
        answers = {a["email"]: a["partstat"] for a in self.view()["meetings"][0]["attendees"]}
        assert answers[FINANCE] == "ACCEPTED" and answers[LEAD] == "NEEDS-ACTION"

    def kickoff_and_minutes(self) -> None:
        flow, number = self.flow, self.number
        step = flow.deliver(minutes(number, ITEMS, "", at(3, 23, 14)), at=at(3, 23, 14))
        self.sends(
            step,
            ("participant/minutes_for_confirmation", MINUTES_READERS),
            state="minutes_confirming",
        )
        assert [(t["id"], t["owner"], t["state"]) for t in self.view()["tasks"]] == [
            ("RW-0001", LI_NA, "draft"),
            ("RW-0002", WANG, "draft"),
        ]

        # 财务部 objects to version 1: back to the author, who sends version 2.
        ask = flow.sent("participant/minutes_for_confirmation", to=FINANCE, containing="第1版")
        step = flow.deliver(
            self.answer(ask, FINANCE, "异议：接口开发截止时间太紧\n", at(3, 23, 15)),
            at=at(3, 23, 15),
        )
        self.sends(step, ("author/minutes_objection", LEAD), self.receipt(FINANCE))
        assert "接口开发截止时间太紧" in text_of(step.one("author/minutes_objection").message)
        assert self.view()["minutes"][0]["state"] == "objected"

        step = flow.deliver(
            minutes(number, ITEMS_V2, "（第二版）", at(3, 23, 16)), at=at(3, 23, 16)
        )
        self.sends(step, ("participant/minutes_for_confirmation", MINUTES_READERS))
        assert all("第2版" in m.subject for m in step.mails)
        v1, v2 = self.view()["minutes"]
        assert (v1["state"], v2["state"]) == ("superseded", "confirming")

        # Two heads confirm at once; 行政部 forgets and is reminded the day after next.
        step = flow.deliver_all(
            [
                self.answer(
                    flow.sent("participant/minutes_for_confirmation", to=head, containing="第2版"),
                    head,
                    "确认\n",
                    at(3, 23, 17),
                )
                for head in (LEAD, FINANCE)
            ],
            at=at(3, 23, 17),
        )
        self.sends(step, self.receipt(LEAD, FINANCE))
        self.sends(flow.tick(at(3, 24, 17)))
        step = flow.tick(at(3, 25, 9, 30))
        self.sends(step, ("awaited/reminder", ADMIN))
        assert "第2版" in text_of(step.one("awaited/reminder").message)

        ask = flow.sent("participant/minutes_for_confirmation", to=ADMIN, containing="第2版")
        step = flow.deliver(self.answer(ask, ADMIN, "同意\n", at(3, 25, 10)), at=at(3, 25, 10))
        plans = [("head/plan_request", (FINANCE, ADMIN, LEAD))] if self.case.plan_approval else []
        self.sends(
            step,
            ("owner/task_assignment", (LI_NA, WANG, WANG)),  # RW-0001 copies 王强
            ("participant/minutes_final", MINUTES_READERS),
            *plans,
            self.receipt(ADMIN),
            state="in_progress",
        )
        assignment = step.one("owner/task_assignment", containing="RW-0001")
        assert assignment.subject.startswith(f"[任务] {number}/RW-0001 ")
        assert str(assignment.message["Cc"]).endswith(WANG)
        view = self.view()
        assert view["state"] == "in_progress" and view["minutes"][1]["state"] == "final"
        assert [(t["id"], t["due"], t["state"]) for t in view["tasks"]] == [
            ("RW-0001", "2026-04-10", "assigned"),
            ("RW-0002", "2026-04-24", "assigned"),
        ]

    def tasks_and_a_date_change(self) -> None:
        flow = self.flow
        step = flow.deliver_all(
            [
                self.answer(
                    flow.sent("owner/task_assignment", to=LI_NA), LI_NA, "收到\n", at(3, 25, 11)
                ),
                self.answer(
                    flow.sent("owner/task_assignment", containing="RW-0002"),
                    WANG,
                    "申请改期：2026-05-08 接口联调需要更多时间\n",
                    at(3, 25, 11),
                ),
            ],
            at=at(3, 25, 11),
        )
        self.sends(step, ("lead/date_change_request", LEAD), self.receipt(LI_NA, WANG))
        assert self.task("RW-0001")["acknowledged"] is True
        assert self.task("RW-0002")["due"] == "2026-04-24"  # asked, not decided

        step = flow.deliver(
            self.answer(flow.sent("lead/date_change_request"), LEAD, "同意改期\n", at(3, 25, 14)),
            at=at(3, 25, 14),
        )
        self.sends(step, ("owner/date_change_decided", WANG), self.receipt(LEAD))
        assert step.one("owner/date_change_decided").subject.startswith("[改期已同意]")
        assert self.task("RW-0002")["due"] == "2026-05-08"

    def plan_approval(self) -> None:
        flow, number = self.flow, self.number
        assert self.view()["plans"]["state"] == "awaiting_plans"
        step = flow.deliver_all(
            [
                new_mail(
                    FINANCE,
                    f"[方案] {number} 财务部实施方案",
                    "财务部实施方案：提供三家试点供应商近一年的对账数据。\n",
                    at=at(3, 26, 10),
                    files=[docx("财务部方案.docx", b"PK finance plan")],
                ),
                new_mail(
                    ADMIN,
                    f"[方案] {number} 行政部实施方案",
                    "行政部实施方案：安排供应商来访与会议室。\n",
                    at=at(3, 26, 10),
                ),
            ],
            at=at(3, 26, 10),
        )
        self.sends(
            step,
            ("lead/department_plan", (LEAD, LEAD)),
            ("sender/plan_recorded", (FINANCE, ADMIN)),
        )
        with_file = step.one("lead/department_plan", containing="财务部")
        assert [p.get_filename() for p in with_file.message.iter_attachments()] == [
            "财务部方案.docx"
        ]

        step = flow.deliver(
            new_mail(
                LEAD,
                f"[方案] {number} 跨部门协作总体方案",
                "总体方案：规则整理、接口开发、试运行三个阶段。\n",
                at=at(3, 26, 14),
                files=[File("总体方案.pdf", "application/pdf", b"%PDF-1.4 plan")],
            ),
            at=at(3, 26, 14),
        )
        # To the approvers in order: 财务部 head first.
        self.sends(step, ("sender/plan_recorded", LEAD), ("approver/plan_approval", FINANCE))
        assert step.one("approver/plan_approval").subject.startswith(f"[审批] {number} ")

        step = flow.deliver(
            self.answer(
                flow.sent("approver/plan_approval", to=FINANCE), FINANCE, "同意\n", at(3, 26, 15)
            ),
            at=at(3, 26, 15),
        )
        self.sends(step, ("approver/plan_approval", GM), self.receipt(FINANCE))
        step = flow.deliver(
            self.answer(flow.sent("approver/plan_approval", to=GM), GM, "批准\n", at(3, 26, 16)),
            at=at(3, 26, 16),
        )
        self.sends(step, ("participant/plan_approved", REPORTED_TO), self.receipt(GM))
        plans = self.view()["plans"]
        assert plans["state"] == "approved"
        assert [(a["approver"], a["state"]) for a in plans["versions"][0]["approvals"]] == [
            (FINANCE, "approved"),
            (GM, "approved"),
        ]

    def weekly_progress(self) -> None:
        case, flow = self.case, self.flow
        if case.progress_asked.weekday() == 0:
            self.sends(flow.tick(at(3, 27, 9)))  # the week's deadline is Monday noon
        step = flow.tick(case.progress_asked)
        self.sends(step, ("owner/progress_request", (LI_NA, WANG)))
        asked = step.one("owner/progress_request", to=LI_NA)
        assert asked.subject.startswith(f"[任务] {self.number}/RW-0001 ")

        # 李娜 reports; 王强 does not: after the deadline he is reminded and the digest
        # goes to the requester, the lead and the office.
        step = flow.deliver(
            self.answer(asked, LI_NA, "进度：60% 规则初稿完成\n", case.progress_answered),
            at=case.progress_answered,
        )
        self.sends(step)  # a report is no sign-off: no receipt
        assert self.task("RW-0001")["progress"] == 60
        step = flow.tick(case.progress_due)
        self.sends(
            step,
            ("awaited/reminder", WANG),
            ("participant/weekly_digest", REPORTED_TO),
        )
        digest = text_of(step.one("participant/weekly_digest").message)
        assert "60%" in digest and "未回复" in digest

    def a_problem(self) -> None:
        flow, number = self.flow, self.number
        step = flow.deliver(
            new_mail(
                WANG,
                f"[问题] {number} 供应商接口文档缺失",
                ISSUE_BODY.format(number=number),
                at=at(3, 30, 15),
                name="王强",
            ),
            at=at(3, 30, 15),
        )
        # The problem meeting within 24 hours (reporter and owner 王强, the lead, the
        # office), the problem notice to the lead, the reporter's acknowledgement.
        self.sends(
            step,
            ("attendee/meeting_invitation", (WANG, LEAD, OFFICE)),
            ("lead/problem_notice", LEAD),
            ("reporter/issue_acknowledged", WANG),
        )
        [problem] = self.view()["problems"]
        assert (problem["state"], problem["task"]) == ("meeting_scheduled", "RW-0002")
        meeting = next(m for m in self.view()["meetings"] if m["kind"] == "problem")
        assert datetime.fromisoformat(meeting["start"]) <= at(3, 31, 15)

        step = flow.deliver(
            self.answer(
                flow.sent("lead/problem_notice"),
                LEAD,
                "解决：财务部本周内协调供应商提供接口文档 新期限：2026-05-15\n",
                at(3, 30, 16),
            ),
            at=at(3, 30, 16),
        )
        # Resolved before the problem meeting: the meeting is called off.
        self.sends(
            step,
            ("participant/problem_resolved", (WANG, LEAD)),
            ("attendee/meeting_cancelled", (WANG, LEAD, OFFICE)),
            self.receipt(LEAD),
        )
        [problem] = self.view()["problems"]
        assert (problem["state"], problem["new_due"]) == ("resolved", "2026-05-15")
        meeting = next(m for m in self.view()["meetings"] if m["kind"] == "problem")
        assert meeting["status"] == "CANCELLED"
        assert self.task("RW-0002")["due"] == "2026-05-15"

    def acceptance(self) -> None:
        case, flow = self.case, self.flow
        step = flow.deliver_all(
            [
                self.answer(
                    flow.sent("owner/task_assignment", to=LI_NA),
                    LI_NA,
                    "完成，对账规则说明见附件\n",
                    at(3, 31, 10),
                    files=[docx("对账规则说明.docx", b"rules, version 1")],
                ),
                self.answer(
                    flow.sent("owner/task_assignment", containing="RW-0002"),
                    WANG,
                    "完成\n",
                    at(3, 31, 10),
                    files=[File("接口测试报告.pdf", "application/pdf", b"%PDF-1.4 report")],
                ),
            ],
            at=at(3, 31, 10),
        )
        self.sends(step, (case.acceptance, (REQUESTER, REQUESTER)), self.receipt(LI_NA, WANG))
        review = step.one(case.acceptance, containing="RW-0001")
        assert review.subject.startswith(f"[验收] {self.number}/RW-0001 ")
        assert [p.get_filename() for p in review.message.iter_attachments()] == [
            "对账规则说明.docx"
        ]
        assert [t["state"] for t in self.view()["tasks"]] == ["done", "done"]

        # RW-0001 goes back with a comment, RW-0002 is accepted.
        step = flow.deliver_all(
            [
                self.answer(review, REQUESTER, "退回：缺少异常处理规则\n", at(3, 31, 14)),
                self.answer(
                    flow.sent(case.acceptance, containing="RW-0002"),
                    REQUESTER,
                    "验收通过\n",
                    at(3, 31, 14),
                ),
            ],
            at=at(3, 31, 14),
        )
        self.sends(
            step,
            ("owner/deliverable_returned", LI_NA),
            ("owner/deliverable_accepted", WANG),
            self.receipt(REQUESTER, REQUESTER),
        )
        assert "缺少异常处理规则" in text_of(step.one("owner/deliverable_returned").message)
        assert [t["state"] for t in self.view()["tasks"]] == ["returned", "accepted"]

        step = flow.deliver(
            self.answer(
                flow.sent("owner/deliverable_returned"),
                LI_NA,
                "完成，已补充异常处理规则\n",
                at(4, 1, 10),
                files=[docx("对账规则说明-第二版.docx", b"rules, version 2")],
            ),
            at=at(4, 1, 10),
        )
        self.sends(step, (case.acceptance, REQUESTER), self.receipt(LI_NA))

        # The last acceptance: the request is delivered; the review meeting and request.
        step = flow.deliver(
            self.answer(step.one(case.acceptance), REQUESTER, "验收通过\n", at(4, 1, 14)),
            at=at(4, 1, 14),
        )
        self.sends(
            step,
            ("owner/deliverable_accepted", LI_NA),
            ("attendee/meeting_invitation", (LEAD, REQUESTER, FINANCE, ADMIN, LI_NA, WANG)),
            ("lead/review_request", LEAD),
            self.receipt(REQUESTER),
            state="delivered",
        )
        view = self.view()
        assert view["state"] == "delivered"
        assert [t["state"] for t in view["tasks"]] == ["accepted", "accepted"]
        assert [m["kind"] for m in view["meetings"]] == ["kickoff", "problem", "review"]
        # The review meeting: within five working days, before the lead's review below.
        review_meeting = datetime.fromisoformat(view["meetings"][2]["start"])
        assert at(4, 1, 14) < review_meeting < at(4, 3, 10)
        if case.acceptance == "requester/acceptance_form":  # 成果验收表, one per submission
            records = [(a["task"], a["result"]) for a in view["acceptances"]]
            assert records == [
                ("RW-0001", "returned"),
                ("RW-0002", "accepted"),
                ("RW-0001", "accepted"),
            ], view["acceptances"]

    def review_and_archive(self) -> None:
        flow, number = self.flow, self.number
        step = flow.deliver(
            new_mail(LEAD, f"[复盘] {number} 供应商对账流程线上化", REVIEW_BODY, at=at(4, 3, 10)),
            at=at(4, 3, 10),
        )
        self.sends(step, ("participant/archive_dossier", REPORTED_TO), state="archived")
        archive = step.one("participant/archive_dossier")
        [dossier] = list(archive.message.iter_attachments())
        assert (dossier.get_content_type(), dossier.get_content_charset()) == (
            "text/html",
            "utf-8",
        )
        page = dossier.get_content()
        assert "每周进度同步及时" in page and "RW-0002" in page
        view = self.view()
        assert view["state"] == "archived"
        assert view["review"]["successes"] == "每周进度同步及时，问题当天协调"
        assert view["review"]["archived_at"] == at(4, 3, 10).isoformat()

    def every_mail(self) -> None:
        """What holds for every mail of the scenario."""
        mails = self.flow.all_mails()
        assert mails and all(m.number == self.number for m in mails)
        for mail in mails:
            message = mail.message
            assert self.number in mail.subject, mail.subject
            assert message["Auto-Submitted"] in ("auto-generated", "auto-replied")
            assert message["From"].addresses[0].addr_spec == "coord@example.com"
        # Nobody was told anything twice in one step (the scheduler's own ticks included).
        for step in self.flow.steps:
            ids = [m.message_id for m in step.mails]
            assert len(ids) == len(set(ids))


# --- the same pipeline in process, for what needs no mail server ------------------------------


class InProcess:
    """The app of ``profile`` on a frozen clock, fed through the pipeline directly."""

    def __init__(self, root: Path, profile: str, start: datetime) -> None:
        self.app, self.clock = scratch_app(
            root,
            at=start,
            LIAISON_DIRECTORY_FILE=str(ROOT_EXAMPLES / "directory.toml"),
            LIAISON_WORKFLOW_PROFILE=profile,
        )
        self.pipeline = Pipeline(
            session_factory=self.app.session_factory,
            config=self.app.workflow,
            blobs=self.app.blobs,
            clock=self.app.clock,
        )
        self._uid = 0

    def arrive(self, raw: bytes) -> None:
        self._uid += 1
        arrival = Arrival(SourceRef("test", 1, str(self._uid)), raw)
        assert self.pipeline.handle(arrival) is Outcome.PROCESSED

    def queued(self, kind: str) -> list[bytes]:
        with SqlUnitOfWork(self.app.session_factory) as uow:
            return [r.raw for r in uow.outbox.in_state("pending") if r.kind == kind]

    def view(self) -> dict[str, Any]:
        with SqlUnitOfWork(self.app.session_factory) as uow:
            [request] = uow.requests.list()
            return show_request(uow, request.number, self.app.workflow)


@pytest.fixture
def in_process(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[InProcess]:
    profile, start = request.param
    running = InProcess(tmp_path, profile, start)
    yield running
    running.app.close()


@pytest.mark.parametrize(
    ("in_process", "number"),
    [
        (("intra-department", at(3, 16, 9)), "XZ-2026-001"),
        (("task-record", at(3, 16, 9)), "2026-财务-001"),
    ],
    indirect=["in_process"],
    ids=["intra-department", "task-record"],
)
def test_an_issue_names_its_request_by_the_profiles_own_number(
    in_process: InProcess, number: str
) -> None:
    """The issue form is read in the profile's numbering: 所属任务 ``XZ-2026-001/RW-0002``
    ties the problem to its request."""
    in_process.arrive(
        new_mail(REQUESTER, "[需求] 供应商对账流程线上化", REQUEST_BODY, at=at(3, 16, 9))
    )
    in_process.arrive(
        new_mail(
            WANG, "[问题] 供应商接口文档缺失", ISSUE_BODY.format(number=number), at=at(3, 16, 10)
        )
    )
    [problem] = in_process.view()["problems"]
    assert (problem["task"], problem["reporter"]) == ("RW-0002", WANG)
    [ack] = in_process.queued("reporter/issue_acknowledged")
    assert str(parse_mail(ack)["Subject"]).startswith(f"[问题已登记] {number}/RW-0002")


@pytest.mark.parametrize("in_process", [("cross-department", at(3, 19, 10))], indirect=True)
def test_cross_department_kickoff_leaves_two_working_days_for_the_materials(
    in_process: InProcess,
) -> None:
    """Accepted on Thursday 10:00: the materials go out with the invitation, two working
    days before the meeting, so the kickoff is on Monday at the earliest."""
    in_process.arrive(
        new_mail(REQUESTER, "[需求] 供应商对账流程线上化", REQUEST_BODY, at=at(3, 19, 10))
    )
    [notice] = in_process.queued("office/evaluation_notice")
    in_process.arrive(
        build_reply(notice, sender=OFFICE, body="受理 牵头部门：研发部 配合部门：财务部\n")
    )
    [kickoff] = in_process.view()["meetings"]
    assert datetime.fromisoformat(kickoff["start"]) >= at(3, 23, 9)
