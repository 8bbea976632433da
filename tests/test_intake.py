"""Intake through the real pipeline and store: what is recorded and what is queued to go out."""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from daemon.bootstrap import App, build_app
from daemon.inbound import Arrival, Outcome, SourceRef
from daemon.pipeline import Pipeline
from store.models import OutboxMessage
from store.uow import SqlUnitOfWork
from tests.support import parse_mail, scratch_app, scratch_settings, text_of, with_message_id
from workflow.clock import FrozenClock

EXPECTED_FILE = "expected.json"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    app, _ = scratch_app(tmp_path)
    yield app
    app.close()


@pytest.fixture
def pipeline(app: App) -> Pipeline:
    return Pipeline(
        session_factory=app.session_factory, config=app.workflow, blobs=app.blobs, clock=app.clock
    )


def _arrive(pipeline: Pipeline, raw: bytes, uid: str = "1", source: str = "test") -> Outcome:
    return pipeline.handle(Arrival(SourceRef(source, 7, uid), raw))


@dataclass(frozen=True)
class Sent:
    kind: str
    raw: bytes
    recipients: tuple[str, ...]
    reply_context: str | None
    reply_recipient: str | None


def _outbox(app: App) -> list[Sent]:
    """What intake queued, read in a transaction of its own."""
    with SqlUnitOfWork(app.session_factory) as uow:
        rows: list[OutboxMessage] = list(uow.outbox.in_state("pending"))
        return [
            Sent(r.kind, r.raw, tuple(r.recipients), r.reply_context, r.reply_recipient)
            for r in rows
        ]


def _expected(corpus_dir: Path) -> dict[str, dict[str, object]]:
    return json.loads((corpus_dir / EXPECTED_FILE).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _files(corpus_dir: Path, prefix: str) -> list[Path]:
    return sorted(corpus_dir.glob(f"{prefix}*.eml"))


def test_request_is_numbered_acknowledged_and_announced(
    app: App, pipeline: Pipeline, corpus_dir: Path
) -> None:
    raw = (corpus_dir / "req_01_outlook_zh_plain_gb2312_b64.eml").read_bytes()
    expected = _expected(corpus_dir)["req_01_outlook_zh_plain_gb2312_b64.eml"]

    assert _arrive(pipeline, raw) is Outcome.PROCESSED

    with SqlUnitOfWork(app.session_factory) as uow:
        requests = uow.requests.list()
        assert [r.number for r in requests] == ["XT-2026-0001"]
        request = requests[0]
        assert request.title == expected["fields"]["title"]  # type: ignore[index]
        assert request.requester_email == expected["headers"]["from"]  # type: ignore[index]
        assert request.state == "registered"
        communications = uow.communications.for_request(request.id)
        assert [c.direction for c in communications] == ["in", "out", "out"]

    rows = {r.kind: r for r in _outbox(app)}
    assert set(rows) == {"requester/acknowledged", "office/evaluation_notice"}

    ack = parse_mail(rows["requester/acknowledged"].raw)
    assert ack["To"].addresses[0].addr_spec == expected["headers"]["from"]  # type: ignore[index]
    assert "XT-2026-0001" in ack["Subject"]
    assert ack["In-Reply-To"] == expected["headers"]["message_id"]  # type: ignore[index]
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["X-Auto-Response-Suppress"] == "OOF, AutoReply"
    assert ack["X-Liaison-Loop"]
    body = text_of(ack)
    assert "XT-2026-0001" in body
    # The next step and its deadline: one working day after Monday 09:00 is Tuesday 18:00.
    assert "2026年3月17日" in body and "18:00" in body

    notice = parse_mail(rows["office/evaluation_notice"].raw)
    assert notice["To"].addresses[0].addr_spec == "office@example.com"
    assert notice["Subject"].startswith("[评估] XT-2026-0001 ")
    assert re.fullmatch(
        r"<evaluation\.xt-2026-0001\.20260316090000\.[0-9a-z]+@coord\.example\.com>",
        notice["Message-ID"],
    )
    assert rows["office/evaluation_notice"].reply_context == "evaluation"
    assert rows["office/evaluation_notice"].reply_recipient == "office@example.com"


def test_every_corpus_request_gets_the_next_number(
    app: App, pipeline: Pipeline, corpus_dir: Path
) -> None:
    files = _files(corpus_dir, "req_")
    for i, path in enumerate(files):
        assert _arrive(pipeline, path.read_bytes(), uid=str(i)) is Outcome.PROCESSED
    with SqlUnitOfWork(app.session_factory) as uow:
        numbers = sorted(r.number for r in uow.requests.list())
    assert numbers == [f"XT-2026-{n:04d}" for n in range(1, len(files) + 1)]
    acks = [r for r in _outbox(app) if r.kind == "requester/acknowledged"]
    assert len(acks) == len(files)


def test_english_request_is_answered_in_english(
    app: App, pipeline: Pipeline, corpus_dir: Path
) -> None:
    _arrive(pipeline, (corpus_dir / "req_10_outlook_english_only.eml").read_bytes())
    ack = next(r for r in _outbox(app) if r.kind == "requester/acknowledged")
    msg = parse_mail(ack.raw)
    assert "XT-2026-0001" in msg["Subject"]
    assert not re.search(r"[\u4e00-\u9fff]", text_of(msg))


@pytest.mark.parametrize("name", ["inv_01", "inv_02", "inv_03", "inv_04", "inv_05"])
def test_invalid_request_gets_one_reply_listing_every_problem(
    app: App, pipeline: Pipeline, corpus_dir: Path, name: str
) -> None:
    path = _files(corpus_dir, name)[0]
    expected = _expected(corpus_dir)[path.name]
    assert _arrive(pipeline, path.read_bytes()) is Outcome.PROCESSED

    with SqlUnitOfWork(app.session_factory) as uow:
        assert uow.requests.list() == []
    rows = _outbox(app)
    assert [r.kind for r in rows] == ["requester/invalid_request"]
    msg = parse_mail(rows[0].raw)
    assert msg["To"].addresses[0].addr_spec == expected["headers"]["from"]  # type: ignore[index]
    body = text_of(msg)
    problems = [ln for ln in body.splitlines() if ln.lstrip().startswith(("- ", "• ", "·"))]
    assert len(problems) >= len(expected["errors"])  # type: ignore[arg-type]
    # The filled-in template carries what was understood, ready to correct and resend.
    title = expected["fields"].get("title")  # type: ignore[union-attr]
    if title:
        assert str(title) in body


def test_issue_is_recorded_against_its_request_and_acknowledged(
    app: App, pipeline: Pipeline, corpus_dir: Path
) -> None:
    # Register enough requests that the issue's request number exists.
    expected = _expected(corpus_dir)
    issue_path = corpus_dir / "iss_02_request_number_thunderbird.eml"
    number = expected[issue_path.name]["fields"]["request"]  # type: ignore[index]
    seq = int(str(number).rsplit("-", 1)[1])
    req = (corpus_dir / "req_01_outlook_zh_plain_gb2312_b64.eml").read_bytes()
    for i in range(seq):
        _arrive(pipeline, with_message_id(req, f"<req-{i}@example.com>"), uid=f"r{i}")

    assert _arrive(pipeline, issue_path.read_bytes(), uid="issue") is Outcome.PROCESSED
    with SqlUnitOfWork(app.session_factory) as uow:
        request = uow.requests.by_number(str(number))
        assert request is not None
        issues = uow.issues.for_request(request.id)
        assert len(issues) == 1
        assert issues[0].reporter_email == expected[issue_path.name]["headers"]["from"]  # type: ignore[index]
    acks = [r for r in _outbox(app) if r.kind == "reporter/issue_acknowledged"]
    assert len(acks) == 1
    assert str(number) in parse_mail(acks[0].raw)["Subject"]


def test_unmatched_sign_off_is_held_and_its_sender_told_once(
    app: App, pipeline: Pipeline, corpus_dir: Path
) -> None:
    # A confirmation answering minutes this mailbox never sent: nothing to sign off.
    raw = (corpus_dir / "rep_01_confirm_zh_outlook_plain.eml").read_bytes()
    assert _arrive(pipeline, raw, uid="1") is Outcome.PROCESSED
    assert (
        _arrive(pipeline, with_message_id(raw, "<again@example.com>"), uid="2") is Outcome.PROCESSED
    )
    kinds = [r.kind for r in _outbox(app)]
    assert kinds.count("sender/held_for_review") == 1
    assert kinds.count("office/held_for_review") == 2
    with SqlUnitOfWork(app.session_factory) as uow:
        held = uow.signoffs.pending_review()
        assert [h.reason for h in held] == ["unknown_reference", "unknown_reference"]
        assert len(uow.inbound.in_state("held")) == 2


def test_reply_without_keyword_is_recorded_and_answered_once(
    app: App, pipeline: Pipeline, corpus_dir: Path
) -> None:
    # The keyword stands only in the quoted text: no answer of any kind.
    raw = (corpus_dir / "rep_25_tricky_keyword_only_in_quote_gmail.eml").read_bytes()
    assert _arrive(pipeline, raw, uid="1") is Outcome.PROCESSED
    assert (
        _arrive(pipeline, with_message_id(raw, "<again@example.com>"), uid="2") is Outcome.PROCESSED
    )
    answers = [r for r in _outbox(app) if r.kind == "sender/reply_not_understood"]
    assert len(answers) == 1
    with SqlUnitOfWork(app.session_factory) as uow:
        assert len(uow.inbound.in_state("processed")) == 2
        assert uow.signoffs.pending_review() == []


@pytest.mark.parametrize(
    "prefix",
    [
        "noise_01",
        "noise_02",
        "noise_03",
        "noise_04",
        "noise_05",
        "noise_06",
        "noise_07",
        "noise_08",
    ],
)
def test_noise_is_recorded_and_never_answered(
    app: App, pipeline: Pipeline, corpus_dir: Path, prefix: str
) -> None:
    path = _files(corpus_dir, prefix)[0]
    assert _arrive(pipeline, path.read_bytes()) is Outcome.PROCESSED
    assert _outbox(app) == []
    with SqlUnitOfWork(app.session_factory) as uow:
        rows = uow.inbound.in_state("noise")
        assert len(rows) == 1
        assert rows[0].kind == _expected(corpus_dir)[path.name]["kind"]
        assert rows[0].raw == path.read_bytes()


def test_our_own_acknowledgement_coming_back_is_never_answered(
    app: App, pipeline: Pipeline, corpus_dir: Path
) -> None:
    _arrive(pipeline, (corpus_dir / "req_06_gmail_utf8_qp.eml").read_bytes())
    ack = next(r for r in _outbox(app) if r.kind == "requester/acknowledged")
    # An auto-forward or misconfigured alias delivers our own mail back to us.
    assert _arrive(pipeline, ack.raw, uid="own") is Outcome.PROCESSED
    assert len(_outbox(app)) == 2
    with SqlUnitOfWork(app.session_factory) as uow:
        assert [m.kind for m in uow.inbound.in_state("noise")] == ["loop"]


@pytest.mark.parametrize(
    "prefix", ["hostile_01", "hostile_03", "hostile_04", "hostile_05", "hostile_06"]
)
def test_hostile_mail_is_quarantined_with_its_reason(
    app: App, pipeline: Pipeline, corpus_dir: Path, prefix: str
) -> None:
    path = _files(corpus_dir, prefix)[0]
    assert _arrive(pipeline, path.read_bytes()) is Outcome.QUARANTINED
    assert _outbox(app) == []
    with SqlUnitOfWork(app.session_factory) as uow:
        [row] = uow.inbound.quarantined()
        assert row.raw == path.read_bytes()
        assert row.reason and "hostile" in row.reason
        assert uow.requests.list() == []


def test_the_same_message_twice_makes_one_request(
    app: App, pipeline: Pipeline, corpus_dir: Path
) -> None:
    raw = (corpus_dir / "req_03_foxmail_gb2312.eml").read_bytes()
    assert _arrive(pipeline, raw, uid="1", source="imap:coord@x/INBOX") is Outcome.PROCESSED
    # Re-appended (new UID), then delivered by the listener too.
    assert _arrive(pipeline, raw, uid="2", source="imap:coord@x/INBOX") is Outcome.PROCESSED
    assert _arrive(pipeline, raw, uid="q1", source="listener") is Outcome.PROCESSED
    # The listener may add trace headers: same Message-ID, other bytes.
    assert (
        _arrive(pipeline, b"Received: from relay\r\n" + raw, uid="q2", source="listener")
        is Outcome.PROCESSED
    )
    with SqlUnitOfWork(app.session_factory) as uow:
        assert len(uow.requests.list()) == 1
    assert len([r for r in _outbox(app) if r.kind == "requester/acknowledged"]) == 1
    assert [r.outcome for r in pipeline.results] == [
        "processed",
        "duplicate",
        "duplicate",
        "duplicate",
    ]


def test_a_message_that_keeps_failing_is_quarantined_and_intake_carries_on(
    tmp_path: Path, corpus_dir: Path
) -> None:
    # A real fault, no injection: the attachment store's directory is a file.
    blocked = tmp_path / "blocked"
    blocked.write_text("not a directory")
    app = build_app(
        scratch_settings(tmp_path, LIAISON_STORE_ATTACHMENTS_DIR=str(tmp_path / "attachments")),
        clock=FrozenClock(__import__("tests.support", fromlist=["T0"]).T0),
    )
    try:
        from store.blobs import BlobStore

        pipeline = Pipeline(
            session_factory=app.session_factory,
            config=app.workflow,
            blobs=BlobStore(blocked / "sub"),
            clock=app.clock,
        )
        with_attachment = (corpus_dir / "req_09_thunderbird_pdf_rfc2231.eml").read_bytes()
        outcomes = [_arrive(pipeline, with_attachment, uid="9") for _ in range(3)]
        assert outcomes == [Outcome.RETRY, Outcome.RETRY, Outcome.QUARANTINED]
        with SqlUnitOfWork(app.session_factory) as uow:
            [row] = uow.inbound.quarantined()
            assert row.attempts == 3
            assert row.reason and "failed 3 times" in row.reason
            assert row.raw == with_attachment
        # The next message goes through.
        plain = (corpus_dir / "req_01_outlook_zh_plain_gb2312_b64.eml").read_bytes()
        assert _arrive(pipeline, plain, uid="10") is Outcome.PROCESSED
        # Delivered again after quarantine: still quarantined, no effect.
        assert _arrive(pipeline, with_attachment, uid="9") is Outcome.PROCESSED
        with SqlUnitOfWork(app.session_factory) as uow:
            assert [r.number for r in uow.requests.list()] == ["XT-2026-0001"]
    finally:
        app.close()


def test_attachments_are_stored_by_content_hash_never_by_sender_name(
    app: App, pipeline: Pipeline, corpus_dir: Path
) -> None:
    path = corpus_dir / "req_09_thunderbird_pdf_rfc2231.eml"
    expected = _expected(corpus_dir)[path.name]["attachments"]
    _arrive(pipeline, path.read_bytes())
    stored = [p for p in Path(app.settings.store.attachments_dir).rglob("*") if p.is_file()]
    assert sorted(p.name for p in stored) == sorted(a["sha256"][2:] for a in expected)  # type: ignore[index,union-attr]
    for p in stored:
        assert p.parent.name + p.name in {a["sha256"] for a in expected}  # type: ignore[index,union-attr]


def test_concurrent_intake_numbers_are_unique(
    tmp_path: Path, corpus_dir: Path, pg_empty_url: str
) -> None:
    # 24 requests from one sender: above the default daily rate limit of 20.
    app, _ = scratch_app(
        tmp_path, LIAISON_STORE_URL=pg_empty_url, LIAISON_WORKFLOW_RATE_LIMIT_PER_DAY="100"
    )
    try:
        pipeline = Pipeline(
            session_factory=app.session_factory,
            config=app.workflow,
            blobs=app.blobs,
            clock=app.clock,
        )
        raw = (corpus_dir / "req_06_gmail_utf8_qp.eml").read_bytes()
        errors: list[BaseException] = []

        def worker(k: int) -> None:
            try:
                for i in range(6):
                    mid = f"<concurrent-{k}-{i}@example.com>"
                    outcome = _arrive(pipeline, with_message_id(raw, mid), uid=f"{k}-{i}")
                    assert outcome is Outcome.PROCESSED
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        with SqlUnitOfWork(app.session_factory) as uow:
            numbers = sorted(r.number for r in uow.requests.list())
        assert numbers == [f"XT-2026-{n:04d}" for n in range(1, 25)]
    finally:
        app.close()


def test_a_sender_beyond_the_daily_rate_limit_is_recorded_not_answered(
    app: App, pipeline: Pipeline, corpus_dir: Path
) -> None:
    raw = (corpus_dir / "req_06_gmail_utf8_qp.eml").read_bytes()
    limit = app.workflow.rate_limit_per_day
    for i in range(limit + 2):
        assert (
            _arrive(pipeline, with_message_id(raw, f"<flood-{i}@example.com>"), uid=str(i))
            is Outcome.PROCESSED
        )
    with SqlUnitOfWork(app.session_factory) as uow:
        assert len(uow.requests.list()) == limit
        assert len(uow.inbound.in_state("noise")) == 2
    assert len([r for r in _outbox(app) if r.kind == "requester/acknowledged"]) == limit


def test_bounce_of_our_mail_is_recorded_and_the_office_told_once(
    app: App, pipeline: Pipeline, corpus_dir: Path
) -> None:
    _arrive(pipeline, (corpus_dir / "req_06_gmail_utf8_qp.eml").read_bytes(), uid="r")
    ack = next(r for r in _outbox(app) if r.kind == "requester/acknowledged")
    original_id = parse_mail(ack.raw)["Message-ID"]
    dsn = (corpus_dir / "noise_05_postfix_dsn_bounce.eml").read_bytes()
    expected = _expected(corpus_dir)["noise_05_postfix_dsn_bounce.eml"]["bounce"]
    old_id = expected["original_message_id"]  # type: ignore[index]
    bounced = dsn.replace(str(old_id).encode(), original_id.encode())
    for i in range(3):  # the MTA retries its report: told once
        assert (
            _arrive(pipeline, with_message_id(bounced, f"<dsn-{i}@mx.example.com>"), uid=f"b{i}")
            is Outcome.PROCESSED
        )
    notices = [r for r in _outbox(app) if r.kind == "office/delivery_failed"]
    assert len(notices) == 1
    body = text_of(parse_mail(notices[0].raw))
    assert str(expected["recipient"]) in body  # type: ignore[index]
    assert "XT-2026-0001" in parse_mail(notices[0].raw)["Subject"]
    # Never answered: nothing went to the reporting MTA.
    assert all("mailer-daemon" not in " ".join(r.recipients).lower() for r in _outbox(app))
    with SqlUnitOfWork(app.session_factory) as uow:
        comms = uow.communications.for_request(1)
        assert any(c.summary and c.summary.startswith("bounce:") for c in comms)


def test_scratch_directories_are_independent(tmp_path: Path) -> None:
    # Guard for the helpers above: two apps in two directories share nothing.
    a, _ = scratch_app(tmp_path / "a")
    b, _ = scratch_app(tmp_path / "b")
    try:
        assert a.settings.store.url != b.settings.store.url
    finally:
        a.close()
        b.close()
        shutil.rmtree(tmp_path / "a")


def test_a_bounce_to_the_verp_address_names_the_mail_even_without_a_quote(
    tmp_path: Path, corpus_dir: Path
) -> None:
    secret = tmp_path / "token-secret"
    secret.write_text("verp-and-token-secret-for-tests")
    app, _ = scratch_app(
        tmp_path,
        LIAISON_MAILBOX_SUBADDRESS="true",
        LIAISON_SECURITY_REPLY_TOKEN_SECRET_FILE=str(secret),
    )
    try:
        pipeline = Pipeline(
            session_factory=app.session_factory,
            config=app.workflow,
            blobs=app.blobs,
            clock=app.clock,
        )
        _arrive(pipeline, (corpus_dir / "req_06_gmail_utf8_qp.eml").read_bytes(), uid="r")
        with SqlUnitOfWork(app.session_factory) as uow:
            ack = next(
                r for r in uow.outbox.in_state("pending") if r.kind == "requester/acknowledged"
            )
            envelope, ack_id = ack.envelope_from, ack.message_id
        local, _, domain = envelope.partition("@")
        assert local.startswith("coord+bounce-") and domain == "example.com"

        def report(to: str, message_id: str) -> bytes:
            return (
                "From: MAILER-DAEMON@mx.example.com\r\n"
                f"To: {to}\r\nDelivered-To: {to}\r\n"
                "Subject: Undelivered Mail Returned to Sender\r\n"
                f"Message-ID: {message_id}\r\nDate: Mon, 16 Mar 2026 10:00:00 +0800\r\n"
                "MIME-Version: 1.0\r\n"
                'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n'
                "--r\r\nContent-Type: text/plain\r\n\r\nI could not deliver your message.\r\n"
                "--r\r\nContent-Type: message/delivery-status\r\n\r\n"
                "Reporting-MTA: dns; mx.example.com\r\n\r\n"
                "Final-Recipient: rfc822; li.na@example.cn\r\nAction: failed\r\nStatus: 5.1.1\r\n"
                "--r--\r\n"
            ).encode()

        # A forged MAC names nothing; the real VERP address names the acknowledgement.
        forged = envelope.replace(envelope.split("-")[-1].split("@")[0], "0000000000")
        _arrive(pipeline, report(forged, "<dsn-forged@mx.example.com>"), uid="b0")
        assert [r for r in _outbox(app) if r.kind == "office/delivery_failed"] == []
        _arrive(pipeline, report(envelope, "<dsn-1@mx.example.com>"), uid="b1")
        [notice] = [r for r in _outbox(app) if r.kind == "office/delivery_failed"]
        assert ack_id in text_of(parse_mail(notice.raw))
        assert "li.na@example.cn" in text_of(parse_mail(notice.raw))
    finally:
        app.close()
