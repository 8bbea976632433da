"""``store.lean``: the intake's fixed statements run on the DBAPI cursor, on SQLite and
PostgreSQL, must write and answer exactly what ``Connection.execute`` does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, event, insert, select, update
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from store import lean
from store.engine import make_session_factory
from store.errors import NaiveDatetimeError
from store.models import Communication, InboundMessage, NumberSequence, OutboxMessage, Request
from store.uow import SqlUnitOfWork

T0 = datetime(2026, 3, 16, 9, 0, 0, 123456, tzinfo=UTC)
CST = timezone(timedelta(hours=8), "CST")

# ``engine`` (each backend, migrated) comes from tests/servers/postgres.py.


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def _columns(session: Session, entity: Any, row_id: int) -> dict[str, Any]:
    """Every column of one row as stored, read back through the ORM."""
    row = session.execute(select(entity.__table__).where(entity.__table__.c.id == row_id)).one()
    values = dict(row._mapping)
    del values["id"]
    return values


COMMUNICATION = {
    "request_id": None,
    "at": T0.astimezone(CST),
    "direction": "out",
    "from_addr": "coord@example.com",
    "to_addrs": ["张三 <zhang@example.com>", "li@example.com"],
    "subject": "【需求受理】XT-2026-0001 跨部门协调",
    "kind": "requester/ack",
    "summary": None,
}


def test_an_insert_writes_what_connection_execute_writes(factory: sessionmaker[Session]) -> None:
    statement = insert(Communication).returning(Communication.id)
    with SqlUnitOfWork(factory) as uow:
        connection = uow.session.connection()
        lean_id = lean.run(connection, statement, COMMUNICATION)
        usual_id = connection.execute(statement, COMMUNICATION).scalar_one()
        assert isinstance(lean_id, int)
        assert lean_id != usual_id
        written = _columns(uow.session, Communication, lean_id)
        assert written == _columns(uow.session, Communication, usual_id)
        # The aware instant comes back in UTC; the JSON list as a list.
        assert written["at"] == T0 and written["at"].tzinfo == UTC
        assert written["to_addrs"] == COMMUNICATION["to_addrs"]
        uow.commit()


def test_python_side_defaults_are_applied(factory: sessionmaker[Session]) -> None:
    """``attempts`` (a constant) and ``state`` default in the model, not in the table;
    ``receiving_departments`` defaults to ``list()``, a function called per row."""
    given = {
        "source": "file:/x",
        "content_sha256": "ab" * 32,
        "raw": b"Subject: x\r\n\r\nbody\r\n",
        "size": 19,
        "received_at": T0,
    }
    with SqlUnitOfWork(factory) as uow:
        connection = uow.session.connection()
        row_id = lean.run(connection, insert(InboundMessage).returning(InboundMessage.id), given)
        stored = uow.session.get(InboundMessage, row_id)
        assert stored is not None
        assert (stored.state, stored.attempts, stored.raw) == ("received", 0, given["raw"])
        request = {
            "number": "XT-2026-0001",
            "state": "registered",
            "profile": "cross-department",
            "title": "跨部门协调",
            "requesting_department": "财务部",
            "background": "",
            "urgency": "normal",
            "requester_email": "zhang@example.com",
            "created_at": T0,
            "updated_at": T0,
            "inbound_message_id": row_id,
        }
        statement = insert(Request).returning(Request.id)
        first = lean.run(connection, statement, request)
        second = lean.run(connection, statement, {**request, "number": "XT-2026-0002"})
        rows = [uow.session.get(Request, i) for i in (first, second)]
        assert [(r.revision, r.receiving_departments, r.language) for r in rows if r] == [
            (1, [], "zh"),
            (1, [], "zh"),
        ]


def test_a_select_gives_its_first_column_or_none(factory: sessionmaker[Session]) -> None:
    statement = (
        select(NumberSequence.next_value).where(NumberSequence.scope == bindparam("scope")).limit(1)
    )
    with SqlUnitOfWork(factory) as uow:
        connection = uow.session.connection()
        assert lean.run(connection, statement, {"scope": "XT-2026"}) is None
        uow.session.add(NumberSequence(scope="XT-2026", next_value=7))
        uow.session.flush()
        assert lean.run(connection, statement, {"scope": "XT-2026"}) == 7


def test_an_update_without_rows_returns_none(factory: sessionmaker[Session]) -> None:
    statement = (
        update(OutboxMessage)
        .where(OutboxMessage.id == bindparam("row_id"))
        .values(envelope_from=bindparam("envelope_from"))
    )
    with SqlUnitOfWork(factory) as uow:
        connection = uow.session.connection()
        assert lean.run(connection, statement, {"row_id": 1, "envelope_from": "a@b"}) is None


def test_a_constraint_violation_is_sqlalchemys_integrity_error(
    factory: sessionmaker[Session],
) -> None:
    statement = insert(NumberSequence)
    with SqlUnitOfWork(factory) as uow:
        connection = uow.session.connection()
        lean.run(connection, statement, {"scope": "XT-2026", "next_value": 2})
        with pytest.raises(IntegrityError) as caught:
            lean.run(connection, statement, {"scope": "XT-2026", "next_value": 3})
        assert "number_sequences" in str(caught.value)


def test_a_refused_value_is_a_statement_error_with_the_cause(
    factory: sessionmaker[Session],
) -> None:
    naive = {**COMMUNICATION, "at": datetime(2026, 3, 16, 9, 0)}
    with SqlUnitOfWork(factory) as uow:
        connection = uow.session.connection()
        with pytest.raises(StatementError) as caught:
            lean.run(connection, insert(Communication), naive)
        assert isinstance(caught.value.orig, NaiveDatetimeError)


def test_statements_it_cannot_run_are_refused_when_prepared(engine: Engine) -> None:
    expanding = select(Communication.id).where(
        Communication.id.in_(bindparam("ids", expanding=True))
    )
    with pytest.raises(lean.UnsupportedStatementError, match="expanding"):
        lean.prepare(expanding, engine.dialect, ("ids",))
    required = select(Communication.id).where(Communication.kind == bindparam("kind"))
    with pytest.raises(lean.UnsupportedStatementError, match="no value for parameter 'kind'"):
        lean.prepare(required, engine.dialect, ())


def test_each_statement_is_compiled_once_per_dialect_and_names(engine: Engine) -> None:
    statement = insert(Communication)
    first = lean.prepared(statement, engine.dialect, ("direction", "at"))
    assert lean.prepared(statement, engine.dialect, ("direction", "at")) is first
    assert lean.prepared(statement, engine.dialect, ("direction",)) is not first


def test_save_writes_the_changes_at_once_and_the_flush_writes_nothing(
    factory: sessionmaker[Session], engine: Engine
) -> None:
    updates: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _record(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        if statement.startswith("UPDATE"):
            updates.append(statement)

    with SqlUnitOfWork(factory) as uow:
        row = uow.inbound.add(
            InboundMessage(
                source="file:/x", content_sha256="cd" * 32, raw=b"x", size=1, received_at=T0
            )
        )
        row.state = "processed"
        row.processed_at = T0 + timedelta(seconds=1)
        uow.inbound.save(row)
        # Written already: a plain connection in the same transaction sees it.
        stored = _columns(uow.session, InboundMessage, row.id)
        assert (stored["state"], stored["processed_at"]) == ("processed", row.processed_at)
        assert row not in uow.session.dirty  # clean, as after a flush
        uow.session.flush()
        assert updates == []  # the lean update does not pass the engine's events
        uow.commit()
    with SqlUnitOfWork(factory) as uow:
        again = uow.inbound.get(row.id)
        assert (again.state, again.processed_at) == ("processed", T0 + timedelta(seconds=1))


def test_rows_written_from_values_refuse_unknown_columns(factory: sessionmaker[Session]) -> None:
    """``record`` and ``insert`` take column keywords, as the model's constructor does,
    and refuse a misspelt one before anything is written."""
    with SqlUnitOfWork(factory) as uow:
        with pytest.raises(TypeError, match="Communication has no column subjct"):
            uow.communications.record(**{**COMMUNICATION, "subjct": "x"})
        row_id = uow.communications.record(**COMMUNICATION)
        assert _columns(uow.session, Communication, row_id)["to_addrs"] == COMMUNICATION["to_addrs"]
        with pytest.raises(TypeError, match="OutboxMessage has no column recipient, sent"):
            uow.outbox.insert(recipient=["a@example.com"], sent=True)
        assert len(uow.session.scalars(select(OutboxMessage)).all()) == 0
