"""Authentication-Results (RFC 8601): only the topmost header of the trusted ``authserv-id``
counts. Headers of other ids (``mx.example.com.relay.example.net``) and lower duplicates of
the trusted id are ignored: anything below the receiving MX may have been written by the
sender."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mail_parsers.decode import raw_header_text, unfold

_COMMENT = re.compile(r"\([^()]*(?:\([^()]*\)[^()]*)*\)")
_METHOD = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*=\s*([A-Za-z0-9_\-]+)")
_PROPERTY = re.compile(r"\b(header\.[di])\s*=\s*\"?([^\s;\"]+)", re.I)
_HEADER_FROM = re.compile(r"\bheader\.from\s*=\s*\"?([^\s;\"]+)", re.I)


@dataclass(frozen=True, slots=True)
class AuthVerdict:
    #: A header of the trusted authserv-id was found (the first one was read).
    trusted_found: bool
    #: That header says DMARC passed (or, without a DMARC result, an aligned DKIM pass).
    passed: bool
    #: The DMARC result written there ("pass", "fail", "none", ...), if any.
    dmarc: str | None
    #: authserv-ids of the headers that were not trusted, in order.
    others: tuple[str, ...]


def _strip_comments(text: str) -> str:
    """Remove (comments), nested one level deep; deeper nesting is left as text."""
    if "(" not in text:
        return text
    return _COMMENT.sub(" ", text)


def _aligned(signing_domain: str, from_domain: str | None) -> bool:
    if not from_domain:
        return False
    d, f = signing_domain.lower().lstrip("@"), from_domain.lower()
    if "@" in d:
        d = d.rsplit("@", 1)[1]
    return d == f or f.endswith("." + d) or d.endswith("." + f)


def read_authentication(
    values: list[str], trusted_authserv_id: str, from_domain: str | None
) -> AuthVerdict:
    """Judge the Authentication-Results headers (raw values, topmost first)."""
    others: list[str] = []
    wanted = trusted_authserv_id.strip().lower()
    for value in values:
        text = _strip_comments(unfold(raw_header_text(value)))
        pieces = text.split(";")
        head = pieces[0].split()
        authserv_id = head[0] if head else ""
        if not wanted or authserv_id.lower() != wanted:
            others.append(authserv_id)
            continue
        dmarc: str | None = None
        dkim_aligned = False
        for resinfo in pieces[1:]:
            method = _METHOD.match(resinfo)
            if method is None:
                continue
            name, result = method.group(1).lower(), method.group(2).lower()
            if name == "dmarc" and dmarc is None:
                dmarc = result
                # The MX judged DMARC for the domain it names; a pass for another domain
                # than the From we read says nothing about our sender.
                judged = _HEADER_FROM.search(resinfo)
                if (
                    result == "pass"
                    and judged is not None
                    and from_domain is not None
                    and judged.group(1).lower().rstrip(".") != from_domain.lower()
                ):
                    dmarc = "pass-for-other-domain"
            elif name == "dkim" and result == "pass":
                for prop in _PROPERTY.finditer(resinfo):
                    if _aligned(prop.group(2), from_domain):
                        dkim_aligned = True
        passed = dmarc == "pass" if dmarc is not None else dkim_aligned
        return AuthVerdict(True, passed, dmarc, tuple(others))
    return AuthVerdict(False, False, None, tuple(others))
