"""Meetings: the kickoff after acceptance, the problem meeting after an issue mail.

Everything here decides and records; nothing sends. Invitations become outbox rows
(one per attendee, each with its own Message-ID so the lead's or the office's
``改期：`` reply can be tied to them), and the team-calendar copy becomes an outbox row
of kind ``calendar/publish`` that the daemon hands to the calendar backend. The iTIP
rules (UID kept, SEQUENCE up by one on every change of time or status, fresh DTSTAMP)
live in ``calendar_sync.itip``; this module keeps the stored meeting in step with them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from calendar_sync.itip import build_cancel, build_declinecounter, build_request
from calendar_sync.model import Attendee as CalAttendee
from calendar_sync.model import Meeting as CalMeeting
from calendar_sync.model import Organizer
from mail_parsers.model import ParsedMessage
from store.models import (
    HeldSignoff,
    InboundMessage,
    Issue,
    Meeting,
    MeetingAttendee,
    MeetingProposal,
    Request,
)
from store.uow import SqlUnitOfWork
from workflow import presenting
from workflow.actions import Applied, Recipient, SendMail
from workflow.config import WorkflowConfig
from workflow.directory import Directory
from workflow.people import language
from workflow.scheduling import (
    agenda_reminder_at,
    find_slot,
    kickoff_window,
    lead_time_earliest_start,
    problem_meeting_window,
)
from workflow.signoff import Accepted

KIND_LABELS = {
    "zh": {"kickoff": "启动会", "problem": "问题协调会", "review": "复盘会"},
    "en": {"kickoff": "kickoff meeting", "problem": "problem meeting", "review": "review meeting"},
}
PARTSTATS = frozenset({"ACCEPTED", "DECLINED", "TENTATIVE", "DELEGATED", "NEEDS-ACTION"})
_ROLE_TEXT = {
    "zh": {"REQ-PARTICIPANT": "必须参加", "OPT-PARTICIPANT": "可选参加", "CHAIR": "主持"},
    "en": {"REQ-PARTICIPANT": "required", "OPT-PARTICIPANT": "optional", "CHAIR": "chair"},
}
#: How far past the window the search goes when the window has no free slot.
_OVERFLOW = timedelta(days=14)


@dataclass(frozen=True)
class Invitee:
    email: str
    name: str | None
    role: str = "REQ-PARTICIPANT"


# --- scheduling -------------------------------------------------------------------------


def schedule(
    kind: str,
    request: Request,
    invitees: Sequence[Invitee],
    *,
    window: tuple[datetime, datetime],
    agenda: Sequence[str],
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
    issue: Issue | None = None,
) -> tuple[Meeting, list[SendMail]]:
    """Find a slot, record the meeting and its invitees, and return the invitations."""
    invitees = _unique(invitees)
    earliest, latest = window
    earliest = max(earliest, now + config.meeting_min_notice)
    busy = config.busy_lookup([i.email for i in invitees], now, latest + _OVERFLOW)
    start = find_slot(
        earliest=earliest,
        latest=latest,
        duration=config.meeting_duration,
        calendar=config.calendar,
        busy=busy or (),
        min_notice=config.meeting_min_notice,
        now=now,
    ) or find_slot(  # nothing free in the window: the first free slot after it
        earliest=earliest,
        latest=latest + _OVERFLOW,
        duration=config.meeting_duration,
        calendar=config.calendar,
        busy=busy or (),
        min_notice=config.meeting_min_notice,
        now=now,
    )
    if start is None:
        raise ValueError(f"no working-hours slot for the {kind} meeting of {request.number}")
    label = KIND_LABELS["zh"][kind]
    meeting = uow.meetings.add(
        Meeting(
            request_id=request.id,
            issue_id=issue.id if issue else None,
            kind=kind,
            uid=f"{kind}.{request.number.lower()}.{config.new_token()}@{config.message_id_domain}",
            sequence=0,
            status="CONFIRMED",
            start=start,
            end=start + config.meeting_duration,
            timezone=config.timezone.key,
            summary=f"{label} {request.number} {request.title}",
            description="\n".join(agenda),
            location=config.meeting_location,
            online_url=config.meeting_online_url or None,
            created_at=now,
            updated_at=now,
        )
    )
    for person in invitees:
        uow.meetings.add_attendee(
            MeetingAttendee(
                meeting_id=meeting.id,
                email=person.email.lower(),
                name=person.name,
                role=person.role,
                partstat="NEEDS-ACTION",
                removed=False,
            )
        )
    uow.session.flush()
    return meeting, invitations(meeting, request, uow=uow, now=now, config=config, is_update=False)


def kickoff_invitees(request: Request, config: WorkflowConfig) -> list[Invitee]:
    directory = config.directory
    people = [Invitee(request.requester_email, request.requester_name)]
    for department in [request.lead_department, *request.supporting_departments]:
        head = directory.head_of(department) if department else None
        if head:
            role = "CHAIR" if department == request.lead_department else "REQ-PARTICIPANT"
            people.append(Invitee(head, _known_name(directory, head), role))
    people += [
        Invitee(a, _known_name(directory, a), "OPT-PARTICIPANT") for a in config.coordinators
    ]
    return people


def schedule_kickoff(
    request: Request, *, uow: SqlUnitOfWork, now: datetime, config: WorkflowConfig
) -> list[SendMail]:
    earliest, latest = kickoff_window(now, profile=config.profile, calendar=config.calendar)
    # The invitation carries the agenda and the background materials, which must reach
    # people the profile's lead times before the meeting (seed 001: the agenda at least a
    # day, the materials at least 2 working days): the longest of them counts.
    earliest = max(
        earliest,
        lead_time_earliest_start(now, profile=config.profile, calendar=config.calendar),
    )
    window = (earliest, max(latest, earliest))
    agenda = _kickoff_agenda(request)
    _, mails = schedule(
        "kickoff",
        request,
        kickoff_invitees(request, config),
        window=window,
        agenda=agenda,
        uow=uow,
        now=now,
        config=config,
    )
    return mails


def schedule_problem_meeting(
    issue: Issue,
    request: Request,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
    owner: str | None = None,
) -> list[SendMail]:
    """The problem meeting with the reporter, the task's ``owner`` and the lead head."""
    directory = config.directory
    people = [Invitee(issue.reporter_email, _known_name(directory, issue.reporter_email))]
    if owner:
        people.append(Invitee(owner, _known_name(directory, owner)))
    head = directory.head_of(request.lead_department) if request.lead_department else None
    if head:
        people.append(Invitee(head, _known_name(directory, head), "CHAIR"))
    people += [
        Invitee(a, _known_name(directory, a), "OPT-PARTICIPANT") for a in config.coordinators
    ]
    window = problem_meeting_window(now, profile=config.profile, calendar=config.calendar)
    agenda = [f"问题：{issue.description}"]
    if issue.impact:
        agenda.append(f"影响范围：{issue.impact}")
    if issue.support:
        agenda.append(f"所需支持：{issue.support}")
    agenda.append("确定解决措施、责任人和新期限")
    meeting, mails = schedule(
        "problem",
        request,
        people,
        window=window,
        agenda=agenda,
        uow=uow,
        now=now,
        config=config,
        issue=issue,
    )
    issue.state = "meeting_scheduled"
    return mails


def _kickoff_agenda(request: Request) -> list[str]:
    return [
        f"需求说明：{request.title}（{request.number}）",
        f"背景与目标：{request.background}",
        f"期望完成时间：{request.due.isoformat() if request.due else '待定'}",
        "明确牵头部门与配合部门的分工",
        "形成待办事项：每项一位负责人、截止时间和交付物",
    ]


def _known_name(directory: Directory, address: str) -> str | None:
    """The person's name from the directory; None (never the address) when unknown."""
    person = directory.person(address)
    return person.name if person is not None and person.name else None


def _unique(invitees: Sequence[Invitee]) -> list[Invitee]:
    seen: dict[str, Invitee] = {}
    for person in invitees:
        key = person.email.lower()
        if key not in seen:
            seen[key] = person
    return list(seen.values())


# --- invitations ----------------------------------------------------------------------------


def calendar_model(
    meeting: Meeting, attendees: Sequence[MeetingAttendee], config: WorkflowConfig
) -> CalMeeting:
    tz = config.timezone
    return CalMeeting(
        uid=meeting.uid,
        sequence=meeting.sequence,
        summary=meeting.summary,
        description=meeting.description,
        location=meeting.location,
        online_url=meeting.online_url,
        start=meeting.start.astimezone(tz),
        end=meeting.end.astimezone(tz),
        timezone=meeting.timezone,
        organizer=Organizer(config.mailbox_address, config.mailbox_name or config.mailbox_address),
        attendees=tuple(
            CalAttendee(a.email, a.name or a.email, a.role, "NEEDS-ACTION")  # type: ignore[arg-type]
            for a in attendees
            if not a.removed
        ),
        status=meeting.status,  # type: ignore[arg-type]
    )


def invitations(
    meeting: Meeting,
    request: Request,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
    is_update: bool,
) -> list[SendMail]:
    """One REQUEST per attendee (per-recipient Message-ID), plus the team-calendar copy."""
    attendees = [a for a in uow.meetings.attendees(meeting.id) if not a.removed]
    ics = build_request(calendar_model(meeting, attendees, config), dtstamp=now)
    mails = [
        _invitation_mail(
            meeting, request, attendee, attendees, ics, config=config, is_update=is_update
        )
        for attendee in attendees
    ]
    mails += _calendar_copy("calendar/publish", meeting, request, ics, config)
    return mails


def _invitation_mail(
    meeting: Meeting,
    request: Request,
    attendee: MeetingAttendee,
    everyone: Sequence[MeetingAttendee],
    ics: bytes,
    *,
    config: WorkflowConfig,
    is_update: bool,
) -> SendMail:
    lang = language(config.directory, attendee.email)
    return SendMail(
        template="attendee/meeting_invitation",
        to=(Recipient(attendee.email, attendee.name, lang),),
        context={
            "number": request.number,
            "title": request.title,
            "meeting_kind": KIND_LABELS[lang][meeting.kind],
            "start": presenting.format_instant(meeting.start, config.timezone, lang),
            "end": presenting.format_instant(meeting.end, config.timezone, lang),
            "location": meeting.location,
            "online_url": meeting.online_url or "",
            "agenda": [line for line in meeting.description.splitlines() if line.strip()],
            "attendees": [
                f"{a.name or a.email} <{a.email}>, {_ROLE_TEXT[lang].get(a.role, a.role)}"
                for a in everyone
            ],
            "is_update": is_update,
            "how_to_move": _how_to_move(lang),
        },
        request_number=request.number,
        request_id=request.id,
        reply_context="meeting",
        task=f"m{meeting.id}",  # which meeting a reply to it is about
        attachments=(("invite.ics", "application/ics", ics),),
        calendar_part=(ics, "REQUEST"),
    )


def _how_to_move(lang: str) -> str:
    if lang == "en":
        return (
            "The lead or the coordination office may move the meeting by replying "
            "MOVE: 2026-03-21 14:00; everybody else answers with the calendar buttons."
        )
    return (
        "牵头部门负责人或协调办公室可回复“改期：2026-03-21 14:00”调整时间；"
        "其他参会人请用日历按钮答复。"
    )


def _calendar_copy(
    kind: str, meeting: Meeting, request: Request, ics: bytes, config: WorkflowConfig
) -> list[SendMail]:
    if not config.publish_calendar:
        return []
    return [
        SendMail(
            template=kind,
            to=(),
            context={"uid": meeting.uid, "sequence": meeting.sequence},
            request_number=request.number,
            request_id=request.id,
            attachments=(("meeting.ics", "text/calendar", ics),),
        )
    ]


def cancel_meetings(
    request: Request, reason: str, *, uow: SqlUnitOfWork, now: datetime, config: WorkflowConfig
) -> list[SendMail]:
    """Cancel every meeting of a withdrawn or returned request that has not taken place."""
    mails: list[SendMail] = []
    for meeting in uow.meetings.for_request(request.id):
        if meeting.status == "CANCELLED" or meeting.end <= now:
            continue
        mails += cancel_meeting(meeting, request, reason, uow=uow, now=now, config=config)
    return mails


def cancel_meeting(
    meeting: Meeting,
    request: Request,
    reason: str | Mapping[str, str],
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> list[SendMail]:
    """Call ``meeting`` off: a CANCEL (SEQUENCE up by one) to every attendee and to the
    team calendar, and nothing more that depends on it taking place: the clocks that
    count from it stop (``minutes_sent``, ``communication_record``), the agenda reminder
    no longer goes out (it is for confirmed meetings) and pending proposals of a new
    time lapse. ``reason`` is one text, or one per language (``zh``, ``en``).
    Whether the meeting may still be called off is the caller's decision."""
    from workflow.clocks import stop_meeting_clocks  # clocks -> meetings

    meeting.status = "CANCELLED"
    meeting.sequence += 1
    meeting.updated_at = now
    stop_meeting_clocks(meeting, uow=uow, now=now)
    for proposal in uow.meetings.pending_proposals(meeting.id):
        proposal.state = "declined"
    attendees = [a for a in uow.meetings.attendees(meeting.id) if not a.removed]
    ics = build_cancel(calendar_model(meeting, attendees, config), dtstamp=now)
    mails: list[SendMail] = []
    for attendee in attendees:
        lang = language(config.directory, attendee.email)
        mails.append(
            SendMail(
                template="attendee/meeting_cancelled",
                to=(Recipient(attendee.email, attendee.name, lang),),
                context={
                    **_meeting_context(meeting, request, lang, config),
                    "reason": reason if isinstance(reason, str) else reason.get(lang, ""),
                },
                request_number=request.number,
                request_id=request.id,
                attachments=(("invite.ics", "application/ics", ics),),
                calendar_part=(ics, "CANCEL"),
            )
        )
    mails += _calendar_copy("calendar/cancel", meeting, request, ics, config)
    return mails


# --- answers (iTIP REPLY / COUNTER) ---------------------------------------------------------


def record_calendar_reply(
    parsed: ParsedMessage,
    row: InboundMessage,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> tuple[str | None, list[SendMail], str]:
    """Apply an invitation answer by the rules of mail.md; returns (number, mails, outcome)."""
    cal = parsed.calendar
    if cal is None:  # a calendar part we could not read: recorded only
        return None, [], "unreadable calendar answer"
    meeting = uow.meetings.by_uid(cal.uid)
    if meeting is None:
        return None, [], "unknown meeting"
    request = uow.requests.get(meeting.request_id)
    row.request_id = request.id
    sender = (parsed.headers.from_addr or "").lower()
    attendee_addr = (cal.attendee or "").lower()
    attendee = uow.meetings.attendee(meeting.id, attendee_addr) if attendee_addr else None
    problem = None
    if parsed.headers.from_count != 1 or not sender:
        problem = ("multiple_from", "the answer has no single sender")
    elif attendee is None or attendee.removed:
        problem = (
            "unknown_attendee",
            f"{attendee_addr or 'no attendee'} is not invited to {meeting.uid}",
        )
    elif attendee_addr != sender and not config.directory.may_sign_for(attendee_addr, sender):
        problem = ("wrong_sender", f"{sender} answered for {attendee_addr}")
    elif config.parse_options.trusted_authserv_id and not parsed.authenticated:
        problem = ("unauthenticated", "no trusted dmarc=pass")
    if problem is not None:
        uow.signoffs.hold(
            HeldSignoff(
                inbound_message_id=row.id,
                outbox_id=None,
                request_id=request.id,
                sender=sender,
                reason=problem[0],
                detail=problem[1],
                action=f"calendar_{cal.method.lower()}",
                value=cal.partstat,
                state="pending",
                created_at=now,
            )
        )
        row.state = "held"
        return request.number, [], f"held: {problem[0]}"
    assert attendee is not None
    if cal.method == "COUNTER":
        return (
            request.number,
            _record_counter(
                meeting, request, attendee, parsed, row, uow=uow, now=now, config=config
            ),
            "proposal",
        )
    if not _newer(cal.sequence, cal.dtstamp, attendee):
        return request.number, [], "stale answer ignored"
    partstat = (cal.partstat or "NEEDS-ACTION").upper()
    if partstat not in PARTSTATS:
        return request.number, [], f"unknown PARTSTAT {partstat}"
    attendee.partstat = partstat
    attendee.comment = cal.comment
    attendee.reply_sequence = cal.sequence
    attendee.reply_dtstamp = cal.dtstamp
    attendee.responded_at = now
    mails: list[SendMail] = []
    if partstat == "DECLINED" and attendee.role in ("REQ-PARTICIPANT", "CHAIR"):
        mails += _declined_notice(meeting, request, attendee, config=config)
    return request.number, mails, f"{attendee.email} {partstat}"


def _newer(sequence: int, dtstamp: datetime | None, attendee: MeetingAttendee) -> bool:
    """Apply only answers whose (SEQUENCE, DTSTAMP) is newer than the last one applied."""
    if attendee.reply_sequence is None:
        return True
    if sequence != attendee.reply_sequence:
        return sequence > attendee.reply_sequence
    if dtstamp is None or attendee.reply_dtstamp is None:
        return False
    return dtstamp > attendee.reply_dtstamp


def _lead_and_office(request: Request, config: WorkflowConfig) -> tuple[Recipient, ...]:
    directory = config.directory
    people: dict[str, Recipient] = {}
    head = directory.head_of(request.lead_department) if request.lead_department else None
    for addr in ([head] if head else []) + list(config.coordinators):
        people.setdefault(
            addr.lower(), Recipient(addr, _known_name(directory, addr), language(directory, addr))
        )
    return tuple(people.values())


def _declined_notice(
    meeting: Meeting, request: Request, attendee: MeetingAttendee, *, config: WorkflowConfig
) -> list[SendMail]:
    """One notice per reader, each in that reader's language."""
    return [
        SendMail(
            template="lead/attendee_declined",
            to=(to,),
            context={
                "number": request.number,
                "title": request.title,
                "meeting_kind": KIND_LABELS[to.language][meeting.kind],
                "start": presenting.format_instant(meeting.start, config.timezone, to.language),
                "attendee": f"{attendee.name or attendee.email} <{attendee.email}>",
                "role_text": _ROLE_TEXT[to.language].get(attendee.role, attendee.role),
                "comment": attendee.comment or "",
                "how_to_move": _how_to_move(to.language),
            },
            request_number=request.number,
            request_id=request.id,
        )
        for to in _lead_and_office(request, config)
    ]


def _record_counter(
    meeting: Meeting,
    request: Request,
    attendee: MeetingAttendee,
    parsed: ParsedMessage,
    row: InboundMessage,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> list[SendMail]:
    cal = parsed.calendar
    assert cal is not None
    if cal.proposed_start is None:
        return []
    end = cal.proposed_end or cal.proposed_start + (meeting.end - meeting.start)
    proposal = uow.meetings.propose(
        MeetingProposal(
            meeting_id=meeting.id,
            attendee=attendee.email,
            proposed_start=cal.proposed_start,
            proposed_end=end,
            comment=cal.comment,
            state="pending",
            created_at=now,
            inbound_message_id=row.id,
        )
    )
    uow.session.flush()
    keywords = {
        "zh": ["同意改期（按新时间向全体重新发送邀请）", "不同意改期（通知提议人维持原时间）"],
        "en": ["APPROVE (send the new time to everyone)", "REJECT (keep the current time)"],
    }
    return [
        SendMail(
            template="lead/counter_proposal",
            to=(to,),
            context={
                "number": request.number,
                "title": request.title,
                "meeting_kind": KIND_LABELS[to.language][meeting.kind],
                "start": presenting.format_instant(meeting.start, config.timezone, to.language),
                "proposed_start": presenting.format_instant(
                    cal.proposed_start, config.timezone, to.language
                ),
                "proposed_end": presenting.format_instant(end, config.timezone, to.language),
                "proposer": f"{attendee.name or attendee.email} <{attendee.email}>",
                "comment": cal.comment or "",
                "keywords": keywords[to.language],
            },
            request_number=request.number,
            request_id=request.id,
            reply_context="datechange",
            task=f"p{proposal.id}",
        )
        for to in _lead_and_office(request, config)
    ]


# --- changes by reply ---------------------------------------------------------------------


def may_move(sender: str, request: Request, config: WorkflowConfig) -> bool:
    """Only the lead department's head or the coordination office (or their delegates)."""
    directory = config.directory
    head = directory.head_of(request.lead_department) if request.lead_department else None
    allowed = [a.lower() for a in config.coordinators] + ([head.lower()] if head else [])
    return any(sender == a or directory.may_sign_for(a, sender) for a in allowed)


def reschedule_by_reply(
    verdict: Accepted,
    value: object,
    request: Request,
    parsed: ParsedMessage,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> Applied:
    from workflow.replies import not_applicable

    meeting = _meeting_of_invitation(verdict, uow)
    if meeting is None or meeting.status == "CANCELLED":
        return Applied(
            "not_applicable",
            (
                not_applicable(
                    parsed, verdict.signer, request, "reschedule_meeting", "", [], config=config
                ),
            ),
        )
    if not may_move(verdict.signer, request, config):
        text = "只有牵头部门负责人或协调办公室可以调整会议时间，请使用日历按钮答复。"
        return Applied(
            "not_applicable",
            (
                not_applicable(
                    parsed, verdict.signer, request, "reschedule_meeting", text, [], config=config
                ),
            ),
        )
    new_start = _parse_local(value, config)
    if (
        new_start is None
        or new_start <= now
        or not config.calendar.is_working_day(config.calendar.local(new_start).date())
    ):
        text = "新时间无法识别、已过去或不是工作日，请写成“改期：2026-03-21 14:00”。"
        return Applied(
            "not_applicable",
            (
                not_applicable(
                    parsed,
                    verdict.signer,
                    request,
                    "reschedule_meeting",
                    text,
                    ["改期：2026-03-21 14:00"],
                    config=config,
                ),
            ),
        )
    mails = move_meeting(meeting, request, new_start, uow=uow, now=now, config=config)
    detail = f"新时间：{presenting.format_instant(new_start, config.timezone, 'zh')}"
    return Applied("applied", tuple(mails), detail)


def move_meeting(
    meeting: Meeting,
    request: Request,
    new_start: datetime,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> list[SendMail]:
    duration = meeting.end - meeting.start
    meeting.start = new_start
    meeting.end = new_start + duration
    meeting.sequence += 1
    meeting.updated_at = now
    meeting.reminded_at = None
    for attendee in uow.meetings.attendees(meeting.id):
        attendee.partstat = "NEEDS-ACTION"  # a new time needs a new answer
    from workflow.clocks import rearm_meeting_clocks  # clocks -> meetings

    # What counts from the meeting counts from its new time: the minutes of a kickoff,
    # the communication record after a problem or review meeting.
    rearm_meeting_clocks(meeting, request, uow=uow, now=now, config=config)
    return invitations(meeting, request, uow=uow, now=now, config=config, is_update=True)


def decide_proposal(
    verdict: Accepted,
    action: str,
    request: Request,
    parsed: ParsedMessage,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> Applied:
    """The lead answers a COUNTER: accept (REQUEST with SEQUENCE+1 to all) or decline."""
    from workflow.replies import not_applicable

    ref = verdict.outbox.task_ref or ""
    proposal = (
        uow.meetings.proposal(int(ref[1:])) if ref.startswith("p") and ref[1:].isdigit() else None
    )
    if proposal is None or proposal.state != "pending":
        return Applied(
            "not_applicable",
            (not_applicable(parsed, verdict.signer, request, action, "", [], config=config),),
        )
    if not may_move(verdict.signer, request, config):
        text = "只有牵头部门负责人或协调办公室可以决定会议改期。"
        return Applied(
            "not_applicable",
            (not_applicable(parsed, verdict.signer, request, action, text, [], config=config),),
        )
    meeting = uow.meetings.get(proposal.meeting_id)
    if action == "approve_date":
        proposal.state = "accepted"
        mails = move_meeting(
            meeting, request, proposal.proposed_start, uow=uow, now=now, config=config
        )
        return Applied("applied", tuple(mails), "按提议时间改期")
    proposal.state = "declined"
    reason = _reason_after_keyword(parsed)
    attendees = [a for a in uow.meetings.attendees(meeting.id) if not a.removed]
    ics = build_declinecounter(
        calendar_model(meeting, attendees, config), dtstamp=now, comment=reason or "维持原时间"
    )
    lang = language(config.directory, proposal.attendee)
    mail = SendMail(
        template="sender/counter_declined",
        to=(Recipient(proposal.attendee, _known_name(config.directory, proposal.attendee), lang),),
        context={
            "number": request.number,
            "title": request.title,
            "meeting_kind": KIND_LABELS[lang][meeting.kind],
            "start": presenting.format_instant(meeting.start, config.timezone, lang),
            "comment": reason,
        },
        request_number=request.number,
        request_id=request.id,
        attachments=(("invite.ics", "application/ics", ics),),
        calendar_part=(ics, "DECLINECOUNTER"),
    )
    return Applied("applied", (mail,), "维持原时间")


def _reason_after_keyword(parsed: ParsedMessage) -> str:
    """What the lead wrote after 不同意改期 / REJECT on the keyword line, if anything."""
    reply = parsed.reply
    if reply is None:
        return ""
    for line in reply.new_text.splitlines():
        stripped = line.strip()
        for keyword in ("不同意改期", "REJECT"):
            if stripped.upper().startswith(keyword.upper()):
                return stripped[len(keyword) :].lstrip(" :：,，、;；-—").strip()
    return ""


def _meeting_of_invitation(verdict: Accepted, uow: SqlUnitOfWork) -> Meeting | None:
    """The meeting an invitation mail of ours was about: named by the mail itself
    (``m<id>``), else, for invitations written before they named it, the meeting that
    was current when the invitation was written."""
    request_id = verdict.outbox.request_id
    if request_id is None:
        return None
    tag = verdict.outbox.task_ref or ""
    if tag.startswith("m") and tag[1:].isdigit():
        meeting = uow.meetings.by_id(int(tag[1:]))
        return meeting if meeting is not None and meeting.request_id == request_id else None
    meetings = [m for m in uow.meetings.for_request(request_id) if m.status != "CANCELLED"]
    if not meetings:
        return None
    created = verdict.outbox.created_at
    # The meeting that was current when the invitation was written.
    candidates = [m for m in meetings if m.created_at <= created] or meetings
    return max(candidates, key=lambda m: m.created_at)


def _parse_local(value: object, config: WorkflowConfig) -> datetime | None:
    """``YYYY-MM-DDTHH:MM`` as a local time; None when unreadable or inside a DST gap."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        return None
    if naive.tzinfo is not None:
        return naive
    local = naive.replace(tzinfo=config.timezone)
    # A wall time that does not exist (a DST gap) is refused rather than guessed.
    if local.astimezone(UTC).astimezone(config.timezone).replace(tzinfo=None) != naive:
        return None
    return local


# --- reminders --------------------------------------------------------------------------------


def send_agenda_reminders(
    *, uow: SqlUnitOfWork, now: datetime, config: WorkflowConfig
) -> list[SendMail]:
    """Remind the attendees of each confirmed meeting once, the working day before it."""
    mails: list[SendMail] = []
    for meeting in uow.meetings.upcoming_unreminded(now):
        remind_at = agenda_reminder_at(meeting.start, config.calendar)
        if now < remind_at:
            continue
        meeting.reminded_at = now
        if meeting.updated_at >= remind_at:
            continue  # the invitation itself went out after the reminder time: no repeat
        request = uow.requests.get(meeting.request_id)
        for attendee in uow.meetings.attendees(meeting.id):
            if attendee.removed or attendee.partstat == "DECLINED":
                continue
            lang = language(config.directory, attendee.email)
            mails.append(
                SendMail(
                    template="attendee/agenda_reminder",
                    to=(Recipient(attendee.email, attendee.name, lang),),
                    context={
                        **_meeting_context(meeting, request, lang, config),
                        "location": meeting.location,
                        "online_url": meeting.online_url or "",
                        "agenda": [ln for ln in meeting.description.splitlines() if ln.strip()],
                    },
                    request_number=request.number,
                    request_id=request.id,
                )
            )
    return mails


def _meeting_context(
    meeting: Meeting, request: Request, lang: str, config: WorkflowConfig
) -> dict[str, object]:
    """What every mail about one meeting says of it, in ``lang``."""
    return {
        "number": request.number,
        "title": request.title,
        "meeting_kind": KIND_LABELS[lang][meeting.kind],
        "start": presenting.format_instant(meeting.start, config.timezone, lang),
    }
