"""Hostile input through the whole service: at least 2,000 mutated corpus messages, each
handed to the real pipeline (SQLite, FrozenClock) with the isolated parser, as a mailbox
source would hand it over.

Every message must end processed, noise, a duplicate or quarantined, and no exception may
escape ``Pipeline.handle``. The figures are printed at the end of the test run:
``fuzz: N messages, N processed, N quarantined, 0 crashes``.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.bootstrap import App
from daemon.inbound import Arrival, Outcome, SourceRef
from daemon.isolation import IsolatedParser
from daemon.pipeline import Pipeline
from store.models import OutboxMessage
from store.uow import SqlUnitOfWork
from tests.support import parse_mail, scratch_app, with_message_id
from tests.test_isolation import isolated_pipeline

EXAMPLES = 2000
SOURCE = "fuzz"
ATTACKER = b"attacker@evil.example.net"


# --- mutations -------------------------------------------------------------------------------

_CHARSETS = [
    b"gb2312",
    b"gbk",
    b"gb18030",
    b"x-gbk",
    b"utf-8",
    b"utf-16",
    b"utf-32",
    b"utf-7",
    b"big5",
    b"iso-2022-jp",
    b"iso-8859-1",
    b"windows-1252",
    b"us-ascii",
    b"x-unknown",
    b"",
    b'""',
    b"utf-8\x00",
    b"\xe4\xb8\xad\xe6\x96\x87",
]
_HEADER_NAMES = [b"Subject", b"From", b"To", b"Cc", b"Reply-To", b"In-Reply-To", b"References"]
_INJECTIONS = [
    b"hello\r\nBcc: " + ATTACKER,
    b"hello\nBcc: " + ATTACKER + b"\nX-Injected: 1",
    b"hello\rBcc: " + ATTACKER,
    b"=?utf-8?B?" + base64.b64encode(b"[\xe9\x9c\x80\xe6\xb1\x82] x\r\nBcc: " + ATTACKER) + b"?=",
    b"=?gb2312?Q?a=0D=0AX-Injected:=201?=",
    b'"=?utf-8?B?' + base64.b64encode(b"Boss\r\nBcc: " + ATTACKER) + b'?=" <boss@example.com>',
    b"x@example.com\r\n\r\n--injected body",
]
_BOUNDARY = re.compile(rb'boundary\s*=\s*"?([^"\r\n;]+)"?', re.I)


def _split(raw: bytes) -> tuple[bytes, bytes, bytes]:
    for sep in (b"\r\n\r\n", b"\n\n"):
        head, found, body = raw.partition(sep)
        if found:
            return head, sep, body
    return raw, b"", b""


def _header_lines(head: bytes) -> list[bytes]:
    """Header fields with their continuation lines attached."""
    lines: list[bytes] = []
    for line in re.split(rb"\r\n|\n", head):
        if lines and line[:1] in (b" ", b"\t"):
            lines[-1] += b"\r\n" + line
        else:
            lines.append(line)
    return lines


@st.composite
def _mutation(draw: st.DrawFn, raw: bytes) -> bytes:
    op = draw(
        st.sampled_from(
            [
                "flip",
                "truncate",
                "duplicate_header",
                "inject_crlf",
                "nest",
                "huge_header",
                "charset",
                "boundary",
                "many_parts",
                "splice",
            ]
        )
    )
    size = len(raw)
    head, sep, body = _split(raw)
    lines = _header_lines(head)
    if op == "flip":
        data = bytearray(raw)
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, max(size - 1, 0)))
            data[at : at + 4] = draw(st.binary(min_size=1, max_size=4))
        return bytes(data)
    if op == "truncate":
        return raw[: draw(st.integers(0, size))]
    if op == "duplicate_header":
        line = draw(st.sampled_from(lines)) if lines else b"X: y"
        copies = draw(st.integers(1, 40))
        at = draw(st.integers(0, len(lines)))
        return b"\r\n".join(lines[:at] + [line] * copies + lines[at:]) + sep + body
    if op == "inject_crlf":
        name = draw(st.sampled_from(_HEADER_NAMES))
        value = draw(st.sampled_from(_INJECTIONS))
        kept = [ln for ln in lines if not ln.lower().startswith(name.lower() + b":")]
        if draw(st.booleans()):
            kept = lines  # added beside the original: a duplicate as well
        return b"\r\n".join([name + b": " + value, *kept]) + (sep or b"\r\n\r\n") + body
    if op == "nest":
        levels = draw(st.integers(1, 70))
        content = [ln for ln in lines if ln.lower().startswith(b"content-")]
        other = [ln for ln in lines if not ln.lower().startswith((b"content-", b"mime-version"))]
        inner = b"\r\n".join(content) + b"\r\n\r\n" + body
        for level in range(levels):
            b = b"nest%03d" % level
            inner = (
                b'Content-Type: multipart/mixed; boundary="' + b + b'"\r\n\r\n'
                b"--" + b + b"\r\n" + inner + b"\r\n--" + b + b"--\r\n"
            )
        return b"\r\n".join([*other, b"MIME-Version: 1.0"]) + b"\r\n" + inner
    if op == "huge_header":
        length = draw(st.integers(1_000, 100_000))
        name = draw(st.sampled_from([b"Subject", b"X-Huge", b"To", b"References"]))
        unit = draw(st.sampled_from([b"A", b"=?utf-8?B?5L2g5aW9?= ", b"a@b.example, ", b"<x@y> "]))
        folded = draw(st.booleans())
        value = (unit * (length // len(unit) + 1))[:length]
        if folded:
            value = b"\r\n ".join(value[i : i + 76] for i in range(0, len(value), 76))
        return b"\r\n".join([name + b": " + value, *lines]) + (sep or b"\r\n\r\n") + body
    if op == "charset":
        charset = draw(st.sampled_from(_CHARSETS))
        changed = re.sub(rb"(?i)(charset\s*=\s*)\"?[\w.:-]+\"?", rb"\g<1>" + charset, raw)
        return re.sub(rb"=\?[\w.:-]+\?([BbQq])\?", b"=?" + charset + rb"?\1?", changed)
    if op == "boundary":
        found = _BOUNDARY.search(raw)
        if found is None:
            return raw.replace(b"Content-Type:", b"Content-Type: multipart/mixed; boundary=x;", 1)
        token = found.group(1)
        damage = draw(st.sampled_from(["no_close", "rename", "drop_param", "repeat", "empty"]))
        if damage == "no_close":
            return raw.replace(b"--" + token + b"--", b"")
        if damage == "rename":
            return raw.replace(b"--" + token, b"--" + token[:-1] + b"Z", draw(st.integers(1, 3)))
        if damage == "drop_param":
            return raw[: found.start()] + raw[found.end() :]
        if damage == "repeat":
            return raw.replace(b"--" + token + b"\r\n", (b"--" + token + b"\r\n") * 50, 1)
        return raw.replace(found.group(0), b'boundary=""', 1)
    if op == "many_parts":
        count = draw(st.integers(1, 700))
        parts = b"".join(
            b"--mp\r\nContent-Type: text/plain\r\n\r\n%d\r\n" % i for i in range(count)
        )
        other = [ln for ln in lines if not ln.lower().startswith(b"content-")]
        return (
            b"\r\n".join([*other, b'Content-Type: multipart/mixed; boundary="mp"'])
            + b"\r\n\r\n--mp\r\n"
            + b"\r\n".join(ln for ln in lines if ln.lower().startswith(b"content-"))
            + b"\r\n\r\n"
            + body
            + b"\r\n"
            + parts
            + b"--mp--\r\n"
        )
    # splice: a piece of the message repeated or moved elsewhere
    start = draw(st.integers(0, size))
    piece = raw[start : start + draw(st.integers(1, 2_000))]
    at = draw(st.integers(0, size))
    return raw[:at] + piece * draw(st.integers(1, 20)) + raw[at:]


# --- the tally printed at the end of the run -------------------------------------------------


@dataclass
class Tally:
    messages: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    crashes: list[str] = field(default_factory=list)
    failed_attempts: int = 0
    held: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def processed(self) -> int:
        return self.outcomes["processed"] + self.outcomes["noise"] + self.outcomes["duplicate"]

    def line(self) -> str:
        return (
            f"fuzz: {self.messages} messages, {self.processed} processed, "
            f"{self.outcomes['quarantined']} quarantined, {len(self.crashes)} crashes"
        )

    def detail(self) -> str:
        rejected = ", ".join(f"{n} {r}" for r, n in self.reasons.most_common())
        return (
            f"fuzz detail: processed = {self.outcomes['processed']} processed "
            f"(of which {self.held} held for review) + "
            f"{self.outcomes['noise']} noise + {self.outcomes['duplicate']} duplicates; "
            f"quarantined by: {rejected or 'nothing'}; "
            f"{self.failed_attempts} failed attempts retried"
        )


@pytest.fixture(scope="module")
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    """The figures of this module, written out when the whole test run has finished."""
    counts = Tally()
    yield counts
    if not counts.messages:
        return
    lines = [counts.line(), counts.detail()]
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")

    def announce() -> None:
        for text in lines:
            if reporter is not None:
                reporter.write_line(text)
            else:
                print(text)

    request.config.add_cleanup(announce)


# --- the run ---------------------------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    app, _ = scratch_app(tmp_path)
    yield app
    app.close()


@pytest.fixture
def pipeline(app: App) -> Iterator[Pipeline]:
    with IsolatedParser(app.workflow.parse_options) as isolated:
        yield isolated_pipeline(app, isolated)


def _reason_class(reason: str | None) -> str:
    if not reason:
        return "?"
    if reason.startswith("hostile ("):
        return reason.split(")", 1)[0] + ")"
    if reason.startswith("rejected: "):
        return "rejected (" + reason.removeprefix("rejected: ").split(":", 1)[0] + ")"
    counted, _, last = reason.partition("; last error: ")
    return f"{counted} ({last.split(':', 1)[0]})" if last else counted


def _arrive(app: App, pipeline: Pipeline, raw: bytes, uid: str, tally: Tally) -> None:
    """Hand ``raw`` over as a mailbox source does, retrying while told to (up to the
    attempt limit), and check where it ended."""
    ref = SourceRef(SOURCE, 1, uid)
    for _attempt in range(app.workflow.max_attempts):
        last = pipeline.results[-1] if pipeline.results else None
        try:
            outcome = pipeline.handle(Arrival(ref, raw))
        except Exception as exc:  # a crash: counted, then the example fails
            tally.crashes.append(f"{type(exc).__name__}: {exc}")
            raise
        if outcome is not Outcome.RETRY:
            break
        tally.failed_attempts += 1
    assert outcome in (Outcome.PROCESSED, Outcome.QUARANTINED)

    with SqlUnitOfWork(app.session_factory) as uow:
        if pipeline.results and pipeline.results[-1] is not last:
            result = pipeline.results[-1]
            row = uow.inbound.by_id(result.inbound_id)
            ended = result.outcome
        else:  # failed every attempt: record_failure quarantined it
            row = uow.inbound.find_duplicate(SOURCE, 1, uid, None, "")
            ended = "quarantined"
        assert row is not None
        if ended == "duplicate":
            assert row.state in ("processed", "held", "noise", "quarantined")
        elif ended == "processed":  # or held for review: processed, with a person to decide
            assert row.state in ("processed", "held")
            tally.held += row.state == "held"
        else:
            assert row.state == ended
        assert (outcome is Outcome.QUARANTINED) == (ended == "quarantined")
        if ended == "quarantined":
            assert row.reason
            if row.source_uid == uid:
                assert row.raw == raw
            tally.reasons[_reason_class(row.reason)] += 1
        if ended in ("processed", "noise"):
            for message_id in pipeline.results[-1].queued:
                sent = uow.outbox.by_message_id(message_id)
                assert sent is not None
                _check_outbound(sent)
    tally.outcomes[ended] += 1


def _check_outbound(sent: OutboxMessage) -> None:
    """Nothing a sender wrote breaks out of the header it was put in."""
    assert ATTACKER.decode() not in sent.recipients
    head = sent.raw.partition(b"\r\n\r\n")[0]
    assert ATTACKER not in head
    mail = parse_mail(sent.raw)
    assert mail["Bcc"] is None and mail["X-Injected"] is None
    for name, value in mail.items():
        assert "\r" not in str(value) and "\n" not in str(value), name


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.function_scoped_fixture,  # one store and one parser for the whole run
    ],
)
@given(data=st.data())
def test_mutated_mail_never_crashes_the_service(
    data: st.DataObject, corpus_dir: Path, app: App, pipeline: Pipeline, tally: Tally
) -> None:
    seed = data.draw(st.sampled_from(sorted(corpus_dir.glob("*.eml"))), label="seed")
    # A Message-ID of its own, so that most mutants are read as new messages rather than
    # as repeats of the first one from the same seed. Numbered after the damage, in place
    # of a placeholder of the same length: what is drawn must not depend on the count.
    raw = with_message_id(seed.read_bytes(), "<fuzz.PLACEHOLDER@example.com>")
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        raw = data.draw(_mutation(raw), label="mutation")
    tally.messages += 1
    raw = raw.replace(b"PLACEHOLDER", b"%011d" % tally.messages)
    _arrive(app, pipeline, raw, str(tally.messages), tally)


def test_the_fuzz_run_covered_enough(tally: Tally) -> None:
    """Runs after the fuzz run in this module: its store is gone, but its tally is not."""
    if not tally.messages:
        pytest.skip("the fuzz run was not selected")
    assert tally.messages >= EXAMPLES, tally.line()
    assert tally.crashes == []
    assert tally.outcomes["quarantined"] > 0 and tally.processed > 0
