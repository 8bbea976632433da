"""Render one outbound mail (subject, plain text, HTML) from its three template files.

Every mail is three files named by audience and event, one set per language::

    templates/<audience>/<event>.<lang>.subject.j2
    templates/<audience>/<event>.<lang>.txt.j2
    templates/<audience>/<event>.<lang>.html.j2

Chinese (``zh``) and English (``en``) both exist for every mail; there is no fallback.
Templates only substitute, branch on booleans and loop over prepared lists. Every value
arrives already formatted as a string in the recipient's language (dates, urgency,
department lists); a value that is not a string is refused rather than printed as
``None`` or ``2026-03-31 00:00:00+00:00``. An empty string means "not given".

The variables each template set needs are its undeclared Jinja2 variables
(:func:`required_context`); each template's first comment says what they hold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import jinja2
from jinja2 import meta

from templates.errors import MissingContextError, UnformattedValueError, UnknownTemplateError

TEMPLATE_DIR = Path(__file__).resolve().parent
LANGUAGES: tuple[str, ...] = ("zh", "en")
Part = Literal["subject", "txt", "html"]
PARTS: tuple[Part, ...] = ("subject", "txt", "html")

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*/[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class RenderedMail:
    subject: str  # one line, whitespace collapsed; still sender text: compose sanitizes it
    text: str
    html: str


def _refuse_unformatted(value: object) -> object:
    """Jinja2 ``finalize`` hook: what a template prints must already be a string."""
    if isinstance(value, str | jinja2.Undefined):  # str includes markupsafe.Markup
        return value  # an Undefined raises UndefinedError as it is printed
    raise UnformattedValueError(
        f"template printed {type(value).__name__} {value!r}; format it as a string first"
    )


_LOADER = jinja2.FileSystemLoader(TEMPLATE_DIR)


def _build_environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=_LOADER,
        undefined=jinja2.StrictUndefined,
        # Escape in HTML templates only; the subject and plain text are not markup.
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.j2",), default_for_string=False, default=False
        ),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_refuse_unformatted,
        auto_reload=False,
    )


#: The one Jinja2 environment of the service.
ENVIRONMENT = _build_environment()


def template_file(name: str, language: str, part: Part) -> str:
    """The loader path of one part of a mail, e.g. ``requester/acknowledged.zh.txt.j2``."""
    if not _NAME_RE.match(name):
        raise UnknownTemplateError(f"not a mail name: {name!r} (expected audience/event)")
    if language not in LANGUAGES:
        raise UnknownTemplateError(f"mail {name!r}: no language {language!r}")
    return f"{name}.{language}.{part}.j2"


def available_mails() -> tuple[str, ...]:
    """Every mail name with at least one template file, sorted."""
    names = {
        f"{path.parent.name}/{path.name.split('.', 1)[0]}"
        for path in TEMPLATE_DIR.glob("*/*.j2")
        if path.parent.name != "layout"
    }
    return tuple(sorted(names))


@cache
def required_context(name: str, language: str) -> frozenset[str]:
    """The context keys the three templates of ``name`` in ``language`` read."""
    found: set[str] = set()
    pending = [template_file(name, language, part) for part in PARTS]
    seen: set[str] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        try:
            source, _, _ = _LOADER.get_source(ENVIRONMENT, path)
        except jinja2.TemplateNotFound as exc:
            raise UnknownTemplateError(f"mail {name!r}: template {path} not found") from exc
        tree = ENVIRONMENT.parse(source, name=path)
        found |= meta.find_undeclared_variables(tree)
        pending.extend(ref for ref in meta.find_referenced_templates(tree) if ref is not None)
    return frozenset(found)


@cache
def _templates(name: str, language: str) -> tuple[jinja2.Template, ...]:
    """The three templates of mail ``name`` in ``language`` (never reloaded)."""
    return tuple(ENVIRONMENT.get_template(template_file(name, language, part)) for part in PARTS)


def _render(template: jinja2.Template, values: dict[str, object]) -> str:
    """``template.render(values)`` without its two copies of ``values``: the three parts
    of a mail share one dictionary, which already holds the environment's globals."""
    context = template.new_context(values, shared=True)
    try:
        return ENVIRONMENT.concat(template.root_render_func(context))
    except Exception:  # noqa: BLE001 - re-raised with the template's lines, as render does
        ENVIRONMENT.handle_exception()
        raise


#: Context every mail may leave out: ``signature``, who signs it (the coordination
#: office; a profile without an office step signs for the department).
DEFAULT_CONTEXT: dict[str, dict[str, str]] = {
    "zh": {"signature": "协调办公室"},
    "en": {"signature": "Coordination office"},
}


def render_mail(name: str, language: str, context: Mapping[str, object]) -> RenderedMail:
    """Render mail ``name`` (``audience/event``) in ``language`` with ``context``.

    Raises :class:`UnknownTemplateError` for an unknown mail or language,
    :class:`MissingContextError` listing every missing key, and
    :class:`UnformattedValueError` for a value that is not a string.
    """
    values = {**ENVIRONMENT.globals, **DEFAULT_CONTEXT.get(language, {}), **context}
    missing = required_context(name, language) - values.keys()
    if missing:
        raise MissingContextError(name, tuple(sorted(missing)))
    try:
        subject, text, html = (_render(template, values) for template in _templates(name, language))
    except jinja2.UndefinedError as exc:
        raise MissingContextError(name, (), str(exc)) from exc
    except jinja2.TemplateNotFound as exc:
        raise UnknownTemplateError(f"mail {name!r}: template {exc.name} not found") from exc
    return RenderedMail(subject=" ".join(subject.split()), text=text, html=html)
