"""Deciding the kind of a message: the classification order of the corpus README.

1. structural abuse (MIME depth, To+Cc flood)     → hostile
2. From is the coordination mailbox               → loop
3. delivery-status report / MAILER-DAEMON         → bounce
4. disposition-notification report                → read_receipt
5. Auto-Submitted, X-Autoreply, ... , OOF subject → auto_reply
6. List-Id, List-Unsubscribe, Precedence list     → list
7. iTIP REPLY/COUNTER part                        → calendar_reply
8. CR/LF in a decoded header, a path in an attachment name, or state-changing mail
   without a trusted DMARC pass                   → hostile
9. a reply to us (subject prefix or our Message-ID) → reply; else the subject tag.

The first rule that matches decides. Rule 8 needs to know what rule 9 would say (only
state-changing mail must be authenticated), so the content kind is worked out first.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mail_parsers.authresults import AuthVerdict, read_authentication
from mail_parsers.headers import HeaderReading, RawHeaders, plain_value
from mail_parsers.model import Attachment, Hostility, Kind, ParseOptions

#: Kinds that change workflow state and so need an authenticated sender.
STATE_CHANGING: frozenset[str] = frozenset(
    {"request", "invalid_request", "issue", "minutes", "review", "plan", "reply"}
)

_REPLY_PREFIX = re.compile(r"^\s*(?:re|答复|回复|回覆|aw|sv)\s*(?:\[\d+\])?\s*[:：]", re.I)
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:自动答复|自动回复|自動回覆|Automatic reply|Auto-Reply|AutoReply|Auto Reply|Auto"
    r"|Out of Office(?: AutoReply| Auto-Reply| Reply)?)\s*[:：]",
    re.I,
)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:未送达|无法送达|Undeliverable|Undelivered Mail|Delivery Status Notification"
    r"|Mail delivery failed|Returned mail|Delivery failure)",
    re.I,
)
_TAG = re.compile(r"[\[【]\s*([^\[\]【】]{1,24}?)\s*[\]】]")
_TAGS: dict[str, Kind] = {
    "需求": "request",
    "request": "request",
    "问题": "issue",
    "issue": "issue",
    "纪要": "minutes",
    "minutes": "minutes",
    "复盘": "review",
    "review": "review",
    "方案": "plan",
    "plan": "plan",
}
_LIST_PRECEDENCE = frozenset({"list", "bulk", "junk"})
_SYSTEM_SENDERS = frozenset({"mailer-daemon", "postmaster"})


@dataclass(frozen=True, slots=True)
class Classification:
    #: The decided kind. ``request`` stands for the request family: the caller makes it
    #: ``invalid_request`` when the fields have errors (or there is no tag at all).
    kind: Kind
    #: What the message is, hostility aside (equal to ``kind`` unless hostile by rule 8).
    content_kind: Kind
    hostile: Hostility | None
    authenticated: bool
    #: The subject carried no tag of ours and the message is no reply.
    untagged: bool = False


def subject_tag(subject: str) -> Kind | None:
    """The kind named by the first tag of ours in the subject (``[需求]``, ``【问题】``, ...)."""
    folded = unicodedata.normalize("NFKC", subject)
    for match in _TAG.finditer(folded):
        kind = _TAGS.get(match.group(1).strip().casefold())
        if kind is not None:
            return kind
    return None


def is_ours(message_id: str, domain: str) -> bool:
    return message_id.lower().rstrip(">").endswith("@" + domain.lower())


def is_reply(reading: HeaderReading, options: ParseOptions) -> bool:
    headers = reading.headers
    if _REPLY_PREFIX.match(unicodedata.normalize("NFKC", headers.subject)):
        return True
    ids = ((headers.in_reply_to,) if headers.in_reply_to else ()) + headers.references
    return any(is_ours(i, options.message_id_domain) for i in ids)


def _report_type(root_type: str, root_params: Mapping[str, str]) -> str | None:
    if root_type != "multipart/report":
        return None
    return root_params.get("report-type", "").strip().lower()


def _is_loop(reading: HeaderReading, headers: RawHeaders, options: ParseOptions) -> bool:
    mailbox = options.mailbox_address.lower()
    if reading.headers.from_addr == mailbox:
        return True
    # X-Loop (common convention) and X-Liaison-Loop (our own loop header, whose value
    # ends in the mailbox address) both mark mail that went through this mailbox.
    for name in ("x-loop", "x-liaison-loop"):
        loop = plain_value(headers, name)
        if loop is not None and mailbox in loop.lower():
            return True
    return False


def _is_bounce(reading: HeaderReading, headers: RawHeaders, report_type: str | None) -> bool:
    if report_type == "delivery-status":
        return True
    sender = reading.headers.from_addr or ""
    if sender.split("@", 1)[0] in _SYSTEM_SENDERS:
        return True
    return_path = plain_value(headers, "return-path")
    null_sender = return_path is not None and return_path.replace(" ", "") in ("<>", "")
    return null_sender and _BOUNCE_SUBJECT.match(reading.headers.subject) is not None


def _is_auto_reply(reading: HeaderReading, headers: RawHeaders) -> bool:
    auto = plain_value(headers, "auto-submitted")
    if auto is not None and auto.split(";", 1)[0].strip().lower() not in ("no", ""):
        return True
    if "x-autoreply" in headers or "x-autorespond" in headers:
        return True
    precedence = (plain_value(headers, "precedence") or "").lower()
    if precedence == "auto_reply":
        return True
    subject = unicodedata.normalize("NFKC", reading.headers.subject)
    return _AUTO_SUBJECT.match(subject) is not None


def _is_list(headers: RawHeaders) -> bool:
    if "list-id" in headers or "list-unsubscribe" in headers:
        return True
    return (plain_value(headers, "precedence") or "").lower() in _LIST_PRECEDENCE


def _unsafe_attachment(attachments: Sequence[Attachment]) -> str | None:
    for attachment in attachments:
        name = attachment.filename or ""
        if "/" in name or "\\" in name or ".." in name:
            return name
    return None


def _hostile_content(
    reading: HeaderReading,
    attachments: Sequence[Attachment],
    verdict: AuthVerdict,
    content_kind: Kind,
    options: ParseOptions,
) -> Hostility | None:
    if reading.injected:
        return Hostility(
            "header_injection", f"CR/LF in the decoded {reading.injected_where} header"
        )
    unsafe = _unsafe_attachment(attachments)
    if unsafe is not None:
        return Hostility("path_traversal", f"attachment name {unsafe!r} contains a path")
    if options.trusted_authserv_id and content_kind in STATE_CHANGING and not verdict.passed:
        if verdict.trusted_found:
            return Hostility(
                "spoofed_sender",
                f"Authentication-Results from {options.trusted_authserv_id} says "
                f"dmarc={verdict.dmarc or 'none'}",
            )
        if verdict.others:
            return Hostility(
                "untrusted_authentication_results",
                f"no Authentication-Results from {options.trusted_authserv_id}; "
                f"ignored: {', '.join(verdict.others)}",
            )
        return Hostility(
            "spoofed_sender", f"no Authentication-Results from {options.trusted_authserv_id}"
        )
    return None


def classify(
    headers: RawHeaders,
    reading: HeaderReading,
    *,
    depth: int,
    too_deep: bool,
    root_type: str,
    root_params: Mapping[str, str],
    is_calendar_reply: bool,
    attachments: Sequence[Attachment],
    options: ParseOptions,
) -> Classification:
    """Apply rules 1–9 in order."""
    sender = reading.headers.from_addr
    from_domain = sender.rsplit("@", 1)[1] if sender and "@" in sender else None
    verdict = read_authentication(
        headers.get("authentication-results", []), options.trusted_authserv_id, from_domain
    )
    authenticated = verdict.passed or not options.trusted_authserv_id

    def decided(kind: Kind) -> Classification:
        return Classification(kind, kind, None, authenticated)

    # 1. Structural abuse.
    if too_deep:
        hostile = Hostility(
            "deep_nesting", f"MIME nesting of {depth} levels exceeds {options.max_mime_depth}"
        )
        return Classification("hostile", "hostile", hostile, authenticated)
    if reading.recipients > options.max_recipients:
        hostile = Hostility(
            "recipient_flood",
            f"{reading.recipients} recipients in To+Cc exceed {options.max_recipients}",
        )
        return Classification("hostile", "hostile", hostile, authenticated)
    # 2-7. Noise and calendar replies.
    if _is_loop(reading, headers, options):
        return decided("loop")
    report_type = _report_type(root_type, root_params)
    if _is_bounce(reading, headers, report_type):
        return decided("bounce")
    if report_type == "disposition-notification":
        return decided("read_receipt")
    if _is_auto_reply(reading, headers):
        return decided("auto_reply")
    if _is_list(headers):
        return decided("list")
    if is_calendar_reply:
        return decided("calendar_reply")
    # 9 (needed by 8): what the message is.
    untagged = False
    content_kind: Kind
    if is_reply(reading, options):
        content_kind = "reply"
    else:
        tag = subject_tag(reading.headers.subject)
        if tag is None:
            content_kind, untagged = "request", True
        else:
            content_kind = tag
    # 8. Content-level hostility.
    content_hostile = _hostile_content(reading, attachments, verdict, content_kind, options)
    if content_hostile is not None:
        return Classification("hostile", content_kind, content_hostile, authenticated, untagged)
    return Classification(content_kind, content_kind, None, authenticated, untagged)
