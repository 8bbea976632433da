"""Every invitation we build, read by the parsers of real calendar clients.

- ical.js (npm; the parser Thunderbird uses), run by node through
  tests/clients/icaljs_check.mjs. The fixture runs ``npm ci --prefix tests/js`` itself
  when the ical.js of tests/js/package-lock.json is not installed yet and npm is there.
- libical (Debian ``libical-dev``), through tests/clients/libical_check.c, compiled by
  the fixture with gcc and pkg-config into a temporary directory. It also runs libical's
  iTIP restriction check (``icalrestriction_check``).

Both convert local times with the VTIMEZONE embedded in the message only (neither uses
a zone database of its own here), and the UTC instant each computes must be zoneinfo's.
A missing tool skips locally and fails under ``LIAISON_REQUIRE_SERVERS=1``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from calendar_sync.errors import NonexistentLocalTimeError
from calendar_sync.itip import build_cancel, build_declinecounter, build_request
from calendar_sync.model import Attendee, Meeting, Organizer
from calendar_sync.vtimezone import normalise_local
from tests.servers.requirements import missing_server

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ROOT / "tests" / "clients"
JS_DIR = ROOT / "tests" / "js"

Parsed = dict[str, Any]

YEAR = 2026
ZONES = ("Asia/Shanghai", "Europe/Berlin", "America/New_York")
#: The days clocks change in YEAR (checked against zoneinfo below).
DST_CHANGES = {
    "Europe/Berlin": (date(2026, 3, 29), date(2026, 10, 25)),
    "America/New_York": (date(2026, 3, 8), date(2026, 11, 1)),
}
#: (start, end, days the end is after the start) as wall times: office hours, a meeting
#: across the small hours when clocks change, one across midnight.
SLOTS = (
    (time(9, 0), time(10, 30), 0),
    (time(1, 30), time(3, 30), 0),
    (time(23, 30), time(0, 30), 1),
)
STAMP = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
ORGANIZER = Organizer("coord@example.com", "协调办公室")
ATTENDEES = (
    Attendee("zhao.lei@example.com", "赵磊", role="CHAIR"),
    Attendee("li.na@example.com", "李娜, 产品部; 经理: 北京"),
    Attendee("wang.qiang@example.com", "王强", role="OPT-PARTICIPANT"),
)


@dataclass(frozen=True)
class Client:
    name: str
    parse_many: Callable[[Sequence[bytes]], list[Parsed]]

    def parse(self, data: bytes) -> Parsed:
        return self.parse_many([data])[0]


def _tail(text: str | bytes) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text.strip()[-2000:]


def _locked_icaljs() -> str:
    lock = json.loads((JS_DIR / "package-lock.json").read_text("utf-8"))
    return str(lock["packages"]["node_modules/ical.js"]["version"])


def _installed_icaljs() -> str | None:
    installed = JS_DIR / "node_modules" / "ical.js" / "package.json"
    if not installed.is_file():
        return None
    return str(json.loads(installed.read_text("utf-8"))["version"])


@pytest.fixture(scope="session")
def icaljs() -> Client:
    node = shutil.which("node")
    if node is None:
        missing_server("node is not installed (Debian package nodejs); ical.js runs on it")
        raise AssertionError("unreachable")
    if _installed_icaljs() != _locked_icaljs():
        npm = shutil.which("npm")
        if npm is None:
            missing_server("ical.js is not installed in tests/js and npm is not there to do it")
            raise AssertionError("unreachable")
        done = subprocess.run(
            [npm, "ci", "--prefix", str(JS_DIR), "--no-audit", "--no-fund"],
            capture_output=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0 or _installed_icaljs() != _locked_icaljs():
            missing_server(f"npm ci --prefix tests/js failed: {_tail(done.stderr)}")
    script = str(CLIENTS / "icaljs_check.mjs")

    def parse_many(items: Sequence[bytes]) -> list[Parsed]:
        payload = json.dumps([item.decode("utf-8") for item in items])
        done = subprocess.run(
            [node, script, str(JS_DIR), "--batch"],
            input=payload.encode(),
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, _tail(done.stderr)
        results: list[Parsed] = json.loads(done.stdout)
        for result in results:
            assert "error" not in result, f"ical.js could not read it: {result['error']}"
        return results

    return Client("ical.js", parse_many)


@pytest.fixture(scope="session")
def libical(tmp_path_factory: pytest.TempPathFactory) -> Client:
    compiler = shutil.which("gcc") or shutil.which("cc")
    pkg_config = shutil.which("pkg-config")
    if compiler is None or pkg_config is None:
        missing_server("gcc and pkg-config are needed to build the libical checker")
        raise AssertionError("unreachable")
    flags = subprocess.run(
        [pkg_config, "--cflags", "--libs", "libical"], capture_output=True, text=True, check=False
    )
    if flags.returncode != 0:
        missing_server("libical is not installed (Debian package libical-dev)")
    binary = tmp_path_factory.mktemp("libical") / "libical_check"
    built = subprocess.run(
        [
            compiler,
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-O1",
            str(CLIENTS / "libical_check.c"),
            "-o",
            str(binary),
            *flags.stdout.split(),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        pytest.fail(f"the libical checker does not compile:\n{_tail(built.stderr)}")

    def parse_many(items: Sequence[bytes]) -> list[Parsed]:
        assert not any(b"\0" in item for item in items)
        done = subprocess.run(
            [str(binary), "--batch"],
            input=b"\0".join(items),
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, _tail(done.stdout + done.stderr)
        results: list[Parsed] = json.loads(done.stdout)
        assert len(results) == len(items)
        for result in results:
            assert "error" not in result, f"libical could not read it: {result['error']}"
        return results

    return Client("libical", parse_many)


@pytest.fixture(scope="module", params=["ical.js", "libical"])
def client(request: pytest.FixtureRequest) -> Client:
    result: Client = request.getfixturevalue("icaljs" if request.param == "ical.js" else "libical")
    return result


# --- the time matrix ------------------------------------------------------------------


def _days(zone: str) -> list[date]:
    days = [date(YEAR, 1, 15), date(YEAR, 7, 15)]
    # Shanghai has no changes of its own: it is read on the other zones' change days.
    changes = DST_CHANGES.get(zone) or tuple(d for c in DST_CHANGES.values() for d in c)
    for change in changes:
        days += [change - timedelta(days=1), change, change + timedelta(days=1)]
    return days


@dataclass(frozen=True)
class Case:
    zone: str
    start: datetime
    end: datetime

    @property
    def id(self) -> str:
        return f"{self.zone}-{self.start:%Y%m%dT%H%M}"

    def meeting(self) -> Meeting:
        return Meeting(
            uid=f"matrix.{self.id}@coord.example.com",
            sequence=2,
            summary="启动会",
            description="议程",
            start=self.start,
            end=self.end,
            timezone=self.zone,
            organizer=ORGANIZER,
            attendees=ATTENDEES,
        )


CASES = [
    Case(
        zone,
        datetime.combine(day, first, tzinfo=ZoneInfo(zone)),
        datetime.combine(day + timedelta(days=later), last, tzinfo=ZoneInfo(zone)),
    )
    for zone in ZONES
    for day in _days(zone)
    for first, last, later in SLOTS
]


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _is_ambiguous(value: datetime) -> bool:
    return value.replace(fold=1 - value.fold).utcoffset() != value.utcoffset()


def _instant(parsed_time: Parsed) -> str:
    utc = parsed_time["utc"]
    assert utc is not None, parsed_time
    return str(utc)[:19]  # ical.js adds milliseconds


@pytest.fixture(scope="module")
def matrix(client: Client) -> dict[tuple[str, str], Parsed]:
    """Every case as REQUEST and as CANCEL, parsed by the client in one go."""
    messages: dict[tuple[str, str], bytes] = {}
    for case in CASES:
        meeting = case.meeting()
        messages[(case.id, "REQUEST")] = build_request(meeting, dtstamp=STAMP)
        cancelled = replace(meeting, status="CANCELLED", sequence=meeting.sequence + 1)
        messages[(case.id, "CANCEL")] = build_cancel(cancelled, dtstamp=STAMP)
    parsed = client.parse_many(list(messages.values()))
    return dict(zip(messages, parsed, strict=True))


def test_dst_change_days_are_zoneinfos() -> None:
    for zone, days in DST_CHANGES.items():
        tz = ZoneInfo(zone)
        for day in days:
            before = datetime.combine(day, time(0), tzinfo=tz).utcoffset()
            after = datetime.combine(day, time(12), tzinfo=tz).utcoffset()
            assert before != after, (zone, day)
    assert len(CASES) == 3 * (14 + 8 + 8)


@pytest.mark.parametrize("method", ["REQUEST", "CANCEL"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_utc_instants_equal_zoneinfos(
    client: Client, matrix: dict[tuple[str, str], Parsed], case: Case, method: str
) -> None:
    parsed = matrix[(case.id, method)]
    assert parsed["method"] == method
    assert parsed["calendars"] == 1
    (event,) = parsed["events"]
    assert event["uid"] == case.meeting().uid
    for key, wall in (("start", case.start), ("end", case.end)):
        read = event[key]
        assert _instant(read) == _utc(wall), f"{client.name} {key} {read}"
        if _is_ambiguous(wall):
            assert read["zone"] == "utc"  # the repeated hour is written as an instant
        else:
            assert read["zone"] == "embedded" and read["tzid"] == case.zone
    if method == "CANCEL":
        assert event["status"] == "CANCELLED"
        assert event["sequence"] == 3


# --- times that do not exist or exist twice -------------------------------------------


def _meeting_at(zone: str, start: datetime, hours: float = 1) -> Meeting:
    return Meeting(
        uid=f"edge.{zone}.{start:%Y%m%dT%H%M}.{start.fold}@coord.example.com",
        summary="问题会",
        start=start,
        end=start + timedelta(hours=hours),
        timezone=zone,
        organizer=ORGANIZER,
        attendees=ATTENDEES[:1],
    )


@pytest.mark.parametrize(
    ("zone", "wall"),
    [
        ("Europe/Berlin", datetime(2026, 10, 25, 2, 30)),
        ("America/New_York", datetime(2026, 11, 1, 1, 30)),
    ],
)
def test_repeated_hour_is_the_occurrence_fold_names(
    client: Client, zone: str, wall: datetime
) -> None:
    starts = [wall.replace(tzinfo=ZoneInfo(zone), fold=fold) for fold in (0, 1)]
    meetings = [_meeting_at(zone, start) for start in starts]
    parsed = client.parse_many([build_request(m, dtstamp=STAMP) for m in meetings])
    instants = [_instant(p["events"][0]["start"]) for p in parsed]
    assert instants == [_utc(s) for s in starts]
    assert instants[0] != instants[1]


@pytest.mark.parametrize(
    ("zone", "wall", "moved_utc"),
    [
        ("Europe/Berlin", datetime(2026, 3, 29, 2, 30), "2026-03-29T01:30:00"),
        ("America/New_York", datetime(2026, 3, 8, 2, 30), "2026-03-08T07:30:00"),
    ],
)
def test_time_in_spring_gap_is_never_sent(
    client: Client, zone: str, wall: datetime, moved_utc: str
) -> None:
    start = wall.replace(tzinfo=ZoneInfo(zone))
    with pytest.raises(NonexistentLocalTimeError):
        build_request(_meeting_at(zone, start, hours=2), dtstamp=STAMP)
    moved = normalise_local(start)
    assert moved.replace(tzinfo=None) == wall + timedelta(hours=1)
    parsed = client.parse(build_request(_meeting_at(zone, moved), dtstamp=STAMP))
    (event,) = parsed["events"]
    assert event["start"]["zone"] == "embedded"
    assert _instant(event["start"]) == moved_utc == _utc(moved)


# --- the iTIP restriction check -------------------------------------------------------


def _sample(zone: str = "Europe/Berlin") -> Meeting:
    start = datetime(2026, 3, 20, 14, 0, tzinfo=ZoneInfo(zone))
    return Meeting(
        uid="kickoff.xt-2026-0012.k3f9@coord.example.com",
        sequence=1,
        summary="启动会：供应商对账流程线上化",
        description="议程：\n1. 背景与目标, 范围; 时间表\n2. 分工：牵头部门、配合部门 \\ 备注",
        location="总部 3 楼 会议室 A",
        online_url="https://meet.example.com/j/123?pwd=abc",
        start=start,
        end=start + timedelta(hours=1),
        timezone=zone,
        organizer=ORGANIZER,
        attendees=ATTENDEES,
    )


def _restriction_samples() -> dict[str, bytes]:
    samples = {}
    for zone in ZONES:
        sample = _sample(zone)
        cancelled = replace(sample, status="CANCELLED", sequence=2)
        samples[f"REQUEST-{zone}"] = build_request(sample, dtstamp=STAMP)
        samples[f"CANCEL-{zone}"] = build_cancel(cancelled, dtstamp=STAMP)
    sample = _sample()
    samples["CANCEL-one-attendee"] = build_cancel(sample, dtstamp=STAMP, attendees=ATTENDEES[2:])
    samples["DECLINECOUNTER"] = build_declinecounter(sample, dtstamp=STAMP, comment="时间不变")
    samples["DECLINECOUNTER-no-comment"] = build_declinecounter(sample, dtstamp=STAMP)
    day = datetime(2026, 3, 21, tzinfo=ZoneInfo("Asia/Shanghai"))
    all_day = replace(
        _sample("Asia/Shanghai"), all_day=True, start=day, end=day + timedelta(days=1)
    )
    samples["REQUEST-all-day"] = build_request(all_day, dtstamp=STAMP)
    return samples


RESTRICTION_SAMPLES = _restriction_samples()


@pytest.mark.parametrize("name", sorted(RESTRICTION_SAMPLES))
def test_libical_restriction_check_finds_nothing(libical: Client, name: str) -> None:
    parsed = libical.parse(RESTRICTION_SAMPLES[name])
    assert parsed["method"] == name.split("-")[0]
    assert parsed["errors"] == []
    assert parsed["parse_errors"] == 0 and parsed["restriction_errors"] == 0
    assert parsed["restriction_valid"] is True


def test_libical_restriction_check_can_fail(libical: Client) -> None:
    # The control: the same REQUEST without its ORGANIZER breaks RFC 5546's table.
    data = RESTRICTION_SAMPLES["REQUEST-Europe/Berlin"]
    broken = b"".join(
        line for line in data.splitlines(keepends=True) if not line.startswith(b"ORGANIZER")
    )
    parsed = libical.parse(broken)
    assert parsed["restriction_errors"] >= 1
    assert any("ORGANIZER" in error for error in parsed["errors"])


# --- what clients show ----------------------------------------------------------------


def test_request_and_cancel_read_alike(client: Client) -> None:
    sample = _sample()
    request, cancel, one = client.parse_many(
        [
            build_request(sample, dtstamp=STAMP),
            build_cancel(replace(sample, status="CANCELLED", sequence=2), dtstamp=STAMP),
            build_cancel(sample, dtstamp=STAMP, attendees=ATTENDEES[2:]),
        ]
    )
    assert [p["method"] for p in (request, cancel, one)] == ["REQUEST", "CANCEL", "CANCEL"]
    events = [p["events"][0] for p in (request, cancel, one)]
    assert {e["uid"] for e in events} == {sample.uid}
    assert [e["sequence"] for e in events] == [1, 2, 1]
    assert [e["status"] for e in events] == ["CONFIRMED", "CANCELLED", "CANCELLED"]
    assert [len(e["attendees"]) for e in events] == [3, 3, 1]
    assert events[2]["attendees"][0]["value"].lower() == "mailto:wang.qiang@example.com"
    assert events[0]["dtstamp"].replace("-", "").replace(":", "") == "20260105T080000Z"
    assert _instant(events[1]["start"]) == _instant(events[0]["start"]) == "2026-03-20T13:00:00"


def test_people_as_clients_read_them(client: Client) -> None:
    (event,) = client.parse(build_request(_sample(), dtstamp=STAMP))["events"]
    assert event["organizer"]["value"].lower() == "mailto:coord@example.com"
    assert event["organizer"]["cn"] == "协调办公室"
    people = {a["value"].lower(): a for a in event["attendees"]}
    assert set(people) == {f"mailto:{a.email}" for a in ATTENDEES}
    for attendee in ATTENDEES:
        read = people[f"mailto:{attendee.email}"]
        assert read["cn"] == attendee.name  # Chinese, and "," ";" ":" in one name
        assert read["role"] == attendee.role
        assert read["partstat"] == "NEEDS-ACTION"
        assert read["rsvp"] == "TRUE"
        assert read["cutype"] == "INDIVIDUAL"


def test_chinese_text_round_trips(client: Client) -> None:
    sample = _sample()
    long_agenda = "\n".join(f"{n}. 议题：供应商对账，线上化；负责人: 李娜" for n in range(1, 12))
    meeting = replace(sample, description=long_agenda, summary="复盘会：" + "对账" * 40)
    (event,) = client.parse(build_request(meeting, dtstamp=STAMP))["events"]
    assert event["summary"] == meeting.summary
    assert event["description"] == long_agenda
    assert event["location"] == sample.location
    assert event["url"] == sample.online_url
    (event,) = client.parse(build_request(sample, dtstamp=STAMP))["events"]
    assert event["description"] == sample.description  # with "\\", "," and ";"


def test_quotes_in_a_name(client: Client) -> None:
    name = '李娜 "Lina", 产品部'
    meeting = replace(_sample(), attendees=(Attendee("li.na@example.com", name),))
    (event,) = client.parse(build_request(meeting, dtstamp=STAMP))["events"]
    read = event["attendees"][0]["cn"]
    if client.name == "ical.js":
        assert read == name  # RFC 6868 decoded
    else:
        # libical 3.0 keeps RFC 6868's ^' as it is: the name arrives whole, readable.
        assert read in (name, name.replace('"', "^'"))


def test_all_day(client: Client) -> None:
    day = datetime(2026, 3, 21, tzinfo=ZoneInfo("Asia/Shanghai"))
    meeting = replace(
        _sample("Asia/Shanghai"), all_day=True, start=day, end=day + timedelta(days=2)
    )
    (event,) = client.parse(build_request(meeting, dtstamp=STAMP))["events"]
    assert event["start"]["is_date"] is True and event["end"]["is_date"] is True
    assert event["start"]["value"].replace("-", "") == "20260321"
    assert event["end"]["value"].replace("-", "") == "20260323"


def test_declinecounter_reads(client: Client) -> None:
    parsed = client.parse(build_declinecounter(_sample(), dtstamp=STAMP, comment="时间不变, 抱歉"))
    assert parsed["method"] == "DECLINECOUNTER"
    (event,) = parsed["events"]
    assert event["uid"] == _sample().uid
    assert event["comment"] == "时间不变, 抱歉"
    assert event["organizer"]["value"].lower() == "mailto:coord@example.com"
