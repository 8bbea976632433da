"""Finding the request a mail names, whatever the profile's numbering pattern.

The parsers know the default pattern (``XT-2026-0015``); a profile may number requests
``XZ-2026-001`` or ``2026-研发-001``. A subject token is taken as a request number only
when the store has a request of that number.
"""

from __future__ import annotations

import re
import unicodedata

from store.models import Request
from store.uow import SqlUnitOfWork

#: Candidate request numbers: runs of letters, digits and CJK with a hyphen in them.
_NUMBER_TOKEN = re.compile(r"[0-9A-Z\u4e00-\u9fff]+(?:-[0-9A-Z\u4e00-\u9fff]+)+")


def request_named(text: str, uow: SqlUnitOfWork) -> Request | None:
    """The first request whose number appears in ``text`` (a subject), or None.

    A number run on into a Chinese title (``XT-2026-0015供应商对账``) is found as well:
    each token is also tried cut where Chinese text follows a letter or digit.
    """
    folded = unicodedata.normalize("NFKC", text).upper()
    for token in _NUMBER_TOKEN.findall(folded):
        for candidate in _candidates(token):
            request = uow.requests.by_number(candidate)
            if request is not None:
                return request
    return None


def _candidates(token: str) -> list[str]:
    found = [token]
    for i in range(len(token) - 1, 0, -1):
        if _is_cjk(token[i]) and not _is_cjk(token[i - 1]) and token[i - 1] != "-":
            found.append(token[:i])
    return found


def _is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"
