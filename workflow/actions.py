"""What the rules decide to do, as plain values; ``workflow.outbound`` performs them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str | None = None
    language: Literal["zh", "en"] = "zh"


@dataclass(frozen=True)
class SendMail:
    """One outbound mail, rendered from a template for each recipient's language.

    When ``reply_context`` is set the mail asks for an answer: every recipient gets
    a copy of their own with a per-recipient Message-ID, so the answer can be tied
    to the person it was sent to.
    """

    template: str  # e.g. "requester/acknowledged"
    to: tuple[Recipient, ...]
    context: Mapping[str, object]
    request_number: str | None = None
    request_id: int | None = None
    reply_context: str | None = None  # evaluation|minutes|task|deliverable|approval|meeting|notice
    task: str | None = None
    cc: tuple[Recipient, ...] = ()
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    answering: bool = False  # Auto-Submitted: auto-replied instead of auto-generated
    #: What the communication record says about this mail (e.g. the bounced Message-ID).
    summary: str | None = None
    #: An iTIP object shown inline as ``text/calendar; method=...`` (with the same bytes
    #: attached as invite.ics in ``attachments``): ``(ics bytes, METHOD)``.
    calendar_part: tuple[bytes, str] | None = field(default=None, repr=False)

    def in_answer_to(self, message_id: str | None) -> SendMail:
        """This mail as an automatic answer to ``message_id``: threaded under it and
        marked ``Auto-Submitted: auto-replied``."""
        return replace(
            self,
            in_reply_to=message_id,
            references=(message_id,) if message_id else (),
            answering=True,
        )

    attachments: tuple[tuple[str, str, bytes], ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class Applied:
    """What a stage rule did with a sign-off: ``applied`` (state changed) or
    ``not_applicable`` (nothing changed; the mails say why)."""

    result: str
    mails: tuple[SendMail, ...]
    detail: str = ""
