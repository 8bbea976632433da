"""Finding the request a mail names, whatever the profile's numbering pattern.

Two readers, both answered by the store (a number names a request only when the store
has a request of that number):

- ``numbers``, the configured profile's numbering (``config.parse_options.request_number``,
  see :func:`workflow.numbering.number_reader`): ``XZ-2026-001``, ``2026-财务-001``, and
  the default ``XT-2026-0015``, wherever they stand in the text;
- then any run of letters, digits and Chinese characters with a hyphen in it, for numbers
  of another pattern (a request numbered before the profile changed). Such a run may
  carry Chinese text before or after the number (``复盘XT-2026-0015``,
  ``XT-2026-0015供应商对账``): the run is also tried without it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from store.models import Request
from store.uow import SqlUnitOfWork

__all__ = ["request_named", "request_of", "requests_named"]

#: Candidate request numbers: runs of letters, digits and CJK with a hyphen in them.
_NUMBER_TOKEN = re.compile(r"[0-9A-Z\u4e00-\u9fff]+(?:-[0-9A-Z\u4e00-\u9fff]+)+")


def requests_named(
    text: str, uow: SqlUnitOfWork, numbers: re.Pattern[str] | None = None
) -> Iterator[Request]:
    """Every request whose number appears in ``text``, each once: those ``numbers`` reads
    first, in the order they appear, then those only a hyphenated run gives."""
    folded = unicodedata.normalize("NFKC", text)
    tried: set[str] = set()
    found: set[int] = set()
    candidates: list[str] = []
    if numbers is not None:
        candidates += [m.group(0).upper() for m in numbers.finditer(folded)]
    for token in _NUMBER_TOKEN.findall(folded.upper()):
        candidates += _candidates(token)
    for candidate in candidates:
        if candidate in tried:
            continue
        tried.add(candidate)
        request = uow.requests.by_number(candidate)
        if request is not None and request.id not in found:
            found.add(request.id)
            yield request


def request_named(
    text: str, uow: SqlUnitOfWork, numbers: re.Pattern[str] | None = None
) -> Request | None:
    """The first request whose number appears in ``text`` (a subject, a body), or None."""
    return next(requests_named(text, uow, numbers), None)


def request_of(
    number: str | None, text: str, uow: SqlUnitOfWork, numbers: re.Pattern[str] | None = None
) -> Request | None:
    """The request ``number`` is (as a parser read it), else the first ``text`` names."""
    if number:
        request = uow.requests.by_number(unicodedata.normalize("NFKC", number).upper())
        if request is not None:
            return request
    return request_named(text, uow, numbers)


def _candidates(token: str) -> list[str]:
    """``token``, and ``token`` without Chinese text run on before or after the number."""
    starts = [0]
    head = token.split("-", 1)[0]
    # 复盘XT-2026-0015 -> XT-2026-0015; 关于2026-财务-001 -> 2026-财务-001.
    for i in range(1, len(head)):
        if _is_cjk(head[i - 1]) and not _is_cjk(head[i]):
            starts.append(i)
            break
    ends = [len(token)]
    # XT-2026-0015供应商对账 -> XT-2026-0015 (but 2026-财务-001 stays whole).
    for i in range(len(token) - 1, 0, -1):
        if _is_cjk(token[i]) and not _is_cjk(token[i - 1]) and token[i - 1] != "-":
            ends.append(i)
    return [
        token[start:end]
        for start in starts
        for end in ends
        if start < end and "-" in token[start:end].strip("-")
    ]


def _is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"
