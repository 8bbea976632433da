"""Who may sign off: the rules of mail.md "Who may sign off", as one decision.

A reply changes state only when it answers a specific mail we sent to a specific person
(through that person's reply token, or the per-recipient Message-ID in
``In-Reply-To``/``References``), comes from exactly that person or a delegate, is
authenticated where a trusted ``authserv-id`` is configured, is not automatic, and has
not been used before. Anything else is held for the coordination office with a
machine-readable reason. ``judge`` only decides; ``workflow.replies`` acts on it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

from mail_parsers.model import ParsedMessage
from store.models import OutboxMessage
from store.uow import SqlUnitOfWork
from workflow.config import WorkflowConfig

HoldReason = Literal[
    "subject_only",  # no mail of ours is named: only the subject tag points somewhere
    "unknown_reference",  # names one of our ids / tokens that we never sent
    "no_from",
    "multiple_from",
    "wrong_sender",  # From is not the person the answered mail went to, nor a delegate
    "unauthenticated",  # the trusted Authentication-Results does not say DMARC passed
    "sender_domain",  # From's domain is not among the allowed sender domains
    "automatic",
    "replayed",  # the answered mail was already signed off
    "request_closed",
]

#: Actions that change the state of the workflow (single use per asking mail).
SIGNOFF_ACTIONS = frozenset(
    {
        "confirm",
        "object",
        "ack",
        "reschedule",
        "done",
        "accept",
        "return",
        "evaluate_accept",
        "reject",
        "approve",
        "approve_date",
        "reject_date",
        "reschedule_meeting",
        "resolve",
    }
)
#: Actions that report without deciding anything (may be repeated).
REPORT_ACTIONS = frozenset({"progress", "risk"})

CLOSED_STATES = frozenset({"archived", "withdrawn"})

_REASON_TEXT = {
    "zh": {
        "subject_only": "回复未对应到协调邮箱发出的某一封邮件（仅凭主题无法签认）",
        "unknown_reference": "回复所对应的邮件在协调邮箱中不存在",
        "no_from": "邮件没有可识别的发件人",
        "multiple_from": "发件人不止一个",
        "wrong_sender": "发件人不是该邮件的收件人，也不是其授权代理人",
        "unauthenticated": "邮件未通过发件域身份验证（DMARC）",
        "sender_domain": "发件人所在域不在允许范围内",
        "automatic": "邮件是自动发送的",
        "replayed": "该邮件已经签认过，重复的回复不再生效",
        "request_closed": "该需求已关闭",
    },
    "en": {
        "subject_only": (
            "the reply does not answer a specific mail from the coordination mailbox "
            "(a subject alone cannot sign off)"
        ),
        "unknown_reference": "the mail it answers was never sent by the coordination mailbox",
        "no_from": "the mail has no readable sender",
        "multiple_from": "the mail names more than one sender",
        "wrong_sender": "the sender is neither the person the mail was sent to nor their delegate",
        "unauthenticated": "the mail did not pass sender domain authentication (DMARC)",
        "sender_domain": "the sender's domain is not allowed",
        "automatic": "the mail was sent automatically",
        "replayed": (
            "the mail it answers has been signed off already; a repeated answer changes nothing"
        ),
        "request_closed": "the request is closed",
    },
}


def reason_text(reason: str, language: str) -> str:
    texts = _REASON_TEXT["en" if language == "en" else "zh"]
    return texts.get(reason, reason)


@dataclass(frozen=True)
class Accepted:
    outbox: OutboxMessage
    signer: str
    on_behalf_of: str


@dataclass(frozen=True)
class Held:
    reason: HoldReason
    detail: str
    outbox: OutboxMessage | None


Verdict = Accepted | Held


# --- reply tokens -------------------------------------------------------------------------


def new_reply_token() -> str:
    """A random token for one recipient's reply address (lower-case, safe in a local part)."""
    return secrets.token_hex(10)


def token_hash(secret: str, token: str) -> str:
    """What the store keeps of a token: never the token itself."""
    return hmac.new(
        secret.encode("utf-8"), token.lower().encode("ascii", "replace"), hashlib.sha256
    ).hexdigest()


def reply_address(mailbox: str, token: str) -> str:
    local, _, domain = mailbox.partition("@")
    return f"{local}+{token}@{domain}"


_VERP_PREFIX = "bounce-"


def verp_address(mailbox: str, outbox_id: int, secret: str) -> str:
    """The envelope sender of one outbound mail: ``coord+bounce-<id>-<mac>@domain``."""
    local, _, domain = mailbox.partition("@")
    return f"{local}+{_VERP_PREFIX}{outbox_id}-{_verp_mac(secret, outbox_id)}@{domain}"


def verp_outbox_id(parsed: ParsedMessage, mailbox: str, secret: str) -> int | None:
    """The outbox row a bounce was returned for, from its VERP address (MAC checked)."""
    for token in tokens_in(parsed, mailbox):
        if not token.startswith(_VERP_PREFIX):
            continue
        ident, _, mac = token[len(_VERP_PREFIX) :].partition("-")
        if ident.isdigit() and hmac.compare_digest(mac, _verp_mac(secret, int(ident))):
            return int(ident)
    return None


def _verp_mac(secret: str, outbox_id: int) -> str:
    return hmac.new(
        secret.encode("utf-8"), f"verp:{outbox_id}".encode(), hashlib.sha256
    ).hexdigest()[:10]


def tokens_in(parsed: ParsedMessage, mailbox: str) -> list[str]:
    """Sub-address tokens in the addresses a message was delivered to (``coord+TOKEN@``)."""
    local, _, domain = mailbox.lower().partition("@")
    prefix = local + "+"
    found: list[str] = []
    h = parsed.headers
    for addr in [a.email for a in (*h.to, *h.cc)] + list(h.delivered_to):
        a_local, _, a_domain = addr.lower().partition("@")
        if a_domain == domain and a_local.startswith(prefix):
            token = a_local[len(prefix) :]
            if token and token not in found:
                found.append(token)
    return found


# --- the decision -------------------------------------------------------------------------


def find_answered(
    parsed: ParsedMessage, *, uow: SqlUnitOfWork, config: WorkflowConfig
) -> tuple[OutboxMessage | None, bool]:
    """The asking mail of ours this message answers, and whether it named one of ours at all.

    Tokens first (they survive clients that drop threading headers), then the
    per-recipient Message-ID: In-Reply-To, then References from the nearest.
    """
    named = False
    if config.subaddress and config.reply_token_secret:
        for token in tokens_in(parsed, config.mailbox_address):
            named = True
            row = uow.outbox.by_token_hash(token_hash(config.reply_token_secret, token))
            if row is not None and row.reply_context is not None:
                return row, True
    h = parsed.headers
    ids = ([h.in_reply_to] if h.in_reply_to else []) + list(reversed(h.references))
    suffix = "@" + config.message_id_domain.lower() + ">"
    for mid in ids:
        if not mid.lower().endswith(suffix):
            continue
        named = True
        row = uow.outbox.by_message_id(mid)
        if row is not None and row.reply_context is not None:
            return row, True
    return None, named


def judge(
    parsed: ParsedMessage,
    *,
    uow: SqlUnitOfWork,
    config: WorkflowConfig,
) -> Verdict:
    """Decide whether ``parsed`` may change state as a sign-off."""
    h = parsed.headers
    answered, named = find_answered(parsed, uow=uow, config=config)
    if answered is None:
        if named:
            return Held(
                "unknown_reference", "names a mail or token of ours that does not exist", None
            )
        return Held("subject_only", f"subject: {h.subject[:200]}", None)
    if h.from_count == 0 or not h.from_addr:
        return Held("no_from", "no From address", answered)
    if h.from_count > 1:
        return Held("multiple_from", f"{h.from_count} From addresses", answered)
    sender = h.from_addr.lower()
    principal = (answered.reply_recipient or "").lower()
    if sender != principal and not config.directory.may_sign_for(principal, sender):
        return Held("wrong_sender", f"{sender} answered a mail sent to {principal}", answered)
    if config.parse_options.trusted_authserv_id and not parsed.authenticated:
        return Held(
            "unauthenticated",
            f"no dmarc=pass from {config.parse_options.trusted_authserv_id}",
            answered,
        )
    if (
        config.allowed_sender_domains
        and sender.rpartition("@")[2] not in config.allowed_sender_domains
    ):
        return Held("sender_domain", f"{sender.rpartition('@')[2]} is not allowed", answered)
    if parsed.kind != "reply":
        return Held("automatic", f"classified as {parsed.kind}", answered)
    if answered.request_id is not None:
        request = uow.requests.by_id(answered.request_id)
        if request is not None and request.state in CLOSED_STATES:
            return Held("request_closed", f"{request.number} is {request.state}", answered)
    return Accepted(answered, sender, principal)
