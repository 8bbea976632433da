"""The request mails the benchmarks feed in, and the statistics they report.

The input is the request category of the shared corpus (``req_*.eml``). Each copy gets
a Message-ID of its own, written into the raw bytes, so that the service's de-duplication
(by Message-ID and by SHA-256 of the bytes) never short-circuits a copy.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: ``shared/`` sits beside the checkout (as tests/conftest.py expects).
DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
MESSAGE_ID_DOMAIN = "bench.example.com"
#: ``workflow.rate_limit_per_day`` for the benchmarks: the copies cycle through a dozen
#: senders, and past the default of 20 a day a sender's mail is recorded as noise instead
#: of registered. Above anything a run sends, the limit is still checked for every message.
RATE_LIMIT_PER_DAY = 1_000_000

# A Message-ID header line and its folded continuation lines, in the header block.
_MESSAGE_ID = re.compile(rb"^message-id[ \t]*:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*", re.I | re.M)
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def request_files(corpus: Path = DEFAULT_CORPUS) -> list[Path]:
    files = sorted(corpus.glob("req_*.eml"))
    if not files:
        raise SystemExit(f"no req_*.eml files in {corpus} (pass --corpus DIR)")
    return files


def message_id(tag: str, index: int) -> str:
    return f"<bench.{tag}.{index}@{MESSAGE_ID_DOMAIN}>"


def with_message_id(raw: bytes, mid: str) -> bytes:
    """``raw`` with its Message-ID header replaced by (or, if it has none, given) ``mid``."""
    end = _HEADER_END.search(raw)
    split = end.start() if end is not None else len(raw)
    head, rest = raw[:split], raw[split:]
    line = b"Message-ID: " + mid.encode("ascii")
    new_head, count = _MESSAGE_ID.subn(lambda _match: line, head, count=1)
    if count == 0:
        newline = b"\r\n" if b"\r\n" in head else b"\n"
        new_head = line + newline + head
    return new_head + rest


def replicate(files: Sequence[Path], count: int, tag: str) -> list[tuple[Path, bytes]]:
    """``count`` messages cycling through ``files``, each with a unique Message-ID."""
    originals = [(path, path.read_bytes()) for path in files]
    out: list[tuple[Path, bytes]] = []
    for i in range(count):
        path, raw = originals[i % len(originals)]
        out.append((path, with_message_id(raw, message_id(tag, i))))
    return out


@dataclass(frozen=True)
class Summary:
    """Order statistics of a sample, in the sample's unit (nearest-rank percentiles)."""

    count: int
    median: float
    p90: float
    p99: float
    max: float
    min: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        if not values:
            nan = float("nan")
            return cls(0, nan, nan, nan, nan, nan)
        ordered = sorted(values)
        return cls(
            count=len(ordered),
            median=statistics.median(ordered),
            p90=percentile(ordered, 90),
            p99=percentile(ordered, 99),
            max=ordered[-1],
            min=ordered[0],
        )


def percentile(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted sample: the smallest value with at
    least ``p`` percent of the sample at or below it (p99 of 100 values is the 99th)."""
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]
