"""Body text: choosing the part, decoding it, and turning HTML into lines of text.

HTML → text follows the corpus rules: ``head``/``style``/``script`` dropped; each block
element (``p div li tr h1-6 table blockquote pre``) and each ``<br>`` ends a line;
collapsible white space between tags is ignored; a block holding only ``&nbsp;`` or
``<br>`` is a blank line; ``<hr>`` is a separator line; entities are unescaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape

from mail_parsers.decode import decode_bytes
from mail_parsers.mime import Part, part_bytes

#: White space in the sense of the rules: ASCII, NBSP and the ideographic space (plus the
#: zero-width characters rich-text editors leave behind).
WHITESPACE = " \t\r\n\f\v\u00a0\u3000\u200b\u200c\u200d\u2060\ufeff"
#: The line that ``<hr>`` becomes (a separator under the value-extent rule).
HR_LINE = "-----"

_BLOCKS = frozenset(
    {
        "p",
        "div",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "blockquote",
        "pre",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "section",
        "article",
        "header",
        "footer",
        "address",
        "center",
        "form",
        "fieldset",
        "tbody",
        "thead",
        "tfoot",
        "caption",
        "figure",
        "figcaption",
        "main",
        "nav",
        "aside",
        "hgroup",
        "details",
        "summary",
    }
)
_CELLS = frozenset({"td", "th"})
_COLLAPSIBLE = re.compile(r"[ \t\r\n\f]+")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.I)
_NEWLINES = re.compile(r"\r\n?")


# One token of HTML: a comment, a declaration / processing instruction, or a tag.
_HTML_TOKEN = re.compile(
    r"<!--.*?(?:-->|\Z)"
    r"|<![^>]*>?"
    r"|<\?[^>]*>?"
    r"|<(/?)([A-Za-z][A-Za-z0-9:_.-]*)((?:\"[^\"]*\"|'[^']*'|[^'\">])*)>",
    re.S,
)
_RAW_TEXT_END = {
    "style": re.compile(r"</style\s*>", re.I),
    "script": re.compile(r"</script\s*>", re.I),
    "title": re.compile(r"</title\s*>", re.I),
    "xml": re.compile(r"</xml\s*>", re.I),
    "template": re.compile(r"</template\s*>", re.I),
    "noscript": re.compile(r"</noscript\s*>", re.I),
}


class _Lines:
    """Accumulates text into lines following the HTML block rules."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.current: list[str] = []
        self.has_content = False  # the current line holds non-collapsible text
        self.pre = 0

    def end_line(self, *, force: bool) -> None:
        if self.has_content or force:
            self.lines.append("".join(self.current).rstrip(" \t\r\n\f"))
        self.current = []
        self.has_content = False

    def add_text(self, text: str) -> None:
        if self.pre:
            segments = _NEWLINES.sub("\n", text).split("\n")
            for index, segment in enumerate(segments):
                if index:
                    self.end_line(force=True)
                if segment:
                    self.current.append(segment)
                    self.has_content = True
            return
        text = _COLLAPSIBLE.sub(" ", text)
        if not self.has_content:
            text = text.lstrip(" ")
            if not text:
                return
        elif self.current and self.current[-1].endswith(" ") and text.startswith(" "):
            text = text[1:]
        if text:
            self.current.append(text)
            self.has_content = True

    def start(self, tag: str) -> None:
        if tag == "br":
            self.end_line(force=True)
        elif tag == "hr":
            self.end_line(force=False)
            self.lines.append(HR_LINE)
        elif tag in _BLOCKS:
            self.end_line(force=False)
            if tag == "pre":
                self.pre += 1
        elif tag in _CELLS and self.has_content:
            self.current.append(" ")

    def end(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.end_line(force=False)
            if tag == "pre" and self.pre:
                self.pre -= 1

    def finish(self) -> str:
        self.end_line(force=False)
        return "\n".join(self.lines)


def html_to_text(html: str) -> str:
    """Convert an HTML body to plain text lines (see the module docstring for the rules)."""
    out = _Lines()
    in_head = False
    pos = 0
    length = len(html)
    while pos < length:
        match = _HTML_TOKEN.search(html, pos)
        if match is None:
            if not in_head:
                out.add_text(unescape(html[pos:]))
            break
        if match.start() > pos and not in_head:
            out.add_text(unescape(html[pos : match.start()]))
        pos = match.end()
        name = match.group(2)
        if name is None:
            continue  # comment, doctype, processing instruction
        tag = name.lower()
        closing = bool(match.group(1))
        if tag == "head":
            in_head = not closing
            continue
        if tag == "body" and not closing:
            in_head = False
            continue
        if not closing and tag in _RAW_TEXT_END:
            if match.group(3).rstrip().endswith("/"):
                continue
            end = _RAW_TEXT_END[tag].search(html, pos)
            pos = end.end() if end is not None else length
            continue
        if in_head:
            continue
        if closing:
            out.end(tag)
        else:
            out.start(tag)
            if tag in _BLOCKS and tag != "pre" and match.group(3).rstrip().endswith("/"):
                out.end(tag)
    return out.finish()


def unflow(text: str, *, delsp: bool) -> str:
    """Undo RFC 3676 ``format=flowed``: join soft-broken lines, remove space-stuffing."""
    out: list[str] = []
    buffer: list[str] = []
    depth_of_buffer = -1
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        if buffer and depth != depth_of_buffer:
            out.append(
                ">" * depth_of_buffer + ("" if not depth_of_buffer else " ") + "".join(buffer)
            )
            buffer = []
        soft = content.endswith(" ") and content.rstrip(" ") != "--"
        if soft and delsp:
            content = content[:-1]
        buffer.append(content)
        depth_of_buffer = depth
        if not soft:
            prefix = ">" * depth + (" " if depth else "")
            out.append(prefix + "".join(buffer))
            buffer = []
    if buffer:
        prefix = ">" * depth_of_buffer + (" " if depth_of_buffer else "")
        out.append(prefix + "".join(buffer))
    return "\n".join(out)


def is_blank(text: str) -> bool:
    return not text.strip(WHITESPACE)


def part_text(part: Part) -> str:
    """The decoded text of a text/* leaf, line breaks normalised to ``\\n``."""
    data = part_bytes(part.part)
    charset = part.params.get("charset")
    if not charset and part.content_type == "text/html":
        match = _META_CHARSET.search(data[:4096])
        if match is not None:
            charset = match.group(1).decode("ascii", "replace")
    text = _NEWLINES.sub("\n", decode_bytes(data, charset)).lstrip("\ufeff")
    if part.content_type == "text/plain" and part.params.get("format", "").lower() == "flowed":
        text = unflow(text, delsp=part.params.get("delsp", "").lower() == "yes")
    return text


@dataclass(frozen=True, slots=True)
class Body:
    #: The first non-attachment text/plain part, decoded (``None`` when there is none).
    plain: str | None
    #: The first non-attachment text/html part, decoded.
    html: str | None
    #: The text fields are read from: the plain part, else the HTML converted to text.
    text: str


def read_body(parts: tuple[Part, ...], *, want_html: bool = True) -> Body:
    """The body: the first non-attachment text/plain part, else the first text/html part
    converted to text. ``want_html=False`` skips decoding an HTML part that is not needed."""
    plain_part = next(
        (p for p in parts if p.content_type == "text/plain" and p.is_body_candidate), None
    )
    html_part = next(
        (p for p in parts if p.content_type == "text/html" and p.is_body_candidate), None
    )
    plain = part_text(plain_part) if plain_part is not None else None
    use_plain = plain is not None and (not is_blank(plain) or html_part is None)
    html: str | None = None
    if html_part is not None and (want_html or not use_plain):
        html = part_text(html_part)
    if use_plain:
        text = plain or ""
    elif html is not None:
        # No text/plain, or an empty one next to an HTML body: read the HTML.
        text = html_to_text(html)
    else:
        text = plain or ""
    return Body(plain, html, text)
