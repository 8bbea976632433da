"""Intake: one inbound message, from raw bytes to recorded effects, in the caller's transaction.

``ingest`` is the use case the daemon calls for every message from every source (IMAP,
the LMTP/SMTP listener, ``liaison process``). It never commits; the caller wraps it in
one unit of work and acknowledges the message to its source only after the commit.
``record_failure`` is what the caller runs, in a fresh unit of work, when ``ingest``
raised: the raw message is kept, the attempt counted, and after the limit the message
is quarantined with its reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from mail_parsers.message import parse_message
from mail_parsers.model import NOISE_KINDS, IssueFields, ParsedMessage, ParseOptions, RequestFields
from store.blobs import BlobStore
from store.models import Attachment, InboundMessage, Issue, OutboxMessage, Request
from store.uow import SqlUnitOfWork
from workflow import presenting
from workflow.actions import Recipient, SendMail
from workflow.config import WorkflowConfig
from workflow.errors import NotFoundError, RejectedInputError
from workflow.evaluation import (
    ask_for_evaluation,
    evaluator_context,
    request_evaluator_context,
)
from workflow.lookup import request_of, requests_named
from workflow.meetings import record_calendar_reply
from workflow.minutes import record_minutes
from workflow.numbering import department_code
from workflow.outbound import queue_mail
from workflow.plans import record_plan
from workflow.problems import open_problem
from workflow.profiles import format_number, number_scope
from workflow.replies import record_reply
from workflow.review import answers_review_request, record_review, reviewed_request
from workflow.signoff import verp_outbox_id

Outcome = Literal["processed", "duplicate", "noise", "quarantined"]


@dataclass(frozen=True)
class InboundMail:
    """A message as a source hands it over, with the identity the source gives it."""

    source: str
    uidvalidity: int | None
    uid: str | None
    raw: bytes


@dataclass(frozen=True)
class IngestResult:
    outcome: Outcome
    inbound_id: int
    kind: str | None
    request_number: str | None = None
    queued: tuple[str, ...] = ()
    reason: str | None = None


def content_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def ingest(
    mail: InboundMail,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
    blobs: BlobStore,
    parse: Callable[[bytes, ParseOptions], ParsedMessage] = parse_message,
) -> IngestResult:
    """Record ``mail`` and everything it causes. Idempotent: a message seen before has no effect.

    ``parse`` reads the raw bytes (the daemon passes an isolated parser); a message it
    refuses with :class:`RejectedInputError` is kept and quarantined with the reason.
    """
    sha = content_hash(mail.raw)
    row = uow.inbound.find_duplicate(mail.source, mail.uidvalidity, mail.uid, None, sha)
    if row is not None and row.state != "received":
        return IngestResult("duplicate", row.id, row.kind, reason="already processed")

    try:
        parsed = parse(mail.raw, config.parse_options)
    except RejectedInputError as exc:
        return _quarantine_rejected(mail, row, exc.reason, sha=sha, uow=uow, now=now)
    if row is None and parsed.headers.message_id:
        # Identity and content were looked up above; only the Message-ID is new here.
        earlier = uow.inbound.by_message_id(parsed.headers.message_id)
        if earlier is not None and earlier.state != "received":
            return IngestResult("duplicate", earlier.id, earlier.kind, reason="same Message-ID")
        row = earlier

    if row is None:
        row = _keep(mail, sha, parsed.headers.message_id, uow=uow, now=now, kind=parsed.kind)
    else:  # kept before, when an earlier attempt failed
        row.message_id = parsed.headers.message_id
        row.kind = parsed.kind

    if parsed.hostile is not None:
        row.state = "quarantined"
        row.reason = f"hostile ({parsed.hostile.type}): {parsed.hostile.detail}"
        row.processed_at = now
        return IngestResult("quarantined", row.id, parsed.kind, reason=row.reason)

    _store_attachments(parsed, row, uow=uow, blobs=blobs)

    if parsed.kind in NOISE_KINDS or _over_rate_limit(parsed, uow=uow, now=now, config=config):
        bounced = _bounced_mail(parsed, uow=uow, config=config) if parsed.kind == "bounce" else None
        request_id = bounced.request_id if bounced else _request_answered(parsed, uow)
        summary = (
            parsed.kind if parsed.kind in NOISE_KINDS else f"{parsed.kind} over the rate limit"
        )
        notices = _bounce_notice(parsed, bounced, uow=uow, config=config)
        if parsed.bounce is not None:
            summary = f"bounce: {parsed.bounce.recipient} {parsed.bounce.status or ''}".strip()
        _record_inbound(parsed, row, request_id, uow=uow, now=now, summary=summary)
        row.state = "noise"
        row.request_id = request_id
        row.processed_at = now
        uow.inbound.save(row)
        queued_ids: list[str] = []
        for action in notices:  # the office is told; the noise itself is never answered
            queued_ids += [
                q.message_id for q in queue_mail(action, uow=uow, now=now, config=config)
            ]
        return IngestResult("noise", row.id, parsed.kind, queued=tuple(queued_ids))

    handler = _HANDLERS.get(parsed.kind, _record_only)
    number, actions = handler(parsed, row, uow=uow, now=now, config=config)
    queued: list[str] = []
    for action in actions:
        queued += [q.message_id for q in queue_mail(action, uow=uow, now=now, config=config)]
    if row.state == "received":  # a handler may have decided otherwise ("held")
        row.state = "processed"
    row.processed_at = now
    uow.inbound.save(row)
    return IngestResult("processed", row.id, parsed.kind, number, tuple(queued))


def _keep(
    mail: InboundMail,
    sha: str,
    message_id: str | None,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    kind: str | None = None,
) -> InboundMessage:
    """A new inbound row holding the raw bytes as they arrived, not processed yet."""
    return uow.inbound.add(
        InboundMessage(
            source=mail.source,
            source_uidvalidity=mail.uidvalidity,
            source_uid=mail.uid,
            message_id=message_id,
            content_sha256=sha,
            raw=mail.raw,
            size=len(mail.raw),
            received_at=now,
            state="received",
            attempts=0,
            kind=kind,
        ),
    )


def _quarantine_rejected(
    mail: InboundMail,
    row: InboundMessage | None,
    reason: str,
    *,
    sha: str,
    uow: SqlUnitOfWork,
    now: datetime,
) -> IngestResult:
    """Keep a message the parser refused, quarantined with the reason (never retried)."""
    if row is None:
        row = _keep(mail, sha, None, uow=uow, now=now)
    row.state = "quarantined"
    row.reason = f"rejected: {reason}"[:2000]
    row.processed_at = now
    uow.session.flush()
    return IngestResult("quarantined", row.id, None, reason=row.reason)


def record_failure(
    mail: InboundMail,
    reason: str,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> bool:
    """Count a failed attempt at ``mail``; return True when it is now quarantined."""
    sha = content_hash(mail.raw)
    row = uow.inbound.find_duplicate(mail.source, mail.uidvalidity, mail.uid, None, sha)
    if row is None:
        row = _keep(mail, sha, None, uow=uow, now=now)
    elif row.state != "received":
        return row.state == "quarantined"
    row.attempts = (row.attempts or 0) + 1
    row.reason = reason[:2000]
    if row.attempts >= config.max_attempts:
        row.state = "quarantined"
        row.reason = f"failed {row.attempts} times; last error: {reason}"[:2000]
        row.processed_at = now
        return True
    return False


# --- handlers by kind -------------------------------------------------------------------

HandlerResult = tuple[str | None, Sequence[SendMail]]


def _register_request(
    parsed: ParsedMessage,
    row: InboundMessage,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> HandlerResult:
    fields = parsed.fields
    assert isinstance(fields, RequestFields)
    sender = parsed.headers.from_addr or ""
    request = _returned_request_named(parsed, uow, config)
    if request is not None:
        # A returned request sent again with corrected fields: same number, next revision.
        request.revision += 1
        request.state = "registered"
        _fill_request(request, fields)
        request.updated_at = now
        number = request.number
        summary = f"request {number} resubmitted (revision {request.revision})"
    else:
        local_now = now.astimezone(config.timezone)
        department = department_code(fields.requesting_department or "", config.directory)
        pattern = config.profile.numbering
        scope = number_scope(pattern, year=local_now.year, department=department)
        seq = uow.requests.allocate_number(scope)
        number = format_number(pattern, year=local_now.year, seq=seq, department=department)
        request = Request(
            number=number,
            revision=1,
            state="registered",
            profile=config.profile.name,
            requester_email=sender,
            requester_name=parsed.headers.from_name,
            language=parsed.language,
            lead_department=None,
            supporting_departments=[],
            created_at=now,
            updated_at=now,
            inbound_message_id=row.id,
        )
        _fill_request(request, fields)
        uow.requests.add(request)
        summary = f"request {number}"
    uow.session.flush()
    row.request_id = request.id
    _record_inbound(parsed, row, request.id, uow=uow, now=now, summary=summary)

    deadline = config.profile.service_level("evaluate_request").due(now, config.calendar)
    # To the office, or the requester's department head where the profile says so.
    notice = ask_for_evaluation(request, parsed.attachments, uow=uow, now=now, config=config)
    requester = Recipient(sender, parsed.headers.from_name, parsed.language)
    ack = SendMail(
        template="requester/acknowledged",
        to=(requester,),
        context={
            **presenting.request_context(
                request, parsed.attachments, deadline, config.timezone, parsed.language
            ),
            # Who evaluates: the office, or the requester's department head.
            **request_evaluator_context(request, config, parsed.language),
        },
        request_number=number,
        request_id=request.id,
    ).in_answer_to(parsed.headers.message_id)
    return number, [ack, notice]


def _fill_request(request: Request, fields: RequestFields) -> None:
    request.title = fields.title or ""
    request.requesting_department = fields.requesting_department or ""
    request.receiving_departments = list(fields.receiving_departments)
    request.background = fields.background or ""
    request.due = fields.due
    request.urgency = fields.urgency or "normal"
    request.resources = fields.resources
    request.acceptance_criteria = fields.acceptance_criteria


def _returned_request_named(
    parsed: ParsedMessage, uow: SqlUnitOfWork, config: WorkflowConfig
) -> Request | None:
    """A returned request of this sender whose number the subject names, if any."""
    sender = (parsed.headers.from_addr or "").lower()
    numbers = config.parse_options.request_number
    for request in requests_named(parsed.headers.subject, uow, numbers):
        if request.state == "returned" and request.requester_email.lower() == sender:
            return request
    return None


def _answer_invalid(
    parsed: ParsedMessage,
    row: InboundMessage,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> HandlerResult:
    template = "reporter/issue_invalid" if parsed.kind == "issue" else "requester/invalid_request"
    _record_inbound(parsed, row, None, uow=uow, now=now, summary=f"{parsed.kind} with errors")
    if not parsed.headers.from_addr:
        return None, []
    sender = Recipient(parsed.headers.from_addr, parsed.headers.from_name, parsed.language)
    requesting = (
        parsed.fields.requesting_department if isinstance(parsed.fields, RequestFields) else None
    )
    return None, [
        SendMail(
            template=template,
            to=(sender,),
            context={
                **presenting.problems_context(parsed, config.timezone, parsed.language),
                # The sign-off: the office, or the department whose head would evaluate.
                **evaluator_context(
                    parsed.headers.from_addr, requesting or "", config, parsed.language
                ),
            },
        ).in_answer_to(parsed.headers.message_id)
    ]


def _record_issue(
    parsed: ParsedMessage,
    row: InboundMessage,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> HandlerResult:
    if parsed.errors:
        return _answer_invalid(parsed, row, uow=uow, now=now, config=config)
    fields = parsed.fields
    assert isinstance(fields, IssueFields)
    # The form's number (read in the profile's numbering), else one in the body or subject.
    request = request_of(
        fields.request,
        f"{parsed.text}\n{parsed.headers.subject}",
        uow,
        config.parse_options.request_number,
    )
    issue = Issue(
        request_id=request.id if request else None,
        task_ref=fields.task,
        request_ref=fields.request or (request.number if request else None),
        description=fields.description or "",
        impact=fields.impact,
        tried=fields.tried,
        support=fields.support,
        urgency=fields.urgency or "normal",
        reporter_email=parsed.headers.from_addr or "",
        state="open",
        created_at=now,
        inbound_message_id=row.id,
    )
    uow.issues.add(issue)
    uow.session.flush()
    row.request_id = issue.request_id
    _record_inbound(parsed, row, issue.request_id, uow=uow, now=now, summary="issue reported")
    if not parsed.headers.from_addr:
        return None, []
    reporter = Recipient(parsed.headers.from_addr, parsed.headers.from_name, parsed.language)
    number = request.number if request else None
    meeting_mails: list[SendMail] = []
    if request is not None and request.state not in (
        "registered",
        "returned",
        "withdrawn",
        "archived",
    ):
        meeting_mails = open_problem(issue, request, uow=uow, now=now, config=config)
    return number, [
        *meeting_mails,
        SendMail(
            template="reporter/issue_acknowledged",
            to=(reporter,),
            context=presenting.issue_context(
                issue,
                number,
                parsed.attachments,
                now + timedelta(hours=24),
                config.timezone,
                parsed.language,
            ),
            request_number=number,
            request_id=issue.request_id,
        ).in_answer_to(parsed.headers.message_id),
    ]


def _record_reply(
    parsed: ParsedMessage,
    row: InboundMessage,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> HandlerResult:
    if answers_review_request(parsed, uow):  # the review written as a reply to our request
        return _record_review(parsed, row, uow=uow, now=now, config=config)
    outcome = record_reply(parsed, row, uow=uow, now=now, config=config)
    summary = f"reply: {parsed.reply.action if parsed.reply else 'none'} ({outcome.result})"
    _record_inbound(parsed, row, row.request_id, uow=uow, now=now, summary=summary)
    return outcome.request_number, outcome.mails


def _record_calendar_reply(
    parsed: ParsedMessage,
    row: InboundMessage,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> HandlerResult:
    number, mails, outcome = record_calendar_reply(parsed, row, uow=uow, now=now, config=config)
    _record_inbound(parsed, row, row.request_id, uow=uow, now=now, summary=f"calendar: {outcome}")
    return number, mails


def _logged_as(summary: str, record: Callable[..., HandlerResult]) -> Callable[..., HandlerResult]:
    """The handler that runs the use case ``record`` for a message, then logs the message
    against the request the use case found for it (``row.request_id``)."""

    def handle(
        parsed: ParsedMessage,
        row: InboundMessage,
        *,
        uow: SqlUnitOfWork,
        now: datetime,
        config: WorkflowConfig,
    ) -> HandlerResult:
        number, mails = record(parsed, row, uow=uow, now=now, config=config)
        _record_inbound(parsed, row, row.request_id, uow=uow, now=now, summary=summary)
        return number, mails

    return handle


def _record_review(
    parsed: ParsedMessage,
    row: InboundMessage,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> HandlerResult:
    # Logged first, so the archived dossier's communication log holds the review mail.
    request = reviewed_request(parsed, uow, config.parse_options.request_number)
    row.request_id = request.id if request else None
    _record_inbound(parsed, row, row.request_id, uow=uow, now=now, summary="review")
    number, mails = record_review(parsed, row, request, uow=uow, now=now, config=config)
    return number, mails


def _record_only(
    parsed: ParsedMessage,
    row: InboundMessage,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> HandlerResult:
    """Kinds no stage takes (e.g. a reply-less mail of no known kind): recorded only."""
    request_id = _request_answered(parsed, uow)
    row.request_id = request_id
    _record_inbound(parsed, row, request_id, uow=uow, now=now, summary=parsed.kind)
    return None, []


def _dispatch_request(
    parsed: ParsedMessage,
    row: InboundMessage,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> HandlerResult:
    if parsed.kind == "invalid_request":
        return _answer_invalid(parsed, row, uow=uow, now=now, config=config)
    return _register_request(parsed, row, uow=uow, now=now, config=config)


_HANDLERS = {
    "request": _dispatch_request,
    "invalid_request": _dispatch_request,
    "issue": _record_issue,
    "reply": _record_reply,
    "calendar_reply": _record_calendar_reply,
    "minutes": _logged_as("minutes", record_minutes),
    "plan": _logged_as("plan", record_plan),
    "review": _record_review,
}


# --- helpers --------------------------------------------------------------------------


def _over_rate_limit(
    parsed: ParsedMessage, *, uow: SqlUnitOfWork, now: datetime, config: WorkflowConfig
) -> bool:
    sender = (parsed.headers.from_addr or "").lower()
    if not sender or sender in {c.lower() for c in config.coordinators}:
        return False
    received = uow.communications.count_received_since(sender, now - timedelta(days=1))
    return received >= config.rate_limit_per_day


def _bounced_mail(
    parsed: ParsedMessage, *, uow: SqlUnitOfWork, config: WorkflowConfig
) -> OutboxMessage | None:
    """Our mail a delivery report is about: by its VERP address, else the quoted Message-ID."""
    if config.subaddress and config.reply_token_secret:
        outbox_id = verp_outbox_id(parsed, config.mailbox_address, config.reply_token_secret)
        if outbox_id is not None:
            return uow.outbox.by_id(outbox_id)
    if parsed.bounce is not None and parsed.bounce.original_message_id:
        return uow.outbox.by_message_id(parsed.bounce.original_message_id)
    return None


def _bounce_notice(
    parsed: ParsedMessage,
    original: OutboxMessage | None,
    *,
    uow: SqlUnitOfWork,
    config: WorkflowConfig,
) -> list[SendMail]:
    """Tell the office once that a mail of ours could not be delivered."""
    bounce = parsed.bounce
    if original is None or bounce is None:
        return []  # not ours (or long gone): recorded only
    if uow.communications.count_about_since(
        "office/delivery_failed", original.message_id, original.created_at
    ):
        return []
    request = uow.requests.by_id(original.request_id) if original.request_id else None
    subject = ""
    for c in uow.communications.for_outbox(original.id):
        subject = c.subject
    return [
        SendMail(
            template="office/delivery_failed",
            to=tuple(
                Recipient(a, None, config.directory.language_of(a)) for a in config.coordinators
            ),
            context={
                "number": request.number if request else "",
                "failed_recipient": bounce.recipient or "",
                "status": bounce.status or "",
                "original_subject": subject,
                "original_message_id": original.message_id,
                "diagnostic": bounce.action or "",
            },
            request_number=request.number if request else None,
            request_id=request.id if request else None,
            summary=original.message_id,
        )
    ]


def _request_answered(parsed: ParsedMessage, uow: SqlUnitOfWork) -> int | None:
    """The request a message belongs to, from the mail of ours it answers."""
    ids = [parsed.headers.in_reply_to] if parsed.headers.in_reply_to else []
    ids += list(reversed(parsed.headers.references))
    # Delivery and read reports name the mail they report on in their body.
    for report in (parsed.bounce, parsed.mdn):
        if report is not None and report.original_message_id:
            ids.insert(0, report.original_message_id)
    for mid in ids:
        sent = uow.outbox.by_message_id(mid)
        if sent is not None and sent.request_id is not None:
            return sent.request_id
    if parsed.reply is not None and parsed.reply.request:
        request = uow.requests.by_number(parsed.reply.request)
        if request is not None:
            return request.id
    return None


def _record_inbound(
    parsed: ParsedMessage,
    row: InboundMessage,
    request_id: int | None,
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    summary: str,
) -> None:
    h = parsed.headers
    uow.communications.record(
        request_id=request_id,
        at=now,
        direction="in",
        from_addr=h.from_addr or "",
        to_addrs=[a.email for a in (*h.to, *h.cc)][:50],
        subject=h.subject[:500],
        kind=parsed.kind,
        summary=summary,
        inbound_message_id=row.id,
    )


def _store_attachments(
    parsed: ParsedMessage, row: InboundMessage, *, uow: SqlUnitOfWork, blobs: BlobStore
) -> None:
    for att in parsed.attachments:
        # Content-addressed and idempotent: writing before the commit can at worst
        # leave an unreferenced blob, never a reference to a missing one.
        blobs.put(att.data)
        uow.attachments.add(
            Attachment(
                inbound_message_id=row.id,
                sha256=att.sha256,
                size=att.size,
                content_type=att.content_type,
                filename=att.filename,
            )
        )


def release_from_quarantine(inbound_id: int, *, uow: SqlUnitOfWork) -> InboundMail:
    """Put a quarantined message back to be processed again (``liaison quarantine retry``)."""
    row = uow.inbound.by_id(inbound_id)
    if row is None or row.state != "quarantined":
        raise NotFoundError(f"no quarantined message with id {inbound_id}")
    row.state = "received"
    row.attempts = 0
    row.reason = None
    row.processed_at = None
    return InboundMail(row.source, row.source_uidvalidity, row.source_uid, row.raw)
