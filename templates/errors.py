"""Errors raised while rendering and composing outbound mail.

All of them are permanent: rendering or composing the same input again fails the same
way, so the caller records the failure and tells someone instead of retrying.
"""

from __future__ import annotations


class TemplatesError(Exception):
    """Base class of the errors of the ``templates`` package."""


class RenderError(TemplatesError):
    """A mail could not be rendered from its templates."""


class UnknownTemplateError(RenderError):
    """No such mail, or one of its three files is missing for the language asked."""


class MissingContextError(RenderError):
    """The context lacks values the templates use (``StrictUndefined`` semantics).

    ``missing`` names every absent top-level key found before rendering, or the one
    undefined value Jinja2 met while rendering (a missing attribute of an item, say).
    """

    def __init__(self, name: str, missing: tuple[str, ...], detail: str = "") -> None:
        self.name = name
        self.missing = missing
        if missing:
            text = f"mail {name!r}: missing context value(s): {', '.join(missing)}"
        else:
            text = f"mail {name!r}: undefined value while rendering"
        super().__init__(f"{text} ({detail})" if detail else text)


class UnformattedValueError(RenderError):
    """A value reached a template unformatted (``None``, a number, a date): the caller
    formats every value as a string in the recipient's language before rendering."""


class ComposeError(TemplatesError):
    """A mail could not be turned into bytes."""


class InvalidAddressError(ComposeError):
    """An email address that cannot be written into a header safely."""


class InvalidHeaderError(ComposeError):
    """A header value we generate ourselves (Message-ID, loop id, date) is malformed."""
