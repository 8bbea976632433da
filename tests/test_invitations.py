"""Invitations as bytes: the rules of RFC 5545/5546 checked on what the builders write.

Pure tests: no client parser here (see test_invitation_clients.py for ical.js and
libical). Where a parsed view helps, icalendar reads our output back.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from email.message import EmailMessage, MIMEPart
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from calendar_sync.errors import (
    InvalidMeetingError,
    NonexistentLocalTimeError,
    UnknownTimezoneError,
)
from calendar_sync.ics import escape_text, fold_line, param_value
from calendar_sync.itip import (
    build_cancel,
    build_declinecounter,
    build_request,
    next_sequence,
)
from calendar_sync.model import Attendee, Meeting, Organizer
from calendar_sync.vtimezone import normalise_local, transitions, vtimezone
from templates.compose import ExtraPart, OutboundMail, compose

BERLIN = ZoneInfo("Europe/Berlin")
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
STAMP = datetime(2026, 3, 16, 9, 0, 14, tzinfo=UTC)
ORGANIZER = Organizer("coord@example.com", "协调办公室")
LI_NA = Attendee("li.na@example.com", '李娜, 产品部; 经理: "Lina"')
WANG = Attendee("wang.qiang@example.com", "王强", role="OPT-PARTICIPANT")
LEAD = Attendee("zhao.lei@example.com", "赵磊", role="CHAIR")


def meeting(**changes: object) -> Meeting:
    base = Meeting(
        uid="kickoff.xt-2026-0012.k3f9@coord.example.com",
        summary="启动会：供应商对账流程线上化",
        description="议程：\n1. 背景与目标, 范围; 时间表\n2. 分工：牵头部门、配合部门",
        location="总部 3 楼 会议室 A",
        online_url="https://meet.example.com/j/123?pwd=abc",
        start=datetime(2026, 3, 20, 14, 0, tzinfo=SHANGHAI),
        end=datetime(2026, 3, 20, 15, 0, tzinfo=SHANGHAI),
        timezone="Asia/Shanghai",
        organizer=ORGANIZER,
        attendees=(LEAD, LI_NA, WANG),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def physical_lines(data: bytes) -> list[bytes]:
    assert data.endswith(b"\r\n")
    lines = data[:-2].split(b"\r\n")
    assert not any(b"\n" in line or b"\r" in line for line in lines), "bare CR or LF"
    return lines


def unfolded(data: bytes) -> list[str]:
    text = data.decode("utf-8").replace("\r\n ", "")
    return text[:-2].split("\r\n")


def props(data: bytes, name: str) -> list[str]:
    """The content lines named ``name`` outside VTIMEZONE blocks."""
    found, inside = [], False
    for line in unfolded(data):
        inside = (inside or line == "BEGIN:VTIMEZONE") and line != "END:VTIMEZONE"
        if not inside and re.match(rf"{name}[;:]", line):
            found.append(line)
    return found


def event_of(data: bytes) -> Any:
    """The one VEVENT, as icalendar reads it (its property types are too wide to be
    useful to a type checker here)."""
    calendar = icalendar.Calendar.from_ical(data)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return events[0]


# --- folding and escaping -------------------------------------------------------------


@given(st.text(min_size=0, max_size=400))
def test_fold_never_splits_utf8_and_keeps_lines_short(text: str) -> None:
    line = "DESCRIPTION:" + escape_text(text)
    folded = fold_line(line)
    for index, physical in enumerate(folded.split("\r\n ")):
        encoded = physical.encode("utf-8")
        limit = 75 if index == 0 else 74  # the continuation's leading space is one octet
        assert len(encoded) <= limit
        assert encoded.decode("utf-8") == physical  # each piece is whole characters
        assert physical or not line  # no empty continuation lines
    assert folded.replace("\r\n ", "") == line


def test_fold_cuts_chinese_at_character_boundaries() -> None:
    line = "SUMMARY:" + "供应商对账流程线上化" * 10
    physical = fold_line(line).encode("utf-8").split(b"\r\n")
    assert len(physical) > 1
    assert [len(p) for p in physical[:-1]] == [74] + [73] * (len(physical) - 2)
    for piece in physical:
        piece.decode("utf-8")  # would raise on a split sequence


def test_short_line_is_not_folded() -> None:
    assert fold_line("SUMMARY:kickoff") == "SUMMARY:kickoff"
    exactly = "X" * 75
    assert fold_line(exactly) == exactly
    assert fold_line(exactly + "Y") == exactly + "\r\n Y"


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a, b; c", "a\\, b\\; c"),
        ("C:\\temp", "C:\\\\temp"),
        ("one\ntwo\r\nthree\rfour", "one\\ntwo\\nthree\\nfour"),
        ('quote " stays', 'quote " stays'),
        ("tab\tstays, bell\x07 goes", "tab\tstays\\, bell goes"),
        ("中文，标点；不转义", "中文，标点；不转义"),
    ],
)
def test_text_escaping(raw: str, escaped: str) -> None:
    assert escape_text(raw) == escaped


@pytest.mark.parametrize(
    ("raw", "written"),
    [
        ("王强", '"王强"'),
        ("REQ-PARTICIPANT", "REQ-PARTICIPANT"),
        ("0 =", '"0 ="'),
        ("Wang, Qiang", '"Wang, Qiang"'),
        ("a;b", '"a;b"'),
        ("ops: team", '"ops: team"'),
        ('李娜 "Lina"', "\"李娜 ^'Lina^'\""),
        ('He said "hi", then left', "\"He said ^'hi^', then left\""),
        ("caret ^ here", '"caret ^^ here"'),
        ("two\nlines", '"two^nlines"'),
        (" padded ", '" padded "'),
    ],
)
def test_param_values_quote_and_rfc6868(raw: str, written: str) -> None:
    assert param_value(raw) == written


_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _as_read(text: str) -> str:
    """What a conforming parser gives back: line breaks as LF, controls gone."""
    return _CONTROLS.sub("", re.sub(r"\r\n|\r", "\n", text))


@given(summary=st.text(max_size=120), name=st.text(max_size=40))
def test_any_text_and_name_round_trip_through_icalendar(summary: str, name: str) -> None:
    attendee = Attendee("li.na@example.com", name)
    event = event_of(build_request(meeting(summary=summary, attendees=(attendee,)), dtstamp=STAMP))
    assert str(event["SUMMARY"]) == _as_read(summary)
    read_name = event["ATTENDEE"].params.get("CN", "")
    expected = _as_read(name).replace("\t", " ") if name.strip() else ""
    assert read_name == expected


# --- the message ----------------------------------------------------------------------


def test_request_is_one_folded_crlf_calendar() -> None:
    data = build_request(meeting(description="很长的议程，" * 40), dtstamp=STAMP)
    lines = physical_lines(data)
    assert all(len(line) <= 75 for line in lines)
    for line in lines:
        line.decode("utf-8")
    logical = unfolded(data)
    assert logical[0] == "BEGIN:VCALENDAR" and logical[-1] == "END:VCALENDAR"
    assert logical.count("BEGIN:VCALENDAR") == 1 and logical.count("END:VCALENDAR") == 1
    assert logical.count("BEGIN:VEVENT") == 1
    assert "VERSION:2.0" in logical and "METHOD:REQUEST" in logical
    assert props(data, "PRODID") == ["PRODID:-//Liaison//Coordination Mailbox 1.0//ZH"]


def test_request_fields() -> None:
    data = build_request(meeting(), dtstamp=STAMP)
    event = event_of(data)
    assert str(event["UID"]) == "kickoff.xt-2026-0012.k3f9@coord.example.com"
    assert int(event["SEQUENCE"]) == 0
    assert str(event["SUMMARY"]) == "启动会：供应商对账流程线上化"
    assert (
        str(event["DESCRIPTION"])
        == "议程：\n1. 背景与目标, 范围; 时间表\n2. 分工：牵头部门、配合部门"
    )
    assert str(event["LOCATION"]) == "总部 3 楼 会议室 A"
    assert str(event["URL"]) == "https://meet.example.com/j/123?pwd=abc"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert event.decoded("DTSTART") == datetime(2026, 3, 20, 14, 0, tzinfo=SHANGHAI)
    assert event.decoded("DTEND") == datetime(2026, 3, 20, 15, 0, tzinfo=SHANGHAI)
    assert props(data, "DTSTART") == ["DTSTART;TZID=Asia/Shanghai:20260320T140000"]


def test_organizer_and_attendees() -> None:
    data = build_request(meeting(), dtstamp=STAMP)
    assert props(data, "ORGANIZER") == ['ORGANIZER;CN="协调办公室":mailto:coord@example.com']
    event = event_of(data)
    attendees = event["ATTENDEE"]
    assert [str(a) for a in attendees] == [
        "mailto:zhao.lei@example.com",
        "mailto:li.na@example.com",
        "mailto:wang.qiang@example.com",
    ]
    roles = []
    for attendee in attendees:
        assert attendee.params["CUTYPE"] == "INDIVIDUAL"
        assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
        assert attendee.params["RSVP"] == "TRUE"
        roles.append(attendee.params["ROLE"])
    assert roles == ["CHAIR", "REQ-PARTICIPANT", "OPT-PARTICIPANT"]
    assert [a.params["CN"] for a in attendees] == ["赵磊", LI_NA.name, "王强"]


def test_cn_with_separators_is_quoted_without_inner_dquote() -> None:
    (line,) = [
        p for p in props(build_request(meeting(), dtstamp=STAMP), "ATTENDEE") if "li.na" in p
    ]
    assert ";CN=\"李娜, 产品部; 经理: ^'Lina^'\":mailto:li.na@example.com" in line
    inner = line.split(';CN="', 1)[1].split('":mailto:', 1)[0]
    assert '"' not in inner


def test_uid_is_stable_across_messages() -> None:
    first = meeting()
    moved = replace(first, start=first.start + timedelta(days=1), end=first.end + timedelta(days=1))
    moved = replace(moved, sequence=next_sequence(first, moved))
    cancelled = replace(first, status="CANCELLED")
    cancelled = replace(cancelled, sequence=next_sequence(first, cancelled))
    messages = [
        build_request(first, dtstamp=STAMP),
        build_request(first, dtstamp=STAMP + timedelta(hours=1)),
        build_request(moved, dtstamp=STAMP + timedelta(days=1)),
        build_cancel(cancelled, dtstamp=STAMP + timedelta(days=2)),
        build_declinecounter(first, dtstamp=STAMP, comment="时间不变"),
    ]
    assert {tuple(props(m, "UID")) for m in messages} == {(f"UID:{first.uid}",)}
    assert [tuple(props(m, "SEQUENCE")) for m in messages[:4]] == [
        ("SEQUENCE:0",),
        ("SEQUENCE:0",),
        ("SEQUENCE:1",),
        ("SEQUENCE:1",),
    ]


def test_dtstamp_is_the_given_instant_in_utc() -> None:
    stamp = datetime(2026, 3, 16, 17, 0, 14, 987654, tzinfo=SHANGHAI)
    data = build_request(meeting(), dtstamp=stamp)
    assert props(data, "DTSTAMP") == ["DTSTAMP:20260316T090014Z"]
    later = build_request(meeting(), dtstamp=stamp + timedelta(minutes=5))
    differing = [(a, b) for a, b in zip(unfolded(data), unfolded(later), strict=True) if a != b]
    assert differing == [("DTSTAMP:20260316T090014Z", "DTSTAMP:20260316T090514Z")]


def test_naive_dtstamp_is_refused() -> None:
    with pytest.raises(InvalidMeetingError):
        build_request(meeting(), dtstamp=datetime(2026, 3, 16, 9, 0))


def test_fixed_offset_start_is_written_in_the_meeting_zone() -> None:
    start = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)
    data = build_request(
        meeting(start=start, end=start + timedelta(hours=1), timezone="Europe/Berlin"),
        dtstamp=STAMP,
    )
    assert props(data, "DTSTART") == ["DTSTART;TZID=Europe/Berlin:20260701T080000"]
    assert props(data, "DTEND") == ["DTEND;TZID=Europe/Berlin:20260701T090000"]


def test_all_day_uses_value_date_and_no_timezone() -> None:
    data = build_request(
        meeting(
            all_day=True,
            start=datetime(2026, 3, 21, tzinfo=SHANGHAI),
            end=datetime(2026, 3, 23, tzinfo=SHANGHAI),
        ),
        dtstamp=STAMP,
    )
    assert props(data, "DTSTART") == ["DTSTART;VALUE=DATE:20260321"]
    assert props(data, "DTEND") == ["DTEND;VALUE=DATE:20260323"]
    assert "BEGIN:VTIMEZONE" not in unfolded(data)
    assert event_of(data).decoded("DTSTART") == date(2026, 3, 21)


def test_all_day_must_be_local_midnight() -> None:
    with pytest.raises(InvalidMeetingError, match="midnight"):
        meeting(
            all_day=True,
            start=datetime(2026, 3, 21, 9, tzinfo=SHANGHAI),
            end=datetime(2026, 3, 22, tzinfo=SHANGHAI),
        )


def test_location_falls_back_to_the_online_link() -> None:
    data = build_request(meeting(location=""), dtstamp=STAMP)
    assert props(data, "LOCATION") == ["LOCATION:https://meet.example.com/j/123?pwd=abc"]
    bare = build_request(meeting(location="", online_url=None, description=""), dtstamp=STAMP)
    assert props(bare, "LOCATION") == props(bare, "URL") == props(bare, "DESCRIPTION") == []


# --- cancel and declinecounter --------------------------------------------------------


def test_cancel_everyone() -> None:
    cancelled = replace(meeting(), status="CANCELLED", sequence=3)
    data = build_cancel(cancelled, dtstamp=STAMP)
    assert "METHOD:CANCEL" in unfolded(data)
    event = event_of(data)
    assert str(event["STATUS"]) == "CANCELLED"
    assert int(event["SEQUENCE"]) == 3
    assert len(list(event["ATTENDEE"])) == 3


def test_cancel_for_one_removed_attendee_lists_only_them() -> None:
    data = build_cancel(replace(meeting(), sequence=1), dtstamp=STAMP, attendees=(WANG,))
    attendees = props(data, "ATTENDEE")
    assert len(attendees) == 1 and attendees[0].endswith(":mailto:wang.qiang@example.com")
    assert props(data, "STATUS") == ["STATUS:CANCELLED"]
    assert props(data, "SEQUENCE") == ["SEQUENCE:1"]


def test_cancel_with_no_attendees_is_refused() -> None:
    with pytest.raises(InvalidMeetingError):
        build_cancel(meeting(), dtstamp=STAMP, attendees=())


def test_request_refuses_a_cancelled_meeting() -> None:
    with pytest.raises(InvalidMeetingError):
        build_request(replace(meeting(), status="CANCELLED"), dtstamp=STAMP)


def test_declinecounter() -> None:
    data = build_declinecounter(meeting(), dtstamp=STAMP, comment="时间不变, 抱歉")
    logical = unfolded(data)
    assert "METHOD:DECLINECOUNTER" in logical
    assert props(data, "COMMENT") == ["COMMENT:时间不变\\, 抱歉"]
    assert props(data, "ORGANIZER") == ['ORGANIZER;CN="协调办公室":mailto:coord@example.com']
    assert props(data, "UID") == [f"UID:{meeting().uid}"]


# --- SEQUENCE -------------------------------------------------------------------------


def _moved(hours: float = 0, longer: float = 0) -> Meeting:
    base = meeting(sequence=4)
    return replace(
        base,
        start=base.start + timedelta(hours=hours),
        end=base.end + timedelta(hours=hours + longer),
    )


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        (_moved(), 4),
        (_moved(hours=1), 5),  # time
        (_moved(longer=0.5), 5),  # duration (end)
        (_moved(hours=-0.5, longer=0.5), 5),  # start only
        (replace(meeting(sequence=4), status="CANCELLED"), 5),
        (replace(meeting(sequence=4), summary="新标题", description="新议程"), 4),
        (replace(meeting(sequence=4), location="线上", online_url=None), 4),
        (replace(meeting(sequence=4), attendees=(LEAD,)), 4),
        # The same instants shown in another zone: no change.
        (
            replace(
                meeting(sequence=4),
                start=datetime(2026, 3, 20, 6, 0, tzinfo=UTC),
                end=datetime(2026, 3, 20, 8, 0, tzinfo=timezone(timedelta(hours=1))),
                timezone="Europe/Berlin",
            ),
            4,
        ),
    ],
)
def test_next_sequence(new: Meeting, expected: int) -> None:
    assert next_sequence(meeting(sequence=4), new) == expected


def test_next_sequence_counts_the_second_of_two_equal_wall_times() -> None:
    # 02:30 happens twice in Berlin on 25 October; fold says which. Same tzinfo datetimes
    # compare by wall time, so this is only a change when instants are compared.
    first = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN)
    old = meeting(start=first, end=first + timedelta(hours=2), timezone="Europe/Berlin")
    new = replace(old, start=first.replace(fold=1))
    assert next_sequence(old, new) == 1


def test_next_sequence_refuses_another_meeting() -> None:
    with pytest.raises(InvalidMeetingError):
        next_sequence(meeting(), replace(meeting(), uid="other@coord.example.com"))


# --- VTIMEZONE ------------------------------------------------------------------------


def _blocks(lines: tuple[str, ...]) -> list[list[str]]:
    blocks: list[list[str]] = []
    for line in lines:
        if line in ("BEGIN:STANDARD", "BEGIN:DAYLIGHT"):
            blocks.append([line])
        elif blocks and not blocks[-1][-1].startswith("END:"):
            blocks[-1].append(line)
    return blocks


@pytest.mark.parametrize(
    ("zone", "spring", "autumn"),
    [
        (
            "Europe/Berlin",
            "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
            "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
        ),
        (
            "America/New_York",
            "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU",
            "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU",
        ),
    ],
)
def test_vtimezone_dst_zone_has_one_standard_and_one_daylight_rule(
    zone: str, spring: str, autumn: str
) -> None:
    block = vtimezone(zone, 2026)
    assert block.lines[0] == "BEGIN:VTIMEZONE" and block.lines[1] == f"TZID:{zone}"
    assert not any(line.startswith("RDATE") for line in block.lines)
    blocks = _blocks(block.lines)
    assert [b[0] for b in blocks] == ["BEGIN:STANDARD", "BEGIN:DAYLIGHT"]
    standard, daylight = blocks
    assert autumn in standard and spring in daylight
    for sub in blocks:
        assert sum(line.startswith("RRULE:") for line in sub) == 1
        assert any(line.startswith("TZOFFSETFROM:") for line in sub)
        assert any(line.startswith("TZOFFSETTO:") for line in sub)


def test_vtimezone_onsets_match_zoneinfo() -> None:
    block = vtimezone("Europe/Berlin", 2026)
    standard, daylight = _blocks(block.lines)
    assert "DTSTART:19701025T030000" in standard  # the rule's date in 1970, 03:00 CEST
    assert "TZOFFSETFROM:+0200" in standard and "TZOFFSETTO:+0100" in standard
    assert "DTSTART:19700329T020000" in daylight
    assert "TZOFFSETFROM:+0100" in daylight and "TZOFFSETTO:+0200" in daylight
    changes = transitions(BERLIN, 2026)
    assert [c.at for c in changes] == [
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
    ]
    assert [c.onset for c in changes] == [datetime(2026, 3, 29, 2, 0), datetime(2026, 10, 25, 3, 0)]


def test_vtimezone_shanghai_is_a_single_standard_block() -> None:
    block = vtimezone("Asia/Shanghai", 2026)
    blocks = _blocks(block.lines)
    assert [b[0] for b in blocks] == ["BEGIN:STANDARD"]
    assert not any(line.startswith(("RRULE", "RDATE")) for line in block.lines)
    assert "TZOFFSETFROM:+0800" in blocks[0] and "TZOFFSETTO:+0800" in blocks[0]


def test_every_tzid_used_has_a_vtimezone() -> None:
    for zone in ("Asia/Shanghai", "Europe/Berlin", "America/New_York"):
        start = datetime(2026, 7, 1, 9, 0, tzinfo=ZoneInfo(zone))
        data = build_request(
            meeting(start=start, end=start + timedelta(hours=1), timezone=zone), dtstamp=STAMP
        )
        used = set(re.findall(r";TZID=([^:;]+)", "\n".join(unfolded(data))))
        defined = {line[5:] for line in unfolded(data) if line.startswith("TZID:")}
        assert used == defined == {zone}
        assert unfolded(data).count("BEGIN:VTIMEZONE") == 1


def test_vtimezone_is_cached() -> None:
    assert vtimezone("Europe/Berlin", 2026) is vtimezone("Europe/Berlin", 2026)
    assert vtimezone("Europe/Berlin", 2026) is not vtimezone("Europe/Berlin", 2027)
    build_request(meeting(), dtstamp=STAMP)
    before = vtimezone.cache_info()
    build_request(meeting(), dtstamp=STAMP + timedelta(seconds=1))
    after = vtimezone.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 1


def test_vtimezone_bytes_are_the_block_in_the_message() -> None:
    data = build_request(meeting(), dtstamp=STAMP)
    assert vtimezone("Asia/Shanghai", 2026).data in data


# --- local times that do not exist or exist twice -------------------------------------


@pytest.mark.parametrize(
    ("zone", "wall"),
    [
        ("Europe/Berlin", datetime(2026, 3, 29, 2, 30)),
        ("America/New_York", datetime(2026, 3, 8, 2, 0)),
        ("America/New_York", datetime(2026, 3, 8, 2, 59)),
    ],
)
def test_time_in_spring_gap_is_refused(zone: str, wall: datetime) -> None:
    start = wall.replace(tzinfo=ZoneInfo(zone))
    gap = meeting(start=start, end=start + timedelta(hours=2), timezone=zone)
    with pytest.raises(NonexistentLocalTimeError) as caught:
        build_request(gap, dtstamp=STAMP)
    assert caught.value.zone == zone
    with pytest.raises(NonexistentLocalTimeError):
        build_cancel(replace(gap, status="CANCELLED"), dtstamp=STAMP)


def test_end_in_spring_gap_is_refused() -> None:
    start = datetime(2026, 3, 29, 1, 0, tzinfo=BERLIN)
    with pytest.raises(NonexistentLocalTimeError):
        build_request(
            meeting(start=start, end=start.replace(hour=2, minute=15), timezone="Europe/Berlin"),
            dtstamp=STAMP,
        )


def test_normalise_local_moves_forward_by_the_gap() -> None:
    assert normalise_local(datetime(2026, 3, 29, 2, 30, tzinfo=BERLIN)) == datetime(
        2026, 3, 29, 3, 30, tzinfo=BERLIN
    )
    assert normalise_local(datetime(2026, 3, 8, 2, 15, tzinfo=NEW_YORK)).replace(
        tzinfo=None
    ) == datetime(2026, 3, 8, 3, 15)
    fine = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=BERLIN)
    assert normalise_local(fine) is fine


@pytest.mark.parametrize(
    ("fold", "written"),
    [(0, "DTSTART:20261025T003000Z"), (1, "DTSTART:20261025T013000Z")],
)
def test_repeated_autumn_hour_is_written_in_utc_by_fold(fold: int, written: str) -> None:
    start = datetime(2026, 10, 25, 2, 30, fold=fold, tzinfo=BERLIN)
    data = build_request(
        meeting(start=start, end=start.replace(hour=4, minute=0, fold=0), timezone="Europe/Berlin"),
        dtstamp=STAMP,
    )
    assert props(data, "DTSTART") == [written]
    assert props(data, "DTEND") == ["DTEND;TZID=Europe/Berlin:20261025T040000"]
    assert "TZID:Europe/Berlin" in unfolded(data)


# --- the meeting itself ---------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"start": datetime(2026, 3, 20, 14, 0)},
        {"end": datetime(2026, 3, 20, 13, 0, tzinfo=SHANGHAI)},
        {"uid": ""},
        {"uid": "a\r\nb"},
        {"sequence": -1},
        {"online_url": "not a url"},
        {"attendees": (LI_NA, replace(LI_NA, name="again", email="LI.NA@example.com"))},
    ],
)
def test_meeting_refuses_what_cannot_be_written(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidMeetingError):
        meeting(**changes)


def test_unknown_zone_is_refused() -> None:
    with pytest.raises(UnknownTimezoneError):
        meeting(timezone="Mars/Olympus_Mons")


def test_bad_addresses_are_refused() -> None:
    with pytest.raises(InvalidMeetingError):
        Attendee("li.na@example.com>\r\nBcc: x@y", "x")
    with pytest.raises(InvalidMeetingError):
        Organizer("coord", "x")


# --- MIME: the invitation inside a composed mail -------------------------------------


def _mail(ics: bytes) -> bytes:
    return compose(
        OutboundMail(
            kind="meeting/kickoff",
            from_addr="coord@example.com",
            from_name="协调办公室",
            to=(("李娜", "li.na@example.com"), ("王强", "wang.qiang@example.com")),
            cc=(),
            subject="[会议] XT-2026-0012 启动会",
            text="议程：……",
            html="<p>议程：……</p>",
            message_id="<meeting.xt-2026-0012.20260316090014.k3f9@coord.example.com>",
            in_reply_to=None,
            references=(),
            auto_submitted="auto-generated",
            reply_to=None,
            date=STAMP,
            loop_id="liaison-test",
            attachments=(("invite.ics", "application/ics", ics),),
            extra_parts=(
                ExtraPart("text/calendar", ics, (("method", "REQUEST"), ("charset", "UTF-8"))),
            ),
        )
    )


@pytest.mark.parametrize("ascii_only", [False, True], ids=["chinese-base64", "ascii-7bit"])
def test_invitation_mime_structure(ascii_only: bool) -> None:
    subject = meeting()
    if ascii_only:
        subject = meeting(
            summary="Kickoff",
            description="Agenda",
            location="Room A",
            organizer=Organizer("coord@example.com", "Office"),
            attendees=(Attendee("li.na@example.com", "Li Na, Product; Lead: 1"),),
        )
    ics = build_request(subject, dtstamp=STAMP)
    assert ics.isascii() == ascii_only
    message = email.message_from_bytes(_mail(ics), policy=email.policy.default)
    assert isinstance(message, EmailMessage)

    def shape(part: MIMEPart) -> object:
        if part.is_multipart():
            return (part.get_content_type(), [shape(p) for p in part.iter_parts()])
        return part.get_content_type()

    assert shape(message) == (
        "multipart/mixed",
        [
            ("multipart/alternative", ["text/plain", "text/html", "text/calendar"]),
            "application/ics",
        ],
    )
    alternative, attachment = message.iter_parts()
    calendar_part = list(alternative.iter_parts())[2]
    method = re.search(rb"^METHOD:(\S+)\r$", ics, re.M)
    assert method is not None
    assert calendar_part.get_param("method") == method.group(1).decode() == "REQUEST"
    assert str(calendar_part.get_param("charset")).upper() == "UTF-8"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content_disposition() == "attachment"
    assert calendar_part.get_payload(decode=True) == ics
    assert attachment.get_payload(decode=True) == ics
