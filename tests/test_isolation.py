"""The isolated parser: limits on the raw bytes, the parse in a worker process that a
hang or a crash cannot take the service down with, and what the pipeline makes of a
refused message (quarantined at once, with its reason and its raw bytes)."""

from __future__ import annotations

import ctypes
import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from daemon.inbound import Arrival, Outcome, SourceRef
from daemon.isolation import (
    GiB,
    IsolatedParser,
    MiB,
    ParserUnavailableError,
    PendingParse,
    precheck,
)
from mail_parsers.jsonout import to_json
from mail_parsers.message import parse_message
from mail_parsers.model import ParsedMessage, ParseOptions
from workflow.errors import PermanentError, RejectedInputError

# The workers of the misbehaving parser import this module: what needs the store (the
# pipeline, the app) is imported where it is used, so that a worker starts quickly.
if TYPE_CHECKING:
    from daemon.bootstrap import App
    from daemon.pipeline import Pipeline

T = TypeVar("T")
OPTIONS = ParseOptions()
#: The test-only parse function the workers run in the tests that need a misbehaving parser.
MISBEHAVING = "tests.test_isolation:misbehaving_parse"
#: Upper bound for waiting on a call that should end by the parser's timeout: generous, so
#: a slow machine cannot fail the test, and finite, so a broken timeout cannot hang the run.
BOUNDED_WAIT = 60.0


# --- what the workers run in these tests ---------------------------------------------------


def misbehaving_parse(raw: bytes, options: ParseOptions) -> ParsedMessage:
    """``parse_message``, except that a marker header makes it hang or die as a parser
    bug could; it runs only inside a worker process."""
    if b"X-Test-Behaviour: hang" in raw:
        while True:
            time.sleep(1)
    if b"X-Test-Behaviour: spin" in raw:
        while True:
            pass
    if b"X-Test-Behaviour: exit" in raw:
        os._exit(3)
    if b"X-Test-Behaviour: segfault" in raw:
        ctypes.string_at(0)
    if b"X-Test-Behaviour: memory" in raw:
        return bytearray(4 * GiB)  # type: ignore[return-value]
    if b"X-Test-Behaviour: raise" in raw:
        raise ValueError("the parser tripped over this")
    return parse_message(raw, options)


# --- messages ----------------------------------------------------------------------------

_HEAD = (
    b"Authentication-Results: mx.example.com; dmarc=pass header.from=example.com\r\n"
    b"From: Li Na <li.na@example.com>\r\n"
    b"To: coord@example.com\r\n"
    b"Subject: [REQUEST] structure\r\n"
    b"Date: Mon, 16 Mar 2026 09:00:00 +0800\r\n"
    b"MIME-Version: 1.0\r\n"
)


def _marked(behaviour: str, n: int = 0) -> bytes:
    return (
        _HEAD
        + f"Message-ID: <marked.{behaviour}.{n}@example.com>\r\n".encode()
        + f"X-Test-Behaviour: {behaviour}\r\n".encode()
        + b"Content-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n"
    )


def _nested(containers: int) -> bytes:
    """``containers`` multiparts nested in each other (the message itself the outermost),
    a text part at the bottom: the text is at MIME level ``containers + 1``."""
    head = _HEAD + f"Message-ID: <nested.{containers}@example.com>\r\n".encode()
    body = b"Content-Type: text/plain; charset=utf-8\r\n\r\ninnermost\r\n"
    for level in range(containers, 0, -1):
        b = f"b{level:03d}".encode()
        body = (
            f'Content-Type: multipart/mixed; boundary="{b.decode()}"\r\n\r\n'.encode()
            + b"--"
            + b
            + b"\r\n"
            + body
            + b"--"
            + b
            + b"--\r\n"
        )
    return head + body


def _with_parts(count: int) -> bytes:
    parts = b"".join(
        b"--p\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(count)
    )
    return (
        _HEAD
        + f"Message-ID: <parts.{count}@example.com>\r\n".encode()
        + b'Content-Type: multipart/mixed; boundary="p"\r\n\r\n'
        + parts
        + b"--p--\r\n"
    )


def _corpus(corpus_dir: Path) -> list[Path]:
    files = sorted(corpus_dir.glob("*.eml"))
    assert files
    return files


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_until_dead(pid: int) -> None:
    """Until ``pid`` is a zombie (killed, not yet reaped) or gone; bounded."""
    stat = Path(f"/proc/{pid}/stat")
    for _ in range(1000):
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return
        except FileNotFoundError:
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not die")


def _bounded(call: Callable[..., T], *args: Any) -> T:
    """``call(*args)`` in a thread of its own, waited for, but never forever."""
    pool = ThreadPoolExecutor(1)
    try:
        return pool.submit(call, *args).result(timeout=BOUNDED_WAIT)
    finally:
        pool.shutdown(wait=False)


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def parser() -> Iterator[IsolatedParser]:
    """The production parse function in a worker, with a depth limit above the corpus's
    deepest file so that every file reaches the worker."""
    with IsolatedParser(OPTIONS, max_depth=100) as isolated:
        yield isolated


@pytest.fixture(scope="module")
def misbehaving() -> Iterator[IsolatedParser]:
    with IsolatedParser(OPTIONS, target=MISBEHAVING, timeout=1.0, memory_limit=512 * MiB) as p:
        yield p


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    from tests.support import scratch_app

    app, _ = scratch_app(tmp_path)
    yield app
    app.close()


def isolated_pipeline(app: App, parse: IsolatedParser) -> Pipeline:
    """The real pipeline, parsing through ``parse``."""
    from daemon.pipeline import Pipeline

    return Pipeline(
        session_factory=app.session_factory,
        config=app.workflow,
        blobs=app.blobs,
        clock=app.clock,
        parse=parse,
    )


# --- the worker reads what the in-process parser reads ------------------------------------


def test_every_corpus_file_parses_identically_in_the_worker(
    parser: IsolatedParser, corpus_dir: Path
) -> None:
    for path in _corpus(corpus_dir):
        raw = path.read_bytes()
        assert to_json(parser(raw, OPTIONS)) == to_json(parse_message(raw, OPTIONS)), path.name


def test_the_result_is_the_same_frozen_dataclass(parser: IsolatedParser, corpus_dir: Path) -> None:
    raw = (corpus_dir / "req_12_outlook365_utf8_docx.eml").read_bytes()
    isolated = parser(raw, OPTIONS)
    assert isolated == parse_message(raw, OPTIONS)
    assert isolated.attachments and isolated.attachments[0].data


def test_options_of_the_call_are_the_ones_used(parser: IsolatedParser, corpus_dir: Path) -> None:
    raw = (corpus_dir / "hostile_02_untrusted_authres_claims_pass.eml").read_bytes()
    untrusting = ParseOptions(trusted_authserv_id="")
    other = ParseOptions(mailbox_address="office@example.org", trusted_authserv_id="x.example")
    for options in (untrusting, OPTIONS, other, OPTIONS):
        assert to_json(parser(raw, options)) == to_json(parse_message(raw, options))
    assert parser(raw, untrusting).kind != parser(raw, OPTIONS).kind


def test_concurrent_callers_each_get_their_own_result(corpus_dir: Path) -> None:
    raws = [p.read_bytes() for p in _corpus(corpus_dir)]
    expected = [to_json(parse_message(raw, OPTIONS)) for raw in raws]
    with IsolatedParser(OPTIONS, workers=2, max_depth=100) as two:
        with ThreadPoolExecutor(6) as pool:
            rounds = [pool.map(lambda raw: to_json(two(raw, OPTIONS)), raws) for _ in range(3)]
            results = [list(r) for r in rounds]
        assert len(two.pids) == 2
    assert results == [expected] * 3


# --- limits checked before any parse --------------------------------------------------------


def test_oversize_is_refused_before_parsing(parser: IsolatedParser) -> None:
    raw = _HEAD + b"Content-Type: text/plain\r\n\r\n" + b"x" * (25 * MiB)
    with pytest.raises(RejectedInputError) as refused:
        parser(raw, OPTIONS)
    assert refused.value.reason == f"too large: {len(raw)} bytes > {25 * MiB}"
    assert isinstance(refused.value, PermanentError)


def test_depth_beyond_the_limit_is_refused_and_the_limit_agrees_with_the_parser() -> None:
    with IsolatedParser(OPTIONS) as default:
        assert default.max_depth == OPTIONS.max_mime_depth == 20
        deepest_allowed = default(_nested(19), OPTIONS)
        assert deepest_allowed.hostile is None
        assert deepest_allowed.text.strip() == "innermost"
        with pytest.raises(
            RejectedInputError, match=r"^too deep: more than 20 nested MIME levels$"
        ):
            default(_nested(20), OPTIONS)
    # In-process the parser itself calls one level more hostile: the limits are the same.
    hostility = parse_message(_nested(20), OPTIONS).hostile
    assert hostility is not None and hostility.type == "deep_nesting"


def test_hostile_05_is_refused_by_the_depth_check(corpus_dir: Path) -> None:
    raw = (corpus_dir / "hostile_05_nested_multipart_60_levels.eml").read_bytes()
    with IsolatedParser(OPTIONS) as default, pytest.raises(RejectedInputError, match="too deep"):
        default(raw, OPTIONS)


def test_part_count_beyond_the_limit_is_refused(parser: IsolatedParser) -> None:
    assert len(parser(_with_parts(500), OPTIONS).attachments) == 0
    with pytest.raises(RejectedInputError, match=r"^too many parts: more than 500 MIME parts$"):
        parser(_with_parts(501), OPTIONS)


@pytest.mark.parametrize(
    ("raw", "refusal"),
    [
        (b"Subject: plain\r\n\r\nno structure at all\r\n", None),
        # "boundary" in the text, dash lines that are no declared boundary.
        (b"Subject: x\r\n\r\nset boundary=abc\r\n--\r\n-- \r\n--abd\r\n", None),
        # Siblings are not nesting: a closed multipart ends its level.
        (
            b'Content-Type: multipart/mixed; boundary="o"\r\n\r\n'
            b'--o\r\nContent-Type: multipart/alternative; boundary="a1"\r\n\r\n'
            b"--a1\r\n\r\nx\r\n--a1--\r\n"
            b'--o\r\nContent-Type: multipart/alternative; boundary="a2"\r\n\r\n'
            b"--a2\r\n\r\ny\r\n--a2--\r\n--o--\r\n",
            None,
        ),
        # An unclosed inner multipart is ended by its parent's next delimiter.
        (
            b'Content-Type: multipart/mixed; boundary="o"\r\n\r\n'
            b'--o\r\nContent-Type: multipart/mixed; boundary="i"\r\n\r\n--i\r\n\r\nx\r\n'
            b"--o\r\n\r\ny\r\n--o--\r\n",
            None,
        ),
        (_nested(2), None),
        (_nested(3), "too deep: more than 3 nested MIME levels"),
        # Lines may end in a bare CR or LF, and the parameter name may be in any case.
        (_nested(3).replace(b"\r\n", b"\r"), "too deep: more than 3 nested MIME levels"),
        (_nested(3).replace(b"\r\n", b"\n"), "too deep: more than 3 nested MIME levels"),
        (_nested(3).replace(b"boundary", b"BoUnDaRy"), "too deep: more than 3 nested MIME levels"),
        # A dash line in the middle of a line is no delimiter.
        (_nested(3).replace(b"\r\n--b003\r\n", b"\r\nx--b003\r\n"), None),
        (
            b"".join(b"X: y; boundary=b%d\r\n" % i for i in range(7)),
            "too many parts: more than 5 multipart boundaries",
        ),
        (_with_parts(5), None),
        (_with_parts(6), "too many parts: more than 5 MIME parts"),
        (b"x" * 1000, None),
        (b"x" * 1001, "too large: 1001 bytes > 1000"),
    ],
)
def test_precheck(raw: bytes, refusal: str | None) -> None:
    assert precheck(raw, max_bytes=1000, max_depth=3, max_parts=5) == refusal


# --- a parse that hangs or crashes ----------------------------------------------------------


@pytest.mark.parametrize("behaviour", ["hang", "spin"])
def test_a_hanging_parse_is_cut_off_and_the_worker_replaced(
    misbehaving: IsolatedParser, corpus_dir: Path, behaviour: str
) -> None:
    before = misbehaving.pids
    with pytest.raises(RejectedInputError) as refused:
        _bounded(misbehaving, _marked(behaviour), OPTIONS)
    assert refused.value.reason == "parse timed out after 1 s"
    assert not any(_alive(pid) for pid in before)

    raw = (corpus_dir / "req_01_outlook_zh_plain_gb2312_b64.eml").read_bytes()
    assert _bounded(misbehaving, raw, OPTIONS) == parse_message(raw, OPTIONS)
    assert misbehaving.pids and misbehaving.pids != before


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ("exit", "parser crashed: exit code 3"),
        ("segfault", "parser crashed: killed by signal SIGSEGV"),
        ("memory", "parser crashed: MemoryError"),
    ],
)
def test_a_crashing_parse_is_refused_and_the_worker_replaced(
    misbehaving: IsolatedParser, corpus_dir: Path, behaviour: str, reason: str
) -> None:
    before = misbehaving.pids
    with pytest.raises(RejectedInputError) as refused:
        _bounded(misbehaving, _marked(behaviour), OPTIONS)
    assert refused.value.reason == reason
    assert not any(_alive(pid) for pid in before)

    raw = (corpus_dir / "iss_01_task_id_outlook.eml").read_bytes()
    assert _bounded(misbehaving, raw, OPTIONS) == parse_message(raw, OPTIONS)


def test_an_exception_in_the_parse_is_refused_and_the_worker_kept(
    misbehaving: IsolatedParser, corpus_dir: Path
) -> None:
    raw = (corpus_dir / "iss_01_task_id_outlook.eml").read_bytes()
    _bounded(misbehaving, raw, OPTIONS)
    before = misbehaving.pids
    with pytest.raises(RejectedInputError) as refused:
        _bounded(misbehaving, _marked("raise"), OPTIONS)
    assert refused.value.reason == "parser failed: ValueError: the parser tripped over this"
    assert misbehaving.pids == before
    assert _bounded(misbehaving, raw, OPTIONS) == parse_message(raw, OPTIONS)


def test_a_worker_killed_while_idle_is_replaced_without_blaming_the_next_message(
    parser: IsolatedParser, corpus_dir: Path
) -> None:
    raw = (corpus_dir / "req_03_foxmail_gb2312.eml").read_bytes()
    (pid,) = parser.pids
    os.kill(pid, signal.SIGKILL)
    _wait_until_dead(pid)
    assert parser(raw, OPTIONS) == parse_message(raw, OPTIONS)
    assert parser.pids and parser.pids != (pid,)


def test_a_hang_holds_only_its_own_worker_and_close_cuts_it_off(corpus_dir: Path) -> None:
    raw = (corpus_dir / "req_05_163_gbk_relative_date.eml").read_bytes()
    pool = ThreadPoolExecutor(2)
    with IsolatedParser(OPTIONS, target=MISBEHAVING, timeout=600.0, workers=2) as two:
        try:
            hanging = pool.submit(two, _marked("hang"), OPTIONS)
            for _ in range(5):  # all parsed by the other worker while one hangs
                assert pool.submit(two, raw, OPTIONS).result(BOUNDED_WAIT).kind == "request"
            assert not hanging.done()
            two.close()
            # Not the message's fault: transient, so it is read again after the restart.
            with pytest.raises(ParserUnavailableError, match="closed during the parse"):
                hanging.result(BOUNDED_WAIT)
            with pytest.raises(ParserUnavailableError):
                two(raw, OPTIONS)
        finally:
            pool.shutdown(wait=False)
        assert two.pids == ()


def test_close_stops_the_workers_and_refuses_further_calls(corpus_dir: Path) -> None:
    raw = (corpus_dir / "req_01_outlook_zh_plain_gb2312_b64.eml").read_bytes()
    with IsolatedParser(OPTIONS, workers=2) as two:
        two(raw, OPTIONS)
        pids = two.pids
        assert len(pids) == 2 and all(_alive(pid) for pid in pids)
    assert two.pids == ()
    assert not any(_alive(pid) for pid in pids)
    with pytest.raises(ParserUnavailableError):
        two(raw, OPTIONS)
    two.close()  # idempotent


# --- a parse begun now and answered later -----------------------------------------------------


def test_a_begun_parse_is_answered_later_with_the_same_result(corpus_dir: Path) -> None:
    first = (corpus_dir / "req_01_outlook_zh_plain_gb2312_b64.eml").read_bytes()
    second = (corpus_dir / "req_12_outlook365_utf8_docx.eml").read_bytes()
    with IsolatedParser(OPTIONS) as one:
        pending = one.begin(first, OPTIONS)
        assert pending.result() == parse_message(first, OPTIONS)
        with pytest.raises(RuntimeError, match="taken already"):
            pending.result()
        # The worker is free again: the next message gets it.
        assert _bounded(one, second, OPTIONS) == parse_message(second, OPTIONS)


def test_begin_does_not_wait_for_the_parse(misbehaving: IsolatedParser) -> None:
    """A parse that hangs is begun and the call comes back; only ``result`` waits for
    it, and is cut off by the timeout."""
    before = misbehaving.pids
    pending = _bounded(misbehaving.begin, _marked("hang", 1), OPTIONS)
    assert misbehaving.pids == before  # still parsing in the same worker
    with pytest.raises(RejectedInputError, match="timed out"):
        _bounded(pending.result)
    assert misbehaving.pids != before


def test_a_discarded_parse_frees_its_worker(corpus_dir: Path) -> None:
    raw = (corpus_dir / "req_03_foxmail_gb2312.eml").read_bytes()
    with IsolatedParser(OPTIONS) as one:
        one.begin(raw, OPTIONS).discard()
        # With one worker, a parse not given back would make this call wait for ever.
        assert _bounded(one, raw, OPTIONS) == parse_message(raw, OPTIONS)


def test_refusals_and_an_unavailable_parser_surface_at_result(corpus_dir: Path) -> None:
    raw = (corpus_dir / "req_03_foxmail_gb2312.eml").read_bytes()
    oversize = _HEAD + b"Content-Type: text/plain\r\n\r\n" + b"x" * (25 * MiB)
    with IsolatedParser(OPTIONS) as one:
        refused = one.begin(oversize, OPTIONS)
        with pytest.raises(RejectedInputError, match="too large"):
            refused.result()
    closed = one.begin(raw, OPTIONS)
    with pytest.raises(ParserUnavailableError, match="closed"):
        closed.result()


class _RecordingParser(IsolatedParser):
    """The real parser, noting which message each parse was begun for and answered."""

    events: list[str]
    names: dict[bytes, str]

    def begin(self, raw: bytes, options: ParseOptions | None = None) -> PendingParse:
        name = self.names[raw]
        self.events.append(f"begin {name}")
        pending = super().begin(raw, options)
        result = pending.result

        def answered() -> ParsedMessage:
            self.events.append(f"result {name}")
            return result()

        pending.result = answered  # type: ignore[method-assign]
        return pending


def test_a_batch_parses_the_next_message_while_it_ingests_this_one(
    app: App, corpus_dir: Path
) -> None:
    from daemon.pipeline import _ParseAhead
    from tests.support import with_message_id

    request = (corpus_dir / "req_01_outlook_zh_plain_gb2312_b64.eml").read_bytes()
    raws = [with_message_id(request, f"<ahead.{n}@example.com>") for n in range(4)]
    options = app.workflow.parse_options
    parser = _RecordingParser(options)
    with parser:
        parser.events = []
        parser.names = {raw: str(n) for n, raw in enumerate(raws)}
        # Message 1 is stored already: not parsed ahead; parsed when ingest asks for it.
        with _ParseAhead(parser, raws, known={1}) as ahead:
            assert ahead.parser_for(0)(raws[0], options) == parse_message(raws[0], options)
            # 0 answered, and 2 handed to the worker before ingest goes on with 0.
            assert parser.events == ["begin 0", "result 0", "begin 2"]
            assert ahead.parser_for(1)(raws[1], options) == parse_message(raws[1], options)
            # The worker was needed for 1: 2 was answered first and kept for its turn.
            # The worker was needed for 1: 2 was answered first and kept for its turn;
            # the next one ahead is 3.
            assert parser.events[3:] == ["result 2", "begin 1", "result 1", "begin 3"]
            parser.events.clear()
            assert ahead.parser_for(2)(raws[2], options) == parse_message(raws[2], options)
            assert parser.events == []  # 2 came from what was kept; 3 is ahead already
        # Leaving the batch gives the worker back: 3 was never asked for.
        assert parser.events == ["result 3"]
        # A message ingest never parses (a duplicate found by its Message-ID) has its
        # parse ahead answered and dropped when the next one is asked for.
        parser.events.clear()
        with _ParseAhead(parser, raws, known=set()) as ahead:
            ahead.parser_for(0)(raws[0], options)
            assert ahead.parser_for(2)(raws[2], options) == parse_message(raws[2], options)
        assert parser.events == [
            *("begin 0", "result 0", "begin 1"),
            *("result 1", "begin 2", "result 2", "begin 3"),
            "result 3",
        ]
        assert _bounded(parser, raws[0], options) == parse_message(raws[0], options)


def test_a_batch_through_the_worker_quarantines_and_skips_what_it_knows(
    app: App, corpus_dir: Path
) -> None:
    from tests.support import with_message_id

    request = (corpus_dir / "req_01_outlook_zh_plain_gb2312_b64.eml").read_bytes()
    hang = _marked("hang", 2)
    batch = [
        Arrival(SourceRef("test", 9, "1"), with_message_id(request, "<b.1@example.com>")),
        Arrival(SourceRef("test", 9, "2"), hang),
        Arrival(SourceRef("test", 9, "3"), with_message_id(request, "<b.3@example.com>")),
    ]
    with IsolatedParser(app.workflow.parse_options, target=MISBEHAVING, timeout=1.0) as isolated:
        pipeline = isolated_pipeline(app, isolated)
        handled = _bounded(pipeline.handle_batch, batch)
        assert [h.outcome for h in handled] == [
            Outcome.PROCESSED,
            Outcome.QUARANTINED,
            Outcome.PROCESSED,
        ]
        assert _inbound(app, batch[1].ref, hang)[:2] == (
            "quarantined",
            "rejected: parse timed out after 1 s",
        )
        # Delivered again with a new message: the quarantined one is a duplicate and
        # is not parsed again (its worker would be killed by the timeout once more).
        pids = isolated.pids
        again = [
            Arrival(SourceRef("test", 9, "2"), hang),
            Arrival(SourceRef("test", 9, "4"), with_message_id(request, "<b.4@example.com>")),
        ]
        handled = _bounded(pipeline.handle_batch, again)
        assert [h.result.outcome for h in handled if h.result] == ["duplicate", "processed"]
        assert isolated.pids == pids


def test_a_target_that_cannot_be_imported_fails_at_start() -> None:
    with pytest.raises(ParserUnavailableError, match="ModuleNotFoundError"):
        IsolatedParser(OPTIONS, target="tests.no_such_module:parse")


# --- through the real pipeline ----------------------------------------------------------------


def _inbound(app: App, ref: SourceRef, raw: bytes) -> tuple[str, str | None, bytes, int]:
    """State, reason, raw bytes and attempts of the stored message for ``ref``."""
    from store.uow import SqlUnitOfWork
    from workflow.intake import content_hash

    with SqlUnitOfWork(app.session_factory) as uow:
        sha = content_hash(raw)
        row = uow.inbound.find_duplicate(ref.source, ref.uidvalidity, ref.uid, None, sha)
        assert row is not None
        return row.state, row.reason, row.raw, row.attempts


def test_refused_messages_are_quarantined_with_their_reason_and_the_service_carries_on(
    app: App, corpus_dir: Path
) -> None:
    from tests.support import with_message_id

    hostile_05 = (corpus_dir / "hostile_05_nested_multipart_60_levels.eml").read_bytes()
    oversize = _HEAD + b"Content-Type: text/plain\r\n\r\n" + b"x" * (25 * MiB + 1)
    request = (corpus_dir / "req_01_outlook_zh_plain_gb2312_b64.eml").read_bytes()
    with IsolatedParser(app.workflow.parse_options, target=MISBEHAVING, timeout=1.0) as isolated:
        pipeline = isolated_pipeline(app, isolated)
        cases = [
            (_marked("hang"), "rejected: parse timed out after 1 s"),
            (_marked("segfault"), "rejected: parser crashed: killed by signal SIGSEGV"),
            (hostile_05, "rejected: too deep: more than 20 nested MIME levels"),
            (oversize, f"rejected: too large: {len(oversize)} bytes > {25 * MiB}"),
            (_with_parts(600), "rejected: too many parts: more than 500 MIME parts"),
        ]
        for uid, (raw, reason) in enumerate(cases, start=1):
            ref = SourceRef("test", 7, str(uid))
            outcome = _bounded(pipeline.handle, Arrival(ref, raw))
            assert outcome is Outcome.QUARANTINED
            state, recorded_reason, kept, attempts = _inbound(app, ref, raw)
            # Quarantined at the first attempt, not after three.
            assert (state, recorded_reason, attempts) == ("quarantined", reason, 0)
            assert kept == raw

            # The service carries on: the next message is processed normally.
            ref = SourceRef("test", 7, f"{uid}-next")
            following = with_message_id(request, f"<next.{uid}@example.com>")
            assert pipeline.handle(Arrival(ref, following)) is Outcome.PROCESSED
            assert _inbound(app, ref, following)[0] == "processed"

        # Arriving again, a quarantined message is a duplicate, not a second parse.
        again = pipeline.handle(Arrival(SourceRef("test", 7, "1"), cases[0][0]))
        assert again is Outcome.PROCESSED and pipeline.results[-1].outcome == "duplicate"


def test_hostile_corpus_is_contained_through_the_isolated_pipeline(
    app: App, corpus_dir: Path
) -> None:
    with IsolatedParser(app.workflow.parse_options) as isolated:
        pipeline = isolated_pipeline(app, isolated)
        for path in sorted(corpus_dir.glob("hostile_*.eml")):
            raw = path.read_bytes()
            ref = SourceRef("test", 7, path.name)
            assert pipeline.handle(Arrival(ref, raw)) is Outcome.QUARANTINED, path.name
            state, reason, kept, _ = _inbound(app, ref, raw)
            assert state == "quarantined" and kept == raw
            assert reason and (reason.startswith("hostile (") or reason.startswith("rejected: "))
        from store.uow import SqlUnitOfWork

        with SqlUnitOfWork(app.session_factory) as uow:
            assert uow.requests.list() == []
