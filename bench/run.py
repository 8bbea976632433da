"""Run the intake benchmarks and print a markdown summary (``make bench``).

    python -m bench.run                         # modest sizes: about 3 minutes on 2 cores
    python -m bench.run --full                  # 2,000 messages x 5 rounds, 300 requests
    python -m bench.run --profile -o results.md # with the ingest breakdown, also to a file

Ingest is held to ≥ 0.5 of the bare ``email`` parse rate, arrival to acknowledgement to a
median under 1 s and a p99 under 3 s (operations.md, "Performance targets"). The latency
part needs Dovecot (``/usr/sbin/dovecot``); without it, it is reported as not run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import platform
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import ingest, invitations, latency
from bench.corpus import DEFAULT_CORPUS


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import sqlite3

    import sqlalchemy

    return (
        f"{os.cpu_count()} cores{', ' + cpu if cpu else ''}; {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}, SQLite "
        f"{sqlite3.sqlite_version}, SQLAlchemy {sqlalchemy.__version__}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="bigger runs: 2,000 messages x 5 rounds, 300 latency samples",
    )
    parser.add_argument("--messages", type=int, help="ingest: messages per round (300)")
    parser.add_argument("--rounds", type=int, help="ingest: rounds (3)")
    parser.add_argument("--samples", type=int, help="latency: requests (50)")
    parser.add_argument("--profile", action="store_true", help="ingest: phase breakdown, cProfile")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-invitations", action="store_true")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus directory")
    parser.add_argument("-o", "--output", type=Path, help="also write the summary to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    messages = args.messages or (2000 if args.full else 300)
    rounds = args.rounds or (5 if args.full else 3)
    samples = args.samples or (300 if args.full else 50)

    def progress(line: str) -> None:
        print(f"  {line}", file=sys.stderr, flush=True)

    started = time.monotonic()
    sections = [
        "# Liaison benchmarks",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.",
        "Command: `" + " ".join(["python -m bench.run", *(argv or sys.argv[1:])]) + "`",
    ]
    if not args.skip_ingest:
        print(f"ingest: {messages} messages x {rounds} rounds ...", file=sys.stderr, flush=True)
        report = ingest.run(
            messages=messages,
            rounds=rounds,
            corpus=args.corpus,
            profile=args.profile,
            progress=progress,
        )
        sections += ["", "## Ingest against bare parsing", "", report.markdown()]
    if not args.skip_latency:
        print(f"latency: {samples} requests ...", file=sys.stderr, flush=True)
        sections += ["", "## Arrival to acknowledgement", ""]
        try:
            lat = latency.run(samples=samples, corpus=args.corpus, progress=progress)
        except latency.Unavailable as exc:
            sections.append(f"Not run: {exc}.")
        else:
            sections.append(lat.markdown())
    if not args.skip_invitations:
        print("invitations: ours against a naive icalendar build ...", file=sys.stderr, flush=True)
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured):
            invitations.main([])
        sections += [
            "",
            "## Calendar invitations built",
            "",
            "```",
            captured.getvalue().rstrip(),
            "```",
        ]
    sections += ["", f"Total time {time.monotonic() - started:.0f} s."]
    text = "\n".join(sections) + "\n"
    print(text)
    if args.output is not None:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
