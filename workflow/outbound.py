"""Perform ``SendMail`` actions: render, compose and write outbox rows in the caller's transaction.

Nothing is sent here. The outbox row carries the finished bytes and a Message-ID fixed
at the moment it is written, so a crash before or after delivery can never produce a
different message: at worst the same one, with the same Message-ID, is sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from store.models import OutboxMessage
from store.uow import SqlUnitOfWork
from templates.compose import ExtraPart, OutboundMail, compose, make_message_id
from templates.errors import InvalidAddressError
from templates.headers import normalize_address
from templates.render import render_mail
from workflow.actions import Recipient, SendMail
from workflow.config import WorkflowConfig
from workflow.people import request_signature
from workflow.signoff import new_reply_token, reply_address, token_hash, verp_address

log = logging.getLogger("liaison.outbound")


@dataclass(frozen=True)
class Queued:
    message_id: str
    recipients: tuple[str, ...]
    subject: str


def queue_mail(
    action: SendMail, *, uow: SqlUnitOfWork, now: datetime, config: WorkflowConfig
) -> list[Queued]:
    """Write one outbox row per mail the action stands for; return what was queued.

    A recipient whose address cannot be written into a header (a non-ASCII local part,
    a quoted local part, a broken domain) is left out and logged: a reply from such an
    address is still recorded and held, it just cannot be answered.
    """
    if action.template.startswith(CALENDAR_KINDS_PREFIX):
        return [_queue_calendar_copy(action, uow=uow, now=now, config=config)]
    deliverable = _deliverable(action.to)
    if not deliverable:
        return []
    if len(deliverable) != len(action.to) or len(_deliverable(action.cc)) != len(action.cc):
        action = replace(action, to=deliverable, cc=_deliverable(action.cc))
    if action.reply_context is not None:
        # One copy per recipient: the Message-ID identifies who was asked.
        batches: list[tuple[Recipient, ...]] = [(r,) for r in action.to]
    else:
        # One copy per language, so everybody reads their own.
        by_lang: dict[str, list[Recipient]] = {}
        for r in action.to:
            by_lang.setdefault(r.language, []).append(r)
        batches = [tuple(rs) for rs in by_lang.values()]
    return [_queue_one(action, batch, uow=uow, now=now, config=config) for batch in batches]


def _deliverable(recipients: tuple[Recipient, ...]) -> tuple[Recipient, ...]:
    kept = []
    for r in recipients:
        try:
            normalize_address(r.email)
        except InvalidAddressError as exc:
            log.warning("not sending to %r: %s", r.email, exc)
            continue
        kept.append(r)
    return tuple(kept)


#: Outbox rows of these kinds carry an iCalendar object for the team calendar, not a mail:
#: ``calendar/publish`` and ``calendar/cancel``; the daemon hands them to the backend.
CALENDAR_KINDS_PREFIX = "calendar/"


def _queue_calendar_copy(
    action: SendMail, *, uow: SqlUnitOfWork, now: datetime, config: WorkflowConfig
) -> Queued:
    [(_, _, ics)] = action.attachments
    uid = str(action.context["uid"])
    sequence = int(str(action.context["sequence"]))
    message_id = make_message_id(
        "ack",
        action.request_number or "none",
        None,
        f"cal{sequence}.{config.new_token()}",
        config.message_id_domain,
    )
    uow.outbox.add(
        OutboxMessage(
            message_id=message_id,
            created_at=now,
            kind=action.template,
            request_id=action.request_id,
            envelope_from="",
            recipients=[uid, str(sequence)],
            raw=ics,
            state="pending",
            attempts=0,
            next_attempt_at=now,
        )
    )
    return Queued(message_id=message_id, recipients=(), subject=uid)


def _queue_one(
    action: SendMail,
    to: tuple[Recipient, ...],
    *,
    uow: SqlUnitOfWork,
    now: datetime,
    config: WorkflowConfig,
) -> Queued:
    language = to[0].language
    rendered = render_mail(action.template, language, _signed(action, language, uow, config))
    unique = f"{now.astimezone(config.timezone):%Y%m%d%H%M%S}.{config.new_token()}"
    message_id = make_message_id(
        action.reply_context or "ack",
        action.request_number or "none",
        action.task,
        unique,
        config.message_id_domain,
    )
    mail = OutboundMail(
        kind=action.template,
        from_addr=config.mailbox_address,
        from_name=config.mailbox_name,
        to=tuple((r.name, r.email) for r in to),
        cc=tuple((r.name, r.email) for r in action.cc),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=message_id,
        in_reply_to=action.in_reply_to,
        references=action.references,
        auto_submitted="auto-replied" if action.answering else "auto-generated",
        reply_to=None,
        date=now,
        loop_id=config.loop_id,
        attachments=action.attachments,
        extra_parts=(
            (
                ExtraPart(
                    "text/calendar",
                    action.calendar_part[0],
                    (("charset", "UTF-8"), ("method", action.calendar_part[1])),
                ),
            )
            if action.calendar_part
            else ()
        ),
    )
    token_digest = None
    if action.reply_context is not None and config.subaddress and config.reply_token_secret:
        # The token travels only in this recipient's Reply-To; the store keeps its HMAC.
        token = new_reply_token()
        token_digest = token_hash(config.reply_token_secret, token)
        mail = replace(mail, reply_to=reply_address(config.mailbox_address, token))
    raw = compose(mail)
    recipients = tuple(r.email for r in to) + tuple(r.email for r in action.cc)
    outbox_id = uow.outbox.insert(
        message_id=message_id,
        created_at=now,
        kind=action.template,
        request_id=action.request_id,
        envelope_from=config.mailbox_address,
        recipients=list(recipients),
        raw=raw,
        state="pending",
        attempts=0,
        next_attempt_at=now,
        reply_context=action.reply_context,
        reply_recipient=to[0].email if action.reply_context is not None else None,
        task_ref=action.task,
        token_hash=token_digest,
    )
    if config.subaddress and config.reply_token_secret:
        # VERP: a bounce delivered to coord+bounce-<row>-<mac>@ names this mail even
        # when the report does not quote it.
        envelope = verp_address(config.mailbox_address, outbox_id, config.reply_token_secret)
        uow.outbox.set_envelope_from(outbox_id, envelope)
    uow.communications.record(
        request_id=action.request_id,
        at=now,
        direction="out",
        from_addr=config.mailbox_address,
        to_addrs=list(recipients),
        subject=rendered.subject,
        kind=action.template,
        summary=action.summary,
        outbox_id=outbox_id,
    )
    return Queued(message_id=message_id, recipients=recipients, subject=rendered.subject)


def _signed(
    action: SendMail, language: str, uow: SqlUnitOfWork, config: WorkflowConfig
) -> Mapping[str, object]:
    """The action's context with the mail's signature where the office does not sign: in
    a profile without an office step, mail about a request is signed for the department
    whose head evaluates it."""
    if (
        "signature" in action.context
        or action.request_id is None
        or config.profile.stages.evaluation_by_office
    ):
        return action.context
    request = uow.requests.get(action.request_id)
    signed = request_signature(
        request.requester_email, request.requesting_department, config, language
    )
    return action.context if signed is None else {**action.context, "signature": signed}
