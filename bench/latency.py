"""Arrival to acknowledgement: a request appended to IMAP until its reply reaches SMTP.

Target (operations.md, "Performance targets"): median under 1 s, 99th percentile under 3 s.

A private Dovecot (started by ``tests.servers.dovecot.start_dovecot``, as the tests do)
and an aiosmtpd sink (``tests.servers.smtp_sink.SmtpSink``) on loopback; the real
``daemon.service.Service`` reads the Dovecot INBOX with IDLE (``mailbox.backend = imap``)
and sends through the sink (``outbound.transport = smtp``), on a fresh SQLite database.

Request mails of the corpus, each with its own Message-ID, are appended to INBOX one at a
time. A sample runs from the moment the APPEND command completes to the moment the sink
has received the acknowledgement (the mail whose In-Reply-To is the request's
Message-ID); the next request is appended once the evaluation notice has arrived too and
a short pause has passed.

Baseline, measured first in the same run: a bare imapclient IDLE loop on a folder of its
own; from the completion of an APPEND to that folder until the IDLE connection reports
EXISTS. Twice: leaving IDLE and entering it again after each notification, as the service
does (the baseline the service is compared with), and with one IDLE kept open throughout
(Dovecot answers that one sooner). The difference is what the service adds. The
service's time is also split, by a timer around ``Pipeline.handle``, into: until the
handler starts (IDLE notice, FETCH), the handler (parse, store, render, compose: one
transaction), and from its commit until the acknowledgement is at the sink (outbox
dispatcher, SMTP).

    python -m bench.latency                   # 100 requests
    python -m bench.latency --samples 300 --json
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import json
import logging
import os
import queue
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from imapclient import IMAPClient

from bench.corpus import (
    DEFAULT_CORPUS,
    RATE_LIMIT_PER_DAY,
    Summary,
    message_id,
    request_files,
    with_message_id,
)
from daemon.bootstrap import build_app
from daemon.inbound import Arrival, Outcome
from daemon.service import Service
from daemon.settings import load_settings

TARGET_MEDIAN = 1.0
TARGET_P99 = 3.0
BASELINE_FOLDER = "Bench-Baseline"

_MESSAGE_ID = re.compile(rb"^message-id[ \t]*:[ \t]*(<[^>\r\n]+>)", re.I | re.M)
_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.compat32)


class Unavailable(RuntimeError):
    """A server the benchmark needs is not installed."""


@dataclass
class LatencyReport:
    samples: int
    #: Seconds, one value per request.
    baseline: list[float] = field(default_factory=list)
    baseline_kept_open: list[float] = field(default_factory=list)
    service: list[float] = field(default_factory=list)
    to_handler: list[float] = field(default_factory=list)
    in_handler: list[float] = field(default_factory=list)
    to_sink: list[float] = field(default_factory=list)
    timeouts: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    load: tuple[float, float] = (0.0, 0.0)

    def markdown(self) -> str:
        service, baseline = Summary.of(self.service), Summary.of(self.baseline)
        ok = service.median < TARGET_MEDIAN and service.p99 < TARGET_P99 and not self.timeouts
        lines = [
            f"Arrival to acknowledgement: {self.samples} requests appended one at a time to "
            f"Dovecot, service on IMAP IDLE, SMTP to an aiosmtpd sink; load average "
            f"{self.load[0]:.1f} before, {self.load[1]:.1f} after.",
            "",
            "| ms | median | p90 | p99 | max |",
            "|---|---:|---:|---:|---:|",
            _row(
                "bare IDLE loop: APPEND → EXISTS, IDLE restarted per message (baseline)", baseline
            ),
            _row(
                "bare IDLE loop: APPEND → EXISTS, one IDLE kept open",
                Summary.of(self.baseline_kept_open),
            ),
            _row("**service: APPEND → acknowledgement at the sink**", service),
            _row(
                "&nbsp;&nbsp;↳ APPEND → Pipeline.handle starts (IDLE, FETCH)",
                Summary.of(self.to_handler),
            ),
            _row("&nbsp;&nbsp;↳ Pipeline.handle (one transaction)", Summary.of(self.in_handler)),
            _row(
                "&nbsp;&nbsp;↳ commit → acknowledgement at the sink (outbox, SMTP)",
                Summary.of(self.to_sink),
            ),
            "",
            f"Service adds {1000 * (service.median - baseline.median):.0f} ms to the bare IDLE "
            f"round trip at the median. Target: median < {TARGET_MEDIAN:.0f} s, "
            f"p99 < {TARGET_P99:.0f} s: **{'met' if ok else 'missed'}**"
            + (f" ({self.timeouts} acknowledgements never arrived)" if self.timeouts else "")
            + f". Handler outcomes: {dict(sorted(self.outcomes.items()))}.",
        ]
        if 0 < service.count < 100:
            rank = -(-99 * service.count // 100)
            which = "the largest" if rank == service.count else "close to the largest"
            lines.append(
                f"(With {service.count} samples the p99 is value number {rank} in order, {which}.)"
            )
        return "\n".join(lines)


def _row(label: str, s: Summary) -> str:
    return (
        f"| {label} | {1000 * s.median:.0f} | {1000 * s.p90:.0f} | {1000 * s.p99:.0f} "
        f"| {1000 * s.max:.0f} |"
    )


# --- servers ------------------------------------------------------------------------------


def check_available() -> None:
    """Raise :class:`Unavailable` unless Dovecot can be started (the tests' own check
    calls pytest.skip, which is no use outside pytest)."""
    from tests.servers import dovecot

    if not (os.access(dovecot.DOVECOT, os.X_OK) and os.access(dovecot.DOVEADM, os.X_OK)):
        raise Unavailable(
            f"dovecot: {dovecot.DOVECOT} or {dovecot.DOVEADM} not found "
            "(Debian: apt-get install dovecot-imapd)"
        )


@contextmanager
def servers() -> Iterator[tuple[Any, Any]]:
    """A private Dovecot and an SMTP sink, both on loopback, stopped afterwards."""
    check_available()
    from tests.servers.dovecot import start_dovecot
    from tests.servers.smtp_sink import SmtpSink

    dovecot = start_dovecot()
    try:
        with SmtpSink() as sink:
            yield dovecot, sink
    finally:
        dovecot.stop()
        shutil.rmtree(dovecot.root, ignore_errors=True)


def _client(dovecot: Any) -> IMAPClient:
    client = IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=30)
    client.login(dovecot.user, dovecot.password)
    return client


# --- baseline: a bare IDLE loop -----------------------------------------------------------


def measure_baseline(
    dovecot: Any,
    raws: Sequence[bytes],
    *,
    gap: float,
    restart: bool,
    folder: str = BASELINE_FOLDER,
    timeout: float = 10.0,
) -> list[float]:
    """APPEND completion → EXISTS on an idling connection, for each of ``raws``.

    With ``restart`` the connection leaves IDLE (DONE) after each notification and enters
    it again before the next APPEND, as a client that acts on each message does (the
    service: DONE, FETCH, MOVE, IDLE); without, one IDLE stays open for the whole run.
    """
    appender = _client(dovecot)
    watcher = _client(dovecot)
    if not appender.folder_exists(folder):
        appender.create_folder(folder)
    watcher.select_folder(folder)
    notices: queue.Queue[float] = queue.Queue()
    idling, stop = threading.Event(), threading.Event()

    def watch() -> None:
        watcher.idle()
        idling.set()
        while not stop.is_set():
            responses = watcher.idle_check(timeout=0.2)
            now = time.perf_counter()
            if any(len(r) >= 2 and r[1] == b"EXISTS" for r in responses):
                notices.put(now)
                if restart:
                    watcher.idle_done()
                    watcher.idle()
                    idling.set()
        watcher.idle_done()

    thread = threading.Thread(target=watch, name="bench-idle", daemon=True)
    thread.start()
    latencies: list[float] = []
    try:
        for raw in raws:
            if not idling.wait(timeout):
                raise RuntimeError("the IDLE connection did not (re)start")
            if restart:
                idling.clear()
            time.sleep(gap)
            appender.append(folder, raw)
            done = time.perf_counter()
            latencies.append(notices.get(timeout=timeout) - done)
    finally:
        stop.set()
        thread.join(5)
        for client in (watcher, appender):
            try:
                client.logout()
            except Exception:  # noqa: BLE001 - the run is over either way
                client.shutdown()
    return latencies


# --- the service --------------------------------------------------------------------------


def service_environ(root: Path, dovecot: Any, sink: Any) -> dict[str, str]:
    secret = root / "imap-password"
    secret.write_text(dovecot.password)
    secret.chmod(0o600)
    return {
        "LIAISON_STORE_URL": f"sqlite:///{root / 'liaison.db'}",
        "LIAISON_STORE_ATTACHMENTS_DIR": str(root / "attachments"),
        "LIAISON_OUTBOUND_MAILDIR": str(root / "sent"),
        "LIAISON_SECURITY_TRUSTED_AUTHSERV_ID": "mx.example.com",
        "LIAISON_MAILBOX_BACKEND": "imap",
        "LIAISON_MAILBOX_IMAP_HOST": dovecot.host,
        "LIAISON_MAILBOX_IMAP_PORT": str(dovecot.port),
        "LIAISON_MAILBOX_IMAP_SECURITY": "none",
        "LIAISON_MAILBOX_IMAP_USERNAME": dovecot.user,
        "LIAISON_MAILBOX_IMAP_PASSWORD_FILE": str(secret),
        "LIAISON_OUTBOUND_TRANSPORT": "smtp",
        "LIAISON_OUTBOUND_SMTP_HOST": sink.host,
        "LIAISON_OUTBOUND_SMTP_PORT": str(sink.port),
        "LIAISON_OUTBOUND_SMTP_SECURITY": "none",
        "LIAISON_WORKFLOW_RATE_LIMIT_PER_DAY": str(RATE_LIMIT_PER_DAY),
    }


def _message_id_of(raw: bytes) -> str | None:
    head = raw.split(b"\r\n\r\n", 1)[0]
    found = _MESSAGE_ID.search(head)
    return found.group(1).decode("ascii", "replace") if found is not None else None


def _in_reply_to(raw: bytes) -> str:
    value = _HEADERS.parsebytes(raw).get("In-Reply-To")
    return str(value).strip() if value is not None else ""


@dataclass
class _HandlerTimes:
    """When ``Pipeline.handle`` started and returned, by the request's Message-ID."""

    spans: dict[str, tuple[float, float]] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, handle: Callable[[Arrival], Outcome]) -> Callable[[Arrival], Outcome]:
        def timed(arrival: Arrival) -> Outcome:
            start = time.perf_counter()
            outcome = Outcome.RETRY
            try:
                outcome = handle(arrival)
                return outcome
            finally:
                end = time.perf_counter()
                mid = _message_id_of(arrival.raw) or ""
                with self.lock:
                    self.spans[mid] = (start, end)
                    self.outcomes[outcome.value] = self.outcomes.get(outcome.value, 0) + 1

        return timed


def _wait_for_reply(sink: Any, seen: int, mid: str, deadline: float) -> tuple[float, int] | None:
    """(time the reply to ``mid`` was seen at the sink, messages seen), or None."""
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return None
        try:
            messages = sink.wait_for(seen + 1, timeout=remaining)
        except AssertionError:  # the sink's own timeout
            return None
        now = time.perf_counter()
        if any(_in_reply_to(m.raw) == mid for m in messages[seen:]):
            return now, len(messages)
        seen = len(messages)


def measure_service(
    dovecot: Any,
    sink: Any,
    requests: Sequence[tuple[str, bytes]],
    *,
    warmup: int,
    gap: float,
    timeout: float,
    workdir: Path,
    report: LatencyReport,
) -> None:
    app = build_app(load_settings(None, environ=service_environ(workdir, dovecot, sink)))
    service = Service(app)
    times = _HandlerTimes()
    # Instrumentation only: the intake loop is given pipeline.handle when it starts.
    service.pipeline.handle = times.wrap(service.pipeline.handle)  # type: ignore[method-assign,assignment]
    service.start()
    appender = _client(dovecot)
    try:
        for n, (mid, raw) in enumerate(requests):
            before = len(sink.messages)
            appender.append("INBOX", raw)
            done = time.perf_counter()
            reply = _wait_for_reply(sink, before, mid, done + timeout)
            # Quiet again before the next one: the evaluation notice is out too.
            with suppress(AssertionError):
                sink.wait_for(before + 2, timeout=timeout)
            if n >= warmup:
                if reply is None:
                    report.timeouts += 1
                else:
                    at_sink = reply[0]
                    report.service.append(at_sink - done)
                    span = times.spans.get(mid)
                    if span is not None:
                        report.to_handler.append(span[0] - done)
                        report.in_handler.append(span[1] - span[0])
                        report.to_sink.append(at_sink - span[1])
            time.sleep(gap)
    finally:
        try:
            appender.logout()
        except Exception:  # noqa: BLE001
            appender.shutdown()
        service.stop()
    report.outcomes = dict(times.outcomes)


def run(
    *,
    samples: int = 100,
    warmup: int = 3,
    gap: float = 0.1,
    timeout: float = 30.0,
    corpus: Path = DEFAULT_CORPUS,
    progress: Callable[[str], None] = lambda _line: None,
) -> LatencyReport:
    files = request_files(corpus)
    originals = [path.read_bytes() for path in files]
    report = LatencyReport(samples=samples)
    load_before = os.getloadavg()[0]
    with (
        servers() as (dovecot, sink),
        tempfile.TemporaryDirectory(prefix="liaison-bench-latency-") as tmp,
    ):
        baseline_raws = [
            with_message_id(originals[i % len(originals)], message_id("baseline", i))
            for i in range(warmup + samples)
        ]
        progress(f"baseline: {samples} APPENDs to a bare IDLE loop, IDLE restarted each time")
        report.baseline = measure_baseline(dovecot, baseline_raws, gap=gap, restart=True)[warmup:]
        progress(f"baseline: {samples} APPENDs to a bare IDLE loop, one IDLE kept open")
        report.baseline_kept_open = measure_baseline(
            dovecot, baseline_raws, gap=gap, restart=False, folder=BASELINE_FOLDER + "-open"
        )[warmup:]
        requests = []
        for i in range(warmup + samples):
            mid = message_id("latency", i)
            requests.append((mid, with_message_id(originals[i % len(originals)], mid)))
        progress(f"service: {samples} requests through IMAP IDLE → SMTP")
        measure_service(
            dovecot,
            sink,
            requests,
            warmup=warmup,
            gap=gap,
            timeout=timeout,
            workdir=Path(tmp),
            report=report,
        )
    report.load = (load_before, os.getloadavg()[0])
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.latency",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--samples", type=int, default=100, help="timed requests (100)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests first (3)")
    parser.add_argument(
        "--gap", type=float, default=0.1, help="pause between requests, seconds (0.1)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="give up on one acknowledgement after this many seconds (30)",
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus directory")
    parser.add_argument("--json", action="store_true", help="print the raw results as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        report = run(
            samples=args.samples,
            warmup=args.warmup,
            gap=args.gap,
            timeout=args.timeout,
            corpus=args.corpus,
            progress=lambda line: print(line, flush=True),
        )
    except Unavailable as exc:
        print(f"latency benchmark not run: {exc}")
        return 2
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        print()
        print(report.markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
