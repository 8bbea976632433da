"""A small HTML-to-text converter that can stop where a reply's quoted part begins.

Used for HTML-only replies (and HTML-only bounce notices). The conversion follows the
rules of ``shared/corpus/README.md``: ``head``/``style``/``script`` are dropped, block
elements and ``<br>`` end a line, collapsible whitespace between tags is ignored, ``<hr>``
becomes a separator line and entities are unescaped.

With ``cut_quote=True`` everything from the first quote wrapper on is ignored: a
``<blockquote>``, Gmail's ``gmail_quote``, Outlook's ``#divRplyFwdMsg``/``#appendonsend``
and reply divider, Thunderbird's ``moz-cite-prefix`` and the wrappers of QQ/Foxmail,
Coremail (163/126), Lark and Alimail. Text separators such as ``原始邮件`` lines survive
the conversion and are cut by :mod:`mail_parsers.quote_markers` afterwards.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["html_to_text", "SEPARATOR_LINE"]

#: What ``<hr>`` turns into; a line of dashes, so it counts as a separator line.
SEPARATOR_LINE = "----------"

_BLOCK_TAGS = frozenset(
    {"p", "div", "li", "tr", "table", "blockquote", "pre", "ul", "ol", "dl", "dt", "dd"}
    | {"section", "article", "header", "footer", "center", "address", "form", "fieldset"}
    | {"figure", "main", "nav", "aside", "tbody", "thead", "tfoot", "caption"}
    | {f"h{level}" for level in range(1, 7)}
)
_DROPPED_TAGS = frozenset({"head", "style", "script", "title", "template", "noscript"})
_VOID_TAGS = frozenset(
    {"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr", "source"}
)

# Quote wrappers recognised by id (exact, case-insensitive) or id prefix.
_QUOTE_IDS = frozenset(
    {
        "divrplyfwdmsg",  # Outlook desktop / OWA reply header
        "appendonsend",  # Outlook: marks the end of the new text
        "stopspelling",  # Outlook.com <hr id=stopSpelling>
        "replysplit",
        "mail-editor-reference-message-container",  # new Outlook / Outlook for Mac
        "olk_src_body_section",  # Outlook for Mac
        "isreplycontent",  # Coremail (163/126/188 and enterprise Coremail)
        "isforwardcontent",  # Coremail forward
        "orimsghtmlseperator",
        "reply139content",  # 139 mail
        "origbody",  # Yahoo
        "ntes-iosmail-quote",  # NetEase Mail Master (iOS)
        "ntes-pcmail-quote",  # NetEase Mail Master (desktop)
        "zwchr",  # Zimbra <hr id=zwchr>
    }
)
_QUOTE_ID_PREFIXES = ("lark-mail-quote", "divrplyfwdmsg")
# Quote wrappers recognised by one of their class names.
_QUOTE_CLASSES = frozenset(
    {
        "gmail_quote",
        "gmail_quote_container",
        "gmail_extra",
        "moz-cite-prefix",  # Thunderbird attribution line before the blockquote
        "yahoo_quoted",
        "protonmail_quote",
        "tutanota_quote",
        "zmail_extra",  # Zoho
        "history-quote-wrapper",  # Lark (Feishu) mail
        "lark-mail-quote",
        "outlookmessageheader",
    }
)
# Outlook's reply divider: a div with a thin solid top border (E1E1E1 in newer, B5C4DF
# in older versions; Foxmail copies the older one).
_OUTLOOK_DIVIDER = re.compile(r"border-top\s*:\s*solid\s+#(?:e1e1e1|b5c4df)", re.IGNORECASE)
_COLLAPSIBLE = re.compile(r"[ \t\n\r\f]+")


def _is_quote_start(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    if tag == "blockquote":
        return True
    for name, value in attrs:
        if value is None:
            continue
        if name == "id":
            ident = value.strip().lower()
            if ident in _QUOTE_IDS or ident.startswith(_QUOTE_ID_PREFIXES):
                return True
        elif name == "class":
            if any(c in _QUOTE_CLASSES for c in value.lower().split()):
                return True
        elif name == "style":
            if tag == "div" and _OUTLOOK_DIVIDER.search(value):
                return True
        elif name == "name" and value.strip().lower() == "quote":  # GMX
            return True
    return False


class _TextCollector(HTMLParser):
    def __init__(self, *, cut_quote: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.cut_quote = cut_quote
        self.lines: list[str] = []
        self.current: list[str] = []
        self.dropped_depth = 0
        self.pre_depth = 0
        self.stopped = False

    # -- line handling -------------------------------------------------------
    def _flush(self, *, force: bool = False) -> None:
        if self.current or force:
            self.lines.append("".join(self.current))
            self.current = []

    # -- parser callbacks ----------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.stopped:
            return
        if tag in _DROPPED_TAGS:
            if tag not in _VOID_TAGS:
                self.dropped_depth += 1
            return
        if self.dropped_depth:
            return
        if self.cut_quote and _is_quote_start(tag, attrs):
            self.stopped = True
            return
        if tag == "br":
            self._flush(force=True)
        elif tag == "hr":
            self._flush()
            self.lines.append(SEPARATOR_LINE)
        elif tag in _BLOCK_TAGS:
            self._flush()
            if tag == "pre":
                self.pre_depth += 1
        elif tag in ("td", "th") and self.current:
            self.current.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/> and friends: same as a start tag without content.
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.stopped:
            return
        if tag in _DROPPED_TAGS:
            if self.dropped_depth:
                self.dropped_depth -= 1
            return
        if self.dropped_depth:
            return
        if tag in _BLOCK_TAGS:
            self._flush()
            if tag == "pre" and self.pre_depth:
                self.pre_depth -= 1

    def handle_data(self, data: str) -> None:
        if self.stopped or self.dropped_depth:
            return
        if self.pre_depth:
            parts = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            for i, part in enumerate(parts):
                if i:
                    self._flush(force=True)
                if part:
                    self.current.append(part)
            return
        text = _COLLAPSIBLE.sub(" ", data)
        if text == " " and not self.current:
            return  # whitespace between tags at the start of a line
        self.current.append(text)

    def result(self) -> str:
        self._flush()
        return "\n".join(line.strip() for line in self.lines)


def html_to_text(html: str, *, cut_quote: bool = False) -> str:
    """Convert ``html`` to plain text; with ``cut_quote`` stop at the first quote wrapper."""
    collector = _TextCollector(cut_quote=cut_quote)
    collector.feed(html)
    collector.close()
    return collector.result()
