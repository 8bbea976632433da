"""Errors raised by the parsers.

``parse_message`` reads any byte string into a :class:`~mail_parsers.model.ParsedMessage`;
structural abuse (deep nesting, recipient floods) is reported as a ``hostile`` kind rather
than raised. These exceptions exist for callers that use the lower-level helpers directly.
"""

from __future__ import annotations


class MailParseError(Exception):
    """Base class of every error raised by ``mail_parsers``. Always permanent: retrying the
    same bytes gives the same result, so the message belongs in quarantine."""


class MessageTooComplexError(MailParseError):
    """The message exceeds a structural limit (MIME depth, part count) and was not read."""

    def __init__(self, reason: str, *, depth: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.depth = depth
