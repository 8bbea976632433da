"""Figures from the test run (issue 4, item 6): forged sign-offs, legitimate sign-offs, loops.

Every variant drives the real pipeline (``daemon.pipeline.Pipeline`` over a scratch
SQLite app, the trusted authserv-id ``mx.example.com``, the example directory) and is
judged by what came out: the request's state, the ``signoffs`` rows, the outbox.

1. Forged sign-offs: a fresh request is registered from a corpus request mail, then its
   evaluation notice is answered by something that must not sign it off (a spoofed or
   look-alike sender, forged or foreign Authentication-Results, a token in the wrong
   hands, a replay, a closed request, a keyword only in the quote, an auto-reply, ...).
   Expected: 0 accepted, no receipt, nothing sent to the attacker but the held notice
   ``mail.md`` promises an authenticated sender.
2. Legitimate sign-offs: the office (or a delegate named in the directory) accepts or
   returns the request from every mail client style of the issue, in Chinese and English,
   through Message-ID threading and through the reply token. Expected: all accepted, one
   receipt to the signer.
3. Loops: two Liaison instances, a vacation responder without RFC 3834 headers, 1,000
   delivery reports. Expected: at most 3 messages exchanged, 0 answers to reports.

The figures are printed in the terminal summary, also on success.
"""

from __future__ import annotations

import base64
import email.utils
import html as html_lib
import shutil
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from email.header import Header
from pathlib import Path

import pytest
from sqlalchemy import select

from daemon.bootstrap import App
from daemon.inbound import Arrival, Outcome, SourceRef
from daemon.pipeline import Pipeline
from store.models import Communication, HeldSignoff, InboundMessage, OutboxMessage, Signoff
from store.uow import SqlUnitOfWork
from tests.conftest import ROOT
from tests.support import T0, parse_mail, scratch_app

DIRECTORY = ROOT / "daemon" / "examples" / "directory.toml"
REQUEST = "req_01_outlook_zh_plain_gb2312_b64.eml"
DSN = "noise_05_postfix_dsn_bounce.eml"
NUMBER = "XT-2026-0001"

MAILBOX = "coord@example.com"
OFFICE = "office@example.com"  # the default coordinator; no delegate in the directory
PRINCIPAL = "zhao.lei@example.com"  # made coordinator to test delegation
DELEGATE = "assistant.zhao@example.com"  # zhao.lei's delegate in the example directory
TRUSTED = "mx.example.com"
ATTACKER = "attacker@evil.example.net"
MAX_ATTEMPTS = 3  # what a mailbox source does with a message that failed: try again


# --- figures ----------------------------------------------------------------------------


@dataclass
class Figures:
    forged: int = 0
    forged_accepted: list[str] = field(default_factory=list)
    legitimate: int = 0
    legitimate_accepted: int = 0
    #: "instances", "instances-stripped", "vacation": messages exchanged; "reports": answers.
    loops: dict[str, int] = field(default_factory=dict)
    reports: int = 0

    def lines(self) -> list[str]:
        lines = []
        if self.forged:
            line = f"forged sign-offs: {len(self.forged_accepted)} accepted of {self.forged}"
            if self.forged_accepted:
                line += f" ({', '.join(self.forged_accepted)})"
            lines.append(line)
        if self.legitimate:
            lines.append(
                f"legitimate sign-offs: {self.legitimate_accepted} accepted of {self.legitimate}"
            )
        loops = []
        if "instances" in self.loops:
            loops.append(f"instances {self.loops['instances']} messages")
        if "instances-stripped" in self.loops:
            stripped = self.loops["instances-stripped"]
            loops.append(f"instances {stripped} messages when a relay strips the auto headers")
        if "vacation" in self.loops:
            loops.append(f"vacation {self.loops['vacation']} messages")
        if "reports" in self.loops:
            loops.append(f"reports {self.loops['reports']} answers of {self.reports}")
        if loops:
            lines.append("loops: " + ", ".join(loops))
        return lines


class _FiguresInSummary:
    """A plugin registered at module teardown: writes the figures in the terminal summary."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        terminalreporter.section("sign-off and loop figures (issue 4)", sep="-")
        for line in self.lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="module")
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    collected = Figures()
    yield collected
    lines = collected.lines()
    if lines and request.config.pluginmanager.get_plugin("terminalreporter") is not None:
        request.config.pluginmanager.register(
            _FiguresInSummary(lines), name=f"figures-{id(collected)}"
        )


# --- one Liaison installation -----------------------------------------------------------


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database at the schema head, copied for every world (migrating costs ~0.3 s)."""
    root = tmp_path_factory.mktemp("template")
    app, _ = scratch_app(root)
    app.close()
    return root / "liaison.db"


@dataclass
class World:
    app: App
    pipeline: Pipeline
    uid: int = 0
    #: Deliveries the pipeline failed on (it raised, asked for a retry).
    failures: int = 0

    def deliver(self, raw: bytes) -> Outcome:
        """Hand ``raw`` to the pipeline like a mailbox does: again while it asks for a retry."""
        self.uid += 1
        arrival = Arrival(SourceRef("test", 1, str(self.uid)), raw)
        for _ in range(MAX_ATTEMPTS):
            outcome = self.pipeline.handle(arrival)
            if outcome is not Outcome.RETRY:
                break
            self.failures += 1
        return outcome

    def outbox(self, after: int = 0) -> list[OutboxMessage]:
        with SqlUnitOfWork(self.app.session_factory) as uow:
            rows = uow.session.scalars(
                select(OutboxMessage).where(OutboxMessage.id > after).order_by(OutboxMessage.id)
            ).all()
            uow.session.expunge_all()
            return list(rows)

    def sent(self, kind: str) -> list[bytes]:
        return [r.raw for r in self.outbox() if r.kind == kind]

    def signoffs(self) -> list[tuple[str, str, str]]:
        with SqlUnitOfWork(self.app.session_factory) as uow:
            rows = uow.session.scalars(select(Signoff).order_by(Signoff.id)).all()
            return [(s.action, s.signer, s.on_behalf_of) for s in rows]

    def held(self) -> list[str]:
        with SqlUnitOfWork(self.app.session_factory) as uow:
            return [
                h.reason for h in uow.session.scalars(select(HeldSignoff).order_by(HeldSignoff.id))
            ]

    def last_inbound(self) -> tuple[str | None, str, str | None]:
        with SqlUnitOfWork(self.app.session_factory) as uow:
            row = uow.session.scalars(
                select(InboundMessage).order_by(InboundMessage.id.desc())
            ).first()
            assert row is not None
            return row.kind, row.state, row.reason

    def describe(self) -> str:
        """What happened, for assertion messages."""
        return f"request {self.request()}, held {self.held()}, last inbound {self.last_inbound()}"

    def request(self, number: str = NUMBER) -> tuple[str, str | None, list[str]]:
        with SqlUnitOfWork(self.app.session_factory) as uow:
            r = uow.requests.by_number(number)
            assert r is not None
            return r.state, r.lead_department, list(r.supporting_departments)

    def set_state(self, state: str, number: str = NUMBER) -> None:
        with SqlUnitOfWork(self.app.session_factory) as uow:
            r = uow.requests.by_number(number)
            assert r is not None
            r.state = state
            uow.commit()


def make_world(
    root: Path,
    template: Path,
    *,
    token: bool = False,
    coordinator: str | None = None,
    mailbox: str | None = None,
) -> World:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, root / "liaison.db")
    env = {"LIAISON_DIRECTORY_FILE": str(DIRECTORY)}
    if token:
        secret = root / "reply-token-secret"
        secret.write_text("token-key-for-the-sign-off-suites")
        env.update(
            LIAISON_MAILBOX_SUBADDRESS="true", LIAISON_SECURITY_REPLY_TOKEN_SECRET_FILE=str(secret)
        )
    if coordinator:
        env["LIAISON_WORKFLOW_COORDINATORS"] = coordinator
    if mailbox:
        env["LIAISON_MAILBOX_ADDRESS"] = mailbox
    app, _ = scratch_app(root, **env)  # type: ignore[arg-type]  # every value is a str
    pipeline = Pipeline(
        session_factory=app.session_factory, config=app.workflow, blobs=app.blobs, clock=app.clock
    )
    return World(app, pipeline)


@pytest.fixture
def worlds(tmp_path: Path, migrated_db: Path) -> Iterator[Callable[..., World]]:
    """Build worlds in this test's directory; all are closed at the end."""
    built: list[World] = []

    def build(name: str = "world", **options: object) -> World:
        world = make_world(tmp_path / name, migrated_db, **options)  # type: ignore[arg-type]
        built.append(world)
        return world

    yield build
    for world in built:
        world.app.close()


# --- mail as it arrives from the trusted MX ---------------------------------------------


def mx_pass(address: str, authserv_id: str = TRUSTED) -> str:
    """What the trusted MX writes for mail that passed DMARC for ``address``'s domain."""
    domain = address.rpartition("@")[2]
    return (
        f"{authserv_id}; dkim=pass (2048-bit key) header.d={domain} header.s=s2026; "
        f"spf=pass smtp.mailfrom={address}; dmarc=pass (p=quarantine dis=none) header.from={domain}"
    )


def mx_result(dmarc: str, domain: str = "example.com", authserv_id: str = TRUSTED) -> str:
    """What the trusted MX writes for mail that did not pass DMARC (``fail``, ``none``, ...)."""
    return (
        f"{authserv_id}; dkim=none; spf=softfail smtp.mailfrom={domain}; "
        f"dmarc={dmarc} header.from={domain}"
    )


def _b64(text: str) -> str:
    data = base64.encodebytes(text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8"))
    return data.decode("ascii").replace("\n", "\r\n")


def _leaf(ctype: str, text: str) -> list[str]:
    return [
        f"Content-Type: {ctype}; charset=utf-8",
        "Content-Transfer-Encoding: base64",
        "",
        _b64(text),
    ]


def compose_mail(
    *,
    auth: Sequence[str],
    from_: Sequence[str],
    to: str,
    subject: str,
    text: str | None = None,
    html: str | None = None,
    cc: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    message_id: str | None = None,
    extra: Sequence[tuple[str, str]] = (),
) -> bytes:
    """A message as the mailbox receives it: MX headers on top, raw UTF-8 allowed in From."""
    envelope = email.utils.parseaddr(from_[0])[1] if from_ else ""
    lines = [f"Return-Path: <{envelope}>", f"Delivered-To: {to}"]
    lines += [
        f"Received: from client.example.net by {TRUSTED} (Postfix) with ESMTPS for <{to}>; "
        "Mon, 16 Mar 2026 10:00:02 +0800"
    ]
    lines += [f"Authentication-Results: {a}" for a in auth]
    lines += [f"From: {f}" for f in from_]
    lines.append(f"To: {to}")
    if cc:
        lines.append(f"Cc: {cc}")
    lines.append(f"Subject: {Header(subject, 'utf-8').encode()}")
    lines.append("Date: " + email.utils.format_datetime(T0.replace(hour=10)))
    lines.append(f"Message-ID: {message_id or email.utils.make_msgid(domain='client.example.net')}")
    if in_reply_to:
        lines.append(f"In-Reply-To: {in_reply_to}")
    if references:
        lines.append(f"References: {references}")
    lines += [f"{name}: {value}" for name, value in extra]
    lines.append("MIME-Version: 1.0")
    if text is not None and html is not None:
        boundary = "=_alt_" + email.utils.make_msgid().strip("<>").replace("@", "_")
        lines.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
        lines += [
            "",
            f"--{boundary}",
            *_leaf("text/plain", text),
            f"--{boundary}",
            *_leaf("text/html", html),
            f"--{boundary}--",
            "",
        ]
    elif html is not None:
        lines += _leaf("text/html", html)
    else:
        lines += _leaf("text/plain", text or "")
    return "\r\n".join(lines).encode("utf-8")


@dataclass(frozen=True)
class Notice:
    """One of our mails, as the reply clients quote it."""

    raw: bytes
    message_id: str
    subject: str
    to: str
    reply_to: str | None
    text: str
    html_body: str

    @classmethod
    def of(cls, raw: bytes) -> Notice:
        msg = parse_mail(raw)
        plain, rich = msg.get_body(("plain",)), msg.get_body(("html",))
        assert plain is not None
        html = str(rich.get_content()) if rich is not None else ""
        inner = html.split("<body>", 1)[-1].split("</body>", 1)[0]
        reply_to = msg["Reply-To"].addresses[0].addr_spec if msg["Reply-To"] else None
        return cls(
            raw,
            str(msg["Message-ID"]),
            str(msg["Subject"]),
            msg["To"].addresses[0].addr_spec,
            reply_to,
            str(plain.get_content()),
            inner,
        )


# --- how mail clients write a reply -------------------------------------------------------


@dataclass(frozen=True)
class Body:
    subject_prefix: str
    text: str | None = None
    html: str | None = None


def _quoted(text: str, marker: str = "> ") -> str:
    return "\n".join((marker + line).rstrip() for line in text.splitlines())


def _esc(text: str) -> str:
    return html_lib.escape(text)


def _divs(lines: Sequence[str]) -> str:
    return "".join(f"<div>{_esc(line) or '<br>'}</div>" for line in lines)


def _paragraphs(lines: Sequence[str]) -> str:
    return "".join(f"<p class=MsoNormal>{_esc(line) or '&nbsp;'}<o:p></o:p></p>" for line in lines)


def _header_block(n: Notice, labels: Sequence[str], colon: str = ": ") -> str:
    """An Outlook-style block of the quoted mail's headers (From, Sent, To, Subject)."""
    values = (MAILBOX, "2026年3月16日 9:00", n.to, n.subject)
    return "".join(f"{label}{colon}{value}\n" for label, value in zip(labels, values, strict=True))


ZH_LABELS = ("发件人", "发送时间", "收件人", "主题")
EN_LABELS = ("From", "Sent", "To", "Subject")
RULE = "________________________________"
DINGTALK_RULE = "-" * 66


def _outlook_zh(new: Sequence[str], n: Notice) -> Body:
    quote = f"{RULE}\n{_header_block(n, ZH_LABELS)}\n{n.text}"
    return Body("答复: ", "\n".join(new) + "\n\n" + quote)


def _outlook_zh_fullwidth(new: Sequence[str], n: Notice) -> Body:
    quote = f"-----原始邮件-----\n{_header_block(n, ZH_LABELS, '：')}\n{n.text}"
    return Body("答复: ", "\n".join(new) + "\n\n" + quote)


def _outlook_en(new: Sequence[str], n: Notice) -> Body:
    quote = f"{RULE}\n{_header_block(n, EN_LABELS)}\n{n.text}"
    return Body("RE: ", "\n".join(new) + "\n\n" + quote)


def _outlook_en_original(new: Sequence[str], n: Notice) -> Body:
    quote = f"-----Original Message-----\n{_header_block(n, EN_LABELS)}\n{n.text}"
    return Body("RE: ", "\n".join(new) + "\n\n" + quote)


def _foxmail_qq(new: Sequence[str], n: Notice) -> Body:
    quote = (
        "------------------ 原始邮件 ------------------\n"
        f'发件人: "{MAILBOX}"<{MAILBOX}>;\n'
        "发送时间: 2026年3月16日(星期一) 上午9:00\n"
        f'收件人: "{n.to}"<{n.to}>;\n'
        f"主题: {n.subject}\n\n{n.text}"
    )
    return Body("回复：", "\n".join(new) + "\n\n\n" + quote)


def _mail163(new: Sequence[str], n: Notice) -> Body:
    quote = f'在 2026-03-16 09:00:00，"{MAILBOX}" <{MAILBOX}> 写道：\n{_quoted(n.text, ">")}'
    return Body("Re:", "\n".join(new) + "\n\n\n\n\n\n" + quote)


def _gmail_en(new: Sequence[str], n: Notice) -> Body:
    # Gmail wraps a long attribution line onto two lines.
    quote = f"On Mon, Mar 16, 2026 at 9:00 AM {MAILBOX} <{MAILBOX}>\nwrote:\n\n{_quoted(n.text)}"
    return Body("Re: ", "\n".join(new) + "\n\n" + quote)


def _gmail_zh(new: Sequence[str], n: Notice) -> Body:
    quote = f"{MAILBOX} <{MAILBOX}> 于2026年3月16日周一 09:00写道：\n\n{_quoted(n.text)}"
    return Body("回复：", "\n".join(new) + "\n\n" + quote)


def _apple_zh(new: Sequence[str], n: Notice) -> Body:
    quote = f"> 在 2026年3月16日，09:00，{MAILBOX} <{MAILBOX}> 写道：\n> \n{_quoted(n.text)}"
    return Body("回复：", "\n".join(new) + "\n\n发自我的iPhone\n\n" + quote)


def _apple_en(new: Sequence[str], n: Notice) -> Body:
    quote = f"> On Mar 16, 2026, at 09:00, {MAILBOX} <{MAILBOX}> wrote:\n> \n{_quoted(n.text)}"
    return Body("Re: ", "\n".join(new) + "\n\nSent from my iPhone\n\n" + quote)


def _thunderbird_zh(new: Sequence[str], n: Notice) -> Body:
    quote = f"在 2026/3/16 09:00, {MAILBOX} 写道:\n{_quoted(n.text)}"
    return Body("回复：", "\n".join(new) + "\n\n" + quote)


def _thunderbird_en(new: Sequence[str], n: Notice) -> Body:
    quote = f"On 3/16/26 9:00 AM, {MAILBOX} wrote:\n{_quoted(n.text)}"
    return Body("Re: ", "\n".join(new) + "\n\n" + quote)


def _dingtalk(new: Sequence[str], n: Notice) -> Body:
    """DingTalk (Alimail) sends both parts; the plain one is read."""
    block = _header_block(n, ("发件人", "发送时间", "收件人", "主　题"), "：")
    text = "\n".join(new) + f"\n\n{DINGTALK_RULE}\n{block}\n{n.text}"
    html = (
        f'<div class="__aliyun_email_body_block">{_divs(new)}</div>'
        f'<blockquote style="margin-right:0"><div>{DINGTALK_RULE}</div>'
        f"{_divs(block.splitlines())}{n.html_body}</blockquote>"
    )
    return Body("回复：", text, html)


def _html_gmail(new: Sequence[str], n: Notice) -> Body:
    html = (
        f'<div dir="ltr">{_divs(new)}</div><br>'
        '<div class="gmail_quote">'
        f'<div dir="ltr" class="gmail_attr">On Mon, Mar 16, 2026 at 9:00 AM &lt;{MAILBOX}&gt; '
        "wrote:<br></div>"
        f'<blockquote class="gmail_quote" style="margin:0 0 0 .8ex">{n.html_body}</blockquote>'
        "</div>"
    )
    return Body("Re: ", html=html)


def _html_outlook_divrplyfwdmsg(new: Sequence[str], n: Notice) -> Body:
    block = _header_block(n, ZH_LABELS)
    html = (
        '<html><head><style>p.MsoNormal {margin:0cm}</style></head><body lang="ZH-CN">'
        f'<div class="WordSection1">{_paragraphs([*new, ""])}</div>'
        '<div id="appendonsend"></div>'
        '<hr style="display:inline-block;width:98%" tabindex="-1">'
        f'<div id="divRplyFwdMsg" dir="ltr">{"<br>".join(map(_esc, block.splitlines()))}'
        "<div>&nbsp;</div></div>"
        f"<div>{n.html_body}</div></body></html>"
    )
    return Body("答复: ", html=html)


def _html_outlook_divider(new: Sequence[str], n: Notice) -> Body:
    """Outlook desktop without ids: the quote starts at a div with a thin top border."""
    block = _header_block(n, EN_LABELS)
    html = (
        f'<html><body><div class="WordSection1">{_paragraphs([*new, ""])}'
        '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
        f"<p class=MsoNormal>{'<br>'.join(map(_esc, block.splitlines()))}</p></div>"
        f"{n.html_body}</div></body></html>"
    )
    return Body("RE: ", html=html)


def _html_qq(new: Sequence[str], n: Notice) -> Body:
    """QQ Mail: no wrapper around the quote, only the 原始邮件 separator line."""
    html = (
        f"<div>{_divs(new)}</div><div><br></div>"
        '<div style="font-size: 12px;font-family: Arial Narrow;padding:2px 0 2px 0;">'
        "------------------&nbsp;原始邮件&nbsp;------------------</div>"
        '<div style="font-size: 12px;background:#efefef;padding:8px;">'
        f'<div><b>发件人:</b>&nbsp;"{MAILBOX}"&lt;{MAILBOX}&gt;;</div>'
        "<div><b>发送时间:</b>&nbsp;2026年3月16日(星期一) 上午9:00</div>"
        f"<div><b>收件人:</b>&nbsp;{n.to};</div>"
        f"<div><b>主题:</b>&nbsp;{_esc(n.subject)}</div></div>"
        f"<div><br></div>{n.html_body}"
    )
    return Body("回复：", html=html)


def _html_foxmail(new: Sequence[str], n: Notice) -> Body:
    block = _header_block(n, ZH_LABELS, "：")
    html = (
        f"<html><body><div>{_divs(new)}</div>"
        '<blockquote style="margin-Top: 0px; margin-Bottom: 0px; margin-Left: 0.5em">'
        "<div>&nbsp;</div>"
        '<div style="border:none;border-top:solid #B5C4DF 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
        f"{_divs(block.splitlines())}</div>"
        f"<div>{n.html_body}</div></blockquote></body></html>"
    )
    return Body("回复：", html=html)


def _html_thunderbird(new: Sequence[str], n: Notice) -> Body:
    html = (
        f"<html><body><p>{'<br>'.join(map(_esc, new))}</p>"
        f'<div class="moz-cite-prefix">在 2026/3/16 09:00, {MAILBOX} 写道:<br></div>'
        f'<blockquote type="cite" cite="mid:{n.message_id.strip("<>")}">{n.html_body}</blockquote>'
        "</body></html>"
    )
    return Body("回复：", html=html)


def _html_apple(new: Sequence[str], n: Notice) -> Body:
    """Apple Mail puts the attribution line inside the blockquote."""
    html = (
        f'<html><body dir="auto">{_divs(new)}<div><br><blockquote type="cite">'
        f"<div>On Mar 16, 2026, at 09:00, {MAILBOX} wrote:</div><br>{n.html_body}"
        "</blockquote></div></body></html>"
    )
    return Body("Re: ", html=html)


def _html_163(new: Sequence[str], n: Notice) -> Body:
    html = (
        f'<div style="line-height:1.7;font-size:14px;font-family:Arial">{_divs(new)}</div><br><br>'
        '<div style="position:relative;zoom:1"></div><div id="divNeteaseMailCard"></div><br>'
        f'<pre><br>在 2026-03-16 09:00:00，"{MAILBOX}" &lt;{MAILBOX}&gt; 写道：<br></pre>'
        '<blockquote id="isReplyContent" style="PADDING-LEFT: 1ex; MARGIN: 0px 0px 0px 0.8ex">'
        f"{n.html_body}</blockquote>"
    )
    return Body("Re:", html=html)


STYLES: dict[str, Callable[[Sequence[str], Notice], Body]] = {
    "outlook-zh": _outlook_zh,
    "outlook-zh-fullwidth-original": _outlook_zh_fullwidth,
    "outlook-en": _outlook_en,
    "outlook-en-original": _outlook_en_original,
    "foxmail-qq": _foxmail_qq,
    "163": _mail163,
    "gmail-en": _gmail_en,
    "gmail-zh": _gmail_zh,
    "apple-zh": _apple_zh,
    "apple-en": _apple_en,
    "thunderbird-zh": _thunderbird_zh,
    "thunderbird-en": _thunderbird_en,
    "dingtalk": _dingtalk,
    "html-gmail-blockquote": _html_gmail,
    "html-outlook-divrplyfwdmsg": _html_outlook_divrplyfwdmsg,
    "html-outlook-divider": _html_outlook_divider,
    "html-qq": _html_qq,
    "html-foxmail": _html_foxmail,
    "html-thunderbird": _html_thunderbird,
    "html-apple": _html_apple,
    "html-163": _html_163,
}


# --- one variant: a fresh request, its evaluation notice, a route to answer it ------------


@dataclass
class Case:
    world: World
    notice: Notice
    route: str  # "msgid": In-Reply-To/References name the notice; "token": only coord+TOKEN@

    @classmethod
    def start(cls, world: World, corpus_dir: Path, route: str) -> Case:
        assert world.deliver((corpus_dir / REQUEST).read_bytes()) is Outcome.PROCESSED
        [notice] = world.sent("office/evaluation_notice")
        case = cls(world, Notice.of(notice), route)
        assert (case.notice.reply_to is not None) == (route == "token")
        return case

    def reply(
        self,
        new: Sequence[str],
        *,
        sender: str = OFFICE,
        from_: Sequence[str] | None = None,
        auth: Sequence[str] | None = None,
        style: str = "outlook-zh",
        threaded: bool | None = None,
        to: str | None = None,
        cc: str | None = None,
        subject: str | None = None,
        in_reply_to: str | None = None,
        references: str | None = None,
        message_id: str | None = None,
        extra: Sequence[tuple[str, str]] = (),
        body: Body | None = None,
    ) -> bytes:
        """A reply to the notice; by default as the route would carry it, authenticated."""
        body = body or STYLES[style](new, self.notice)
        threaded = self.route == "msgid" if threaded is None else threaded
        if threaded:
            in_reply_to = in_reply_to or self.notice.message_id
            references = references or self.notice.message_id
        return compose_mail(
            auth=[mx_pass(sender)] if auth is None else auth,
            from_=[sender] if from_ is None else from_,
            to=to or (self.notice.reply_to if self.route == "token" else MAILBOX) or MAILBOX,
            cc=cc,
            subject=subject if subject is not None else body.subject_prefix + self.notice.subject,
            text=body.text,
            html=body.html,
            in_reply_to=in_reply_to,
            references=references,
            message_id=message_id,
            extra=extra,
        )


# --- 1. forged sign-offs --------------------------------------------------------------------

KEYWORDS = {
    "accept": "受理 牵头部门：研发部 配合部门：财务部、市场部",
    "return": "退回：不属于跨部门事项",
}
OTHER_ACTION = {"accept": "return", "return": "accept"}
FOREIGN_ID = "mx.example.com.relay.example.net"


@dataclass(frozen=True)
class Forged:
    messages: list[bytes]
    #: Addresses that must receive nothing from us (the office's own notices aside) ...
    attackers: frozenset[str] = frozenset()
    #: ... except the held-for-review notice that mail.md promises a sender who passed DMARC.
    authenticated: bool = True


Attack = Callable[[Case, str, str], Forged]


def _by(
    sender: str, *, from_: Sequence[str] | None = None, attackers: Sequence[str] = (), **kw: object
) -> Attack:
    """The keyword from ``sender`` (authenticated for its own domain) as the route carries it."""

    def attack(case: Case, keyword: str, _other: str) -> Forged:
        raw = case.reply([keyword], sender=sender, from_=from_, **kw)  # type: ignore[arg-type]
        return Forged([raw], frozenset(a.lower() for a in (*attackers, sender)))

    return attack


def _forged_auth(*auth: str) -> Attack:
    """From the office, but the Authentication-Results do not vouch for it."""

    def attack(case: Case, keyword: str, _other: str) -> Forged:
        return Forged(
            [case.reply([keyword], auth=list(auth))], frozenset({OFFICE}), authenticated=False
        )

    return attack


def _office(new: Callable[[str], list[str]], **kw: object) -> Attack:
    """From the office itself, authenticated, but not a sign-off for another reason."""

    def attack(case: Case, keyword: str, _other: str) -> Forged:
        return Forged([case.reply(new(keyword), **kw)])  # type: ignore[arg-type]

    return attack


def _auto_reply(extra: Sequence[tuple[str, str]] = (), subject_prefix: str = "") -> Attack:
    """An auto-reply from the office echoing the keyword (and, on the token route, the token)."""

    def attack(case: Case, keyword: str, _other: str) -> Forged:
        subject = subject_prefix + case.notice.subject if subject_prefix else None
        new = [keyword, "", "我目前不在办公室，将于3月25日返回。"]
        return Forged([case.reply(new, extra=extra, subject=subject)])

    return attack


def _quoted_keyword(case: Case, keyword: str, style: str) -> Body:
    """The keyword only in the quoted part: the quote starts with it."""
    quoted = f"{keyword}\n\n{case.notice.text}"
    if style == "gt":
        return Body(
            "Re: ",
            f"稍后回复。\n\nOn Mon, Mar 16, 2026 at 9:30 AM 周敏 <zhou.min@example.com> wrote:\n"
            f"{_quoted(quoted)}",
        )
    if style == "outlook":
        return Body(
            "答复: ",
            "稍后回复。\n\n-----原始邮件-----\n发件人: 周敏 <zhou.min@example.com>\n"
            f"发送时间: 2026年3月16日 9:30\n收件人: {OFFICE}\n"
            f"主题: {case.notice.subject}\n\n{quoted}",
        )
    if style == "html":
        return Body(
            "回复：",
            html=f'<div>稍后回复。</div><blockquote type="cite"><div>{html_lib.escape(keyword)}'
            f"</div>{case.notice.html_body}</blockquote>",
        )
    return Body("Re: ", _quoted(quoted))  # nothing but the quote


def _in_quote(style: str) -> Attack:
    def attack(case: Case, keyword: str, _other: str) -> Forged:
        return Forged([case.reply([], body=_quoted_keyword(case, keyword, style))])

    return attack


def _replay(same_message_id: bool) -> Attack:
    """A valid sign-off first (the other action), then the same token/Message-ID again."""

    def attack(case: Case, keyword: str, other: str) -> Forged:
        message_id = email.utils.make_msgid(domain="client.example.net")
        before = case.world.request()
        case.world.deliver(case.reply([other], message_id=message_id))
        assert case.world.request() != before, "the first, valid sign-off must apply"
        again = case.reply([keyword], message_id=message_id if same_message_id else None)
        return Forged([again])

    return attack


def _closed(state: str) -> Attack:
    def attack(case: Case, keyword: str, _other: str) -> Forged:
        case.world.set_state(state)
        return Forged([case.reply([keyword])])

    return attack


def _forwarded(case: Case, keyword: str, _other: str) -> Forged:
    """The office forwarded the notice; the colleague answers it (to the token, or in thread)."""
    colleague = "chen.jing@example.com"
    forward_id = "<fwd.20260316093000.7f3a@example.com>"
    references = f"{case.notice.message_id} {forward_id}" if case.route == "msgid" else forward_id
    body = Body(
        "回复: 转发: ",
        f"{keyword}\n\n-----原始邮件-----\n发件人: 周敏 <{OFFICE}>\n"
        f"发送时间: 2026年3月16日 9:30\n收件人: {colleague}\n主题: 转发: {case.notice.subject}\n\n"
        f"---------- 转发的邮件 ----------\n{case.notice.text}",
    )
    raw = case.reply(
        [],
        sender=colleague,
        body=body,
        threaded=False,
        in_reply_to=forward_id,
        references=references,
    )
    return Forged([raw], frozenset({colleague}))


def _never_issued_token(case: Case, keyword: str, _other: str) -> Forged:
    return Forged(
        [case.reply([keyword], to="coord+00112233445566778899@example.com", threaded=False)]
    )


def _never_sent_message_id(case: Case, keyword: str, _other: str) -> Forged:
    fake = "<evaluation.xt-2026-0001.20260316090000.deadbeef@coord.example.com>"
    return Forged([case.reply([keyword], threaded=True, in_reply_to=fake, references=fake)])


def _encoded(text: str) -> str:
    return Header(text, "utf-8").encode()


BOTH = ("msgid", "token")
ATTACKS: dict[str, tuple[tuple[str, ...], Attack]] = {
    # spoofed From (each authenticated for its own domain: DMARC vouches for the domain only)
    "another-person": (BOTH, _by("wang.qiang@example.com")),
    "the-requester": (BOTH, _by("liu.yang@example.com")),
    "lookalike-digit-examp1e.com": (BOTH, _by("office@examp1e.com")),
    "lookalike-suffix-example.com.evil.net": (BOTH, _by("office@example.com.evil.net")),
    "lookalike-rn-exarnple.com": (BOTH, _by("office@exarnple.com")),
    "lookalike-subdomain": (BOTH, _by("office@mail.example.com")),
    "homoglyph-cyrillic-domain": (BOTH, _by("office@ex\u0430mple.com")),
    "homoglyph-cyrillic-local": (BOTH, _by("\u043effice@example.com")),
    "homoglyph-fullwidth-local": (BOTH, _by("\uff4fffice@example.com")),
    "homoglyph-fullwidth-domain": (BOTH, _by("office@\uff45xample.com")),
    "display-name-spoof": (BOTH, _by(ATTACKER, from_=[f'"{OFFICE}" <{ATTACKER}>'])),
    "display-name-spoof-unquoted": (BOTH, _by(ATTACKER, from_=[f"{OFFICE} <{ATTACKER}>"])),
    "display-name-spoof-encoded": (
        BOTH,
        _by(ATTACKER, from_=[f"{_encoded(f'协调办公室 {OFFICE}')} <{ATTACKER}>"]),
    ),
    "quoted-local-part": (BOTH, _by(f'"{OFFICE}"@evil.example.net')),
    "sender-header-names-office": (BOTH, _by(ATTACKER, extra=[("Sender", OFFICE)])),
    "reply-to-names-office": (BOTH, _by(ATTACKER, extra=[("Reply-To", OFFICE)])),
    "delegate-of-someone-else": (BOTH, _by(DELEGATE)),
    "cc-third-party-reply-all": (BOTH, _by("zhou.min@example.com", cc=OFFICE)),
    "forwarded-token": (BOTH, _forwarded),
    # forged or foreign Authentication-Results (From is the office)
    "dmarc-fail": (BOTH, _forged_auth(mx_result("fail"))),
    "dmarc-none": (BOTH, _forged_auth(mx_result("none"))),
    "dmarc-bestguesspass": (BOTH, _forged_auth(mx_result("bestguesspass"))),
    "authentication-results-missing": (BOTH, _forged_auth()),
    "foreign-authserv-pass": (BOTH, _forged_auth(mx_pass(OFFICE, FOREIGN_ID))),
    "lookalike-authserv-pass": (BOTH, _forged_auth(mx_pass(OFFICE, "mx.examp1e.com"))),
    "trusted-pass-below-foreign": (
        BOTH,
        _forged_auth(mx_result("fail"), mx_pass(OFFICE, FOREIGN_ID), mx_pass(OFFICE)),
    ),
    "topmost-trusted-fail-then-pass": (BOTH, _forged_auth(mx_result("fail"), mx_pass(OFFICE))),
    "dkim-pass-unaligned": (
        BOTH,
        _forged_auth(
            f"{TRUSTED}; dkim=pass header.d=evil.example.net header.s=s1; "
            f"spf=pass smtp.mailfrom={ATTACKER}"
        ),
    ),
    "pass-only-in-comments": (
        BOTH,
        _forged_auth(
            f"{TRUSTED}; dkim=fail (dmarc=pass) header.d=example.com; "
            "dmarc=fail (dmarc=pass) header.from=example.com"
        ),
    ),
    # who sent it: not exactly one address
    "two-from-in-one-header": (
        BOTH,
        _by(OFFICE, from_=[f"{OFFICE}, {ATTACKER}"], attackers=[ATTACKER]),
    ),
    "two-from-headers": (BOTH, _by(OFFICE, from_=[OFFICE, ATTACKER], attackers=[ATTACKER])),
    "no-from": (BOTH, _by(OFFICE, from_=[])),
    "empty-group-from": (BOTH, _by(OFFICE, from_=["undisclosed-recipients:;"])),
    # what it answers
    "never-sent-message-id": (("msgid",), _never_sent_message_id),
    "never-issued-token": (("token",), _never_issued_token),
    "subject-tag-only": (BOTH, _office(lambda k: [k], threaded=False, to=MAILBOX)),
    # the keyword is not where it counts
    "keyword-in-quote-gt": (BOTH, _in_quote("gt")),
    "keyword-in-quote-outlook": (BOTH, _in_quote("outlook")),
    "keyword-in-quote-html-blockquote": (BOTH, _in_quote("html")),
    "keyword-in-quote-only": (BOTH, _in_quote("only")),
    "keyword-on-fourth-line": (
        BOTH,
        _office(lambda k: ["各位好，", "这个需求我看过了。", "我们内部讨论过。", k]),
    ),
    "keyword-negated": (BOTH, _office(lambda k: ["不" + k])),
    # automatic mail echoing the keyword and the token
    "auto-submitted-auto-replied": (BOTH, _auto_reply([("Auto-Submitted", "auto-replied")])),
    "auto-submitted-auto-generated": (BOTH, _auto_reply([("Auto-Submitted", "auto-generated")])),
    "x-autoreply": (BOTH, _auto_reply([("X-Autoreply", "yes")])),
    "x-autorespond": (BOTH, _auto_reply([("X-Autorespond", "yes")])),
    "precedence-auto-reply": (BOTH, _auto_reply([("Precedence", "auto_reply")])),
    "subject-zidong-huifu": (BOTH, _auto_reply(subject_prefix="自动回复: ")),
    "subject-automatic-reply": (BOTH, _auto_reply(subject_prefix="Automatic reply: ")),
    # used already, or too late
    "replayed-token-new-message-id": (BOTH, _replay(same_message_id=False)),
    "replayed-message-id": (BOTH, _replay(same_message_id=True)),
    "closed-request-archived": (BOTH, _closed("archived")),
    "closed-request-withdrawn": (BOTH, _closed("withdrawn")),
}
FORGED = [
    pytest.param(name, route, action, id=f"{name}-{route}-{action}")
    for name, (routes, _) in ATTACKS.items()
    for route in routes
    for action in ("accept", "return")
]


@pytest.mark.parametrize(("attack", "route", "action"), FORGED)
def test_a_forged_sign_off_changes_nothing(
    attack: str,
    route: str,
    action: str,
    worlds: Callable[..., World],
    corpus_dir: Path,
    figures: Figures,
) -> None:
    world = worlds(token=route == "token")
    case = Case.start(world, corpus_dir, route)
    forged = ATTACKS[attack][1](case, KEYWORDS[action], KEYWORDS[OTHER_ACTION[action]])
    request, signoffs = world.request(), world.signoffs()
    mark = world.outbox()[-1].id
    failures = world.failures
    for raw in forged.messages:
        world.deliver(raw)

    accepted = world.request() != request or world.signoffs() != signoffs
    figures.forged += 1
    if accepted:
        figures.forged_accepted.append(f"{attack}/{route}/{action}")
    sent = world.outbox(after=mark)
    what = f"{attack} ({route}, {action}): {world.describe()}"
    assert not accepted, f"forged sign-off accepted: {what}"
    assert [r.recipients for r in sent if r.kind == "signer/receipt"] == [], what
    coordinators = {c.lower() for c in world.app.workflow.coordinators}
    for row in sent:
        for recipient in (r.lower() for r in row.recipients):
            if recipient not in forged.attackers or (
                row.kind.startswith("office/") and recipient in coordinators
            ):
                continue
            assert forged.authenticated and row.kind == "sender/held_for_review", (
                f"{row.kind} sent to {recipient}: {what}"
            )
    assert world.failures == failures, (
        f"processing raised instead of holding or quarantining: {what}"
    )


# --- 2. legitimate sign-offs ------------------------------------------------------------------


@dataclass(frozen=True)
class Mode:
    action: str  # "accept" | "return"
    route: str  # "msgid" | "token"
    delegate: bool  # signed by the coordinator's delegate instead of the coordinator
    fullwidth: bool  # full-width colons and commas in the keyword line
    greeting: bool  # a greeting line before the keyword


SIGN_OFF_LINES = {
    ("zh", "accept", True): "受理 牵头部门：研发部 配合部门：财务部、市场部",
    ("zh", "accept", False): "受理 牵头部门:研发部 配合部门:财务部,市场部",
    ("zh", "return", True): "退回：背景与目标不明确，请补充预期收益",
    ("zh", "return", False): "退回:请补充验收标准",
    ("en", "accept", True): "Accept lead：R&D support：Finance，Marketing",
    ("en", "accept", False): "ACCEPT lead: R&D support: Finance, Marketing",
    ("en", "return", True): "Return：please state the expected benefit",
    ("en", "return", False): "RETURN: please state the expected benefit",
}
GREETING = {"zh": "各位好，", "en": "Hi all,"}
SIGNATURE = {"zh": ["", "周敏"], "en": ["", "Best regards,", "Min Zhou"]}
# Two modes per style and language, chosen so that every style is seen accepting and
# returning, through threading and the token, from the office and from a delegate.
MODE_PAIRS = (
    (Mode("accept", "msgid", False, True, True), Mode("return", "token", False, True, False)),
    (Mode("return", "msgid", True, False, False), Mode("accept", "token", True, False, True)),
)
LEGITIMATE = [
    pytest.param(
        style,
        lang,
        mode,
        id=f"{style}-{lang}-{mode.action}-{mode.route}-{'delegate' if mode.delegate else 'office'}",
    )
    for i, style in enumerate(STYLES)
    for j, lang in enumerate(("zh", "en"))
    for mode in MODE_PAIRS[(i + j) % 2]
]


@pytest.mark.parametrize(("style", "lang", "mode"), LEGITIMATE)
def test_a_legitimate_sign_off_is_accepted(
    style: str,
    lang: str,
    mode: Mode,
    worlds: Callable[..., World],
    corpus_dir: Path,
    figures: Figures,
) -> None:
    world = worlds(token=mode.route == "token", coordinator=PRINCIPAL if mode.delegate else None)
    case = Case.start(world, corpus_dir, mode.route)
    principal, signer = (PRINCIPAL, DELEGATE) if mode.delegate else (OFFICE, OFFICE)
    assert case.notice.to == principal
    new = [GREETING[lang]] if mode.greeting else []
    new += [SIGN_OFF_LINES[(lang, mode.action, mode.fullwidth)], *SIGNATURE[lang]]
    mark = world.outbox()[-1].id
    outcome = world.deliver(case.reply(new, sender=signer, style=style))

    expected = (
        ("accepted", "研发部", ["财务部", "市场部"])
        if mode.action == "accept"
        else ("returned", None, [])
    )
    receipts = [r.recipients for r in world.outbox(after=mark) if r.kind == "signer/receipt"]
    action = "evaluate_accept" if mode.action == "accept" else "reject"
    accepted = world.request() == expected and receipts == [[signer]]
    figures.legitimate += 1
    figures.legitimate_accepted += accepted
    what = f"{world.describe()}, outcome {outcome}"
    assert world.request() == expected, what
    assert receipts == [[signer]], what
    assert world.signoffs() == [(action, signer, principal)], what
    assert world.held() == [], what


# --- 3. loops ---------------------------------------------------------------------------------

#: Headers a relay may strip on the way (RFC 3834 markers and our own loop header).
AUTO_HEADERS = (b"auto-submitted", b"x-auto-response-suppress", b"x-liaison-loop", b"precedence")


def through_mx(raw: bytes, *, sender: str, to: str, strip: Sequence[bytes] = ()) -> bytes:
    """``raw`` as the trusted MX delivers it to ``to``: authenticated, optionally stripped."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    kept: list[bytes] = []
    dropping = False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = line.split(b":", 1)[0].strip().lower() in strip
        if not dropping:
            kept.append(line)
    top = [
        f"Return-Path: <{sender}>",
        f"Delivered-To: {to}",
        f"Authentication-Results: {mx_pass(sender)}",
    ]
    return "\r\n".join(top).encode() + b"\r\n" + b"\r\n".join(kept) + sep + body


def _request_from(corpus_dir: Path, sender: str, to: str, message_id: str | None = None) -> bytes:
    raw = (corpus_dir / REQUEST).read_bytes()
    raw = raw.replace(b"liu.yang@example.com", sender.encode()).replace(
        b"coord@example.com", to.encode()
    )
    if message_id:
        raw = raw.replace(
            b"<0B99EE32FA789A58807755933C2F994A@EXMBX02.corp.example.com>", message_id.encode()
        )
    return raw


def _ping_pong(worlds: dict[str, World], *, strip: Sequence[bytes], rounds: int = 8) -> int:
    """Carry every mail one instance sends to the other's address until none is left."""
    carried: set[tuple[str, int]] = set()
    count = 0
    for _ in range(rounds):
        moved = 0
        for address, world in worlds.items():
            for row in world.outbox():
                if (address, row.id) in carried:
                    continue
                carried.add((address, row.id))
                for recipient in row.recipients:
                    other = worlds.get(recipient.lower())
                    if other is not None and other is not world:
                        other.deliver(
                            through_mx(row.raw, sender=address, to=recipient, strip=strip)
                        )
                        moved += 1
        count += moved
        if not moved:
            break
    return count


@pytest.mark.parametrize(
    "strip", [(), AUTO_HEADERS], ids=["headers-intact", "auto-headers-stripped"]
)
def test_two_instances_do_not_acknowledge_each_other_forever(
    strip: Sequence[bytes], worlds: Callable[..., World], corpus_dir: Path, figures: Figures
) -> None:
    a_box, b_box = "coord-a@example.com", "coord-b@example.com"
    a, b = worlds("a", mailbox=a_box), worlds("b", mailbox=b_box)
    # A request to A whose From is B's address: A acknowledges it to B.
    assert a.deliver(_request_from(corpus_dir, b_box, a_box)) is Outcome.PROCESSED
    exchanged = 1 + _ping_pong({a_box: a, b_box: b}, strip=strip)

    figures.loops["instances-stripped" if strip else "instances"] = exchanged
    assert exchanged <= 3, f"{exchanged} messages between two instances"
    assert [r.kind for r in a.outbox() if b_box in r.recipients] == ["requester/acknowledged"]


VACATION = "我正在休假，3月25日返回。"
REPORTS = 1000


def _vacation_reply(raw: bytes, person: str) -> bytes:
    """A responder without RFC 3834 headers: In-Reply-To set, nothing else marks it."""
    msg = parse_mail(raw)
    to = (msg["Reply-To"] or msg["From"]).addresses[0].addr_spec
    return compose_mail(
        auth=[mx_pass(person)],
        from_=[person],
        to=to,
        subject="Re: " + str(msg["Subject"]),
        text=VACATION,
        in_reply_to=str(msg["Message-ID"]),
        references=str(msg["Message-ID"]),
    )


def test_a_vacation_responder_without_auto_headers_gets_no_loop(
    worlds: Callable[..., World], corpus_dir: Path, figures: Figures
) -> None:
    world = worlds()
    mailbox = world.app.workflow.mailbox_address
    requester = "liu.yang@example.com"
    exchanged: Counter[str] = Counter({requester: 1})  # the request that starts it
    assert world.deliver(_request_from(corpus_dir, requester, mailbox)) is Outcome.PROCESSED
    answered: set[int] = set()
    for _ in range(8):  # every mail we send to a person is answered by the responder
        fresh = [r for r in world.outbox() if r.id not in answered]
        if not fresh:
            break
        for row in fresh:
            answered.add(row.id)
            for person in row.recipients:
                exchanged[person] += 2  # ours, and the vacation reply to it
                world.deliver(_vacation_reply(row.raw, person))

    worst, count = exchanged.most_common(1)[0]
    figures.loops["vacation"] = count
    kinds = {p: [r.kind for r in world.outbox() if p in r.recipients] for p in exchanged}
    assert count <= 3, f"{count} messages exchanged with {worst}; our mails per person: {kinds}"


def _dsn(
    template: bytes, i: int, *, reporter: str, failed: str, original: str, auto_submitted: bool
) -> bytes:
    raw = (
        template.replace(
            b"<20260320084531.UwZtWisAbApt@mx.example.com>",
            f"<dsn.{i}.x9q@mx.example.com>".encode(),
        )
        .replace(b"<minutes.xt-2026-0003.v1.20260320084519@coord.example.com>", original.encode())
        .replace(b"MAILER-DAEMON@mx.example.com", reporter.encode())
        .replace(b"zhao.lei@example.cn", failed.encode())
    )
    return raw if auto_submitted else raw.replace(b"Auto-Submitted: auto-replied\r\n", b"")


def test_delivery_reports_are_never_answered(
    worlds: Callable[..., World], corpus_dir: Path, figures: Figures
) -> None:
    world = worlds()
    mailbox = world.app.workflow.mailbox_address
    for n in range(3):
        raw = _request_from(
            corpus_dir, "liu.yang@example.com", mailbox, f"<request.{n}@client.example.com>"
        )
        assert world.deliver(raw) is Outcome.PROCESSED
    ours = [(r.message_id, r.recipients[0]) for r in world.outbox()]
    assert len(ours) == 6
    mark = world.outbox()[-1].id
    template = (corpus_dir / DSN).read_bytes()
    reporters: set[str] = set()
    for i in range(REPORTS):
        reporter = (
            f"MAILER-DAEMON@mx{i % 7}.example.net"
            if i % 5
            else f"postmaster@mail{i % 3}.example.org"
        )
        reporters.add(reporter.lower())
        if i % 2 == 0:
            original, failed = ours[(i // 2) % len(ours)]
        elif i % 4 == 1:
            original, failed = (
                f"<evaluation.xt-2026-0999.20260316090000.{i:x}@coord.example.com>",
                "x@example.cn",
            )
        else:
            original, failed = f"<{i}.unknown@client.example.net>", f"user{i}@example.org"
        world.deliver(
            _dsn(
                template,
                i,
                reporter=reporter,
                failed=failed,
                original=original,
                auto_submitted=i % 3 > 0,
            )
        )

    sent = world.outbox(after=mark)
    answers = [r for r in sent if reporters & {x.lower() for x in r.recipients}]
    figures.loops["reports"], figures.reports = len(answers), REPORTS
    assert answers == []
    assert {(r.kind, tuple(r.recipients)) for r in sent} <= {("office/delivery_failed", (OFFICE,))}
    with SqlUnitOfWork(world.app.session_factory) as uow:
        told = Counter(
            uow.session.scalars(
                select(Communication.summary).where(Communication.kind == "office/delivery_failed")
            )
        )
        states = Counter(
            uow.session.scalars(select(InboundMessage.state).where(InboundMessage.id > 3))
        )
    assert told == Counter({message_id: 1 for message_id, _ in ours}), (
        "the office is told once per bounced mail"
    )
    assert states == Counter({"noise": REPORTS})
