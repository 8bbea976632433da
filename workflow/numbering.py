"""Request numbers from a profile's pattern, e.g. ``XT-{year}-{seq:04d}`` -> ``XT-2026-0042``.

A pattern may use three placeholders: ``{year}`` (required), ``{seq}`` (required) and
``{department}``. Format specs are allowed (``{seq:04d}``); conversions, positional
fields, attribute or index access and any other name are rejected.

The sequence restarts every year, and per department when the pattern names the
department: :func:`number_scope` gives the key of the sequence a number is drawn from.
What ``{department}`` stands for is :func:`department_code`: the directory's short code
of the requesting department (``研发`` for 研发部), else its name.

:func:`number_reader` is the other direction: the regular expression that finds the
numbers a pattern writes in a subject or body. The parsers take it as
``ParseOptions.request_number`` (they know nothing of profiles).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from string import Formatter

from workflow.directory import Directory

__all__ = [
    "DEFAULT_PATTERN",
    "PLACEHOLDERS",
    "check_number_pattern",
    "department_code",
    "format_number",
    "number_reader",
    "number_regex",
    "number_scope",
]

#: The placeholders a numbering pattern may use.
PLACEHOLDERS = frozenset({"year", "seq", "department"})
#: The default numbering (the standard profile's); every reader accepts it as well.
DEFAULT_PATTERN = "XT-{year}-{seq:04d}"

_SAMPLES: dict[str, object] = {"year": 2026, "seq": 1, "department": "研发"}
# Separators trimmed from the literal text on either side of {seq} in a scope.
_SEPARATORS = "-_/.# :"


@dataclass(frozen=True)
class _Piece:
    literal: str
    field: str | None = None
    spec: str = ""


def check_number_pattern(pattern: object) -> list[str]:
    """Every problem with ``pattern``; an empty list when it is usable."""
    if not isinstance(pattern, str) or not pattern.strip():
        return [f"numbering pattern {pattern!r} must be a non-empty string"]
    try:
        parsed = list(Formatter().parse(pattern))
    except ValueError as exc:
        return [f"numbering pattern {pattern!r}: {exc}"]
    problems: list[str] = []
    seen: set[str] = set()
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name == "" or name.isdigit():
            problems.append(f"numbering pattern {pattern!r}: positional placeholder {{{name}}}")
            continue
        seen.add(name)
        if name not in PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
            problems.append(
                f"numbering pattern {pattern!r}: unknown placeholder {{{name}}} (known: {known})"
            )
            continue
        if conversion is not None:
            problems.append(f"numbering pattern {pattern!r}: conversion !{conversion} not allowed")
        if spec and "{" in spec:
            problems.append(f"numbering pattern {pattern!r}: nested placeholder in {{{name}}}")
            continue
        try:
            format(_SAMPLES[name], spec or "")
        except (ValueError, TypeError) as exc:
            problems.append(f"numbering pattern {pattern!r}: bad format for {{{name}}}: {exc}")
    for required in ("year", "seq"):
        if required not in seen:
            problems.append(f"numbering pattern {pattern!r} must contain {{{required}}}")
    return problems


def format_number(pattern: str, *, year: int, seq: int, department: str) -> str:
    """The number ``seq`` of ``year`` (and ``department``) under ``pattern``."""
    pieces = _pieces(pattern, department=department)
    if seq < 1:
        raise ValueError(f"sequence numbers start at 1, got {seq}")
    return "".join(_render(piece, year=year, seq=seq, department=department) for piece in pieces)


def number_scope(pattern: str, *, year: int, department: str) -> str:
    """The part of a number shared by every number of the same sequence.

    ``XT-{year}-{seq:04d}`` -> ``XT-2026``; ``{year}-{department}-{seq:03d}`` ->
    ``2026-市场``: the pattern without ``{seq}`` and the separators that touch it.
    """
    pieces = _pieces(pattern, department=department)
    out: list[str] = []
    after_seq = False
    for piece in pieces:
        literal = piece.literal.lstrip(_SEPARATORS) if after_seq else piece.literal
        after_seq = piece.field == "seq"
        if after_seq:
            out.append(literal.rstrip(_SEPARATORS))
        else:
            out.append(
                _render(
                    _Piece(literal, piece.field, piece.spec),
                    year=year,
                    seq=0,
                    department=department,
                )
            )
    return "".join(out)


def _pieces(pattern: str, *, department: str) -> list[_Piece]:
    problems = check_number_pattern(pattern)
    if problems:
        raise ValueError("; ".join(problems))
    pieces = [
        _Piece(literal, name, spec or "") for literal, name, spec, _ in Formatter().parse(pattern)
    ]
    if any(p.field == "department" for p in pieces) and not department.strip():
        raise ValueError(f"numbering pattern {pattern!r} needs a department")
    return pieces


def _render(piece: _Piece, *, year: int, seq: int, department: str) -> str:
    if piece.field is None:
        return piece.literal
    value: object = {"year": year, "seq": seq, "department": department.strip()}[piece.field]
    return piece.literal + format(value, piece.spec)


# Characters kept in a number's department part: what a subject token can carry.
_NOT_IN_NUMBER = re.compile(r"[^0-9A-Z\u4e00-\u9fff]+")


def department_code(written: str, directory: Directory) -> str:
    """``{department}`` of a request from ``written`` (the requesting department as the
    request gives it): the directory's code for that department (by name or alias),
    else its name, else what was written.

    Kept to letters, digits and Chinese characters, upper-case (``R&D`` -> ``RD``), so a
    number reads back from a subject; ``X`` when nothing is left.
    """
    found = directory.department(written) if written.strip() else None
    text = (found.code or found.name) if found is not None else written
    kept = _NOT_IN_NUMBER.sub("", unicodedata.normalize("NFKC", text).upper())
    return kept or "X"


# --- reading numbers back ---------------------------------------------------------------------

# ``{year}`` and ``{seq}`` written with no spec, ``d``, a width or a zero-padded width.
_INT_SPEC = re.compile(r"(0?)(\d*)d?")
# ``{department}`` as department_code writes it, with at least one letter or Chinese
# character: a run of digits there would read dates and phone numbers as numbers.
_DEPARTMENT_RE = r"[0-9A-Z\u4e00-\u9fff]*[A-Z\u4e00-\u9fff][0-9A-Z\u4e00-\u9fff]*"
# Any other format spec (hexadecimal, grouping, a sign ...): letters and digits.
_OTHER_RE = r"[0-9A-Z]+"
_READER_FLAGS = re.IGNORECASE | re.ASCII


def number_regex(pattern: str) -> str:
    """A regular expression (source) for the numbers ``pattern`` writes.

    It is meant for NFKC-folded text, compiled with ``re.IGNORECASE | re.ASCII``:

    - the literal text matches itself (``XZ-``), in any case;
    - ``{year}`` is a year of this millennium, ``2`` and three digits, so ``0755-…``
      (an area code) is no year;
    - ``{seq}`` has at least as many digits as the pattern pads it to (``{seq:03d}``:
      ``001``, ``1234``), so in ``2026-11-21`` no three-digit sequence follows ``2026-``;
    - ``{department}`` is letters, digits and Chinese characters with at least one that
      is no digit (``财务``, ``FIN``, ``R2``; not ``11``).

    A number neither starts right after nor ends right before a letter or digit
    (``XZ-2026-0015`` is not ``XZ-2026-001``, ``AXZ-2026-001`` none); Chinese text may
    touch it on either side (``关于XZ-2026-001的进度``).
    """
    pieces = _pieces(pattern, department="X")
    parts: list[str] = []
    for piece in pieces:
        parts.append(re.escape(unicodedata.normalize("NFKC", piece.literal)))
        if piece.field is not None:
            parts.append(_field_regex(piece.field, piece.spec))
    first, last = pieces[0], pieces[-1]
    starts_alnum = first.field is not None if not first.literal else _is_alnum(first.literal[0])
    ends_alnum = last.field is not None or (bool(last.literal) and _is_alnum(last.literal[-1]))
    return (
        ("(?<![0-9A-Za-z])" if starts_alnum else "")
        + "".join(parts)
        + ("(?![0-9A-Za-z])" if ends_alnum else "")
    )


def number_reader(pattern: str) -> re.Pattern[str]:
    """What finds request numbers in mail when requests are numbered by ``pattern``.

    The numbers of ``pattern`` and of :data:`DEFAULT_PATTERN` (``XT-2026-0015``: requests
    numbered before a change of profile keep their numbers; the ``XT-`` prefix reads
    nothing else). Passed to the parsers as ``ParseOptions.request_number``.
    """
    sources = dict.fromkeys((number_regex(pattern), number_regex(DEFAULT_PATTERN)))
    return re.compile("|".join(f"(?:{source})" for source in sources), _READER_FLAGS)


def _field_regex(field: str, spec: str) -> str:
    if field == "department":
        return _DEPARTMENT_RE
    matched = _INT_SPEC.fullmatch(spec)
    if matched is None:
        return _OTHER_RE
    zero_padded = matched.group(1) == "0"
    width = int(matched.group(2) or 0)
    if field == "year":
        if width <= 4:
            return r"2\d{3}"
        return ("0" if zero_padded else " ") + f"{{{width - 4}}}" + r"2\d{3}"
    if zero_padded or width <= 1:
        return rf"\d{{{max(width, 1)},}}"
    return r" *\d+"  # padded with spaces: "  7"


def _is_alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()
