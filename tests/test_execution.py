"""The execution stage by mail and clock: weekly progress requests and reminders, the
weekly digest, risk warnings, overdue marks, over a frozen clock ticked across days.

Each test drives a request through the real pipeline (request, evaluation, minutes
confirmed by every head, both owners acknowledging) and then ticks ``workflow.clocks``
as ``liaison tick`` does. The standard profile's week ends on Friday at the end of
working hours (18:00, Asia/Shanghai); 2026-03-16 is a Monday.
"""

from __future__ import annotations

import email.utils
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.message import EmailMessage
from importlib import resources
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from daemon.bootstrap import build_app
from daemon.inbound import Outcome
from daemon.pipeline import Pipeline
from store.models import (
    ExecutionSweep,
    OutboxMessage,
    ProgressRecord,
    ProgressRequest,
    TaskAlert,
    WeeklyDigest,
)
from store.uow import SqlUnitOfWork
from tests.support import (
    ROOT_EXAMPLES,
    SHANGHAI,
    T0,
    build_reply,
    parse_mail,
    scratch_env,
    scratch_settings,
    text_of,
    wait_until,
)
from tests.test_meetings import REQUEST, World
from tests.test_minutes import ACCEPT_TWO, ADMIN_HEAD, FINANCE_HEAD, ITEMS
from tests.test_problems import issue_mail
from workflow.clock import FrozenClock
from workflow.clocks import TickReport, tick
from workflow.export import dossier
from workflow.queries import show_request

OFFICE = "office@example.com"
LEAD_HEAD = "zhao.lei@example.com"  # 研发部, lead department; superior cto@
LI_NA = "li.na@example.com"  # 研发部: owns RW-0001 (due Fri 2026-03-27)
WANG = "wang.qiang@example.com"  # 研发部: owns RW-0002 (due Fri 2026-04-10)
CTO = "cto@example.com"
WU_FANG = "wu.fang@example.com"  # 财务部: head finance.lead@, superior gm@
GM = "gm@example.com"
REQUESTER = "liu.yang@example.com"  # 行政部 (head 周敏): the corpus request's sender


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def minutes_mail(number: str, items: list[str]) -> bytes:
    body = "\r\n".join(
        [
            "各位好，启动会纪要如下。",
            "",
            "参会人员：赵磊、何军、周敏、李娜",
            "讨论要点：对账口径统一",
            "共识事项：月底前试运行",
            "待办事项：",
            *items,
            "",
            "赵磊",
        ]
    )
    head = [
        "Authentication-Results: mx.example.com; dmarc=pass header.from=example.com",
        f"From: {LEAD_HEAD}",
        "To: coord@example.com",
        f"Subject: {Header(f'[纪要] {number} 启动会纪要', 'utf-8').encode()}",
        f"Date: {email.utils.format_datetime(at(3, 16, 9))}",
        f"Message-ID: {email.utils.make_msgid(domain='example.com')}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    return ("\r\n".join(head) + "\r\n\r\n" + body + "\r\n").encode("utf-8")


@dataclass
class Run:
    """One request in execution, and the means to tick and answer as time goes by."""

    world: World
    number: str
    clock: FrozenClock

    def tick(self, when: datetime, *, dry_run: bool = False, commit: bool = True) -> TickReport:
        self.clock.set(when)
        with SqlUnitOfWork(self.world.app.session_factory) as uow:
            report = tick(uow=uow, now=when, config=self.world.app.workflow, dry_run=dry_run)
            if commit:
                uow.commit()
        return report

    def reply(self, answered: bytes, sender: str, body: str, when: datetime) -> Outcome:
        self.clock.set(when)
        return self.world.arrive(build_reply(answered, sender=sender, body=body))

    def mails(self, kind: str, to: str | None = None) -> list[EmailMessage]:
        found = [parse_mail(raw) for raw in self.world.sent(kind)]
        if to is None:
            return found
        return [m for m in found if to in {a.addr_spec for a in m["To"].addresses}]

    def raw(self, kind: str, to: str, ref: str) -> bytes:
        [raw] = [
            r
            for r in self.world.sent(kind)
            if parse_mail(r)["To"].addresses[0].addr_spec == to and ref in parse_mail(r)["Subject"]
        ]
        return raw

    def view(self) -> dict[str, object]:
        with SqlUnitOfWork(self.world.app.session_factory) as uow:
            return show_request(uow, self.number, self.world.app.workflow)

    def task(self, ref: str) -> dict[str, object]:
        tasks = self.view()["tasks"]
        assert isinstance(tasks, list)
        found: dict[str, object] = next(t for t in tasks if t["id"] == ref)
        return found

    def count(self, entity: type) -> int:
        with SqlUnitOfWork(self.world.app.session_factory) as uow:
            return int(uow.session.scalar(select(func.count()).select_from(entity)) or 0)

    def progress_reminders(self) -> list[EmailMessage]:
        return [m for m in self.mails("awaited/reminder") if "周进度" in text_of(m)]

    def escalations(self, ref: str) -> list[EmailMessage]:
        """Escalations about task ``ref`` (other clocks of the request escalate too)."""
        return [m for m in self.mails("superior/escalation") if f"完成任务 {ref}" in text_of(m)]


def _start(tmp_path: Path, corpus_dir: Path, items: list[str], **env: str) -> Iterator[Run]:
    directory = {"LIAISON_DIRECTORY_FILE": str(ROOT_EXAMPLES / "directory.toml")}
    clock = FrozenClock(T0)
    app = build_app(
        scratch_settings(tmp_path, {**scratch_env(tmp_path), **directory, **env}), clock=clock
    )
    world = World(
        app,
        Pipeline(
            session_factory=app.session_factory,
            config=app.workflow,
            blobs=app.blobs,
            clock=app.clock,
        ),
    )
    assert world.arrive((corpus_dir / REQUEST).read_bytes()) is Outcome.PROCESSED
    [notice] = world.sent("office/evaluation_notice")
    assert world.arrive(build_reply(notice, sender=OFFICE, body=ACCEPT_TWO)) is Outcome.PROCESSED
    with SqlUnitOfWork(app.session_factory) as uow:
        [request] = uow.requests.list()
        number = request.number
    world.arrive(minutes_mail(number, items))
    for head in (LEAD_HEAD, FINANCE_HEAD, ADMIN_HEAD):
        [ask] = [
            r
            for r in world.sent("participant/minutes_for_confirmation")
            if parse_mail(r)["To"].addresses[0].addr_spec == head
        ]
        world.arrive(build_reply(ask, sender=head, body="确认\n"))
    assignments = world.sent("owner/task_assignment")
    assert len(assignments) == len(items)
    for raw in assignments:  # every owner acknowledges: no acknowledgement clock runs
        owner = parse_mail(raw)["To"].addresses[0].addr_spec
        assert world.arrive(build_reply(raw, sender=owner, body="收到\n")) is Outcome.PROCESSED
    yield Run(world, number, clock)
    app.close()


@pytest.fixture
def run(tmp_path: Path, corpus_dir: Path) -> Iterator[Run]:
    """XT-2026-0001 in progress: RW-0001 (李娜, due Fri 03-27), RW-0002 (王强, due Fri
    04-10), both acknowledged on Monday 2026-03-16 at 09:00."""
    yield from _start(tmp_path, corpus_dir, ITEMS)


# --- weekly progress requests ---------------------------------------------------------------


def test_one_progress_request_per_open_task_and_week(run: Run) -> None:
    assert run.tick(at(3, 19, 10)).progress_requests == 0  # Thursday: not the deadline day
    assert run.tick(at(3, 20, 8, 59)).progress_requests == 0  # before working hours
    report = run.tick(at(3, 20, 9, 0))
    assert report.progress_requests == 2
    asked = run.mails("owner/progress_request")
    assert sorted(m["To"].addresses[0].addr_spec for m in asked) == [LI_NA, WANG]
    first = run.mails("owner/progress_request", LI_NA)[0]
    assert first["Subject"] == "[任务] XT-2026-0001/RW-0001 周进度：对账规则整理"
    assert first["Message-ID"].startswith("<task.xt-2026-0001.rw-0001.")
    body = text_of(first)
    assert "2026年3月20日（周五） 18:00" in body and "进度：60% 说明" in body
    # Repeated ticks the same day send nothing more.
    assert run.tick(at(3, 20, 9, 1)).progress_requests == 0
    assert run.tick(at(3, 20, 16, 0)).progress_requests == 0
    # A replica that missed the finished sweep still finds each (task, week) taken.
    with SqlUnitOfWork(run.world.app.session_factory) as uow:
        uow.session.execute(text("DELETE FROM execution_sweeps"))
        uow.commit()
    assert run.tick(at(3, 20, 16, 5)).progress_requests == 0
    assert len(run.mails("owner/progress_request")) == 2
    # Next week both are asked again (RW-0001 is due that day, still open).
    assert run.tick(at(3, 27, 9, 30)).progress_requests == 2
    assert run.count(ProgressRequest) == 4


def test_a_progress_reply_updates_the_task_and_its_history(run: Run) -> None:
    run.tick(at(3, 20, 9))
    asked = run.raw("owner/progress_request", LI_NA, "RW-0001")
    outcome = run.reply(asked, LI_NA, "进度：60% 规则初稿完成，下周评审\n", at(3, 20, 15))
    assert outcome is Outcome.PROCESSED
    assert run.task("RW-0001")["progress"] == 60
    # A second answer to the same progress request: a risk, then the task done.
    run.reply(asked, LI_NA, "风险：外部对账数据延迟提供\n", at(3, 20, 16))
    run.reply(asked, LI_NA, "完成，规则说明见附件\n", at(3, 20, 17))
    assert run.task("RW-0001")["state"] == "done"
    assert len(run.mails("requester/acceptance_request")) == 1
    # The same 完成 again changes nothing (one decision per mail and keyword).
    run.reply(asked, LI_NA, "完成\n", at(3, 20, 17, 30))
    assert len(run.mails("requester/acceptance_request")) == 1
    with SqlUnitOfWork(run.world.app.session_factory) as uow:
        records = uow.session.scalars(select(ProgressRecord).order_by(ProgressRecord.id)).all()
        history = [(r.kind, r.percent, r.note, r.author) for r in records]
        assert all(r.inbound_message_id is not None for r in records)
        [request] = uow.session.scalars(
            select(ProgressRequest).where(ProgressRequest.owner == LI_NA)
        ).all()
        assert request.answered_at == at(3, 20, 15) and request.remind_at is None
    assert history == [
        ("progress", 60, "规则初稿完成，下周评审", LI_NA),
        ("risk", None, "外部对账数据延迟提供", LI_NA),
        ("done", None, "完成，规则说明见附件", LI_NA),
    ]
    # Answered: no reminder after the deadline; the done task is not asked next week.
    run.tick(at(3, 23, 9))
    assert [m["To"].addresses[0].addr_spec for m in run.progress_reminders()] == [WANG]
    run.tick(at(3, 27, 9))
    assert [m["To"].addresses[0].addr_spec for m in run.mails("owner/progress_request")] == [
        LI_NA,
        WANG,
        WANG,
    ]


def test_the_owner_is_reminded_once_when_the_week_passes_without_a_reply(run: Run) -> None:
    run.tick(at(3, 20, 9))
    # 李娜 answers through the task assignment mail: any report after the request counts.
    assignment = run.raw("owner/task_assignment", LI_NA, "RW-0001")
    run.reply(assignment, LI_NA, "进度：30%\n", at(3, 20, 11))
    assert run.tick(at(3, 20, 17, 59)).progress_reminders == 0  # not due yet
    assert run.tick(at(3, 20, 18, 30)).progress_reminders == 0  # due, but after hours
    assert run.tick(at(3, 21, 10)).progress_reminders == 0  # Saturday
    report = run.tick(at(3, 23, 9))
    assert report.progress_reminders == 1
    [reminder] = run.progress_reminders()
    assert reminder["To"].addresses[0].addr_spec == WANG
    assert reminder["Subject"].startswith("[催办] XT-2026-0001 ")
    body = text_of(reminder)
    [asked] = run.mails("owner/progress_request", WANG)
    assert f"原邮件主题：{asked['Subject']}" in body
    assert "2026年3月20日（周五） 18:00" in body
    assert run.tick(at(3, 23, 10)).progress_reminders == 0
    assert run.tick(at(3, 24, 9)).progress_reminders == 0
    assert len(run.progress_reminders()) == 1


# --- the weekly digest --------------------------------------------------------------------


def test_the_weekly_digest_lists_every_task_and_marks_a_missing_reply(run: Run) -> None:
    run.tick(at(3, 20, 9))
    asked = run.raw("owner/progress_request", LI_NA, "RW-0001")
    run.reply(asked, LI_NA, "进度：60% 规则初稿完成\n", at(3, 20, 15, 30))
    run.reply(asked, LI_NA, "风险：试点供应商数据未到\n", at(3, 20, 15, 40))
    assert run.tick(at(3, 20, 17)).digests == 0  # before the deadline
    report = run.tick(at(3, 23, 9))  # first working tick after Friday 18:00
    assert report.digests == 1
    [digest] = run.mails("participant/weekly_digest")
    requester = str(run.view()["requester"])
    assert {a.addr_spec for a in digest["To"].addresses} == {requester, LEAD_HEAD, OFFICE}
    assert digest["Subject"] == (
        f"[周进度汇总] XT-2026-0001 {run.view()['title']} 2026年3月20日（周五）"
    )
    body = text_of(digest)
    rw1 = body[body.index("RW-0001 对账规则整理") : body.index("RW-0002 系统接口开发")]
    rw2 = body[body.index("RW-0002 系统接口开发") :]
    assert "负责人：李娜 <li.na@example.com>" in rw1
    assert "协作人：王强 <wang.qiang@example.com>" in rw1
    assert "完成度：60%" in rw1
    assert "本周回复：2026年3月20日（周五） 15:40 风险" in rw1
    assert "风险：试点供应商数据未到" in rw1
    assert "本周回复：未回复" in rw2 and "延期：否" in rw2
    assert "本周未回复进度：1" in body
    html = digest.get_body(preferencelist=("html",))
    assert html is not None
    page = str(html.get_content())
    assert "<th" in page and "任务分配与进度跟踪表" in page
    assert "<strong>未回复</strong>" in page
    # Once per request and week.
    assert run.tick(at(3, 23, 10)).digests == 0
    assert run.tick(at(3, 24, 9)).digests == 0
    assert run.count(WeeklyDigest) == 1


# --- risk warnings ------------------------------------------------------------------------


def test_a_risk_warning_once_then_again_for_a_new_due_date(run: Run) -> None:
    # RW-0001 is due Friday 03-27: warned from the start of Thursday 03-26.
    assert run.tick(at(3, 25, 17)).risk_warnings == 0
    report = run.tick(at(3, 26, 9))
    assert report.risk_warnings == 1
    [owner_copy] = run.mails("owner/risk_warning", LI_NA)
    [lead_copy] = run.mails("owner/risk_warning", LEAD_HEAD)
    assert owner_copy["Subject"] == "[任务] XT-2026-0001/RW-0001 风险预警：对账规则整理"
    assert owner_copy["Message-ID"].startswith("<task.xt-2026-0001.rw-0001.")
    assert lead_copy["Subject"] == "[风险预警] XT-2026-0001/RW-0001 对账规则整理"
    assert "2026年3月27日（周五） 18:00" in text_of(lead_copy)
    assert run.tick(at(3, 26, 10)).risk_warnings == 0
    # The owner asks for a new date, the lead agrees: the warning re-arms for it.
    assignment = run.raw("owner/task_assignment", LI_NA, "RW-0001")
    run.reply(assignment, LI_NA, "申请改期：2026-04-03 对账数据晚到一周\n", at(3, 26, 11))
    [change] = run.world.sent("lead/date_change_request")
    run.reply(change, LEAD_HEAD, "同意改期\n", at(3, 26, 14))
    assert run.task("RW-0001")["due"] == "2026-04-03"
    assert run.tick(at(3, 26, 15)).risk_warnings == 0
    assert run.tick(at(4, 1, 17)).risk_warnings == 0
    assert run.tick(at(4, 2, 9, 30)).risk_warnings == 1
    assert len(run.mails("owner/risk_warning", LI_NA)) == 2
    assert "2026年4月3日（周五） 18:00" in text_of(run.mails("owner/risk_warning", LI_NA)[-1])
    # The owner may answer the warning itself, like any task mail.
    warning = [r for r in run.world.sent("owner/risk_warning") if b"task.xt-2026-0001" in r][-1]
    run.reply(warning, LI_NA, "完成\n", at(4, 2, 16))
    assert run.task("RW-0001")["state"] == "done"
    assert run.tick(at(4, 3, 9)).overdue == 0


# --- overdue ------------------------------------------------------------------------------


def test_an_overdue_task_is_marked_noticed_and_escalated_once(run: Run) -> None:
    run.tick(at(3, 26, 9))  # the risk warning
    assert run.tick(at(3, 27, 17, 59)).overdue == 0
    assert run.task("RW-0001")["overdue"] is False
    report = run.tick(at(3, 30, 9))  # Monday after the Friday deadline
    assert report.overdue == 1
    task = run.task("RW-0001")
    assert task["overdue"] is True
    assert task["overdue_since"] == "2026-03-27T18:00:00+08:00"
    assert run.task("RW-0002")["overdue"] is False
    [owner_copy] = run.mails("owner/overdue_notice", LI_NA)
    assert owner_copy["Subject"] == "[任务] XT-2026-0001/RW-0001 已延期：对账规则整理"
    [lead_copy] = run.mails("owner/overdue_notice", LEAD_HEAD)
    assert lead_copy["Subject"] == "[延期] XT-2026-0001/RW-0001 对账规则整理"
    # 李娜's department head is the lead head, who has the notice: the superior is told.
    [escalation] = run.escalations("RW-0001")
    assert [a.addr_spec for a in escalation["To"].addresses] == [CTO]
    body = text_of(escalation)
    assert "李娜 <li.na@example.com>" in body and "RW-0001" in body
    assert "已超期 1 个工作日" in body and "此前已向其发送催办提醒" in body
    assert run.tick(at(3, 30, 10)).overdue == 0
    assert run.tick(at(3, 31, 9)).overdue == 0  # the daily sweep finds it marked
    assert len(run.mails("owner/overdue_notice")) == 2
    assert len(run.escalations("RW-0001")) == 1
    # The weekly digest shows it.
    digest = text_of(run.mails("participant/weekly_digest")[-1])
    assert "延期：是（截止 2026年3月27日（周五））" in digest
    # Done later: no longer overdue, the history stays.
    assignment = run.raw("owner/task_assignment", LI_NA, "RW-0001")
    run.reply(assignment, LI_NA, "完成\n", at(3, 31, 10))
    assert run.task("RW-0001")["overdue"] is False
    with SqlUnitOfWork(run.world.app.session_factory) as uow:
        alerts = uow.session.scalars(select(TaskAlert).order_by(TaskAlert.id)).all()
        assert [(a.kind, a.due.isoformat()) for a in alerts] == [
            ("risk", "2026-03-27"),
            ("overdue", "2026-03-27"),
        ]
        sheet = dossier(uow, run.number, run.world.app.workflow).sheet("任务分配与进度跟踪表")
    row = dict(zip(sheet.columns, sheet.rows[0], strict=True))
    assert row["任务ID"] == "RW-0001" and "延期完成" in row["备注（问题/风险）"]


@pytest.fixture
def cross(tmp_path: Path, corpus_dir: Path) -> Iterator[Run]:
    """A third task owned by 吴芳 of 财务部 (head 何军, superior gm@), due Tue 03-24."""
    extra = (
        "- 历史差异清理 | 负责人：吴芳 wu.fang@example.com | 截止：2026-03-24 | 交付物：差异清单"
    )
    yield from _start(tmp_path, corpus_dir, [*ITEMS, extra])


def test_an_overdue_task_is_escalated_to_the_owners_head_and_superior(cross: Run) -> None:
    report = cross.tick(at(3, 25, 9))
    assert report.overdue == 1
    assert cross.task("RW-0003")["overdue"] is True
    notices = cross.mails("owner/overdue_notice")
    assert sorted(a.addr_spec for m in notices for a in m["To"].addresses) == [
        WU_FANG,
        LEAD_HEAD,
    ]
    escalations = cross.escalations("RW-0003")
    assert sorted(a.addr_spec for m in escalations for a in m["To"].addresses) == [
        FINANCE_HEAD,
        GM,
    ]
    # No warning came first (the task was assigned within the warning window's past).
    assert "未单独催办" in text_of(escalations[0])
    assert cross.tick(at(3, 25, 9, 1)).overdue == 0


# --- the task_overdue level of a copied profile ----------------------------------------------


def overdue_profile(tmp_path: Path, level: str) -> str:
    """A copy of the standard profile whose ``task_overdue`` level is ``level``."""
    text = (resources.files("workflow") / "profiles" / "standard.toml").read_text("utf-8")
    shipped = (
        "[service_levels.task_overdue]\n"
        'unit = "working_days"\n'
        'remind = ["owner", "lead_head"]\n'
        'escalate_to = ["owner_head", "owner_superior"]\n'
        "escalate_after = 0\n"
    )
    assert shipped in text
    path = tmp_path / "ours.toml"
    path.write_text(text.replace(shipped, level), encoding="utf-8")
    return str(path)


def test_a_copied_task_overdue_level_changes_who_hears_of_a_late_task(
    tmp_path: Path, corpus_dir: Path
) -> None:
    # Only the owner is noticed; the requester's department head (周敏, 行政部) is told
    # instead of the owner's head and superior.
    level = (
        "[service_levels.task_overdue]\n"
        'unit = "working_days"\n'
        'remind = ["owner"]\n'
        'escalate_to = ["requester_head"]\n'
        "escalate_after = 0\n"
    )
    profile = overdue_profile(tmp_path, level)
    runs = _start(tmp_path, corpus_dir, ITEMS, LIAISON_WORKFLOW_PROFILE=profile)
    run = next(runs)
    try:
        assert run.tick(at(3, 30, 9)).overdue == 1
        notices = run.mails("owner/overdue_notice")
        assert [a.addr_spec for m in notices for a in m["To"].addresses] == [LI_NA]
        [escalation] = run.escalations("RW-0001")
        assert [a.addr_spec for a in escalation["To"].addresses] == [ADMIN_HEAD]
        assert run.mails("superior/escalation", CTO) == []
    finally:
        next(runs, None)


@pytest.fixture
def later(tmp_path: Path, corpus_dir: Path) -> Iterator[Run]:
    """The standard profile, but a late task is escalated one working day after its
    deadline."""
    level = (
        "[service_levels.task_overdue]\n"
        'unit = "working_days"\n'
        'remind = ["owner", "lead_head"]\n'
        'escalate_to = ["owner_head", "owner_superior"]\n'
        "escalate_after = 1\n"
    )
    profile = overdue_profile(tmp_path, level)
    yield from _start(tmp_path, corpus_dir, ITEMS, LIAISON_WORKFLOW_PROFILE=profile)


def test_an_overdue_task_is_escalated_after_the_levels_working_days(later: Run) -> None:
    run = later
    assert run.tick(at(3, 30, 9)).overdue == 1  # Friday 03-27 18:00 passed: the notices
    assert len(run.mails("owner/overdue_notice")) == 2
    assert run.escalations("RW-0001") == []
    run.tick(at(3, 30, 17, 59))  # due at the end of Monday, one working day later
    assert run.escalations("RW-0001") == []
    assert run.tick(at(3, 31, 9)).overdue == 0
    escalations = run.escalations("RW-0001")
    # The owner's head (also the lead head) and superior, each once; the owner had the
    # notice.
    assert sorted(a.addr_spec for m in escalations for a in m["To"].addresses) == [
        CTO,
        LEAD_HEAD,
    ]
    body = text_of(escalations[0])
    assert "李娜 <li.na@example.com>" in body and "截止 2026年3月27日（周五）" in body
    assert "已超期 2 个工作日" in body  # Friday's deadline, seen on Tuesday
    run.tick(at(4, 1, 9))
    assert len(run.escalations("RW-0001")) == 2  # never again


@pytest.mark.parametrize("answer", ["done", "new date"])
def test_a_late_task_done_or_given_a_new_date_is_not_escalated_later(
    later: Run, answer: str
) -> None:
    run = later
    run.tick(at(3, 30, 9))
    assignment = run.raw("owner/task_assignment", LI_NA, "RW-0001")
    if answer == "done":
        run.reply(assignment, LI_NA, "完成\n", at(3, 30, 10))
    else:
        run.reply(assignment, LI_NA, "申请改期：2026-04-20 等待供应商数据\n", at(3, 30, 10))
        asked = run.raw("lead/date_change_request", LEAD_HEAD, "RW-0001")
        run.reply(asked, LEAD_HEAD, "同意改期\n", at(3, 30, 11))
        assert run.task("RW-0001")["due"] == "2026-04-20"
    run.tick(at(3, 31, 9))
    run.tick(at(4, 1, 9))
    assert run.escalations("RW-0001") == []


# --- a new owner for a returned task ----------------------------------------------------------


def test_a_returned_task_handed_to_a_new_owner_awaits_their_acknowledgement(run: Run) -> None:
    # RW-0001 is delivered and returned by the requester: 李娜 reworks it.
    assignment = run.raw("owner/task_assignment", LI_NA, "RW-0001")
    run.reply(assignment, LI_NA, "完成\n", at(3, 17, 10))
    review = run.raw("requester/acceptance_request", REQUESTER, "RW-0001")
    run.reply(review, REQUESTER, "退回：缺少异常处理规则\n", at(3, 17, 14))
    assert run.task("RW-0001")["state"] == "returned"

    # A problem about it is resolved by giving it to 王强.
    run.clock.set(at(3, 18, 9))
    assert run.world.arrive(issue_mail(task="XT-2026-0001/RW-0001")) is Outcome.PROCESSED
    [notice] = run.world.sent("lead/problem_notice")
    run.reply(notice, LEAD_HEAD, "解决：改由王强接手 新负责人：王强\n", at(3, 18, 10))
    task = run.task("RW-0001")
    # Newly assigned work for the new owner, not the former owner's rework.
    assert (task["owner"], task["state"], task["acknowledged"]) == (WANG, "assigned", False)
    handed = run.raw("owner/task_assignment", WANG, "RW-0001")
    with SqlUnitOfWork(run.world.app.session_factory) as uow:
        request = uow.requests.by_number(run.number)
        assert request is not None
        waiting = [
            (c.subject, c.awaited) for c in uow.clocks.open_for(request.id, "task_acknowledged")
        ]
    assert waiting == [("task:RW-0001", WANG)]

    # The new owner's 收到 acknowledges it (a returned task would refuse it).
    run.reply(handed, WANG, "收到\n", at(3, 18, 11))
    task = run.task("RW-0001")
    assert (task["state"], task["acknowledged"]) == ("acknowledged", True)
    assert run.mails("sender/not_applicable", WANG) == []
    # And they deliver it as any owner does.
    run.reply(handed, WANG, "完成\n", at(3, 19, 10))
    assert run.task("RW-0001")["state"] == "done"


def _execution(report: TickReport) -> tuple[int, ...]:
    return (
        report.progress_requests,
        report.progress_reminders,
        report.digests,
        report.risk_warnings,
        report.overdue,
    )


# --- dry run and working hours ------------------------------------------------------------


def test_a_dry_run_decides_but_records_nothing(run: Run) -> None:
    before = run.count(OutboxMessage)
    report = run.tick(at(3, 20, 9), dry_run=True)  # committed on purpose: still nothing
    assert report.progress_requests == 2
    late = run.tick(at(3, 30, 9), dry_run=True)
    assert (late.overdue, late.risk_warnings) == (1, 0)
    assert late.mails >= 3  # notice to owner and lead, escalation to the superior
    assert run.count(OutboxMessage) == before
    for entity in (ProgressRequest, ProgressRecord, WeeklyDigest, TaskAlert, ExecutionSweep):
        assert run.count(entity) == 0, entity.__tablename__
    assert run.task("RW-0001")["overdue"] is False
    # The real tick still does it all, once.
    assert run.tick(at(3, 20, 9)).progress_requests == 2


def test_nothing_happens_outside_working_hours(run: Run) -> None:
    for when in (
        at(3, 20, 8, 59),  # Friday before work
        at(3, 20, 18, 0),  # Friday after work: the weekly deadline itself
        at(3, 21, 10),  # Saturday
        at(3, 22, 15),  # Sunday
        at(3, 28, 10),  # Saturday after RW-0001's due date
        at(3, 30, 7, 0),  # Monday before work
        at(4, 6, 10),  # Qingming holiday (a Monday)
    ):
        report = run.tick(when)
        assert _execution(report) == (0, 0, 0, 0, 0), when
    assert run.count(ProgressRequest) == run.count(TaskAlert) == 0
    report = run.tick(at(3, 30, 9))
    # The first working tick: the missed week's digest and RW-0001 overdue (the warning
    # window has passed with it); no progress requests (Friday's window was missed).
    assert (report.digests, report.overdue, report.progress_requests) == (1, 1, 0)


# --- the task-record profile: weekly progress by Monday 12:00 ---------------------------


@pytest.fixture
def monday(tmp_path: Path, corpus_dir: Path) -> Iterator[Run]:
    yield from _start(tmp_path, corpus_dir, ITEMS, LIAISON_WORKFLOW_PROFILE="task-record")


def test_task_record_asks_on_monday_morning_for_noon(monday: Run) -> None:
    run = monday
    assert run.number != "XT-2026-0001"  # {year}-{department}-{seq}
    assert run.tick(at(3, 20, 9)).progress_requests == 0  # Friday: not this profile's day
    assert run.tick(at(3, 23, 8, 30)).progress_requests == 0
    assert run.tick(at(3, 23, 9)).progress_requests == 2
    [asked] = run.mails("owner/progress_request", WANG)
    assert "2026年3月23日（周一） 12:00" in text_of(asked)
    assert asked["Subject"].startswith(f"[任务] {run.number}/RW-0002 ")
    run.reply(
        run.raw("owner/progress_request", LI_NA, "RW-0001"), LI_NA, "进度：20%\n", at(3, 23, 10)
    )
    before_noon = run.tick(at(3, 23, 11, 59))
    assert (before_noon.progress_reminders, before_noon.digests) == (0, 0)
    noon = run.tick(at(3, 23, 12))
    assert (noon.progress_reminders, noon.digests) == (1, 1)
    assert [m["To"].addresses[0].addr_spec for m in run.progress_reminders()] == [WANG]
    digest = run.mails("participant/weekly_digest")[-1]
    assert digest["Subject"].endswith("2026年3月23日（周一）")
    assert "本周回复：未回复" in text_of(digest)
    # After noon no new requests for that week.
    assert run.tick(at(3, 23, 14)).progress_requests == 0


# --- several replicas (PostgreSQL) --------------------------------------------------------


@pytest.mark.servers
def test_two_replicas_ticking_at_once_send_each_request_once(
    tmp_path: Path, corpus_dir: Path, pg_empty_url: str
) -> None:
    runs = _start(tmp_path, corpus_dir, ITEMS, LIAISON_STORE_URL=pg_empty_url)
    run = next(runs)
    try:
        config, factory = run.world.app.workflow, run.world.app.session_factory
        now = at(3, 20, 9)
        reports: list[TickReport] = []
        errors: list[BaseException] = []

        def other_replica() -> None:
            try:
                with SqlUnitOfWork(factory) as uow:
                    reports.append(tick(uow=uow, now=now, config=config))
                    uow.commit()
            except BaseException as exc:  # reported below
                errors.append(exc)

        def blocked() -> bool:
            with SqlUnitOfWork(factory) as uow:
                waiting = uow.session.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
            return bool(waiting)

        with SqlUnitOfWork(factory) as uow:
            first = tick(uow=uow, now=now, config=config)  # claimed, not committed yet
            other = threading.Thread(target=other_replica)
            other.start()
            # The other replica found the same tasks and now waits on the first's claims.
            wait_until(blocked, what="the second replica to wait for the first's claims")
            uow.commit()
        other.join(30)
        assert not errors, errors
        assert (first.progress_requests, reports[0].progress_requests) == (2, 0)
        assert len(run.mails("owner/progress_request")) == 2
        assert run.count(ProgressRequest) == 2
    finally:
        next(runs, None)
