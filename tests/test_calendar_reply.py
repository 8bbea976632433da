"""Calendar replies (iTIP REPLY/COUNTER) read from real client mail and built cases."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mail_parsers.calendar_reply import read_calendar_reply
from mail_parsers.model import CalendarReply, ParseOptions

OPTIONS = ParseOptions()
CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
DATETIME_KEYS = ("dtstart", "proposed_start", "proposed_end")


def _expected() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CORPUS / "expected.json").read_text("utf-8"))
    return data


def _load(path: Path) -> EmailMessage:
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


@pytest.mark.parametrize("name", sorted(n for n in _expected() if n.startswith("cal_")))
def test_corpus_calendar_reply(corpus_dir: Path, name: str) -> None:
    expected = _expected()[name]["calendar"]
    reply = read_calendar_reply(_load(corpus_dir / name), OPTIONS)
    assert reply is not None
    for key, value in expected.items():
        got = getattr(reply, key)
        if key in DATETIME_KEYS and value is not None:
            assert isinstance(got, datetime), key
            assert got == datetime.fromisoformat(value), key  # the same instant
            assert got.utcoffset() == timedelta(hours=8), key  # expressed at +08:00
        else:
            assert got == value, key
    assert reply.dtstamp is not None and reply.dtstamp.tzinfo is not None


def test_corpus_messages_without_calendar_reply(corpus_dir: Path) -> None:
    for name, entry in _expected().items():
        if entry.get("calendar") is None:
            assert read_calendar_reply(_load(corpus_dir / name), OPTIONS) is None, name


def test_exchange_dtstamp_and_sequence(corpus_dir: Path) -> None:
    reply = read_calendar_reply(_load(corpus_dir / "cal_03_exchange_tentative_seq1.eml"), OPTIONS)
    assert reply is not None
    assert reply.dtstamp == datetime.fromisoformat("2026-03-20T01:12:30+00:00")
    assert reply.recurrence_id is None


# --- built messages --------------------------------------------------------------------


def _ics(event: str, *, method: str = "REPLY", extra: str = "") -> str:
    return (
        "BEGIN:VCALENDAR\r\nPRODID:-//Test//EN\r\nVERSION:2.0\r\n"
        f"METHOD:{method}\r\n{extra}BEGIN:VEVENT\r\n{event}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _message(
    *calendars: str, sender: str = "li.na@example.com", method_param: bool = True
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Li Na <{sender}>"
    msg["To"] = "coord@example.com"
    msg["Subject"] = "Accepted: kickoff"
    msg.set_content("Li Na has accepted.")
    for ics in calendars:
        params = {"method": "REPLY"} if method_param else {}
        msg.add_attachment(
            ics.encode("utf-8"),
            maintype="text",
            subtype="calendar",
            filename="invite.ics",
            params=params,
        )
    return msg


EVENT = (
    "UID:kickoff-1@coord.example.com\r\n"
    "DTSTAMP:20260320T020211Z\r\n"
    "ATTENDEE;PARTSTAT=ACCEPTED;CN=Li Na:MAILTO:Li.Na@Example.com\r\n"
    "ORGANIZER:mailto:coord@example.com\r\n"
    'DTSTART;TZID="W. Europe Standard Time":20260324T100000\r\n'
    'DTEND;TZID="W. Europe Standard Time":20260324T110000\r\n'
    "SEQUENCE:2\r\n"
)


def test_windows_zone_is_mapped_and_expressed_locally() -> None:
    reply = read_calendar_reply(_message(_ics(EVENT)), OPTIONS)
    assert reply is not None
    assert reply.attendee == "li.na@example.com"
    assert reply.organizer == "coord@example.com"
    assert (reply.partstat, reply.sequence, reply.method) == ("ACCEPTED", 2, "REPLY")
    # 10:00 in Berlin (CET, UTC+1) is 17:00 in Shanghai.
    assert reply.dtstart == datetime.fromisoformat("2026-03-24T17:00:00+08:00")
    assert reply.dtstart is not None and reply.dtstart.utcoffset() == timedelta(hours=8)
    assert (reply.ics_parts, reply.distinct_replies) == (1, 1)


def test_method_request_is_not_a_reply() -> None:
    assert read_calendar_reply(_message(_ics(EVENT, method="REQUEST")), OPTIONS) is None


def test_method_from_the_content_type_when_the_object_has_none() -> None:
    ics = _ics(EVENT).replace("METHOD:REPLY\r\n", "")
    reply = read_calendar_reply(_message(ics), OPTIONS)
    assert reply is not None and reply.method == "REPLY"
    assert read_calendar_reply(_message(ics, method_param=False), OPTIONS) is None


def test_the_same_reply_twice_counts_once_and_different_ones_count_apart() -> None:
    same = _message(_ics(EVENT), _ics(EVENT))
    reply = read_calendar_reply(same, OPTIONS)
    assert reply is not None and (reply.ics_parts, reply.distinct_replies) == (2, 1)
    declined = EVENT.replace("PARTSTAT=ACCEPTED", "PARTSTAT=DECLINED")
    reply = read_calendar_reply(_message(_ics(EVENT), _ics(declined)), OPTIONS)
    assert reply is not None and (reply.ics_parts, reply.distinct_replies) == (2, 2)
    assert reply.partstat == "ACCEPTED"  # the first one is reported


def test_vtimezone_and_valarm_properties_are_not_read() -> None:
    vtimezone = (
        "BEGIN:VTIMEZONE\r\nTZID:Custom Zone\r\nBEGIN:STANDARD\r\nDTSTART:16010101T000000\r\n"
        "TZOFFSETFROM:+0530\r\nTZOFFSETTO:+0530\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
    )
    event = (
        "UID:u-2\r\nDTSTAMP:20260320T020211Z\r\n"
        "DTSTART;TZID=Custom Zone:20260324T103000\r\n"
        "BEGIN:VALARM\r\nACTION:EMAIL\r\nATTENDEE:mailto:alarm@example.com\r\n"
        "TRIGGER:-PT15M\r\nEND:VALARM\r\n"
        "ATTENDEE;PARTSTAT=TENTATIVE:mailto:li.na@example.com\r\n"
    )
    reply = read_calendar_reply(_message(_ics(event, extra=vtimezone)), OPTIONS)
    assert reply is not None
    assert (reply.uid, reply.attendee, reply.partstat) == ("u-2", "li.na@example.com", "TENTATIVE")
    # The zone is known only from its VTIMEZONE: +05:30.
    assert reply.dtstart == datetime.fromisoformat("2026-03-24T10:30:00+05:30")
    assert reply.organizer is None and reply.sequence == 0 and reply.comment is None


@pytest.mark.parametrize(
    ("dtstart", "expected"),
    [
        (
            'DTSTART;TZID="(UTC+08:00) Beijing, Chongqing, Hong Kong, Urumqi":20260324T100000',
            "2026-03-24T10:00+08:00",
        ),
        (
            'DTSTART;TZID="(UTC-05:00) Bogota, Lima, Quito":20260323T220000',
            "2026-03-24T11:00+08:00",
        ),
        (
            "DTSTART;TZID=/mozilla.org/20050126_1/Asia/Tokyo:20260324T110000",
            "2026-03-24T10:00+08:00",
        ),
        ("DTSTART;TZID=Asia/Shanghai:20260324T100000", "2026-03-24T10:00+08:00"),
        ("DTSTART:20260324T020000Z", "2026-03-24T10:00+08:00"),
        ("DTSTART:20260324T100000", "2026-03-24T10:00+08:00"),  # floating: local time
        ("DTSTART;VALUE=DATE:20260324", "2026-03-24T00:00+08:00"),
        ("DTSTART;TZID=Nowhere/Special:20260324T100000", "2026-03-24T10:00+08:00"),
    ],
)
def test_time_zone_forms(dtstart: str, expected: str) -> None:
    event = f"UID:u-3\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:li.na@example.com\r\n{dtstart}\r\n"
    reply = read_calendar_reply(_message(_ics(event)), OPTIONS)
    assert reply is not None and reply.dtstart == datetime.fromisoformat(expected)


def test_counter_without_original_start() -> None:
    event = (
        "UID:u-4\r\nATTENDEE;PARTSTAT=TENTATIVE:mailto:li.na@example.com\r\n"
        "DTSTART:20260326T060000Z\r\nDTEND:20260326T070000Z\r\nCOMMENT:Later please\\, thanks\r\n"
    )
    reply = read_calendar_reply(_message(_ics(event, method="COUNTER")), OPTIONS)
    assert reply is not None
    assert reply.method == "COUNTER" and reply.dtstart is None
    assert reply.proposed_start == datetime.fromisoformat("2026-03-26T14:00+08:00")
    assert reply.proposed_end == datetime.fromisoformat("2026-03-26T15:00+08:00")
    assert reply.comment == "Later please, thanks"


def test_recurrence_id_and_the_sender_among_several_attendees() -> None:
    event = (
        "UID:weekly-1\r\nRECURRENCE-ID;TZID=China Standard Time:20260401T090000\r\n"
        "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:someone.else@example.com\r\n"
        "ATTENDEE;PARTSTAT=DECLINED:mailto:wang.qiang@example.com\r\n"
        "SEQUENCE:x\r\n"
    )
    reply = read_calendar_reply(_message(_ics(event), sender="Wang.Qiang@example.com"), OPTIONS)
    assert reply is not None
    assert (reply.attendee, reply.partstat) == ("wang.qiang@example.com", "DECLINED")
    assert reply.recurrence_id == datetime.fromisoformat("2026-04-01T09:00+08:00")
    assert reply.sequence == 0


def test_a_reply_inside_a_forwarded_message_is_not_ours() -> None:
    outer = EmailMessage()
    outer["From"] = "li.na@example.com"
    outer["Subject"] = "Fwd: Accepted"
    outer.set_content("see below")
    outer.add_attachment(_message(_ics(EVENT)))
    assert read_calendar_reply(outer, OPTIONS) is None


def test_garbage_calendar_part() -> None:
    msg = _message("BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\n;;;\r\n\x00:\r\n")
    reply = read_calendar_reply(msg, OPTIONS)
    assert reply is not None and reply.uid == "" and reply.attendee is None


def test_result_is_a_frozen_dataclass() -> None:
    reply = read_calendar_reply(_message(_ics(EVENT)), OPTIONS)
    assert isinstance(reply, CalendarReply)
    with pytest.raises(AttributeError):
        reply.uid = "other"  # type: ignore[misc]
