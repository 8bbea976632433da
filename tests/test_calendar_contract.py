"""One contract for every calendar backend, then what only CalDAV has to prove.

The contract tests run once per backend in :data:`BACKENDS`; each backend is built by the
fixture ``calendar_backend_<name>``. Adding a backend (Exchange, in a later issue) is one
more name in :data:`BACKENDS` and its fixture. Where backends may differ, the test asks
the backend's declared :class:`~calendar_sync.port.CalendarCapabilities` and asserts the
behaviour that goes with the declaration, so nothing is skipped silently.

The iCalendar bytes are the real builders' (:mod:`calendar_sync.itip`); CalDAV runs
against a real Radicale (``tests/servers/radicale.py``).
"""

from __future__ import annotations

import dataclasses
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from caldav.davclient import DAVClient

from calendar_sync.caldav_calendar import CaldavCalendar, strip_method
from calendar_sync.imip import ImipCalendar
from calendar_sync.itip import build_cancel, build_request
from calendar_sync.memory import InMemoryCalendar
from calendar_sync.model import Attendee, Meeting, Organizer
from calendar_sync.port import Calendar, CalendarCapabilities, StoredEvent
from calendar_sync.port_errors import (
    CalendarAuthError,
    CalendarRejectedError,
    CalendarUnavailableError,
    InvalidEventError,
)
from tests.servers.radicale import FailingHttpServer, RadicaleCalendar

#: Every implementation of the port; each has a fixture ``calendar_backend_<name>``.
BACKENDS = ("memory", "imip", "caldav")

SHANGHAI = ZoneInfo("Asia/Shanghai")
STAMP = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)
ORGANIZER = Organizer("coord@example.com", "协调办公室")
ZHAO = Attendee("zhao.lei@example.com", "赵磊")
LI = Attendee("li.na@example.com", "李娜, 研发部; 主管: 测试")
WANG = Attendee("wang.qiang@example.com", "王强", partstat="DECLINED")


def sh(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def meeting(
    uid: str = "kickoff.xt-2026-0015.a1b2@coord.example.com",
    *,
    sequence: int = 0,
    start: datetime | None = None,
    minutes: int = 60,
    attendees: tuple[Attendee, ...] = (ZHAO, LI),
    summary: str = "启动会：供应商对账流程线上化",
) -> Meeting:
    first = start or sh(3, 10, 10)
    return Meeting(
        uid=uid,
        sequence=sequence,
        summary=summary,
        description="议程：\n1. 需求说明\n2. 分工，时间表；风险",
        location="3号会议室",
        start=first,
        end=first + timedelta(minutes=minutes),
        timezone="Asia/Shanghai",
        organizer=ORGANIZER,
        attendees=attendees,
    )


def request(m: Meeting) -> bytes:
    return build_request(m, dtstamp=STAMP + timedelta(minutes=m.sequence))


def cancellation(m: Meeting) -> tuple[Meeting, bytes]:
    cancelled = dataclasses.replace(m, sequence=m.sequence + 1, status="CANCELLED")
    return cancelled, build_cancel(cancelled, dtstamp=STAMP + timedelta(hours=1))


def vevent(raw: bytes) -> icalendar.Event:
    (event,) = icalendar.Calendar.from_ical(raw).walk("VEVENT")
    assert isinstance(event, icalendar.Event)
    return event


# --- the backends -----------------------------------------------------------------------


@dataclass
class Backend:
    calendar: Calendar
    #: Builds the same backend with its server gone; None when there is no server to lose.
    unreachable: Callable[[], Calendar] | None


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends


@pytest.fixture
def calendar_backend_memory() -> Backend:
    def down() -> Calendar:
        calendar = InMemoryCalendar(timezone="Asia/Shanghai")
        calendar.outage = True
        return calendar

    return Backend(InMemoryCalendar(timezone="Asia/Shanghai"), unreachable=down)


@pytest.fixture
def calendar_backend_imip() -> Backend:
    return Backend(ImipCalendar(), unreachable=None)


@pytest.fixture
def calendar_backend_caldav(radicale_calendar: RadicaleCalendar) -> Iterator[Backend]:
    calendar = caldav_for(radicale_calendar)

    def down() -> Calendar:
        return CaldavCalendar(
            f"http://127.0.0.1:{_closed_port()}/",
            username=radicale_calendar.username,
            password=radicale_calendar.password,
            calendar_path=radicale_calendar.path,
            timeout=5,
        )

    try:
        yield Backend(calendar, unreachable=down)
    finally:
        calendar.close()


def caldav_for(collection: RadicaleCalendar, **overrides: object) -> CaldavCalendar:
    options: dict[str, object] = {
        "username": collection.username,
        "password": collection.password,
        "calendar_path": collection.path,
        "timeout": 10,
        "timezone": "Asia/Shanghai",
    }
    options.update(overrides)
    return CaldavCalendar(collection.server.url, **options)  # type: ignore[arg-type]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.getfixturevalue(f"calendar_backend_{request.param}")  # type: ignore[no-any-return]


# --- the contract -----------------------------------------------------------------------


def test_backend_is_a_calendar_and_declares_its_capabilities(backend: Backend) -> None:
    assert isinstance(backend.calendar, Calendar)
    assert isinstance(backend.calendar.capabilities, CalendarCapabilities)


def test_publish_then_get_gives_the_same_uid_and_sequence(backend: Backend) -> None:
    calendar, m = backend.calendar, meeting()
    calendar.publish(m.uid, request(m), 0)

    stored = calendar.get(m.uid)
    if not calendar.capabilities.stores_events:
        assert stored is None
        return
    assert isinstance(stored, StoredEvent)
    assert (stored.uid, stored.sequence, stored.status) == (m.uid, 0, "CONFIRMED")
    assert not stored.cancelled
    event = vevent(stored.raw)
    assert str(event["UID"]) == m.uid
    assert int(str(event["SEQUENCE"])) == 0
    assert event.start == m.start
    assert event.end == m.end


def test_republishing_with_the_next_sequence_replaces(backend: Backend) -> None:
    calendar, first = backend.calendar, meeting()
    calendar.publish(first.uid, request(first), 0)
    moved = dataclasses.replace(first, sequence=1, start=sh(3, 11, 14), end=sh(3, 11, 15))
    calendar.publish(moved.uid, request(moved), 1)

    stored = calendar.get(first.uid)
    if not calendar.capabilities.stores_events:
        assert stored is None
        return
    assert stored is not None and stored.sequence == 1
    assert vevent(stored.raw).start == sh(3, 11, 14)


def test_publishing_the_same_sequence_again_is_harmless(backend: Backend) -> None:
    calendar, m = backend.calendar, meeting()
    calendar.publish(m.uid, request(m), 0)
    calendar.publish(m.uid, request(m), 0)  # a retry after a crash

    stored = calendar.get(m.uid)
    if calendar.capabilities.stores_events:
        assert stored is not None and stored.sequence == 0
    else:
        assert stored is None


def test_an_older_sequence_does_not_overwrite_a_newer_one(backend: Backend) -> None:
    calendar, old = backend.calendar, meeting()
    new = dataclasses.replace(old, sequence=2, start=sh(3, 12, 9), end=sh(3, 12, 10))
    calendar.publish(new.uid, request(new), 2)
    calendar.publish(old.uid, request(old), 0)  # late, e.g. replayed from the outbox

    stored = calendar.get(old.uid)
    if not calendar.capabilities.stores_events:
        assert stored is None
        return
    assert stored is not None and stored.sequence == 2
    assert vevent(stored.raw).start == sh(3, 12, 9)


def test_cancel_keeps_the_cancelled_version(backend: Backend) -> None:
    calendar, m = backend.calendar, meeting()
    calendar.publish(m.uid, request(m), 0)
    cancelled, ics = cancellation(m)
    calendar.cancel(m.uid, ics, cancelled.sequence)

    stored = calendar.get(m.uid)
    if not calendar.capabilities.stores_events:
        assert stored is None
        return
    assert stored is not None
    assert (stored.sequence, stored.status, stored.cancelled) == (1, "CANCELLED", True)
    assert str(vevent(stored.raw)["STATUS"]) == "CANCELLED"


def test_a_cancelled_meeting_is_not_busy_time(backend: Backend) -> None:
    calendar, m = backend.calendar, meeting()
    calendar.publish(m.uid, request(m), 0)
    cancelled, ics = cancellation(m)
    calendar.cancel(m.uid, ics, cancelled.sequence)

    busy = calendar.busy([ZHAO.email], sh(3, 10, 9), sh(3, 10, 18))
    assert busy == ([] if calendar.capabilities.free_busy else None)


def test_publishing_after_a_cancel_brings_the_meeting_back(backend: Backend) -> None:
    calendar, m = backend.calendar, meeting()
    calendar.publish(m.uid, request(m), 0)
    cancelled, ics = cancellation(m)
    calendar.cancel(m.uid, ics, 1)
    revived = dataclasses.replace(m, sequence=2, start=sh(3, 13, 10), end=sh(3, 13, 11))
    calendar.publish(m.uid, request(revived), 2)

    stored = calendar.get(m.uid)
    if calendar.capabilities.stores_events:
        assert stored is not None and (stored.sequence, stored.status) == (2, "CONFIRMED")
    else:
        assert stored is None


def test_an_unknown_uid_is_none(backend: Backend) -> None:
    backend.calendar.publish(meeting().uid, request(meeting()), 0)
    assert backend.calendar.get("never-published@coord.example.com") is None


def _two_events() -> bytes:
    one = request(meeting())
    head, _, rest = one.partition(b"BEGIN:VEVENT\r\n")
    body, _, tail = rest.partition(b"END:VEVENT\r\n")
    other = body.replace(b"UID:kickoff.", b"UID:other.")
    return (
        head
        + b"BEGIN:VEVENT\r\n"
        + body
        + b"END:VEVENT\r\nBEGIN:VEVENT\r\n"
        + other
        + (b"END:VEVENT\r\n" + tail)
    )


INVALID_CALLS = [
    ("other uid", "publish", "someone-else@coord.example.com", lambda: request(meeting()), 0),
    ("other sequence", "publish", meeting().uid, lambda: request(meeting()), 1),
    ("negative sequence", "publish", meeting().uid, lambda: request(meeting()), -1),
    ("not iCalendar", "publish", meeting().uid, lambda: b"BEGIN:VCALENDAR\r\nnonsense", 0),
    ("two events", "publish", meeting().uid, _two_events, 0),
    ("cancel via publish", "publish", meeting().uid, lambda: cancellation(meeting())[1], 1),
    ("request via cancel", "cancel", meeting().uid, lambda: request(meeting()), 0),
    (
        "recurring",
        "publish",
        meeting().uid,
        lambda: request(meeting()).replace(
            b"STATUS:CONFIRMED\r\n", b"STATUS:CONFIRMED\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\n"
        ),
        0,
    ),
]


@pytest.mark.parametrize(
    ("operation", "uid", "make", "sequence"),
    [case[1:] for case in INVALID_CALLS],
    ids=[case[0] for case in INVALID_CALLS],
)
def test_bytes_that_do_not_match_the_call_are_refused_before_anything_is_stored(
    backend: Backend, operation: str, uid: str, make: Callable[[], bytes], sequence: int
) -> None:
    with pytest.raises(InvalidEventError) as caught:
        getattr(backend.calendar, operation)(uid, make(), sequence)
    assert isinstance(caught.value, CalendarRejectedError)  # permanent: not worth a retry
    assert backend.calendar.get(uid) is None
    assert backend.calendar.get(meeting().uid) is None


def test_busy_reports_a_published_meeting_overlapping_the_window(backend: Backend) -> None:
    calendar = backend.calendar
    m = meeting(attendees=(ZHAO, LI, WANG))  # 10:00-11:00 Shanghai
    calendar.publish(m.uid, request(m), 0)
    other = meeting("review.xt-2026-0016.c3d4@coord.example.com", start=sh(3, 10, 14))
    calendar.publish(other.uid, request(other), 0)

    busy = calendar.busy([ZHAO.email], sh(3, 10, 9), sh(3, 10, 18))
    if not calendar.capabilities.free_busy:
        assert busy is None
        assert calendar.busy(["nobody@example.com"], sh(3, 10, 9), sh(3, 10, 18)) is None
        return
    assert busy == [(sh(3, 10, 10), sh(3, 10, 11)), (sh(3, 10, 14), sh(3, 10, 15))]
    assert all(a.utcoffset() == timedelta(0) and b.utcoffset() == timedelta(0) for a, b in busy)
    # Addresses match case-insensitively, with or without mailto:.
    assert calendar.busy(["MAILTO:Zhao.Lei@Example.COM"], sh(3, 10, 9), sh(3, 10, 12)) == [
        (sh(3, 10, 10), sh(3, 10, 11))
    ]
    # Clipped to the window; a window touching the end of a meeting does not overlap it.
    assert calendar.busy([LI.email], sh(3, 10, 10, 30), sh(3, 10, 12)) == [
        (sh(3, 10, 10, 30), sh(3, 10, 11))
    ]
    assert calendar.busy([LI.email], sh(3, 10, 11), sh(3, 10, 12)) == []
    # Someone who declined is free; the organizer is taken; a stranger is free.
    assert calendar.busy([WANG.email], sh(3, 10, 9), sh(3, 10, 12)) == []
    assert calendar.busy([ORGANIZER.email], sh(3, 10, 9), sh(3, 10, 12)) == [
        (sh(3, 10, 10), sh(3, 10, 11))
    ]
    assert calendar.busy(["nobody@example.com"], sh(3, 10, 9), sh(3, 10, 18)) == []


def test_busy_refuses_a_naive_or_empty_window(backend: Backend) -> None:
    with pytest.raises(ValueError):
        backend.calendar.busy([ZHAO.email], datetime(2026, 3, 10, 9), sh(3, 10, 18))
    with pytest.raises(ValueError):
        backend.calendar.busy([ZHAO.email], sh(3, 10, 18), sh(3, 10, 9))


def test_chinese_text_round_trips(backend: Backend) -> None:
    calendar = backend.calendar
    m = meeting(summary="问题协调会：对账差异（财务部、研发部）; 第2次, 紧急")
    calendar.publish(m.uid, request(m), 0)

    stored = calendar.get(m.uid)
    if not calendar.capabilities.stores_events:
        assert stored is None
        return
    assert stored is not None
    event = vevent(stored.raw)
    assert str(event["SUMMARY"]) == m.summary
    assert str(event["DESCRIPTION"]) == m.description
    names = {str(a).lower(): a.params["CN"] for a in event.attendees}
    assert names["mailto:li.na@example.com"] == LI.name


def test_a_server_that_is_down_is_unavailable(backend: Backend) -> None:
    if backend.unreachable is None:
        # Nothing remote to lose: the backend says so, and keeps working.
        assert not backend.calendar.capabilities.remote
        m = meeting()
        backend.calendar.publish(m.uid, request(m), 0)
        backend.calendar.get(m.uid)
        backend.calendar.busy([ZHAO.email], sh(3, 10, 9), sh(3, 10, 18))
        return
    down, m = backend.unreachable(), meeting()
    cancelled, ics = cancellation(m)
    calls: list[Callable[[], object]] = [
        lambda: down.publish(m.uid, request(m), 0),
        lambda: down.cancel(m.uid, ics, cancelled.sequence),
        lambda: down.get(m.uid),
        lambda: down.busy([ZHAO.email], sh(3, 10, 9), sh(3, 10, 18)),
    ]
    for call in calls:
        with pytest.raises(CalendarUnavailableError):
            call()


# --- CalDAV only: what is on the server ----------------------------------------------------


def _line(raw: bytes, name: bytes) -> bytes:
    """The unfolded content line ``name`` of the one VEVENT in ``raw``."""
    unfolded = re.sub(rb"\r?\n[ \t]", b"", raw)
    (event,) = re.findall(rb"^BEGIN:VEVENT\r?$.*?^END:VEVENT\r?$", unfolded, re.M | re.S)
    (value,) = re.findall(rb"^" + name + rb"[;:][^\r\n]*", event, flags=re.MULTILINE)
    return bytes(value)


def test_caldav_stores_the_mailed_sequence_and_times_after_two_updates(
    radicale_calendar: RadicaleCalendar,
) -> None:
    with caldav_for(radicale_calendar) as calendar:
        m0 = meeting()
        m1 = dataclasses.replace(m0, sequence=1, start=sh(3, 11, 14), end=sh(3, 11, 15))
        m2 = dataclasses.replace(m1, sequence=2, start=sh(3, 12, 9, 30), end=sh(3, 12, 10, 30))
        mailed = [request(m) for m in (m0, m1, m2)]
        for m, ics in zip((m0, m1, m2), mailed, strict=True):
            calendar.publish(m.uid, ics, m.sequence)

        on_disk = radicale_calendar.stored(calendar.href(m0.uid))
        for name in (b"SEQUENCE", b"DTSTART", b"DTEND", b"DTSTAMP", b"UID"):
            assert _line(on_disk, name) == _line(mailed[2], name), name
        assert b"METHOD" not in on_disk  # RFC 4791 4.1: no METHOD in a calendar collection
        stored = calendar.get(m0.uid)
        assert stored is not None and stored.sequence == 2
        assert _line(stored.raw, b"SEQUENCE") == b"SEQUENCE:2"


def test_caldav_keeps_chinese_text_byte_for_byte_on_the_server(
    radicale_calendar: RadicaleCalendar,
) -> None:
    with caldav_for(radicale_calendar) as calendar:
        m = meeting(summary="启动会：供应商对账流程线上化（第一阶段）")
        calendar.publish(m.uid, request(m), 0)
        on_disk = radicale_calendar.stored(calendar.href(m.uid))
    assert _line(on_disk, b"SUMMARY").decode("utf-8") == f"SUMMARY:{m.summary}"


def test_caldav_libraries_save_event_would_bump_the_sequence(
    radicale_calendar: RadicaleCalendar,
) -> None:
    """Why CaldavCalendar PUTs raw bytes: the library's own save changes SEQUENCE."""
    m = meeting()
    client = DAVClient(
        url=radicale_calendar.url,
        username=radicale_calendar.username,
        password=radicale_calendar.password,
    )
    team = client.calendar(url=radicale_calendar.url)  # type: ignore[no-untyped-call]
    saved = team.save_event(strip_method(request(m)).decode())
    on_disk = radicale_calendar.stored(str(saved.url))
    assert _line(on_disk, b"SEQUENCE") != b"SEQUENCE:0"


def test_caldav_cancel_is_stored_as_cancelled_on_the_server(
    radicale_calendar: RadicaleCalendar,
) -> None:
    with caldav_for(radicale_calendar) as calendar:
        m = meeting()
        calendar.publish(m.uid, request(m), 0)
        cancelled, ics = cancellation(m)
        calendar.cancel(m.uid, ics, cancelled.sequence)
        on_disk = radicale_calendar.stored(calendar.href(m.uid))
    assert _line(on_disk, b"STATUS") == b"STATUS:CANCELLED"
    assert _line(on_disk, b"SEQUENCE") == b"SEQUENCE:1"


def test_caldav_names_resources_safely(radicale_calendar: RadicaleCalendar) -> None:
    with caldav_for(radicale_calendar) as calendar:
        odd = meeting("会议/../x 1@coord.example.com")
        calendar.publish(odd.uid, request(odd), 0)
        assert calendar.href(odd.uid).startswith(calendar.url)
        assert re.fullmatch(r"[0-9a-f]{64}\.ics", calendar.href(odd.uid)[len(calendar.url) :])
        stored = calendar.get(odd.uid)
    assert stored is not None and stored.uid == odd.uid


def test_caldav_busy_counts_other_events_on_the_team_calendar(
    radicale_calendar: RadicaleCalendar,
) -> None:
    weekly = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        "UID:weekly-standup@example.com\r\nDTSTAMP:20260301T000000Z\r\n"
        "DTSTART;TZID=Asia/Shanghai:20260302T160000\r\n"
        "DTEND;TZID=Asia/Shanghai:20260302T163000\r\n"
        "RRULE:FREQ=WEEKLY;COUNT=10\r\nSUMMARY:周例会\r\n"
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:zhao.lei@example.com\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()
    all_day = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        "UID:training@example.com\r\nDTSTAMP:20260301T000000Z\r\n"
        "DTSTART;VALUE=DATE:20260311\r\nDTEND;VALUE=DATE:20260312\r\nSUMMARY:培训\r\n"
        "ORGANIZER:mailto:li.na@example.com\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()
    free = (
        all_day.replace(b"training@", b"holiday@")
        .replace(b"SUMMARY:", b"TRANSP:TRANSPARENT\r\nSUMMARY:")
        .replace(b"li.na@", b"zhao.lei@")
    )
    assert radicale_calendar.put("weekly.ics", weekly) == 201
    assert radicale_calendar.put("training.ics", all_day) == 201
    assert radicale_calendar.put("holiday.ics", free) == 201

    with caldav_for(radicale_calendar) as calendar:
        # The weekly event's instance on Monday 9 March, expanded by the server.
        assert calendar.busy([ZHAO.email], sh(3, 9, 9), sh(3, 9, 18)) == [
            (sh(3, 9, 16), sh(3, 9, 16, 30))
        ]
        # An all-day event is the whole local day in the calendar's zone (Shanghai).
        assert calendar.busy([LI.email], sh(3, 11, 0), sh(3, 13, 0)) == [
            (sh(3, 11, 0), sh(3, 12, 0))
        ]
        # A transparent event takes no time.
        assert calendar.busy([ZHAO.email], sh(3, 11, 0), sh(3, 11, 12)) == []


def test_caldav_wrong_password_is_an_auth_error(radicale_calendar: RadicaleCalendar) -> None:
    with caldav_for(radicale_calendar, password="wrong") as calendar:
        m = meeting()
        with pytest.raises(CalendarAuthError) as caught:
            calendar.publish(m.uid, request(m), 0)
        assert caught.value.status == 401
        with pytest.raises(CalendarAuthError):
            calendar.get(m.uid)


def test_caldav_a_missing_calendar_is_rejected(radicale_calendar: RadicaleCalendar) -> None:
    missing = dataclasses.replace(radicale_calendar, path=radicale_calendar.path[:-1] + "-gone/")
    with caldav_for(missing) as calendar:
        m = meeting()
        with pytest.raises(CalendarRejectedError):
            calendar.publish(m.uid, request(m), 0)
        with pytest.raises(CalendarRejectedError):
            calendar.check()
        assert calendar.get(m.uid) is None
    with caldav_for(radicale_calendar) as calendar:
        calendar.check()


def test_caldav_a_uid_held_by_another_resource_is_rejected(
    radicale_calendar: RadicaleCalendar,
) -> None:
    m = meeting()
    assert radicale_calendar.put("made-by-a-client.ics", strip_method(request(m))) == 201
    with caldav_for(radicale_calendar) as calendar, pytest.raises(CalendarRejectedError) as caught:
        calendar.publish(m.uid, request(m), 0)
    assert caught.value.status == 409


@pytest.mark.parametrize(
    ("status", "headers", "error"),
    [
        (500, {}, CalendarUnavailableError),
        (502, {}, CalendarUnavailableError),
        (503, {}, CalendarUnavailableError),
        (503, {"Retry-After": "120"}, CalendarUnavailableError),
        (429, {"Retry-After": "1"}, CalendarUnavailableError),
        (400, {}, CalendarRejectedError),
        (405, {}, CalendarRejectedError),
        (401, {}, CalendarAuthError),
    ],
)
def test_caldav_maps_http_failures_to_the_ports_errors(
    failing_http_server: FailingHttpServer,
    status: int,
    headers: dict[str, str],
    error: type[Exception],
) -> None:
    failing_http_server.status = status
    failing_http_server.headers = headers
    m = meeting()
    with CaldavCalendar(failing_http_server.url, calendar_path="/team/", timeout=5) as calendar:
        with pytest.raises(error) as caught:
            calendar.publish(m.uid, request(m), 0)
        assert getattr(caught.value, "status", None) == status
        with pytest.raises(error):
            calendar.busy([ZHAO.email], sh(3, 10, 9), sh(3, 10, 18))
    assert len(failing_http_server.requests) == 2  # one try each: retrying is the caller's


def test_strip_method_removes_only_the_calendar_method() -> None:
    ics = request(meeting())
    stripped = strip_method(ics)
    assert b"METHOD:" not in stripped
    assert ics.replace(b"METHOD:REQUEST\r\n", b"") == stripped
    folded = ics.replace(b"METHOD:REQUEST\r\n", b"METHOD:REQ\r\n UEST\r\n")
    assert strip_method(folded) == stripped
    assert strip_method(stripped) == stripped
