"""Contract tests of the store: one suite, run on SQLite (a temporary file) and PostgreSQL."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, Engine, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from store.engine import make_engine, make_session_factory
from store.errors import NaiveDatetimeError, NotFoundError, is_transient
from store.migrate import alembic_config, current, head, upgrade
from store.models import (
    Attachment,
    Base,
    Communication,
    InboundMessage,
    InboundState,
    Issue,
    Lease,
    NumberSequence,
    OutboxMessage,
    OutboxState,
    Request,
)
from store.uow import SqlUnitOfWork

T0 = datetime(2026, 3, 16, 9, 0, 0, 123456, tzinfo=UTC)
CST = timezone(timedelta(hours=8), "CST")
_Row = TypeVar("_Row", bound=Base)

# --- fixtures ------------------------------------------------------------------------
# ``empty_url`` (one empty database of each backend) and ``engine`` (on it, migrated)
# come from tests/servers/postgres.py.


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


# --- builders ------------------------------------------------------------------------


def inbound(n: int = 1, **overrides: Any) -> InboundMessage:
    raw = f"Message-ID: <m{n}@example.com>\r\n\r\nbody {n}\r\n".encode()
    values: dict[str, Any] = {
        "source": "imap:coord@127.0.0.1/INBOX",
        "source_uidvalidity": 1700000000,
        "source_uid": str(n),
        "message_id": f"<m{n}@example.com>",
        "content_sha256": f"{n:064x}",
        "raw": raw,
        "size": len(raw),
        "received_at": T0,
    }
    values.update(overrides)
    return InboundMessage(**values)


def request_row(inbound_message_id: int, number: str = "XT-2026-0001", **overrides: Any) -> Request:
    values: dict[str, Any] = {
        "number": number,
        "state": "registered",
        "profile": "standard",
        "title": "供应商对账流程线上化",
        "requesting_department": "财务部",
        "receiving_departments": ["研发部", "采购部"],
        "background": "对账靠邮件和表格，每月耗时三天。",
        "due": date(2026, 3, 31),
        "urgency": "紧急",
        "requester_email": "li.na@example.com",
        "created_at": T0,
        "updated_at": T0,
        "inbound_message_id": inbound_message_id,
    }
    values.update(overrides)
    return Request(**values)


def outbox_row(n: int, next_attempt_at: datetime, **overrides: Any) -> OutboxMessage:
    values: dict[str, Any] = {
        "message_id": f"<notice.xt-2026-0001.{n}.k3f9@coord.example.com>",
        "created_at": T0,
        "kind": "requester/acknowledged",
        "envelope_from": "coord@example.com",
        "recipients": ["li.na@example.com"],
        "raw": b"Subject: ack\r\n\r\nok\r\n",
        "next_attempt_at": next_attempt_at,
    }
    values.update(overrides)
    return OutboxMessage(**values)


def columns(row: Base) -> dict[str, Any]:
    """Every mapped column of ``row`` by attribute name."""
    mapper = inspect(type(row))
    return {attr.key: getattr(row, attr.key) for attr in mapper.column_attrs}


def count(factory: sessionmaker[Session], entity: type[Base]) -> int:
    with factory() as session:
        return len(session.scalars(select(entity)).all())


def run_threads(n: int, work: Callable[[int], None]) -> None:
    """Run ``work(i)`` in ``n`` threads released together; re-raise the first failure."""
    barrier = threading.Barrier(n)
    failures: list[BaseException] = []

    def target(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            work(i)
        except BaseException as error:  # noqa: BLE001 - collected and re-raised below
            failures.append(error)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a worker thread did not finish"
    if failures:
        raise failures[0]


# --- round trips ---------------------------------------------------------------------


@dataclass
class Graph:
    """One row of every table, as written, with its primary key."""

    rows: dict[type[Base], tuple[Any, dict[str, Any]]]


@pytest.fixture
def graph(factory: sessionmaker[Session]) -> Graph:
    written: dict[type[Base], tuple[Any, dict[str, Any]]] = {}
    in_cst = datetime(2026, 3, 16, 17, 30, 15, 654321, tzinfo=CST)
    with SqlUnitOfWork(factory) as uow:
        message = uow.inbound.add(
            inbound(
                source_uidvalidity=4_294_967_295,  # the largest UIDVALIDITY (unsigned 32 bit)
                raw=b"\x00\xff\xfe binary \r\n\x80",
                size=11,
                received_at=in_cst,
                kind="request",
                state=InboundState.PROCESSED,
                attempts=2,
                reason="第二次成功",
                processed_at=in_cst + timedelta(seconds=1),
            )
        )
        request = uow.requests.add(
            request_row(
                message.id,
                revision=2,
                resources="两名开发，一台测试服务器",
                acceptance_criteria="上线后对账 1 天完成",
                requester_name="李娜",
                language="en",
                lead_department="研发部",
                supporting_departments=["采购部", "财务部"],
                created_at=in_cst,
                updated_at=in_cst + timedelta(hours=1),
            )
        )
        message.request_id = request.id
        issue = uow.issues.add(
            Issue(
                request_id=request.id,
                task_ref="RW-0003",
                request_ref="XT-2026-0001",
                description="接口文档缺失",
                impact="延期两天",
                tried="联系供应商",
                support="需要采购部协调",
                urgency="特急",
                reporter_email="wang.qiang@example.com",
                state="meeting_scheduled",
                created_at=in_cst,
                inbound_message_id=message.id,
            )
        )
        attachment = uow.attachments.add(
            Attachment(
                inbound_message_id=message.id,
                sha256="ab" * 32,
                size=2048,
                content_type="application/pdf",
                filename="../../etc/需求说明.pdf",
            )
        )
        sent = uow.outbox.add(
            outbox_row(
                1,
                in_cst,
                request_id=request.id,
                recipients=["li.na@example.com", "赵磊 <zhao.lei@example.com>"],
                raw=b"\x00\x01 raw \xff",
                state=OutboxState.SENT,
                attempts=1,
                last_error="451 try later",
                sent_at=in_cst + timedelta(minutes=5),
                reply_context="task",
                reply_recipient="li.na@example.com",
                task_ref="RW-0003",
                token_hash="f" * 64,
            )
        )
        log = uow.communications.add(
            Communication(
                request_id=request.id,
                at=in_cst,
                direction="out",
                from_addr="coord@example.com",
                to_addrs=["li.na@example.com", "zhao.lei@example.com"],
                subject="[评估] XT-2026-0001 供应商对账流程线上化",
                kind="evaluation",
                summary="评估通知已发出",
                inbound_message_id=message.id,
                outbox_id=sent.id,
            )
        )
        sequence = NumberSequence(scope="XT-2026", next_value=42)
        lease = Lease(name="imap:coord@127.0.0.1/INBOX", holder="host-a:123", expires_at=in_cst)
        uow.session.add_all([sequence, lease])
        uow.session.flush()
        for row, key in (
            (message, message.id),
            (request, request.id),
            (issue, issue.id),
            (attachment, attachment.id),
            (sent, sent.id),
            (log, log.id),
            (sequence, sequence.scope),
            (lease, lease.name),
        ):
            written[type(row)] = (key, columns(row))
        uow.commit()
    return Graph(written)


@pytest.mark.parametrize(
    "entity",
    [
        InboundMessage,
        Request,
        Issue,
        Attachment,
        OutboxMessage,
        Communication,
        NumberSequence,
        Lease,
    ],
    ids=lambda entity: entity.__tablename__,
)
def test_every_model_round_trips(
    entity: type[Base], graph: Graph, factory: sessionmaker[Session]
) -> None:
    key, expected = graph.rows[entity]
    with factory() as session:
        loaded = session.get(entity, key)
        assert loaded is not None
        actual = columns(loaded)
    assert actual == expected
    for name, value in actual.items():
        if isinstance(value, datetime):
            assert value.tzinfo is not None and value.utcoffset() == timedelta(0), name
        if isinstance(expected[name], list):
            assert type(value) is not tuple and list(value) == expected[name], name


def test_datetimes_come_back_as_the_same_instant_in_utc(factory: sessionmaker[Session]) -> None:
    in_cst = datetime(2026, 1, 1, 8, 0, tzinfo=CST)
    with SqlUnitOfWork(factory) as uow:
        message_id = uow.inbound.add(inbound(received_at=in_cst)).id
        uow.commit()
    with SqlUnitOfWork(factory) as uow:
        received = uow.inbound.get(message_id).received_at
    assert received == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert received.tzinfo == UTC


def test_lists_changed_in_place_are_saved(factory: sessionmaker[Session]) -> None:
    with SqlUnitOfWork(factory) as uow:
        message = uow.inbound.add(inbound())
        request_id = uow.requests.add(request_row(message.id)).id
        uow.commit()
    with SqlUnitOfWork(factory) as uow:
        # Hold the row: a list only reports changes to a parent that is still alive.
        request = uow.requests.get(request_id)
        request.supporting_departments.append("法务部")
        uow.commit()
    with SqlUnitOfWork(factory) as uow:
        assert uow.requests.get(request_id).supporting_departments == ["法务部"]


# --- naive datetimes -----------------------------------------------------------------


def test_naive_datetime_is_refused_on_write(factory: sessionmaker[Session]) -> None:
    with SqlUnitOfWork(factory) as uow:
        with pytest.raises(StatementError) as caught:
            uow.inbound.add(inbound(received_at=datetime(2026, 3, 16, 9, 0)))
        assert isinstance(caught.value.orig, NaiveDatetimeError)
    assert count(factory, InboundMessage) == 0


def test_naive_datetime_is_refused_in_queries(factory: sessionmaker[Session]) -> None:
    naive = datetime(2026, 3, 16, 9, 0)
    with SqlUnitOfWork(factory) as uow:
        with pytest.raises(StatementError) as caught:
            uow.outbox.claim_due(naive, 10)
        assert isinstance(caught.value.orig, NaiveDatetimeError)
    with SqlUnitOfWork(factory) as uow:
        with pytest.raises(StatementError) as caught:
            uow.leases.acquire("mailbox", "a", naive, timedelta(seconds=30))
        assert isinstance(caught.value.orig, NaiveDatetimeError)


# --- unit of work --------------------------------------------------------------------


def test_leaving_without_commit_rolls_every_repository_back(
    factory: sessionmaker[Session],
) -> None:
    with SqlUnitOfWork(factory) as uow:
        message = uow.inbound.add(inbound())
        request = uow.requests.add(request_row(message.id))
        uow.issues.add(
            Issue(
                description="d",
                urgency="一般",
                reporter_email="a@example.com",
                created_at=T0,
                inbound_message_id=message.id,
            )
        )
        uow.attachments.add(
            Attachment(inbound_message_id=message.id, sha256="0" * 64, size=1, content_type="x/y")
        )
        uow.communications.add(
            Communication(
                request_id=request.id,
                at=T0,
                direction="in",
                from_addr="a@example.com",
                to_addrs=["coord@example.com"],
                subject="s",
                kind="request",
            )
        )
        uow.outbox.add(outbox_row(1, T0))
        assert uow.requests.allocate_number("XT-2026") == 1
        assert uow.leases.acquire("mailbox", "a", T0, timedelta(minutes=1))
        assert message.id is not None and request.id is not None  # flushed, not committed
    for entity in (
        InboundMessage,
        Request,
        Issue,
        Attachment,
        Communication,
        OutboxMessage,
        NumberSequence,
        Lease,
    ):
        assert count(factory, entity) == 0, entity.__tablename__


def test_an_exception_rolls_back_and_propagates(factory: sessionmaker[Session]) -> None:
    uow = SqlUnitOfWork(factory)
    with pytest.raises(ZeroDivisionError), uow:
        uow.inbound.add(inbound())
        uow.commit()
        uow.inbound.add(inbound(2))
        _ = 1 / 0
    assert count(factory, InboundMessage) == 1


def test_commit_makes_changes_visible_and_rollback_undoes_since_commit(
    factory: sessionmaker[Session],
) -> None:
    uow = SqlUnitOfWork(factory)
    with uow:
        uow.inbound.add(inbound(1))
        uow.commit()
        uow.inbound.add(inbound(2))
        uow.rollback()
        uow.inbound.add(inbound(3))
        uow.commit()
    with uow:  # the same unit of work serves the next transaction
        sources = sorted(m.source_uid or "" for m in uow.inbound.in_state("received"))
    assert sources == ["1", "3"]


def test_unit_of_work_refuses_use_outside_its_block(factory: sessionmaker[Session]) -> None:
    uow = SqlUnitOfWork(factory)
    with pytest.raises(RuntimeError):
        _ = uow.inbound
    with uow, pytest.raises(RuntimeError), uow:
        pass
    with pytest.raises(RuntimeError):
        uow.commit()


# --- inbound messages ----------------------------------------------------------------


def test_find_duplicate_by_source_identity(factory: sessionmaker[Session]) -> None:
    with SqlUnitOfWork(factory) as uow:
        original = uow.inbound.add(inbound(7))
        found = uow.inbound.find_duplicate(
            original.source, 1700000000, "7", "<other@example.com>", "e" * 64
        )
        assert found is not None and found.id == original.id
        # Another UIDVALIDITY is another mailbox generation: not the same message.
        assert uow.inbound.find_duplicate(original.source, 1, "7", None, "e" * 64) is None
        assert (
            uow.inbound.find_duplicate("imap:other/INBOX", 1700000000, "7", None, "e" * 64) is None
        )


def test_find_duplicate_by_source_identity_without_uidvalidity(
    factory: sessionmaker[Session],
) -> None:
    with SqlUnitOfWork(factory) as uow:
        original = uow.inbound.add(
            inbound(1, source="ews:coord@example.com", source_uidvalidity=None, source_uid="AAMk=")
        )
        found = uow.inbound.find_duplicate("ews:coord@example.com", None, "AAMk=", None, "e" * 64)
        assert found is not None and found.id == original.id
        assert (
            uow.inbound.find_duplicate("ews:coord@example.com", 5, "AAMk=", None, "e" * 64) is None
        )


def test_find_duplicate_by_message_id(factory: sessionmaker[Session]) -> None:
    with SqlUnitOfWork(factory) as uow:
        original = uow.inbound.add(
            inbound(3, source="listener", source_uidvalidity=None, source_uid=None)
        )
        found = uow.inbound.find_duplicate(
            "imap:coord@127.0.0.1/INBOX", 9, "99", "<m3@example.com>", "e" * 64
        )
        assert found is not None and found.id == original.id


def test_find_duplicate_by_content_hash(factory: sessionmaker[Session]) -> None:
    with SqlUnitOfWork(factory) as uow:
        original = uow.inbound.add(inbound(4, message_id=None))
        found = uow.inbound.find_duplicate("file", None, None, None, f"{4:064x}")
        assert found is not None and found.id == original.id
        assert uow.inbound.find_duplicate("file", None, None, "<new@example.com>", "e" * 64) is None


def test_find_duplicate_prefers_source_identity_then_message_id(
    factory: sessionmaker[Session],
) -> None:
    with SqlUnitOfWork(factory) as uow:
        by_hash = uow.inbound.add(
            inbound(1, source="file", source_uidvalidity=None, source_uid=None, message_id=None)
        )
        by_message_id = uow.inbound.add(
            inbound(2, source="listener", source_uidvalidity=None, source_uid=None)
        )
        by_identity = uow.inbound.add(inbound(3))
        source, validity = by_identity.source, by_identity.source_uidvalidity
        sha1 = by_hash.content_sha256
        found = uow.inbound.find_duplicate(source, validity, "3", "<m2@example.com>", sha1)
        assert found is not None and found.id == by_identity.id
        found = uow.inbound.find_duplicate(source, validity, "404", "<m2@example.com>", sha1)
        assert found is not None and found.id == by_message_id.id
        found = uow.inbound.find_duplicate(source, validity, "404", "<none@example.com>", sha1)
        assert found is not None and found.id == by_hash.id


def test_source_identity_is_unique(factory: sessionmaker[Session]) -> None:
    with SqlUnitOfWork(factory) as uow:
        uow.inbound.add(inbound(1))
        with pytest.raises(IntegrityError):
            uow.inbound.add(inbound(2, source_uid="1"))
    with SqlUnitOfWork(factory) as uow:
        # Sources without an identity of their own may repeat (NULL UID).
        uow.inbound.add(inbound(1, source="listener", source_uidvalidity=None, source_uid=None))
        uow.inbound.add(inbound(2, source="listener", source_uidvalidity=None, source_uid=None))
        uow.commit()
    assert count(factory, InboundMessage) == 2


def test_count_attempt_and_quarantine(factory: sessionmaker[Session]) -> None:
    with SqlUnitOfWork(factory) as uow:
        message_id = uow.inbound.add(inbound()).id
        uow.inbound.add(inbound(2, received_at=T0 - timedelta(hours=1)))
        uow.commit()
    for expected in (1, 2, 3):
        with SqlUnitOfWork(factory) as uow:
            assert uow.inbound.count_attempt(message_id, f"failure {expected}") == expected
            uow.commit()
    with SqlUnitOfWork(factory) as uow:
        uow.inbound.quarantine(message_id, "failed three times")
        uow.commit()
    with SqlUnitOfWork(factory) as uow:
        quarantined = uow.inbound.quarantined()
        assert [m.id for m in quarantined] == [message_id]
        assert quarantined[0].attempts == 3
        assert quarantined[0].reason == "failed three times"
        with pytest.raises(NotFoundError):
            uow.inbound.count_attempt(10_000, "missing")
        with pytest.raises(NotFoundError):
            uow.inbound.get(10_000)
        assert uow.inbound.by_id(10_000) is None


# --- requests and numbers ------------------------------------------------------------


def test_requests_by_number_and_state(factory: sessionmaker[Session]) -> None:
    with SqlUnitOfWork(factory) as uow:
        message = uow.inbound.add(inbound())
        first = uow.requests.add(request_row(message.id, "XT-2026-0001"))
        second = uow.requests.add(
            request_row(message.id, "XT-2026-0002", state="accepted", created_at=T0 + timedelta(1))
        )
        uow.commit()
    with SqlUnitOfWork(factory) as uow:
        found = uow.requests.by_number("XT-2026-0002")
        assert found is not None and found.id == second.id
        assert uow.requests.by_number("XT-2026-0404") is None
        assert [r.id for r in uow.requests.list()] == [first.id, second.id]
        assert [r.id for r in uow.requests.list(state="registered")] == [first.id]
        with pytest.raises(IntegrityError):
            uow.requests.add(request_row(message.id, "XT-2026-0001"))


def test_allocate_number_counts_per_scope_and_gives_back_on_rollback(
    factory: sessionmaker[Session],
) -> None:
    with SqlUnitOfWork(factory) as uow:
        assert [uow.requests.allocate_number("XT-2026") for _ in range(3)] == [1, 2, 3]
        assert uow.requests.allocate_number("XZ-2026") == 1
        uow.commit()
    with SqlUnitOfWork(factory) as uow:
        assert uow.requests.allocate_number("XT-2026") == 4  # rolled back below
    with SqlUnitOfWork(factory) as uow:
        assert uow.requests.allocate_number("XT-2026") == 4
        uow.commit()


def test_allocate_number_is_unique_under_concurrent_transactions(
    factory: sessionmaker[Session],
) -> None:
    threads, per_thread = 8, 15
    numbers: list[int] = []
    lock = threading.Lock()

    def allocate(_: int) -> None:
        uow = SqlUnitOfWork(factory)
        for _ in range(per_thread):
            with uow:
                value = uow.requests.allocate_number("XT-2026")
                uow.commit()
            with lock:
                numbers.append(value)

    run_threads(threads, allocate)
    assert sorted(numbers) == list(range(1, threads * per_thread + 1))


# --- issues, attachments, communications ---------------------------------------------


def test_issues_attachments_and_communications_queries(factory: sessionmaker[Session]) -> None:
    with SqlUnitOfWork(factory) as uow:
        message = uow.inbound.add(inbound())
        request = uow.requests.add(request_row(message.id))

        def issue(state: str, at: datetime, request_id: int | None) -> Issue:
            return uow.issues.add(
                Issue(
                    request_id=request_id,
                    description=state,
                    urgency="一般",
                    reporter_email="a@example.com",
                    state=state,
                    created_at=at,
                    inbound_message_id=message.id,
                )
            )

        late_open = issue("open", T0 + timedelta(hours=2), request.id)
        resolved = issue("resolved", T0, request.id)
        early_escalated = issue("escalated", T0 + timedelta(hours=1), None)
        first = uow.attachments.add(
            Attachment(inbound_message_id=message.id, sha256="1" * 64, size=1, content_type="a/b")
        )
        second = uow.attachments.add(
            Attachment(inbound_message_id=message.id, sha256="2" * 64, size=2, content_type="a/b")
        )

        def log(at: datetime, request_id: int | None) -> Communication:
            return uow.communications.add(
                Communication(
                    request_id=request_id,
                    at=at,
                    direction="in",
                    from_addr="a@example.com",
                    to_addrs=["coord@example.com"],
                    subject="s",
                    kind="reply",
                )
            )

        later = log(T0 + timedelta(minutes=5), request.id)
        earlier = log(T0, request.id)
        log(T0, None)
        uow.commit()
    with SqlUnitOfWork(factory) as uow:
        assert [i.id for i in uow.issues.for_request(request.id)] == [resolved.id, late_open.id]
        assert [i.id for i in uow.issues.unresolved()] == [early_escalated.id, late_open.id]
        assert [a.id for a in uow.attachments.for_message(message.id)] == [first.id, second.id]
        assert [a.id for a in uow.attachments.by_sha256("2" * 64)] == [second.id]
        assert [c.id for c in uow.communications.for_request(request.id)] == [earlier.id, later.id]
        with pytest.raises(IntegrityError):
            uow.communications.add(
                Communication(
                    at=T0,
                    direction="up",
                    from_addr="a@example.com",
                    to_addrs=[],
                    subject="s",
                    kind="reply",
                )
            )
            uow.session.flush()  # append-only rows are inserted at the next flush


def test_count_sent_since_counts_outbound_mail_to_one_address(
    factory: sessionmaker[Session],
) -> None:
    def log(
        at: datetime, to: list[str], kind: str = "sender/reply_not_understood", **kw: Any
    ) -> None:
        values: dict[str, Any] = {
            "at": at,
            "direction": "out",
            "from_addr": "coord@example.com",
            "to_addrs": to,
            "subject": "s",
            "kind": kind,
        }
        values.update(kw)
        uow.communications.add(Communication(**values))

    with SqlUnitOfWork(factory) as uow:
        log(T0, ["Li.Na@Example.com"])
        log(T0 + timedelta(hours=1), ["wang.qiang@example.com", "li.na@example.com"])
        log(T0 - timedelta(seconds=1), ["li.na@example.com"])  # too early
        log(T0, ["li.na@example.com"], kind="requester/acknowledged")  # other kind
        log(T0, ["li.na@example.com"], direction="in")  # not sent by us
        log(T0, ["lina@example.com", "na@example.com"])  # other addresses
        uow.commit()
    with SqlUnitOfWork(factory) as uow:
        counted = uow.communications.count_sent_since
        assert counted("sender/reply_not_understood", "li.na@example.com", T0) == 2
        assert counted("sender/reply_not_understood", "LI.NA@example.com", T0) == 2
        assert counted("sender/reply_not_understood", "wang.qiang@example.com", T0) == 1
        assert counted("sender/reply_not_understood", "nobody@example.com", T0) == 0
        assert counted("sender/reply_not_understood", "li.na@example.com", T0 - timedelta(1)) == 3


def test_foreign_keys_are_enforced(factory: sessionmaker[Session]) -> None:
    with SqlUnitOfWork(factory) as uow, pytest.raises(IntegrityError):
        uow.attachments.add(
            Attachment(inbound_message_id=999, sha256="1" * 64, size=1, content_type="a/b")
        )
        uow.session.flush()  # append-only rows are inserted at the next flush


# --- outbox --------------------------------------------------------------------------


def test_outbox_claims_due_rows_earliest_first(factory: sessionmaker[Session]) -> None:
    with SqlUnitOfWork(factory) as uow:
        late = uow.outbox.add(outbox_row(1, T0 - timedelta(minutes=1)))
        early = uow.outbox.add(outbox_row(2, T0 - timedelta(minutes=10)))
        same_time_second = uow.outbox.add(outbox_row(3, T0 - timedelta(minutes=1)))
        due_now = uow.outbox.add(outbox_row(4, T0))
        uow.outbox.add(outbox_row(5, T0 + timedelta(seconds=1)))  # not due yet
        uow.outbox.add(outbox_row(6, T0 - timedelta(hours=1), state=OutboxState.SENT, sent_at=T0))
        uow.outbox.add(outbox_row(7, T0 - timedelta(hours=1), state=OutboxState.FAILED))
        uow.commit()
    with SqlUnitOfWork(factory) as uow:
        assert uow.outbox.pending_count() == 5
        claimed = uow.outbox.claim_due(T0, 10)
        assert [m.id for m in claimed] == [early.id, late.id, same_time_second.id, due_now.id]
        assert [m.id for m in uow.outbox.claim_due(T0, 2)] == [early.id, late.id]


def test_outbox_marks_sent_retry_and_failed(factory: sessionmaker[Session]) -> None:
    with SqlUnitOfWork(factory) as uow:
        for n in (1, 2, 3):
            uow.outbox.add(outbox_row(n, T0 - timedelta(minutes=n)))
        uow.commit()
    with SqlUnitOfWork(factory) as uow:
        # Claim, count the attempt and hold the rows for a minute while sending.
        claimed = uow.outbox.claim_due(T0, 10)
        for row in claimed:
            row.attempts += 1
            row.next_attempt_at = T0 + timedelta(minutes=1)
        third, second, first = (row.id for row in claimed)
        uow.commit()
    with SqlUnitOfWork(factory) as uow:
        assert uow.outbox.claim_due(T0 + timedelta(seconds=59), 10) == []
    with SqlUnitOfWork(factory) as uow:
        uow.outbox.mark_sent(third, T0 + timedelta(seconds=3))
        uow.outbox.mark_retry(second, T0 + timedelta(minutes=5), "421 service not available")
        uow.outbox.mark_failed(uow.outbox.get(first), "550 no such user")
        uow.commit()
    with SqlUnitOfWork(factory) as uow:
        sent = uow.outbox.by_message_id(outbox_row(3, T0).message_id)
        assert sent is not None
        assert (sent.state, sent.attempts, sent.sent_at) == ("sent", 1, T0 + timedelta(seconds=3))
        retry = uow.outbox.get(second)
        assert (retry.state, retry.attempts, retry.last_error) == (
            "pending",
            1,
            "421 service not available",
        )
        failed = uow.outbox.get(first)
        assert (failed.state, failed.attempts, failed.last_error) == (
            "failed",
            1,
            "550 no such user",
        )
        assert uow.outbox.pending_count() == 1
        assert uow.outbox.claim_due(T0 + timedelta(minutes=4), 10) == []
        assert [m.id for m in uow.outbox.claim_due(T0 + timedelta(minutes=5), 10)] == [second]
        assert uow.outbox.by_message_id("<unknown@coord.example.com>") is None
        assert [m.id for m in uow.outbox.in_state("failed")] == [first]
        with pytest.raises(NotFoundError):
            uow.outbox.mark_sent(10_000, T0)


def test_outbox_message_id_is_unique_and_found_by_token(factory: sessionmaker[Session]) -> None:
    with SqlUnitOfWork(factory) as uow:
        row = uow.outbox.add(outbox_row(1, T0, token_hash="a" * 64))
        found = uow.outbox.by_token_hash("a" * 64)
        assert found is not None and found.id == row.id
        assert uow.outbox.by_token_hash("b" * 64) is None
        with pytest.raises(IntegrityError):
            uow.outbox.add(outbox_row(1, T0))


def test_concurrent_senders_send_each_row_once(factory: sessionmaker[Session]) -> None:
    rows = 40
    with SqlUnitOfWork(factory) as uow:
        for n in range(rows):
            uow.outbox.add(outbox_row(n, T0 - timedelta(seconds=n)))
        uow.commit()
    sent: list[int] = []
    lock = threading.Lock()

    def sender(_: int) -> None:
        uow = SqlUnitOfWork(factory)
        while True:
            with uow:
                claimed = uow.outbox.claim_due(T0, 3)
                for message in claimed:
                    uow.outbox.mark_sent(message, T0)
                uow.commit()
            if not claimed:
                return
            with lock:
                sent.extend(m.id for m in claimed)

    run_threads(4, sender)
    assert len(sent) == rows and len(set(sent)) == rows


def test_postgresql_claimers_get_disjoint_rows(pg_engine: Engine) -> None:
    factory = make_session_factory(pg_engine)
    with SqlUnitOfWork(factory) as uow:
        ids = [uow.outbox.add(outbox_row(n, T0 - timedelta(seconds=n))).id for n in range(6)]
        uow.commit()
    with SqlUnitOfWork(factory) as first, SqlUnitOfWork(factory) as second:
        first_rows = {m.id for m in first.outbox.claim_due(T0, 4)}
        # The first claimer still holds its rows: the second skips them, without waiting.
        second_rows = {m.id for m in second.outbox.claim_due(T0, 10)}
        third_rows = {m.id for m in second.outbox.claim_due(T0, 10)}  # own locks: same rows
    assert len(first_rows) == 4
    assert first_rows.isdisjoint(second_rows)
    assert first_rows | second_rows == set(ids)
    assert third_rows == second_rows


# --- leases --------------------------------------------------------------------------


def test_lease_is_held_until_it_expires(factory: sessionmaker[Session]) -> None:
    ttl = timedelta(seconds=30)
    name = "imap:coord@127.0.0.1/INBOX"

    def acquire(holder: str, at: datetime) -> bool:
        with SqlUnitOfWork(factory) as uow:
            taken = uow.leases.acquire(name, holder, at, ttl)
            uow.commit()
            return taken

    def holder(at: datetime) -> str | None:
        with SqlUnitOfWork(factory) as uow:
            return uow.leases.holder(name, at)

    assert holder(T0) is None
    assert acquire("a", T0)
    assert holder(T0) == "a"
    assert not acquire("b", T0 + timedelta(seconds=10))
    assert acquire("a", T0 + timedelta(seconds=20))  # renewed until T0 + 50 s
    assert not acquire("b", T0 + timedelta(seconds=45))
    assert holder(T0 + timedelta(seconds=50)) is None
    assert acquire("b", T0 + timedelta(seconds=50))
    assert not acquire("a", T0 + timedelta(seconds=51))
    assert holder(T0 + timedelta(seconds=51)) == "b"
    with SqlUnitOfWork(factory) as uow:
        assert not uow.leases.release(name, "a")
        assert uow.leases.release(name, "b")
        uow.commit()
    assert acquire("a", T0 + timedelta(seconds=52))


def test_lease_has_one_winner_under_contention(factory: sessionmaker[Session]) -> None:
    winners: list[str] = []
    lock = threading.Lock()

    def contend(i: int) -> None:
        with SqlUnitOfWork(factory) as uow:
            taken = uow.leases.acquire("mailbox", f"replica-{i}", T0, timedelta(minutes=1))
            uow.commit()
        if taken:
            with lock:
                winners.append(f"replica-{i}")

    run_threads(6, contend)
    assert len(winners) == 1
    with SqlUnitOfWork(factory) as uow:
        assert uow.leases.holder("mailbox", T0) == winners[0]


def test_lease_ttl_must_be_positive(factory: sessionmaker[Session]) -> None:
    with SqlUnitOfWork(factory) as uow, pytest.raises(ValueError):
        uow.leases.acquire("mailbox", "a", T0, timedelta(0))


# --- migrations ----------------------------------------------------------------------


def _schema_differences(url: str) -> list[Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection, warnings.catch_warnings():
            # SQLite cannot reflect expression indexes; _index_names checks them by name.
            warnings.filterwarnings("ignore", ".*expression-based index", category=Warning)
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences: list[Any] = list(compare_metadata(context, Base.metadata))
            inspector = inspect(connection)
            for table in Base.metadata.sorted_tables:
                wanted = {c.name for c in table.constraints if isinstance(c, CheckConstraint)}
                found = {c["name"] for c in inspector.get_check_constraints(table.name)}
                if wanted != found:
                    differences.append(("check constraints", table.name, wanted, found))
            return differences
    finally:
        engine.dispose()


def _index_names(url: str) -> set[str]:
    """Every index of the database by name, expression indexes included."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                query = "SELECT name FROM sqlite_master WHERE type = 'index'"
            else:
                query = "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
            return {name for (name,) in connection.exec_driver_sql(query)}
    finally:
        engine.dispose()


def test_upgrade_creates_the_schema_of_the_models(empty_url: str) -> None:
    assert current(empty_url) is None
    upgrade(empty_url)
    assert current(empty_url) == head()
    assert _schema_differences(empty_url) == []
    wanted = {index.name for table in Base.metadata.tables.values() for index in table.indexes}
    assert "ix_communications_sender_at" in wanted
    assert wanted <= _index_names(empty_url)
    upgrade(empty_url)  # already at head: nothing to do
    assert current(empty_url) == head()


def test_schema_comparison_notices_a_difference(empty_url: str) -> None:
    upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP INDEX ix_outbox_state_next_attempt_at"))
    finally:
        engine.dispose()
    assert _schema_differences(empty_url) != []


def test_downgrade_to_base_removes_every_table(empty_url: str) -> None:
    upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.connect() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
            connection.commit()
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    assert current(empty_url) is None


# --- engine --------------------------------------------------------------------------


def test_sqlite_engine_settings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new' / 'dir' / 'x.db'}")
    try:
        with engine.connect() as connection:
            pragma = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
    finally:
        engine.dispose()
    assert pragma == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30000}


def test_plain_postgresql_urls_use_psycopg() -> None:
    engine = make_engine("postgresql://postgres@127.0.0.1:1/none")
    try:
        assert engine.dialect.driver == "psycopg"
        assert engine.pool._pre_ping
    finally:
        engine.dispose()


def test_errors_are_classified_transient_or_permanent(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with SqlUnitOfWork(factory) as uow:
        try:
            uow.attachments.add(
                Attachment(inbound_message_id=999, sha256="1" * 64, size=1, content_type="a/b")
            )
            uow.session.flush()
        except IntegrityError as error:
            assert not is_transient(error)
        else:
            pytest.fail("foreign key not enforced")
    unreachable = make_engine("postgresql://postgres@127.0.0.1:1/none")
    try:
        with pytest.raises(Exception) as caught:
            unreachable.connect()
        assert is_transient(caught.value)
    finally:
        unreachable.dispose()
    missing_table = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with missing_table.connect() as connection, pytest.raises(Exception) as caught:
            connection.execute(text("SELECT * FROM nowhere"))
        assert not is_transient(caught.value)
    finally:
        missing_table.dispose()
