"""Calendar invitations built per second: our builder against a naive icalendar build.

Target (operations.md, "Performance targets"): 1,000 invitations a second or more, with
the time-zone blocks cached rather than rebuilt per message.

Both sides build the same METHOD:REQUEST invitations, in the same run, on the same
machine: one organizer, four attendees with Chinese names, a Chinese summary and agenda,
an online link, start and end in one of Asia/Shanghai, Europe/Berlin and America/New_York
(a different meeting each time, all in one year).

- ours: ``calendar_sync.itip.build_request``; its VTIMEZONE blocks come from the
  ``(zone, year)`` cache, so only the first message of each zone builds one;
- naive: an ``icalendar.Calendar`` assembled per message, ``add_missing_timezones()``
  called on each (it derives the VTIMEZONE from the zone again every time), then
  ``to_ical()``.

Each side runs for at least ``--seconds`` and ``--min-count`` messages after a warm-up,
the two alternating round by round so that neither gets the quieter moments of the
machine. Reported:
messages a second for each, their ratio, and the cost of the first, uncached, build.

    python -m bench.invitations                  # about 7 s
    python -m bench.invitations --seconds 5 --json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar

from calendar_sync.itip import PRODID, build_request
from calendar_sync.model import Attendee, Meeting, Organizer
from calendar_sync.vtimezone import vtimezone

TARGET_PER_SECOND = 1_000
ZONES = ("Asia/Shanghai", "Europe/Berlin", "America/New_York")
YEAR = 2026
STAMP = datetime(2026, 3, 16, 9, 0, 14, tzinfo=UTC)
ORGANIZER = Organizer("coord@example.com", "协调办公室")
ATTENDEES = (
    Attendee("zhao.lei@example.com", "赵磊", role="CHAIR"),
    Attendee("li.na@example.com", "李娜, 产品部; 经理: 北京"),
    Attendee("wang.qiang@example.com", "王强"),
    Attendee("chen.jing@example.com", "陈静", role="OPT-PARTICIPANT"),
)
AGENDA = (
    "议程：\n1. 需求背景与目标（10 分钟）\n2. 牵头部门与配合部门分工（20 分钟）\n"
    "3. 里程碑, 风险; 资源（20 分钟）\n4. 下一步行动（10 分钟）"
)


def meetings(count: int) -> list[Meeting]:
    """``count`` different meetings across the three zones, all in YEAR."""
    made = []
    for n in range(count):
        zone = ZONES[n % len(ZONES)]
        day = datetime(YEAR, 1, 5, 9, 0, tzinfo=ZoneInfo(zone)) + timedelta(days=n % 300)
        made.append(
            Meeting(
                uid=f"kickoff.xt-{YEAR}-{n:05d}.bench@coord.example.com",
                summary=f"启动会：XT-{YEAR}-{n:04d} 供应商对账流程线上化",
                description=AGENDA,
                location="总部 3 楼 会议室 A",
                online_url=f"https://meet.example.com/j/{n}",
                start=day,
                end=day + timedelta(hours=1),
                timezone=zone,
                organizer=ORGANIZER,
                attendees=ATTENDEES,
            )
        )
    return made


def build_ours(meeting: Meeting) -> bytes:
    return build_request(meeting, dtstamp=STAMP)


def build_naive(meeting: Meeting) -> bytes:
    """What one would write with icalendar alone: everything per message."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    event = icalendar.Event()
    event.add("uid", meeting.uid)
    event.add("sequence", meeting.sequence)
    event.add("dtstamp", STAMP)
    event.add("dtstart", meeting.start)
    event.add("dtend", meeting.end)
    event.add("summary", meeting.summary)
    event.add("description", meeting.description)
    event.add("location", meeting.location)
    if meeting.online_url:
        event.add("url", meeting.online_url)
    organizer = icalendar.vCalAddress(f"mailto:{meeting.organizer.email}")
    organizer.params["CN"] = meeting.organizer.name
    event.add("organizer", organizer)
    for person in meeting.attendees:
        attendee = icalendar.vCalAddress(f"mailto:{person.email}")
        attendee.params.update(
            {
                "CN": person.name,
                "CUTYPE": "INDIVIDUAL",
                "ROLE": person.role,
                "PARTSTAT": person.partstat,
                "RSVP": "TRUE",
            }
        )
        event.add("attendee", attendee)
    event.add("status", "CONFIRMED")
    calendar.add_component(event)
    calendar.add_missing_timezones()
    data: bytes = calendar.to_ical()
    return data


@dataclass(frozen=True)
class Side:
    name: str
    messages: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds


def _round(build: Callable[[Meeting], bytes], batch: Sequence[Meeting]) -> float:
    started = time.perf_counter()
    for meeting in batch:
        build(meeting)
    return time.perf_counter() - started


@dataclass(frozen=True)
class Result:
    python: str
    icalendar: str
    ours: Side
    naive: Side
    first_build_ms_ours: float
    first_build_ms_naive: float
    bytes_ours: int
    bytes_naive: int

    @property
    def ratio(self) -> float:
        return self.ours.per_second / self.naive.per_second

    @property
    def target_met(self) -> bool:
        return self.ours.per_second >= TARGET_PER_SECOND

    def as_json(self) -> dict[str, object]:
        return asdict(self) | {
            "ours_per_second": round(self.ours.per_second, 1),
            "naive_per_second": round(self.naive.per_second, 1),
            "ratio": round(self.ratio, 1),
            "target_per_second": TARGET_PER_SECOND,
            "target_met": self.target_met,
        }


def measure(seconds: float, min_count: int) -> Result:
    pool = meetings(600)
    vtimezone.cache_clear()
    started = time.perf_counter()
    build_ours(pool[0])
    first_ours = time.perf_counter() - started
    started = time.perf_counter()
    build_naive(pool[0])
    first_naive = time.perf_counter() - started

    for meeting in pool[:30]:  # warm-up: imports, caches, the three zones
        build_ours(meeting)
        build_naive(meeting)

    ours = naive = 0.0
    ours_count = naive_count = 0
    batch_ours, batch_naive = pool, pool[:60]
    while True:
        ours_done = ours >= seconds and ours_count >= min_count
        naive_done = naive >= seconds and naive_count >= min_count
        if ours_done and naive_done:
            break
        if not ours_done:
            ours += _round(build_ours, batch_ours)
            ours_count += len(batch_ours)
        if not naive_done:
            naive += _round(build_naive, batch_naive)
            naive_count += len(batch_naive)

    return Result(
        python=platform.python_version(),
        icalendar=icalendar.__version__,
        ours=Side("ours", ours_count, ours),
        naive=Side("naive", naive_count, naive),
        first_build_ms_ours=round(first_ours * 1e3, 2),
        first_build_ms_naive=round(first_naive * 1e3, 2),
        bytes_ours=len(build_ours(pool[1])),
        bytes_naive=len(build_naive(pool[1])),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.invitations", description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per side (default 3)")
    parser.add_argument("--min-count", type=int, default=120, help="messages per side at least")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = measure(args.seconds, args.min_count)
    if args.json:
        print(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
        return 0
    print(
        f"calendar invitations (METHOD:REQUEST), Python {result.python}, "
        f"icalendar {result.icalendar}"
    )
    for side in (result.ours, result.naive):
        print(
            f"  {side.name:<6} {side.per_second:>10,.1f} /s"
            f"   ({side.messages} messages in {side.seconds:.2f} s)"
        )
    print(f"  ratio ours/naive: {result.ratio:.1f}x")
    print(
        f"  first build (VTIMEZONE not cached yet): ours {result.first_build_ms_ours} ms, "
        f"naive {result.first_build_ms_naive} ms"
    )
    print(f"  message size: ours {result.bytes_ours} B, naive {result.bytes_naive} B")
    verdict = "met" if result.target_met else "NOT met"
    print(f"  target >= {TARGET_PER_SECOND:,}/s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
