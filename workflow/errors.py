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
