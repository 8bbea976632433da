"""Ingest of request mails from files into SQLite, against bare ``email`` parsing.

Target (operations.md, "Performance targets"): the ingest rate is at least 0.5 of the
rate of bare ``email.message_from_bytes(raw, policy=email.policy.default)`` over the same
files, measured in the same run.

Input: the ``req_*.eml`` files of the shared corpus, replicated to ``--messages`` files
in a scratch directory, each copy with its own Message-ID. Each round, on the same files:

* **bare**: read the file, ``email.message_from_bytes(raw, policy=email.policy.default)``;
* **parser** (for reference): read the file, ``mail_parsers.message.parse_message(raw)``;
* **ingest**: what ``liaison process`` does with the files: read them, then
  ``Pipeline.handle_batch`` on batches of ``daemon.pipeline.BATCH_SIZE`` (group commit:
  one transaction and one COMMIT per batch), the parse in the isolated worker process,
  one message ahead. Per message: de-duplication, parse, raw
  bytes and request stored, number allocated, acknowledgement and evaluation notice
  rendered, composed and written to the outbox; on a fresh SQLite database built by
  ``daemon.bootstrap.build_app``;
* **single** (for reference): the same with ``Pipeline.handle``, one transaction and one
  COMMIT per message, on a database of its own.

Rates are messages per second; the report gives the median over the rounds and the ratio
of the medians. ``--profile`` adds one more (untimed) ingest pass broken down by phase,
and one under cProfile with its top functions; these two parse in-process, so that the
parse is timed among the rest.

    python -m bench.ingest                      # 2,000 messages, 3 rounds
    python -m bench.ingest --messages 500 --rounds 5 --profile
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import email
import email.policy
import functools
import gc
import importlib
import io
import json
import logging
import os
import pstats
import shutil
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.corpus import DEFAULT_CORPUS, RATE_LIMIT_PER_DAY, replicate, request_files
from daemon.bootstrap import App, build_app
from daemon.inbound import Arrival, SourceRef
from daemon.isolation import IsolatedParser
from daemon.pipeline import BATCH_SIZE, Pipeline
from daemon.settings import load_settings
from mail_parsers.message import parse_message
from mail_parsers.model import ParsedMessage, ParseOptions
from store.uow import SqlUnitOfWork

TARGET_RATIO = 0.5
PARSE_LABEL = "parse (parse_message, timed alone on the same files)"
_DEFAULT_POLICY = email.policy.default


@dataclass
class IngestReport:
    messages: int
    rounds: int
    corpus_files: int
    block: int = 100
    bare_rates: list[float] = field(default_factory=list)
    parser_rates: list[float] = field(default_factory=list)
    ingest_rates: list[float] = field(default_factory=list)
    #: Ingest with one transaction per message (reference: no group commit).
    single_rates: list[float] = field(default_factory=list)
    #: The same, per CPU second of this process (less sensitive to other load on the machine).
    bare_cpu_rates: list[float] = field(default_factory=list)
    ingest_cpu_rates: list[float] = field(default_factory=list)
    #: Ingest rate per block of the last round, first to last.
    ingest_blocks: list[float] = field(default_factory=list)
    #: 1-minute load average before and after the timed rounds (os.getloadavg).
    load: tuple[float, float] = (0.0, 0.0)
    #: Outcomes of the last timed ingest round, and what its database holds afterwards.
    outcomes: dict[str, int] = field(default_factory=dict)
    requests_stored: int = 0
    outbox_rows: int = 0
    #: (phase, milliseconds per message) from the --profile pass; nested rows start with "  ".
    phases: list[tuple[str, float]] = field(default_factory=list)
    profile_text: str = ""

    @property
    def bare_median(self) -> float:
        return statistics.median(self.bare_rates)

    @property
    def parser_median(self) -> float:
        return statistics.median(self.parser_rates)

    @property
    def ingest_median(self) -> float:
        return statistics.median(self.ingest_rates)

    @property
    def single_median(self) -> float:
        return statistics.median(self.single_rates)

    @property
    def ratio(self) -> float:
        """Median ingest rate over median bare-parse rate: the figure held to the target."""
        return self.ingest_median / self.bare_median

    @property
    def round_ratios(self) -> list[float]:
        return [i / b for i, b in zip(self.ingest_rates, self.bare_rates, strict=True)]

    @property
    def cpu_ratio(self) -> float:
        return statistics.median(self.ingest_cpu_rates) / statistics.median(self.bare_cpu_rates)

    def markdown(self) -> str:
        verdict = "meets" if self.ratio >= TARGET_RATIO else "misses"
        lines = [
            f"Ingest: {self.messages} request mails from files "
            f"({self.corpus_files} corpus files replicated), {self.rounds} rounds "
            f"(the loops alternating every {self.block} messages), median rates; load "
            f"average {self.load[0]:.1f} before, {self.load[1]:.1f} after.",
            "",
            "| measure | messages/s | µs/message |",
            "|---|---:|---:|",
            _rate_row("bare `email.message_from_bytes(policy=default)`", self.bare_median),
            _rate_row("`parse_message` alone (reference)", self.parser_median),
            _rate_row(
                f"ingest as `liaison process` (`Pipeline.handle_batch`, {BATCH_SIZE} per "
                "commit, parse in the isolated worker, SQLite)",
                self.ingest_median,
            ),
            _rate_row(
                "ingest, one commit per message (`Pipeline.handle`; reference)",
                self.single_median,
            ),
            "",
            f"**Ratio ingest / bare parse: {self.ratio:.3f}** (target ≥ {TARGET_RATIO}; "
            f"{verdict} it). Per round: "
            + ", ".join(f"{r:.3f}" for r in self.round_ratios)
            + f". Per CPU second of the process instead of wall-clock: {self.cpu_ratio:.3f}.",
            "",
            f"Ingest rate block by block ({self.block} messages each) in the last round: "
            + " → ".join(f"{r:,.0f}" for r in self.ingest_blocks)
            + " messages/s.",
            "",
            f"Check: outcomes {dict(sorted(self.outcomes.items()))}; "
            f"{self.requests_stored} requests and {self.outbox_rows} outbox rows stored"
            + (
                "."
                if self.requests_stored == self.messages
                else f" — NOT one request per message ({self.messages}): the ratio is "
                "not comparable."
            ),
        ]
        if self.phases:
            total = dict(self.phases).get("total (Pipeline.handle_batch)", 0.0) or 1.0
            lines += [
                "",
                "Where an ingest goes (one extra pass, timers around each phase):",
                "",
                "| phase | ms/message | share |",
                "|---|---:|---:|",
            ]
            for name, ms in self.phases:
                label = name.strip()
                if name.startswith("  "):
                    label = "&nbsp;&nbsp;↳ " + label
                lines.append(f"| {label} | {ms:.2f} | {100 * ms / total:.0f}% |")
        if self.profile_text:
            lines += ["", "cProfile of one ingest pass:", "", "```", self.profile_text, "```"]
        return "\n".join(lines)


def _rate_row(label: str, rate: float) -> str:
    return f"| {label} | {rate:,.0f} | {1e6 / rate:,.0f} |"


# --- the three loops ----------------------------------------------------------------------


@dataclass
class Elapsed:
    """Wall-clock (perf_counter) and CPU (process_time) seconds spent on some messages."""

    wall: float = 0.0
    cpu: float = 0.0
    messages: int = 0

    def add(self, wall: float, cpu: float, messages: int) -> None:
        self.wall += wall
        self.cpu += cpu
        self.messages += messages

    @property
    def rate(self) -> float:
        return self.messages / self.wall

    @property
    def cpu_rate(self) -> float:
        return self.messages / self.cpu


def _timed(loop: Callable[[Sequence[Path]], object], paths: Sequence[Path], into: Elapsed) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    loop(paths)
    into.add(time.perf_counter() - wall, time.process_time() - cpu, len(paths))


def bare_parse(paths: Sequence[Path]) -> None:
    for path in paths:
        email.message_from_bytes(path.read_bytes(), policy=_DEFAULT_POLICY)


def parser_parse(paths: Sequence[Path]) -> None:
    for path in paths:
        parse_message(path.read_bytes())


def parser_rate(paths: Sequence[Path]) -> float:
    elapsed = Elapsed()
    _timed(parser_parse, paths, elapsed)
    return elapsed.rate


def scratch_environ(root: Path) -> dict[str, str]:
    """Settings that keep the database, attachments and Maildir under ``root``, name the
    corpus's trusted MX (as the tests do) and lift the per-sender daily limit above what a
    run sends (see ``bench.corpus.RATE_LIMIT_PER_DAY``)."""
    return {
        "LIAISON_STORE_URL": f"sqlite:///{root / 'liaison.db'}",
        "LIAISON_STORE_ATTACHMENTS_DIR": str(root / "attachments"),
        "LIAISON_OUTBOUND_MAILDIR": str(root / "sent"),
        "LIAISON_SECURITY_TRUSTED_AUTHSERV_ID": "mx.example.com",
        "LIAISON_WORKFLOW_RATE_LIMIT_PER_DAY": str(RATE_LIMIT_PER_DAY),
    }


@contextmanager
def fresh_app(workdir: Path) -> Iterator[App]:
    """An application on a new, migrated SQLite database under ``workdir``."""
    root = Path(tempfile.mkdtemp(prefix="db-", dir=workdir))
    app = build_app(load_settings(None, environ=scratch_environ(root)))
    try:
        yield app
    finally:
        app.close()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def _pipeline(app: App, *, isolated: bool = True) -> Iterator[Pipeline]:
    """The pipeline ``liaison process`` builds: the parse in an isolated worker process
    (:class:`daemon.isolation.IsolatedParser`), which a batch keeps one message ahead.
    The profile passes parse in-process instead (``isolated=False``), so that the parse
    shows among the rest on this process's clock."""
    with contextlib.ExitStack() as stack:
        parse: Callable[[bytes, ParseOptions], ParsedMessage] = parse_message
        if isolated:
            parse = stack.enter_context(IsolatedParser(app.workflow.parse_options))
        yield Pipeline(
            session_factory=app.session_factory,
            config=app.workflow,
            blobs=app.blobs,
            clock=app.clock,
            parse=parse,
        )


def _handle_all(pipeline: Pipeline, paths: Sequence[Path], outcomes: Counter[str]) -> None:
    """What ``liaison process`` does with the files: read them, then ingest them in
    batches of ``BATCH_SIZE`` that share a transaction (group commit)."""
    arrivals = [Arrival(SourceRef(f"file:{p}", None, None), p.read_bytes()) for p in paths]
    for first in range(0, len(arrivals), BATCH_SIZE):
        for handled in pipeline.handle_batch(arrivals[first : first + BATCH_SIZE]):
            outcomes[handled.outcome.value] += 1


def _handle_each(pipeline: Pipeline, paths: Sequence[Path], outcomes: Counter[str]) -> None:
    """One transaction and one COMMIT per message, as a mailbox that hands messages over
    one at a time gets (``Pipeline.handle``)."""
    for path in paths:
        arrival = Arrival(SourceRef(f"file:{path}", None, None), path.read_bytes())
        outcomes[pipeline.handle(arrival).value] += 1


@dataclass
class Round:
    bare: Elapsed = field(default_factory=Elapsed)
    parser: Elapsed = field(default_factory=Elapsed)
    ingest: Elapsed = field(default_factory=Elapsed)
    single: Elapsed = field(default_factory=Elapsed)
    #: Ingest rate of each block in turn: flat unless the cost grows with the database.
    ingest_blocks: list[float] = field(default_factory=list)


def run_round(
    paths: Sequence[Path], workdir: Path, block: int, report: IngestReport | None = None
) -> Round:
    """One round on fresh databases (one per ingest loop). The four loops take turns over
    blocks of ``block`` messages, so that a change in machine load falls on all alike."""
    result = Round()
    outcomes: Counter[str] = Counter()
    with (
        fresh_app(workdir) as app,
        fresh_app(workdir) as app_single,
        _pipeline(app) as pipeline,
        _pipeline(app_single) as single,
    ):
        gc.collect()
        for first in range(0, len(paths), block):
            chunk = paths[first : first + block]
            _timed(bare_parse, chunk, result.bare)
            _timed(parser_parse, chunk, result.parser)
            block_ingest = Elapsed()
            _timed(lambda c: _handle_all(pipeline, c, outcomes), chunk, block_ingest)
            result.ingest.add(block_ingest.wall, block_ingest.cpu, block_ingest.messages)
            result.ingest_blocks.append(block_ingest.rate)
            _timed(lambda c: _handle_each(single, c, Counter()), chunk, result.single)
        if report is not None:
            report.outcomes = dict(outcomes)
            with SqlUnitOfWork(app.session_factory) as uow:
                report.requests_stored = len(uow.requests.list())
                report.outbox_rows = uow.outbox.pending_count()
    return result


# --- --profile --------------------------------------------------------------------------

# (module, attribute, label): timed by wrapping the module attribute for one pass. Nested
# labels (two leading spaces) are parts of the row above them. The parse is not among
# them (intake receives its parser as an argument): it is timed alone on the same files.
_PHASES: tuple[tuple[str, str, str], ...] = (
    ("workflow.outbound", "render_mail", "render (templates/render.py, Jinja2)"),
    ("workflow.outbound", "compose", "compose (templates/compose.py, MIME)"),
    ("templates.compose", "_body", "  body parts (encoding and MIME structure)"),
    ("templates.compose", "_verify", "  header check (_verify)"),
)


@contextmanager
def _phase_timers(totals: defaultdict[str, float]) -> Iterator[None]:
    """Wrap each phase's function, and the ORM session's flush and commit, in a timer."""
    from sqlalchemy.orm import Session

    restore: list[Callable[[], None]] = []

    def timed(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                totals[label] += time.perf_counter() - start

        return wrapper

    for module_name, attribute, label in _PHASES:
        module = importlib.import_module(module_name)
        original = getattr(module, attribute, None)
        if original is None:  # renamed meanwhile: that row is simply missing
            continue
        setattr(module, attribute, timed(label, original))
        restore.append(functools.partial(setattr, module, attribute, original))

    flush, commit = Session.flush, Session.commit
    in_commit = False

    def timed_flush(self: Session, *args: Any, **kwargs: Any) -> None:
        if in_commit:
            return flush(self, *args, **kwargs)
        start = time.perf_counter()
        try:
            return flush(self, *args, **kwargs)
        finally:
            totals["ORM flushes before commit (explicit and autoflush)"] += (
                time.perf_counter() - start
            )

    def timed_commit(self: Session) -> None:
        nonlocal in_commit
        in_commit = True
        start = time.perf_counter()
        try:
            return commit(self)
        finally:
            in_commit = False
            totals["commit (last flush, COMMIT with fsync)"] += time.perf_counter() - start

    Session.flush = timed_flush  # type: ignore[method-assign]
    Session.commit = timed_commit  # type: ignore[method-assign]
    restore.append(lambda: setattr(Session, "flush", flush))
    restore.append(lambda: setattr(Session, "commit", commit))
    try:
        yield
    finally:
        for undo in reversed(restore):
            undo()


def phase_breakdown(paths: Sequence[Path], workdir: Path) -> list[tuple[str, float]]:
    totals: defaultdict[str, float] = defaultdict(float)
    with (
        fresh_app(workdir) as app,
        _pipeline(app, isolated=False) as pipeline,
        _phase_timers(totals),
    ):
        gc.collect()
        start = time.perf_counter()
        _handle_all(pipeline, paths, Counter())
        total = time.perf_counter() - start
    per = 1000.0 / len(paths)
    parse_ms = 1000.0 / parser_rate(paths)
    rows = [
        ("total (Pipeline.handle_batch)", total * per),
        (PARSE_LABEL, parse_ms),
    ]
    accounted = parse_ms / per
    for _module, _attribute, label in _PHASES:
        if label in totals:
            rows.append((label, totals[label] * per))
            if not label.startswith("  "):
                accounted += totals[label]
    for label in (
        "ORM flushes before commit (explicit and autoflush)",
        "commit (last flush, COMMIT with fsync)",
    ):
        rows.append((label, totals[label] * per))
        accounted += totals[label]
    rows.append(("other (ORM objects, queries, dedupe, presenting)", (total - accounted) * per))
    return rows


def cprofile_text(paths: Sequence[Path], workdir: Path, top: int) -> str:
    profiler = cProfile.Profile()
    with fresh_app(workdir) as app, _pipeline(app, isolated=False) as pipeline:
        profiler.enable()
        _handle_all(pipeline, paths, Counter())
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    out.write(f"--- top {top} by cumulative time ---\n")
    stats.sort_stats("cumulative").print_stats(top)
    out.write(f"--- top {top} by own time ---\n")
    stats.sort_stats("tottime").print_stats(top)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines() if line.strip())


# --- the run ------------------------------------------------------------------------------


def run(
    *,
    messages: int = 2000,
    rounds: int = 3,
    warmup: int = 50,
    block: int = 100,
    corpus: Path = DEFAULT_CORPUS,
    profile: bool = False,
    profile_messages: int = 300,
    top: int = 30,
    progress: Callable[[str], None] = lambda _line: None,
) -> IngestReport:
    files = request_files(corpus)
    report = IngestReport(messages=messages, rounds=rounds, corpus_files=len(files), block=block)
    with tempfile.TemporaryDirectory(prefix="liaison-bench-ingest-") as tmp:
        workdir = Path(tmp)
        inbox = workdir / "in"
        inbox.mkdir()
        paths = []
        for i, (_origin, raw) in enumerate(replicate(files, messages + warmup, "ingest")):
            path = inbox / f"{i:06d}.eml"
            path.write_bytes(raw)
            paths.append(path)
        warm, timed = paths[:warmup], paths[warmup:]

        # Warm-up: imports, template compilation, SQLAlchemy's statement cache, page cache.
        run_round(warm, workdir, block)
        load_before = os.getloadavg()[0]
        for n in range(1, rounds + 1):
            result = run_round(timed, workdir, block, report)
            report.bare_rates.append(result.bare.rate)
            report.parser_rates.append(result.parser.rate)
            report.ingest_rates.append(result.ingest.rate)
            report.single_rates.append(result.single.rate)
            report.bare_cpu_rates.append(result.bare.cpu_rate)
            report.ingest_cpu_rates.append(result.ingest.cpu_rate)
            report.ingest_blocks = result.ingest_blocks
            progress(
                f"round {n}/{rounds}: bare {result.bare.rate:,.0f}/s, parser "
                f"{result.parser.rate:,.0f}/s, ingest {result.ingest.rate:,.0f}/s, "
                f"ratio {report.round_ratios[-1]:.3f}"
            )
        report.load = (load_before, os.getloadavg()[0])
        if profile:
            sample = timed[:profile_messages]
            report.phases = phase_breakdown(sample, workdir)
            report.profile_text = cprofile_text(sample, workdir, top)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--messages", type=int, default=2000, help="messages per round (2000)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (3)")
    parser.add_argument("--warmup", type=int, default=50, help="warm-up messages (50)")
    parser.add_argument(
        "--block", type=int, default=100, help="messages per turn when the loops alternate (100)"
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus directory")
    parser.add_argument("--profile", action="store_true", help="phase breakdown and cProfile")
    parser.add_argument(
        "--profile-messages", type=int, default=300, help="messages in each profiling pass (300)"
    )
    parser.add_argument("--top", type=int, default=30, help="cProfile rows (30)")
    parser.add_argument("--json", action="store_true", help="print the raw results as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)  # as `liaison process` runs
    report = run(
        messages=args.messages,
        rounds=args.rounds,
        warmup=args.warmup,
        block=args.block,
        corpus=args.corpus,
        profile=args.profile,
        profile_messages=args.profile_messages,
        top=args.top,
        progress=lambda line: print(line, flush=True),
    )
    if args.json:
        data = asdict(report)
        data.update(
            ratio=report.ratio,
            bare_median=report.bare_median,
            ingest_median=report.ingest_median,
            parser_median=report.parser_median,
        )
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print()
        print(report.markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
