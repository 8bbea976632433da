"""What an outbound transport raises when a message was not delivered to everybody.

::

    SendError
    ├── TransientSendError      try again later: 4xx, connection refused or reset, timeout
    │   └── TransportSetupError the transport is misconfigured (authentication refused,
    │                           STARTTLS not offered, certificate rejected, Maildir not
    │                           writable): retrying is right, but an operator must act
    └── PermanentSendError      5xx: sending the same message again cannot succeed

A send may succeed for some recipients and fail for others (the server refuses some
``RCPT TO`` and accepts the rest). Then the message *was* delivered to ``accepted``, and
the error lists the others in ``refused`` with the server's code and text (a failure
that is not about one recipient, such as a refused sender or connection, leaves
``refused`` empty for a transient error and lists everybody for a permanent one). The error is
permanent when every refusal is a 5xx, transient when any is a 4xx; either way the
caller marks ``accepted`` as delivered, gives up on ``permanently_refused`` and retries
``retry_recipients`` only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class SendError(Exception):
    """A message was not delivered to every recipient."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        recipients: Sequence[str] = (),
        accepted: Sequence[str] = (),
        refused: Mapping[str, tuple[int, str]] | None = None,
    ) -> None:
        super().__init__(message)
        #: The SMTP reply code behind the error, when there is one.
        self.code = code
        #: Every envelope recipient of the attempt.
        self.recipients: list[str] = list(recipients)
        #: Recipients the server accepted: they have the message.
        self.accepted: list[str] = list(accepted)
        #: Recipients refused one by one, with ``(code, server text)``.
        self.refused: dict[str, tuple[int, str]] = dict(refused or {})

    @property
    def permanently_refused(self) -> dict[str, tuple[int, str]]:
        return {r: reply for r, reply in self.refused.items() if reply[0] >= 500}

    @property
    def temporarily_refused(self) -> dict[str, tuple[int, str]]:
        return {r: reply for r, reply in self.refused.items() if reply[0] < 500}


class TransientSendError(SendError):
    """Try again later. Recipients in ``accepted`` already have the message."""

    @property
    def retry_recipients(self) -> list[str]:
        """The recipients to send to on the next attempt."""
        done = set(self.accepted) | set(self.permanently_refused)
        return [r for r in self.recipients if r not in done]


class TransportSetupError(TransientSendError):
    """The transport cannot work as configured; an operator must fix it."""


class PermanentSendError(SendError):
    """The message can never be delivered to the ``refused`` recipients. When the
    server refused the sender or the content, every recipient is in ``refused`` with
    that reply."""
