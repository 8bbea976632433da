"""Errors raised by the workflow rules.

``PermanentError`` means retrying the same input cannot help (the message is
quarantined at once); anything else raised while processing is treated as
transient and retried up to the attempt limit.
"""

from __future__ import annotations


class WorkflowError(Exception):
    """Base class of the workflow's own errors."""


class PermanentError(WorkflowError):
    """Processing this input again would fail the same way."""


class NotFoundError(WorkflowError):
    """A request, issue or message named by the operator does not exist."""


class RejectedInputError(PermanentError):
    """An inbound message refused before or while it was parsed: too large, too deep,
    too many parts, too slow to parse, or it crashed the parser. ``reason`` says which
    (and names the limit); intake quarantines the message with it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
