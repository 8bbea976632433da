"""Meetings in the workflow: kickoff on acceptance, answers, proposals, moves, reminders."""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from daemon.bootstrap import App
from daemon.inbound import Arrival, Outcome, SourceRef
from daemon.pipeline import Pipeline
from store.models import ClockItem
from store.uow import SqlUnitOfWork
from tests.support import ROOT_EXAMPLES, SHANGHAI, build_reply, parse_mail, scratch_app, text_of
from workflow.clocks import tick
from workflow.meetings import cancel_meetings
from workflow.queries import show_request

OFFICE = "office@example.com"
LEAD_HEAD = "zhao.lei@example.com"  # 研发部
SUPPORT_HEAD = "finance.lead@example.com"  # 财务部
REQUEST = "req_01_outlook_zh_plain_gb2312_b64.eml"
ACCEPT = "受理 牵头部门：研发部 配合部门：财务部\n"


@dataclass
class World:
    app: App
    pipeline: Pipeline
    uid: int = 0

    def arrive(self, raw: bytes) -> Outcome:
        self.uid += 1
        return self.pipeline.handle(Arrival(SourceRef("test", 1, str(self.uid)), raw))

    def sent(self, kind: str) -> list[bytes]:
        """Every mail of ``kind`` queued so far, delivered or not."""
        with SqlUnitOfWork(self.app.session_factory) as uow:
            rows = uow.outbox.in_state("pending") + uow.outbox.in_state("sent")
            return [r.raw for r in sorted(rows, key=lambda r: r.id) if r.kind == kind]

    def view(self) -> dict[str, object]:
        with SqlUnitOfWork(self.app.session_factory) as uow:
            return show_request(uow, "XT-2026-0001", self.app.workflow)

    def meeting(self) -> dict[str, object]:
        [meeting] = self.view()["meetings"]  # type: ignore[misc]
        return meeting  # type: ignore[no-any-return]


def accepted_world(root: Path, corpus_dir: Path, **overrides: str) -> World:
    """XT-2026-0001 registered and accepted on Monday 2026-03-16 09:00: the kickoff is set."""
    app, _ = scratch_app(
        root, LIAISON_DIRECTORY_FILE=str(ROOT_EXAMPLES / "directory.toml"), **overrides
    )
    w = World(
        app,
        Pipeline(
            session_factory=app.session_factory,
            config=app.workflow,
            blobs=app.blobs,
            clock=app.clock,
        ),
    )
    assert w.arrive((corpus_dir / REQUEST).read_bytes()) is Outcome.PROCESSED
    [notice] = w.sent("office/evaluation_notice")
    assert w.arrive(build_reply(notice, sender=OFFICE, body=ACCEPT)) is Outcome.PROCESSED
    return w


@pytest.fixture
def world(tmp_path: Path, corpus_dir: Path) -> Iterator[World]:
    w = accepted_world(tmp_path, corpus_dir)
    yield w
    w.app.close()


def _clocks(world: World, name: str, state: str = "open") -> list[ClockItem]:
    with SqlUnitOfWork(world.app.session_factory) as uow:
        rows = uow.session.scalars(
            select(ClockItem).where(ClockItem.name == name, ClockItem.state == state)
        ).all()
        uow.session.expunge_all()
        return list(rows)


def _invitation_for(world: World, address: str) -> bytes:
    for raw in world.sent("attendee/meeting_invitation"):
        if parse_mail(raw)["To"].addresses[0].addr_spec == address:
            return raw
    raise AssertionError(f"no invitation to {address}")


def _calendar_parts(raw: bytes) -> tuple[bytes, bytes, str]:
    msg = parse_mail(raw)
    inline = attached = b""
    method = ""
    for part in msg.walk():
        if part.get_content_type() == "text/calendar":
            inline = part.get_payload(decode=True)
            method = part.get_param("method") or ""
        elif part.get_content_type() == "application/ics":
            attached = part.get_payload(decode=True)
    return inline, attached, method


def itip_reply(
    meeting: dict[str, object],
    attendee: str,
    partstat: str,
    *,
    sequence: int | None = None,
    dtstamp: str = "20260316T030000Z",
    method: str = "REPLY",
    counter: tuple[str, str] | None = None,
) -> str:
    seq = meeting["sequence"] if sequence is None else sequence
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN",
        "VERSION:2.0",
        f"METHOD:{method}",
        "BEGIN:VEVENT",
        f"UID:{meeting['uid']}",
        f"SEQUENCE:{seq}",
        f"DTSTAMP:{dtstamp}",
        f"ATTENDEE;PARTSTAT={partstat}:MAILTO:{attendee.upper()}",
    ]
    if counter:
        lines += [f"DTSTART:{counter[0]}", f"DTEND:{counter[1]}"]
    lines += ["END:VEVENT", "END:VCALENDAR", ""]
    return "\r\n".join(lines)


def calendar_mail(sender: str, ics: str, *, copies: int = 1, authenticated: bool = True) -> bytes:
    boundary = "b1"
    head = []
    if authenticated:
        head.append(
            f"Authentication-Results: mx.example.com; dmarc=pass header.from={sender.split('@')[1]}"
        )
    head += [
        f"From: {sender}",
        "To: coord@example.com",
        "Subject: Accepted: kickoff",
        f"Date: {email.utils.format_datetime(datetime(2026, 3, 16, 11, 0, tzinfo=SHANGHAI))}",
        f"Message-ID: {email.utils.make_msgid(domain='client.example.com')}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/mixed; boundary="{boundary}"',
    ]
    method = "COUNTER" if "METHOD:COUNTER" in ics else "REPLY"
    parts = [f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nanswer\r\n"]
    for i in range(copies):
        ctype = (
            f"text/calendar; method={method}; charset=utf-8"
            if i == 0
            else "application/ics; name=invite.ics"
        )
        parts.append(f"--{boundary}\r\nContent-Type: {ctype}\r\n\r\n{ics}")
    return ("\r\n".join(head) + "\r\n\r\n" + "".join(parts) + f"--{boundary}--\r\n").encode()


def test_acceptance_schedules_the_kickoff_with_real_invitations(world: World) -> None:
    meeting = world.meeting()
    assert meeting["kind"] == "kickoff" and meeting["sequence"] == 0
    attendees = {a["email"]: a for a in meeting["attendees"]}  # type: ignore[union-attr]
    requester = str(world.view()["requester"])
    assert set(attendees) == {requester, LEAD_HEAD, SUPPORT_HEAD, OFFICE}
    assert (
        attendees[LEAD_HEAD]["role"] == "CHAIR" and attendees[OFFICE]["role"] == "OPT-PARTICIPANT"
    )
    assert all(a["partstat"] == "NEEDS-ACTION" for a in attendees.values())
    # In working hours, within two working days of the acceptance (Monday 09:00 + 2h notice).
    start = datetime.fromisoformat(str(meeting["start"]))
    assert start.weekday() < 5 and 9 <= start.hour < 18
    assert (
        datetime(2026, 3, 16, 11, 0, tzinfo=SHANGHAI)
        <= start
        <= datetime(2026, 3, 18, 18, 0, tzinfo=SHANGHAI)
    )

    raw = _invitation_for(world, LEAD_HEAD)
    msg = parse_mail(raw)
    assert msg["From"].addresses[0].addr_spec == "coord@example.com"
    assert msg["Subject"].startswith("[会议邀请] XT-2026-0001 ")
    inline, attached, method = _calendar_parts(raw)
    assert inline == attached and method == "REQUEST" and b"METHOD:REQUEST" in inline
    assert b"ORGANIZER;CN=" in inline and b"mailto:coord@example.com" in inline
    assert inline.count(b"ATTENDEE;") == 4
    assert f"UID:{meeting['uid']}".encode() in inline.replace(b"\r\n ", b"")
    # Per-recipient Message-IDs: the lead's answer can be tied to the lead.
    ids = {parse_mail(r)["Message-ID"] for r in world.sent("attendee/meeting_invitation")}
    assert len(ids) == 4 and all(i.startswith("<meeting.xt-2026-0001.") for i in ids)


def test_answers_are_applied_once_newest_first(world: World) -> None:
    meeting = world.meeting()
    ics = itip_reply(meeting, SUPPORT_HEAD, "ACCEPTED", dtstamp="20260316T040000Z")
    # Gmail and Thunderbird repeat the calendar as invite.ics: counted once.
    assert world.arrive(calendar_mail(SUPPORT_HEAD, ics, copies=2)) is Outcome.PROCESSED
    assert {a["email"]: a["partstat"] for a in world.meeting()["attendees"]}[
        SUPPORT_HEAD
    ] == "ACCEPTED"  # type: ignore[index,union-attr]
    # An older answer arriving late changes nothing.
    older = itip_reply(meeting, SUPPORT_HEAD, "DECLINED", dtstamp="20260316T035900Z")
    world.arrive(calendar_mail(SUPPORT_HEAD, older))
    assert {a["email"]: a["partstat"] for a in world.meeting()["attendees"]}[
        SUPPORT_HEAD
    ] == "ACCEPTED"  # type: ignore[index,union-attr]
    assert world.sent("lead/attendee_declined") == []


def test_a_required_decline_is_reported_to_the_lead_and_the_office(world: World) -> None:
    ics = itip_reply(world.meeting(), SUPPORT_HEAD, "DECLINED")
    world.arrive(calendar_mail(SUPPORT_HEAD, ics))
    notices = world.sent("lead/attendee_declined")
    to = sorted(parse_mail(n)["To"].addresses[0].addr_spec for n in notices)
    assert to == sorted([LEAD_HEAD, OFFICE])
    assert SUPPORT_HEAD in text_of(parse_mail(notices[0]))


@pytest.mark.parametrize(
    ("sender", "attendee", "authenticated", "reason"),
    [
        ("li.na@example.com", SUPPORT_HEAD, True, "wrong_sender"),
        ("stranger@example.com", "stranger@example.com", True, "unknown_attendee"),
        (SUPPORT_HEAD, SUPPORT_HEAD, False, "unauthenticated"),
    ],
)
def test_untrusted_answers_go_to_review(
    world: World, sender: str, attendee: str, authenticated: bool, reason: str
) -> None:
    ics = itip_reply(world.meeting(), attendee, "ACCEPTED")
    world.arrive(calendar_mail(sender, ics, authenticated=authenticated))
    assert all(a["partstat"] == "NEEDS-ACTION" for a in world.meeting()["attendees"])  # type: ignore[union-attr]
    with SqlUnitOfWork(world.app.session_factory) as uow:
        assert [h.reason for h in uow.signoffs.pending_review()] == [reason]


def test_counter_proposal_accepted_by_the_lead_moves_the_meeting(world: World) -> None:
    meeting = world.meeting()
    ics = itip_reply(
        meeting,
        SUPPORT_HEAD,
        "NEEDS-ACTION",
        method="COUNTER",
        counter=("20260318T060000Z", "20260318T070000Z"),
    )
    world.arrive(calendar_mail(SUPPORT_HEAD, ics))
    assert world.meeting()["proposals"]
    notices = world.sent("lead/counter_proposal")
    lead_notice = next(
        r for r in notices if parse_mail(r)["To"].addresses[0].addr_spec == LEAD_HEAD
    )
    assert parse_mail(lead_notice)["Message-ID"].startswith("<datechange.xt-2026-0001.p")
    world.arrive(build_reply(lead_notice, sender=LEAD_HEAD, body="同意改期\n"))
    moved = world.meeting()
    assert moved["sequence"] == 1
    assert datetime.fromisoformat(str(moved["start"])) == datetime(
        2026, 3, 18, 14, 0, tzinfo=SHANGHAI
    )
    updates = [
        r
        for r in world.sent("attendee/meeting_invitation")
        if parse_mail(r)["Subject"].startswith("[会议更新]")
    ]
    assert len(updates) == 4
    inline, _, _ = _calendar_parts(updates[0])
    assert b"SEQUENCE:1" in inline and f"UID:{meeting['uid']}".encode() in inline.replace(
        b"\r\n ", b""
    )


def test_counter_proposal_declined_sends_declinecounter_to_the_proposer(world: World) -> None:
    ics = itip_reply(
        world.meeting(),
        SUPPORT_HEAD,
        "NEEDS-ACTION",
        method="COUNTER",
        counter=("20260318T060000Z", "20260318T070000Z"),
    )
    world.arrive(calendar_mail(SUPPORT_HEAD, ics))
    lead_notice = next(
        r
        for r in world.sent("lead/counter_proposal")
        if parse_mail(r)["To"].addresses[0].addr_spec == LEAD_HEAD
    )
    world.arrive(build_reply(lead_notice, sender=LEAD_HEAD, body="不同意改期：本周三需驻厂\n"))
    assert world.meeting()["sequence"] == 0
    [declined] = world.sent("sender/counter_declined")
    assert "本周三需驻厂" in text_of(parse_mail(declined))
    assert parse_mail(declined)["To"].addresses[0].addr_spec == SUPPORT_HEAD
    inline, attached, method = _calendar_parts(declined)
    assert method == "DECLINECOUNTER" and inline == attached and b"METHOD:DECLINECOUNTER" in inline


def test_the_lead_moves_the_meeting_by_reply_and_nobody_else_can(world: World) -> None:
    other = _invitation_for(world, SUPPORT_HEAD)
    world.arrive(build_reply(other, sender=SUPPORT_HEAD, body="改期：2026-03-18 15:00\n"))
    assert world.meeting()["sequence"] == 0
    assert len(world.sent("sender/not_applicable")) == 1

    mine = _invitation_for(world, LEAD_HEAD)
    world.arrive(build_reply(mine, sender=LEAD_HEAD, body="改期：2026-03-18 15:00\n"))
    moved = world.meeting()
    assert moved["sequence"] == 1
    assert datetime.fromisoformat(str(moved["start"])) == datetime(
        2026, 3, 18, 15, 0, tzinfo=SHANGHAI
    )
    assert all(a["partstat"] == "NEEDS-ACTION" for a in moved["attendees"])  # type: ignore[union-attr]


def test_cancelling_sends_cancel_with_the_next_sequence(world: World) -> None:
    with SqlUnitOfWork(world.app.session_factory) as uow:
        request = uow.requests.by_number("XT-2026-0001")
        assert request is not None
        mails = cancel_meetings(
            request, "需求撤回", uow=uow, now=world.app.clock.now(), config=world.app.workflow
        )
        uow.commit()
    assert len(mails) == 4
    ics = mails[0].calendar_part
    assert ics is not None and ics[1] == "CANCEL"
    assert b"STATUS:CANCELLED" in ics[0] and b"SEQUENCE:1" in ics[0]
    assert world.meeting()["status"] == "CANCELLED"


def test_cancelling_stops_what_counts_on_the_meeting(world: World) -> None:
    """The lead owes no minutes of a meeting that was called off, no reminder goes out
    for it, and a pending proposal of a new time lapses."""
    [minutes_clock] = _clocks(world, "minutes_sent")
    assert minutes_clock.subject.startswith("meeting:")
    ics = itip_reply(
        world.meeting(),
        SUPPORT_HEAD,
        "NEEDS-ACTION",
        method="COUNTER",
        counter=("20260318T060000Z", "20260318T070000Z"),
    )
    world.arrive(calendar_mail(SUPPORT_HEAD, ics))
    with SqlUnitOfWork(world.app.session_factory) as uow:
        request = uow.requests.by_number("XT-2026-0001")
        assert request is not None
        cancel_meetings(
            request, "需求撤回", uow=uow, now=world.app.clock.now(), config=world.app.workflow
        )
        uow.commit()
    assert _clocks(world, "minutes_sent") == []
    assert [c.id for c in _clocks(world, "minutes_sent", "stopped")] == [minutes_clock.id]
    with SqlUnitOfWork(world.app.session_factory) as uow:
        # The day before the meeting, then the mornings after the minutes' deadline
        # (Wednesday's end) and after its escalation (Thursday's end).
        assert minutes_clock.due_at == datetime(2026, 3, 18, 18, 0, tzinfo=SHANGHAI)
        assert minutes_clock.escalate_at == datetime(2026, 3, 19, 18, 0, tzinfo=SHANGHAI)
        for at in (
            datetime(2026, 3, 16, 17, 0, tzinfo=SHANGHAI),
            datetime(2026, 3, 19, 9, 30, tzinfo=SHANGHAI),
            datetime(2026, 3, 20, 9, 30, tzinfo=SHANGHAI),
        ):
            tick(uow=uow, now=at, config=world.app.workflow)
        uow.commit()
    assert world.sent("attendee/agenda_reminder") == []
    assert [
        r
        for r in world.sent("awaited/reminder")
        if parse_mail(r)["To"].addresses[0].addr_spec == LEAD_HEAD
    ] == []
    assert world.sent("superior/escalation") == []
    # The lead approving the proposal now changes nothing: the meeting stays cancelled.
    lead_notice = next(
        r
        for r in world.sent("lead/counter_proposal")
        if parse_mail(r)["To"].addresses[0].addr_spec == LEAD_HEAD
    )
    world.arrive(build_reply(lead_notice, sender=LEAD_HEAD, body="同意改期\n"))
    assert world.meeting()["status"] == "CANCELLED" and world.meeting()["sequence"] == 1
    assert [
        r
        for r in world.sent("attendee/meeting_invitation")
        if parse_mail(r)["Subject"].startswith("[会议更新]")
    ] == []
    assert len(world.sent("sender/not_applicable")) == 1


def test_problem_meeting_within_24_hours_of_an_issue_mail(world: World, corpus_dir: Path) -> None:
    raw = (corpus_dir / "iss_02_request_number_thunderbird.eml").read_bytes()
    raw = raw.replace(b"XT-2026-0003", b"XT-2026-0001")
    assert world.arrive(raw) is Outcome.PROCESSED
    meetings = world.view()["meetings"]
    [problem] = [m for m in meetings if m["kind"] == "problem"]  # type: ignore[union-attr,index]
    reporter = parse_mail(raw)["From"].addresses[0].addr_spec
    assert {a["email"] for a in problem["attendees"]} >= {reporter, LEAD_HEAD}
    start = datetime.fromisoformat(problem["start"])
    assert start - world.app.clock.now() <= timedelta(hours=24)


def test_the_kickoff_leaves_the_agenda_a_day_ahead(world: World) -> None:
    start = datetime.fromisoformat(str(world.meeting()["start"]))
    assert start - world.app.clock.now() >= timedelta(hours=24)
    # The standard profile sends no materials ahead: the agenda's day is all it waits.
    assert start == datetime(2026, 3, 17, 9, 0, tzinfo=SHANGHAI)


def test_the_cross_department_kickoff_leaves_the_materials_two_working_days(
    tmp_path: Path, corpus_dir: Path
) -> None:
    """Seed 001: the background materials reach people two working days before the
    meeting. They go out with the invitation, on Monday at 09:00: the kickoff is on
    Wednesday, not on Tuesday as the agenda's 24 hours alone would allow."""
    world = accepted_world(tmp_path, corpus_dir, LIAISON_WORKFLOW_PROFILE="cross-department")
    try:
        config = world.app.workflow
        start = datetime.fromisoformat(str(world.meeting()["start"]))
        assert start == datetime(2026, 3, 18, 9, 0, tzinfo=SHANGHAI)
        assert start + config.meeting_duration <= config.profile.service_level(
            "kickoff_meeting"
        ).due(world.app.clock.now(), config.calendar)  # still within the kickoff target
        with SqlUnitOfWork(world.app.session_factory) as uow:
            invitations = [
                (r.created_at, r.raw)
                for r in uow.outbox.in_state("pending")
                if r.kind == "attendee/meeting_invitation"
            ]
        assert len(invitations) == 4
        # Every lead time is met by the invitation that carries agenda and materials.
        for name in ("agenda_before_meeting", "materials_before_meeting"):
            lead = config.profile.service_level(name)
            assert all(sent <= lead.due(start, config.calendar) for sent, _ in invitations)
        body = text_of(parse_mail(invitations[0][1]))
        assert "背景与目标" in body  # the materials: the request's background and goals
    finally:
        world.app.close()


def test_agenda_reminder_goes_once_the_working_day_before(world: World) -> None:
    # Move the kickoff to Friday 15:00: the reminder is due Thursday at the start of work.
    world.arrive(
        build_reply(
            _invitation_for(world, LEAD_HEAD), sender=LEAD_HEAD, body="改期：2026-03-20 15:00\n"
        )
    )
    assert datetime.fromisoformat(str(world.meeting()["start"])) == datetime(
        2026, 3, 20, 15, 0, tzinfo=SHANGHAI
    )
    with SqlUnitOfWork(world.app.session_factory) as uow:
        early = tick(
            uow=uow, now=datetime(2026, 3, 19, 8, 59, tzinfo=SHANGHAI), config=world.app.workflow
        )
        due = tick(
            uow=uow, now=datetime(2026, 3, 19, 9, 1, tzinfo=SHANGHAI), config=world.app.workflow
        )
        again = tick(
            uow=uow, now=datetime(2026, 3, 19, 9, 2, tzinfo=SHANGHAI), config=world.app.workflow
        )
        uow.commit()
    assert (early.reminders, due.reminders, again.reminders) == (0, 4, 0)
    [reminder, *_] = world.sent("attendee/agenda_reminder")
    assert "XT-2026-0001" in parse_mail(reminder)["Subject"]


def test_meetings_are_published_to_the_team_calendar_with_the_mailed_sequence(
    tmp_path: Path, corpus_dir: Path, radicale_calendar: object
) -> None:
    from calendar_sync.caldav_calendar import CaldavCalendar
    from daemon.outbox import OutboxDispatcher
    from daemon.transports import MaildirTransport

    url = radicale_calendar.url
    secret = tmp_path / "caldav-password"
    secret.write_text(radicale_calendar.password)
    app, _ = scratch_app(
        tmp_path,
        LIAISON_DIRECTORY_FILE=str(ROOT_EXAMPLES / "directory.toml"),
        LIAISON_CALENDAR_BACKEND="caldav",
        LIAISON_CALENDAR_CALDAV_URL=url,
        LIAISON_CALENDAR_CALDAV_USERNAME=radicale_calendar.username,
        LIAISON_CALENDAR_CALDAV_PASSWORD_FILE=str(secret),
    )
    try:
        w = World(
            app,
            Pipeline(
                session_factory=app.session_factory,
                config=app.workflow,
                blobs=app.blobs,
                clock=app.clock,
            ),
        )
        w.arrive((corpus_dir / REQUEST).read_bytes())
        [notice] = w.sent("office/evaluation_notice")
        w.arrive(build_reply(notice, sender=OFFICE, body=ACCEPT))
        dispatcher = OutboxDispatcher(
            session_factory=app.session_factory,
            transport=MaildirTransport(tmp_path / "sent"),
            clock=app.clock,
            calendar=app.calendar(),
        )
        assert dispatcher.drain().failed == 0
        uid = str(w.meeting()["uid"])
        team = CaldavCalendar(url, username=radicale_calendar.username, password=secret.read_text())
        stored = team.get(uid)
        assert stored is not None and stored.sequence == 0 and not stored.cancelled

        w.arrive(
            build_reply(
                _invitation_for(w, LEAD_HEAD), sender=LEAD_HEAD, body="改期：2026-03-20 15:00\n"
            )
        )
        assert dispatcher.drain().failed == 0
        stored = team.get(uid)
        assert stored is not None and stored.sequence == w.meeting()["sequence"] == 1
        assert b"DTSTART;TZID=Asia/Shanghai:20260320T150000" in stored.raw.replace(b"\r\n ", b"")
    finally:
        app.close()
