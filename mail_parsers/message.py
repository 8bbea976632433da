"""``parse_message``: raw bytes in, :class:`~mail_parsers.model.ParsedMessage` out.

One parse, one walk over the parts, header values read raw. The main parse uses the
compat32 policy, several times faster than ``policy.default`` (whose header objects are
rebuilt on every access); the readers that need an ``EmailMessage`` get a
``policy.default`` parse of their own, made only when they run. The function is total:
garbage, truncated or hostile input gives a ParsedMessage (possibly of kind ``hostile``),
never an exception.
"""

from __future__ import annotations

import email
import email.parser
import logging
import re
from email import policy
from email.message import EmailMessage, Message
from typing import Literal

from mail_parsers.attachments import collect_attachments
from mail_parsers.classify import Classification, classify
from mail_parsers.dates import local_date
from mail_parsers.fields import read_issue_fields, read_request_fields
from mail_parsers.headers import HeaderReading, RawHeaders, plain_value, raw_headers, read_headers
from mail_parsers.mime import Structure, part_bytes, prescan_depth, walk
from mail_parsers.minutes import read_minutes_fields
from mail_parsers.model import (
    Attachment,
    Bounce,
    CalendarReply,
    FieldError,
    Fields,
    Kind,
    Mdn,
    ParsedMessage,
    ParseOptions,
    ReplyReading,
)
from mail_parsers.text import Body, read_body

_log = logging.getLogger(__name__)

_POLICY = policy.default
_FAST = policy.compat32
_DEFAULT_OPTIONS = ParseOptions()
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_ITIP_METHOD = re.compile(rb"^METHOD\s*:\s*(REPLY|COUNTER)\s*$", re.I | re.M)
_LIST_ID = re.compile(r"<([^<>]+)>")
_NO_REPLY = ReplyReading(
    action="none", value=None, context=None, request=None, task=None, in_reply_to=None
)


def _headers_only(raw: bytes) -> Message:
    try:
        return email.parser.BytesParser(policy=_FAST).parsebytes(raw, headersonly=True)
    except Exception:  # noqa: BLE001 - nothing readable at all: an empty message
        _log.warning("even the header block could not be read", exc_info=True)
        return Message()


def _full_parse(raw: bytes) -> tuple[Message, bool]:
    """The parsed message, and whether the body could be parsed at all."""
    try:
        return email.message_from_bytes(raw, policy=_FAST), True
    except RecursionError:
        return _headers_only(raw), False
    except Exception:  # noqa: BLE001 - the email package has had crashes on odd input
        _log.warning("email parser failed; reading headers only", exc_info=True)
        return _headers_only(raw), True


def parse_message(raw: bytes, options: ParseOptions = _DEFAULT_OPTIONS) -> ParsedMessage:
    """Read one raw RFC 5322 message (see the corpus README for the rules)."""
    raw = bytes(raw)
    estimated = prescan_depth(raw, options.max_mime_depth)
    if estimated > options.max_mime_depth:
        msg = _headers_only(raw)
        return _structural(msg, options, depth=estimated)
    msg, body_parsed = _full_parse(raw)
    if not body_parsed:  # nesting deep enough to exhaust the recursion limit
        return _structural(msg, options, depth=options.max_mime_depth + 1)

    headers = raw_headers(msg)
    reading = read_headers(headers, max_recipients=options.max_recipients)
    structure = walk(msg, options.max_mime_depth)
    if structure.too_deep or reading.recipients > options.max_recipients:
        return _hostile_structure(headers, reading, structure, options)

    attachments = collect_attachments(structure.parts)
    reparsed = _Reparsed(raw)
    calendar: CalendarReply | None = None
    is_calendar = False
    if structure.has_calendar:
        calendar = _read_calendar(reparsed, options)
        is_calendar = calendar is not None or _has_itip_reply(structure)
    decision = classify(
        headers,
        reading,
        depth=structure.depth,
        too_deep=False,
        root_type=structure.root_type,
        root_params=dict(structure.root_params),
        is_calendar_reply=is_calendar,
        attachments=attachments,
        options=options,
    )
    body = read_body(structure.parts, want_html=decision.content_kind == "reply")
    return _assemble(reparsed, headers, reading, decision, body, attachments, calendar, options)


def _structural(msg: Message, options: ParseOptions, *, depth: int) -> ParsedMessage:
    headers = raw_headers(msg)
    reading = read_headers(headers, max_recipients=options.max_recipients)
    structure = Structure((), depth, True, False)
    return _hostile_structure(headers, reading, structure, options)


def _hostile_structure(
    headers: RawHeaders, reading: HeaderReading, structure: Structure, options: ParseOptions
) -> ParsedMessage:
    """Rule 1: nothing beyond the headers is read."""
    decision = classify(
        headers,
        reading,
        depth=structure.depth,
        too_deep=structure.too_deep,
        root_type=structure.root_type,
        root_params=dict(structure.root_params),
        is_calendar_reply=False,
        attachments=(),
        options=options,
    )
    return ParsedMessage(
        kind=decision.kind,
        headers=reading.headers,
        fields=None,
        errors=(),
        reply=None,
        calendar=None,
        attachments=(),
        hostile=decision.hostile,
        authenticated=decision.authenticated,
        language=_language(reading.headers.subject),
    )


def _assemble(
    msg: _Reparsed,
    headers: RawHeaders,
    reading: HeaderReading,
    decision: Classification,
    body: Body,
    attachments: tuple[Attachment, ...],
    calendar: CalendarReply | None,
    options: ParseOptions,
) -> ParsedMessage:
    kind: Kind = decision.kind
    content = decision.content_kind
    fields: Fields | None = None
    errors: tuple[FieldError, ...] = ()
    reply: ReplyReading | None = None
    bounce: Bounce | None = None
    mdn: Mdn | None = None
    list_id: str | None = None
    today = local_date(reading.headers.date, options.timezone)

    if content == "reply":
        reply = _read_reply(body, reading, options)
    elif content == "request":
        fields, errors = read_request_fields(body.text, today)
        if decision.untagged:
            errors = (FieldError("subject", "unknown", reading.headers.subject), *errors)
        if errors and kind == "request":
            kind = "invalid_request"
    elif content == "issue":
        fields, errors = read_issue_fields(body.text, options.request_number)
    elif content == "minutes":
        fields, errors = read_minutes_fields(
            body.text, reading.headers.subject, today, options.request_number
        )
    elif content == "bounce":
        bounce = _read_bounce(msg)
    elif content == "read_receipt":
        mdn = _read_mdn(msg)
    elif content == "list":
        list_id = _list_id(headers)

    language_source = (reply.new_text if reply is not None else "") or body.text
    return ParsedMessage(
        kind=kind,
        headers=reading.headers,
        fields=fields,
        errors=errors,
        reply=reply,
        calendar=calendar if content == "calendar_reply" else None,
        attachments=attachments,
        bounce=bounce,
        mdn=mdn,
        list_id=list_id,
        hostile=decision.hostile,
        authenticated=decision.authenticated,
        language=_language(language_source or reading.headers.subject),
        text=body.text,
    )


def _language(text: str) -> Literal["zh", "en"]:
    return "zh" if _CJK.search(text) is not None else "en"


def _list_id(headers: RawHeaders) -> str | None:
    value = plain_value(headers, "list-id")
    if value is None:
        return None
    match = _LIST_ID.search(value)
    return (match.group(1) if match is not None else value).strip() or None


def _has_itip_reply(structure: Structure) -> bool:
    for part in structure.parts:
        if part.content_type not in ("text/calendar", "application/ics"):
            continue
        if part.params.get("method", "").strip().upper() in ("REPLY", "COUNTER"):
            return True
        if _ITIP_METHOD.search(part_bytes(part.part)) is not None:
            return True
    return False


# --- the readers written alongside this module ------------------------------------------
# They are imported when first needed and guarded: a failure inside one of them is logged
# and degrades that one reading, it never makes parse_message raise.


def _read_reply(body: Body, reading: HeaderReading, options: ParseOptions) -> ReplyReading:
    headers = reading.headers
    try:
        from mail_parsers.replies import read_reply

        return read_reply(
            body.plain,
            body.html,
            in_reply_to=headers.in_reply_to,
            references=headers.references,
            subject=headers.subject,
            options=options,
        )
    except Exception:  # noqa: BLE001
        _log.exception("reading the reply failed")
        return _NO_REPLY


def _read_calendar(msg: _Reparsed, options: ParseOptions) -> CalendarReply | None:
    try:
        from mail_parsers.calendar_reply import read_calendar_reply

        return read_calendar_reply(msg.get(), options)
    except Exception:  # noqa: BLE001
        _log.exception("reading the calendar reply failed")
        return None


def _read_bounce(msg: _Reparsed) -> Bounce | None:
    try:
        from mail_parsers.reports import read_bounce

        return read_bounce(msg.get())
    except Exception:  # noqa: BLE001
        _log.exception("reading the delivery report failed")
        return None


def _read_mdn(msg: _Reparsed) -> Mdn | None:
    try:
        from mail_parsers.reports import read_mdn

        return read_mdn(msg.get())
    except Exception:  # noqa: BLE001
        _log.exception("reading the read receipt failed")
        return None


class _Reparsed:
    """The message parsed again with ``policy.default``, for the readers that take an
    :class:`EmailMessage`. Done at most once, and only for the rare kinds that need it
    (calendar replies, reports): the main parse uses the much faster compat32 policy."""

    def __init__(self, raw: bytes) -> None:
        self._raw = raw
        self._msg: EmailMessage | None = None

    def get(self) -> EmailMessage:
        if self._msg is None:
            parsed = email.message_from_bytes(self._raw, policy=_POLICY)
            assert isinstance(parsed, EmailMessage)
            self._msg = parsed
        return self._msg
