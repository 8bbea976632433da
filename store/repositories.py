"""One repository per aggregate, each over the unit of work's session.

Repositories add, find and change rows; they flush so new rows get their ids, but they
never commit or roll back: the unit of work decides. Methods that must be atomic across
processes (numbers, outbox claims, leases) are written for both SQLite and PostgreSQL.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    inspect,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.sql.selectable import TableValuedAlias

from store import lean
from store.errors import NotFoundError, UnsupportedDatabaseError
from store.models import (
    AcceptanceRecord,
    Attachment,
    Base,
    ClockItem,
    Communication,
    Direction,
    HeldSignoff,
    HeldState,
    InboundMessage,
    InboundState,
    Issue,
    IssueState,
    Lease,
    Meeting,
    MeetingAttendee,
    MeetingProposal,
    Minutes,
    MinutesConfirmation,
    OutboxMessage,
    OutboxState,
    Plan,
    PlanApproval,
    Request,
    Review,
    Signoff,
    Task,
)

_Row = TypeVar("_Row", bound=Base)


def _dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name


def _upsert_insert(session: Session, entity: type[Base]) -> Any:
    """The ``INSERT`` construct of the session's dialect, which knows ``ON CONFLICT``."""
    dialect = _dialect_name(session)
    if dialect == "postgresql":
        return postgresql.insert(entity)
    if dialect == "sqlite":
        return sqlite.insert(entity)
    raise UnsupportedDatabaseError(f"no upsert for database {dialect!r}")


def _json_array_elements(session: Session, column: Any) -> TableValuedAlias:
    """The text elements of a JSON array column, as a table with one ``value`` column."""
    name = _dialect_name(session)
    if name == "postgresql":
        return func.jsonb_array_elements_text(column).table_valued("value")
    if name == "sqlite":
        return func.json_each(column).table_valued("value")
    raise UnsupportedDatabaseError(f"no JSON array functions for database {name!r}")


# Statements on the intake path, built once: parameters are bound at execution, so
# each message pays for running them, not for building and cache-keying them again.

_BY_MESSAGE_ID: Final = (
    select(InboundMessage.id)
    .where(InboundMessage.message_id == bindparam("message_id"))
    .order_by(InboundMessage.id)
    .limit(1)
)


@functools.cache
def _duplicate_query(by_uid: bool, no_uidvalidity: bool, by_message_id: bool) -> Select[tuple[int]]:
    """What :meth:`InboundRepository.find_duplicate` runs: source identity first, then
    Message-ID, then content hash, each condition served by its own index, the order of
    preference in ``ORDER BY``."""
    ranked: list[tuple[ColumnElement[bool], int]] = []
    if by_uid:
        validity: ColumnElement[bool] = (
            InboundMessage.source_uidvalidity.is_(None)
            if no_uidvalidity
            else InboundMessage.source_uidvalidity == bindparam("uidvalidity")
        )
        identity = and_(
            InboundMessage.source == bindparam("source"),
            validity,
            InboundMessage.source_uid == bindparam("uid"),
        )
        ranked.append((identity, 0))
    if by_message_id:
        ranked.append((InboundMessage.message_id == bindparam("message_id"), 1))
    ranked.append((InboundMessage.content_sha256 == bindparam("sha256"), 2))
    return (
        select(InboundMessage.id)
        .where(or_(*(condition for condition, _ in ranked)))
        .order_by(case(*ranked, else_=3), InboundMessage.id)
        .limit(1)
    )


_RECEIVED_SINCE: Final = (
    select(func.count())
    .select_from(Communication)
    .where(
        Communication.direction == Direction.IN,
        func.lower(Communication.from_addr) == bindparam("sender"),
        Communication.at >= bindparam("since"),
    )
)


@functools.cache
def _columns(entity: type[Base]) -> tuple[Any, ...]:
    return tuple(c for c in entity.__table__.columns if c.key != "id")


@functools.cache
def _column_keys(entity: type[Base]) -> frozenset[str]:
    return frozenset(column.key for column in _columns(entity))


@functools.cache
def _update_by_id(entity: type[Base], keys: tuple[str, ...]) -> Any:
    """``UPDATE`` of the columns ``keys`` of one row, found by ``:row_id``."""
    table = cast(Table, entity.__table__)
    return (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({key: bindparam(key) for key in keys})
    )


@functools.cache
def _insert_returning_id(entity: type[Base]) -> Any:
    return insert(entity).returning(entity.__table__.c.id)


_OUTBOX_ENVELOPE: Final = (
    update(OutboxMessage)
    .where(OutboxMessage.id == bindparam("outbox_id"))
    .values(envelope_from=bindparam("envelope_from"))
)


#: ``allocate_number``'s statement: one upsert, the value held before back. Written as
#: text, the same on SQLite and PostgreSQL: SQLAlchemy 2.0 caches no compiled form of its
#: dialect ``ON CONFLICT`` constructs (``inherit_cache = False``), and compiling the
#: upsert for every request mail was a tenth of the intake's time.
_NEXT_NUMBER: Final = text(
    "INSERT INTO number_sequences (scope, next_value) VALUES (:scope, 2) "
    "ON CONFLICT (scope) DO UPDATE SET next_value = number_sequences.next_value + 1 "
    "RETURNING next_value - 1"
)


class _Repository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _add(self, row: _Row) -> _Row:
        """Add ``row`` and flush: it is inserted now and has its id."""
        self._session.add(row)
        self._session.flush()
        return row

    def _insert_now(self, row: Base) -> int:
        """Insert ``row`` at once with one ``INSERT ... RETURNING id`` on the connection
        and return its id; ``row`` itself stays out of the session.

        For rows written once and never changed in the transaction that writes them
        (the communication log, outbox mail, clocks): no unit-of-work flush is spent on
        them, and nothing else pending is written with them. Attributes never set are
        left to the column defaults, as a flush would."""
        entity = type(row)
        state = inspect(row).dict
        values = {
            column.key: state[column.key] for column in _columns(entity) if column.key in state
        }
        return self._insert_values(entity, values)

    def _insert_values(self, entity: type[Base], values: dict[str, Any]) -> int:
        """Insert a row of ``entity`` holding ``values`` (column keys; the others take
        their defaults) at once; its id."""
        unknown = values.keys() - _column_keys(entity)
        if unknown:
            raise TypeError(f"{entity.__name__} has no column {', '.join(sorted(unknown))}")
        row_id: int = self._run(_insert_returning_id(entity), values)
        return row_id

    def _run(self, statement: Any, params: dict[str, Any]) -> Any:
        """Run one of the fixed statements of the intake path on the session's
        connection, through :mod:`store.lean`; its integer result, if it has one."""
        return lean.run(self._session.connection(), statement, params)

    def _write_now(self, row: Base) -> None:
        """Write the changed columns of the persistent ``row`` now, with one ``UPDATE``
        through :mod:`store.lean`, and mark the row clean in the session, as a flush
        would, so that no flush writes or even visits it again.

        For the last change the intake makes to a message's row (its state, request
        and time processed): an ORM flush of that one update cost more than the
        statement itself. A change to anything but a column is left to the flush."""
        state = inspect(row)
        changed = tuple(sorted(state.committed_state))
        if not changed or not state.persistent:
            return
        entity = type(row)
        if not set(changed) <= set(_column_keys(entity)):
            self._session.flush()
            return
        values = {key: getattr(row, key) for key in changed}
        [row_id] = state.identity or (None,)
        self._run(_update_by_id(entity, changed), {**values, "row_id": row_id})
        # Clean, as a flush leaves it (SQLAlchemy's own step after a flush): otherwise
        # the next flush, before any query, would walk the unit of work over it again.
        state._commit_all(state.dict, self._session.identity_map)

    def _add_now(self, row: _Row) -> _Row:
        """Insert ``row`` at once (:meth:`_insert_now`) and make it persistent in the
        session without a flush of its own: later changes to it are written as updates.

        For the rows of the intake path (inbound message, request), which later stages
        of the same transaction change. What was pending before is flushed first, as a
        flush would order it."""
        self._session.flush()
        row.id = self._insert_now(row)  # type: ignore[attr-defined]
        make_transient_to_detached(row)
        self._session.add(row)
        return row

    def _get(self, entity: type[_Row], row_id: int) -> _Row:
        row = self._session.get(entity, row_id)
        if row is None:
            raise NotFoundError(f"no {entity.__tablename__} row with id {row_id}")
        return row

    def _all(self, statement: Select[tuple[_Row]]) -> builtins.list[_Row]:
        return builtins.list(self._session.scalars(statement))


class InboundRepository(_Repository):
    """Inbound messages: raw bytes, identity for de-duplication, processing outcome."""

    def add(self, message: InboundMessage) -> InboundMessage:
        """Inserted at once; ``message`` is persistent with its id."""
        return self._add_now(message)

    def get(self, message_id: int) -> InboundMessage:
        """The message with this row id; :class:`NotFoundError` if there is none."""
        return self._get(InboundMessage, message_id)

    def save(self, message: InboundMessage) -> None:
        """Write what changed on ``message`` now (one ``UPDATE`` of those columns),
        rather than with the next flush: the outcome an ingest records last."""
        self._write_now(message)

    def by_id(self, message_id: int) -> InboundMessage | None:
        return self._session.get(InboundMessage, message_id)

    def find_duplicate(
        self,
        source: str,
        uidvalidity: int | None,
        uid: str | None,
        message_id: str | None,
        sha256: str,
    ) -> InboundMessage | None:
        """The earliest stored message that this one repeats, or None.

        Looked up by source identity (source, UIDVALIDITY, UID) first, then by
        Message-ID, then by the SHA-256 of the raw bytes: one query, each condition
        served by its own index, the order of preference in ``ORDER BY``.
        """
        statement = _duplicate_query(uid is not None, uidvalidity is None, message_id is not None)
        params = {
            "source": source,
            "uidvalidity": uidvalidity,
            "uid": uid,
            "message_id": message_id,
            "sha256": sha256,
        }
        return self._first_of(statement, params)

    def stored_hashes(self, hashes: Collection[str]) -> set[str]:
        """Which of the SHA-256 content hashes ``hashes`` stored messages have."""
        if not hashes:
            return set()
        statement = select(InboundMessage.content_sha256).where(
            InboundMessage.content_sha256.in_(hashes)
        )
        return set(self._session.scalars(statement))

    def by_message_id(self, message_id: str) -> InboundMessage | None:
        """The earliest stored message with this Message-ID, or None."""
        return self._first_of(_BY_MESSAGE_ID, {"message_id": message_id})

    def _first_of(
        self, statement: Select[tuple[int]], params: dict[str, Any]
    ) -> InboundMessage | None:
        """The row whose id ``statement`` selects, if any. Every message is looked up
        before it is stored and almost none is found, so the lookup is a plain query
        (after the flush an ORM query would do) and only a hit loads the row."""
        self._session.flush()
        row_id = self._run(statement, params)
        return None if row_id is None else self._session.get(InboundMessage, row_id)

    def count_attempt(self, message_id: int, reason: str) -> int:
        """Record one failed attempt at processing the message; the new attempt count.

        Meant for a fresh transaction after the failed one rolled back: it updates in
        place without needing the message loaded.
        """
        statement = (
            update(InboundMessage)
            .where(InboundMessage.id == message_id)
            .values(attempts=InboundMessage.attempts + 1, reason=reason)
            .returning(InboundMessage.attempts)
            .execution_options(synchronize_session="fetch")
        )
        attempts = self._session.execute(statement).scalar_one_or_none()
        if attempts is None:
            raise NotFoundError(f"no inbound message with id {message_id}")
        return attempts

    def quarantine(self, message_id: int, reason: str) -> None:
        """Move the message to quarantine with the reason it could not be processed."""
        message = self.get(message_id)
        message.state = InboundState.QUARANTINED
        message.reason = reason
        self._session.flush()

    def quarantined(self) -> builtins.list[InboundMessage]:
        """Quarantined messages, oldest first."""
        return self.in_state(InboundState.QUARANTINED)

    def in_state(self, state: str) -> builtins.list[InboundMessage]:
        """Messages in ``state``, oldest first."""
        return self._all(
            select(InboundMessage)
            .where(InboundMessage.state == state)
            .order_by(InboundMessage.received_at, InboundMessage.id)
        )


class RequestRepository(_Repository):
    """Requests and their numbers."""

    def add(self, request: Request) -> Request:
        """Inserted at once; ``request`` is persistent with its id."""
        return self._add_now(request)

    def get(self, request_id: int) -> Request:
        return self._get(Request, request_id)

    def by_id(self, request_id: int) -> Request | None:
        return self._session.get(Request, request_id)

    def by_number(self, number: str) -> Request | None:
        return self._session.scalars(select(Request).where(Request.number == number)).first()

    def list(self, state: str | None = None) -> builtins.list[Request]:
        """Requests, oldest first; only those in ``state`` when it is given."""
        statement = select(Request).order_by(Request.created_at, Request.id)
        if state is not None:
            statement = statement.where(Request.state == state)
        return self._all(statement)

    def allocate_number(self, scope: str) -> int:
        """The next sequence value of ``scope`` (1, 2, ...), unique across processes.

        One statement: the scope's row is created holding 2 (1 is handed out), or its
        value is incremented (``ON CONFLICT DO UPDATE``), and the value it held comes
        back (``RETURNING``). The row stays locked until the transaction ends, so
        concurrent transactions queue behind each other (on SQLite the ``BEGIN
        IMMEDIATE`` of the engine does the same). A rolled-back transaction gives its
        value back. Run on the connection: nothing pending needs flushing for it.
        """
        value: int = self._run(_NEXT_NUMBER, {"scope": scope})
        return value


class IssueRepository(_Repository):
    """Problems raised by issue emails."""

    def add(self, issue: Issue) -> Issue:
        return self._add(issue)

    def get(self, issue_id: int) -> Issue:
        return self._get(Issue, issue_id)

    def by_id(self, issue_id: int) -> Issue | None:
        return self._session.get(Issue, issue_id)

    def for_request(self, request_id: int) -> builtins.list[Issue]:
        """The request's issues, oldest first."""
        return self._all(
            select(Issue).where(Issue.request_id == request_id).order_by(Issue.created_at, Issue.id)
        )

    def unresolved(self) -> builtins.list[Issue]:
        """Issues not yet resolved (open, meeting scheduled or escalated), oldest first."""
        return self._all(
            select(Issue)
            .where(Issue.state != IssueState.RESOLVED)
            .order_by(Issue.created_at, Issue.id)
        )


class ReviewRepository(_Repository):
    """The lead's review (复盘) of each delivered request."""

    def add(self, review: Review) -> Review:
        return self._add(review)

    def for_request(self, request_id: int) -> Review | None:
        return self._session.scalars(select(Review).where(Review.request_id == request_id)).first()


class AttachmentRepository(_Repository):
    """Attachment records; their bytes are in the blob store under ``sha256``."""

    def add(self, attachment: Attachment) -> Attachment:
        """Inserted at once, without a flush (a record is written once, never changed);
        returns ``attachment`` with its id, outside the session."""
        attachment.id = self._insert_now(attachment)
        return attachment

    def for_message(self, inbound_message_id: int) -> builtins.list[Attachment]:
        """The attachments of one inbound message, in the order they were added."""
        return self._all(
            select(Attachment)
            .where(Attachment.inbound_message_id == inbound_message_id)
            .order_by(Attachment.id)
        )

    def by_sha256(self, sha256: str) -> builtins.list[Attachment]:
        """Every attachment record with these bytes."""
        return self._all(
            select(Attachment).where(Attachment.sha256 == sha256).order_by(Attachment.id)
        )


class CommunicationRepository(_Repository):
    """The communication log of requests."""

    def add(self, communication: Communication) -> Communication:
        """Inserted at once, without a flush (the log is append-only); returns
        ``communication`` with its id, outside the session."""
        communication.id = self._insert_now(communication)
        return communication

    def record(self, **values: Any) -> int:
        """Insert one entry from its column values (the keywords of
        :class:`Communication`), at once; its id. For the entries every message
        writes: no ORM object is built for a row that is never changed."""
        return self._insert_values(Communication, values)

    def for_request(self, request_id: int) -> builtins.list[Communication]:
        """The request's log in time order."""
        return self._all(
            select(Communication)
            .where(Communication.request_id == request_id)
            .order_by(Communication.at, Communication.id)
        )

    def for_outbox(self, outbox_id: int) -> builtins.list[Communication]:
        return self._all(select(Communication).where(Communication.outbox_id == outbox_id))

    def count_received_since(self, sender: str, since: datetime) -> int:
        """How many inbound messages from ``sender`` (any case) were recorded since ``since``."""
        count: int = self._run(_RECEIVED_SINCE, {"sender": sender.lower(), "since": since})
        return count

    def count_about_since(self, kind: str, summary: str, since: datetime) -> int:
        """Outbound mails of ``kind`` whose summary is ``summary`` since ``since`` (e.g. one
        bounce notice per bounced message)."""
        return self._session.execute(
            select(func.count())
            .select_from(Communication)
            .where(
                Communication.direction == Direction.OUT,
                Communication.kind == kind,
                Communication.summary == summary,
                Communication.at >= since,
            )
        ).scalar_one()

    def count_sent_since(self, kind: str, recipient: str, since: datetime) -> int:
        """How many outbound mails of ``kind`` went to ``recipient`` at or after ``since``.

        The address is compared without regard to case; it may be any of the mail's
        recipients. Used for rate limits such as "answer an unknown reply once a day".
        """
        addresses = _json_array_elements(self._session, Communication.to_addrs)
        addressed = (
            select(literal(1))
            .select_from(addresses)
            .where(func.lower(addresses.c.value) == recipient.lower())
            .exists()
        )
        return self._session.execute(
            select(func.count())
            .select_from(Communication)
            .where(
                Communication.direction == Direction.OUT,
                Communication.kind == kind,
                Communication.at >= since,
                addressed,
            )
        ).scalar_one()


class OutboxRepository(_Repository):
    """Outbound mail, written in the transaction that decided to send it."""

    def add(self, message: OutboxMessage) -> OutboxMessage:
        return self._add(message)

    def insert(self, **values: Any) -> int:
        """Insert one mail from its column values (the keywords of
        :class:`OutboxMessage`) at once, with one ``INSERT ... RETURNING``, and return
        its id.

        What a freshly composed mail needs (its id names it in the communication log and
        in its VERP envelope) without an ORM flush or an ORM object: nothing else
        pending is written with it.
        """
        return self._insert_values(OutboxMessage, values)

    def set_envelope_from(self, outbox_id: int, envelope_from: str) -> None:
        self._run(_OUTBOX_ENVELOPE, {"outbox_id": outbox_id, "envelope_from": envelope_from})

    def get(self, outbox_id: int) -> OutboxMessage:
        return self._get(OutboxMessage, outbox_id)

    def by_id(self, outbox_id: int) -> OutboxMessage | None:
        return self._session.get(OutboxMessage, outbox_id)

    def by_message_id(self, message_id: str) -> OutboxMessage | None:
        """The outbound mail with this Message-ID (what a reply answers)."""
        return self._session.scalars(
            select(OutboxMessage).where(OutboxMessage.message_id == message_id)
        ).first()

    def by_token_hash(self, token_hash: str) -> OutboxMessage | None:
        """The outbound mail whose per-recipient reply token hashes to ``token_hash``."""
        return self._session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.token_hash == token_hash)
            .order_by(OutboxMessage.id)
        ).first()

    def claim_due(self, now: datetime, limit: int) -> builtins.list[OutboxMessage]:
        """Up to ``limit`` pending mails due at ``now``, earliest first, locked for this
        transaction.

        On PostgreSQL the rows are taken with ``FOR UPDATE SKIP LOCKED``, so concurrent
        senders get disjoint rows; on SQLite the engine's ``BEGIN IMMEDIATE`` already
        makes this transaction the only writer.

        Nothing is changed here: the caller counts the attempt (``attempts += 1``) as it
        starts one. To send outside this transaction, also move ``next_attempt_at`` a
        little ahead (a claim lease) and commit; then ``mark_*`` the row by id later.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        statement = (
            select(OutboxMessage)
            .where(
                OutboxMessage.state == OutboxState.PENDING,
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
            .execution_options(populate_existing=True)
        )
        if _dialect_name(self._session) == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        return self._all(statement)

    def mark_sent(self, message: OutboxMessage | int, sent_at: datetime) -> None:
        """The server accepted the mail (given as a row or its id)."""
        row = self._row(message)
        row.state = OutboxState.SENT
        row.sent_at = sent_at
        row.last_error = None
        self._session.flush()

    def mark_retry(
        self, message: OutboxMessage | int, next_attempt_at: datetime, error: str
    ) -> None:
        """A temporary failure: try again at ``next_attempt_at``."""
        row = self._row(message)
        row.next_attempt_at = next_attempt_at
        row.last_error = error
        self._session.flush()

    def mark_failed(self, message: OutboxMessage | int, error: str) -> None:
        """A permanent failure: the mail will not be sent."""
        row = self._row(message)
        row.state = OutboxState.FAILED
        row.last_error = error
        self._session.flush()

    def _row(self, message: OutboxMessage | int) -> OutboxMessage:
        return message if isinstance(message, OutboxMessage) else self.get(message)

    def pending_count(self) -> int:
        """How many mails are waiting to be sent, due or not."""
        return self._session.execute(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.state == OutboxState.PENDING)
        ).scalar_one()

    def in_state(self, state: str) -> builtins.list[OutboxMessage]:
        """Outbound mails in ``state``, oldest first."""
        return self._all(
            select(OutboxMessage)
            .where(OutboxMessage.state == state)
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
        )


class LeaseRepository(_Repository):
    """Named leases: at most one holder at a time, until the lease expires."""

    def acquire(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take or renew the lease ``name`` for ``holder`` until ``now + ttl``.

        True when ``holder`` holds it afterwards: it was free, expired at ``now``, or
        already held by ``holder`` (then it is renewed). One ``INSERT ... ON CONFLICT DO
        UPDATE ... WHERE`` statement, atomic on both backends.
        """
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        insert = _upsert_insert(self._session, Lease)
        statement = (
            insert.values(name=name, holder=holder, expires_at=now + ttl)
            .on_conflict_do_update(
                index_elements=[Lease.name],
                set_={"holder": insert.excluded.holder, "expires_at": insert.excluded.expires_at},
                where=or_(Lease.holder == holder, Lease.expires_at <= now),
            )
            .returning(Lease.holder)
        )
        taken = self._session.execute(statement).first() is not None
        self._forget(name)
        return taken

    def release(self, name: str, holder: str) -> bool:
        """Give the lease up; True if ``holder`` held it."""
        statement = (
            delete(Lease)
            .where(Lease.name == name, Lease.holder == holder)
            .returning(Lease.name)
            .execution_options(synchronize_session=False)
        )
        released = self._session.execute(statement).first() is not None
        self._forget(name)
        return released

    def holder(self, name: str, now: datetime) -> str | None:
        """Who holds the lease at ``now``, if anyone."""
        return self._session.execute(
            select(Lease.holder).where(Lease.name == name, Lease.expires_at > now)
        ).scalar_one_or_none()

    def _forget(self, name: str) -> None:
        # The statements above bypass the identity map; drop any stale copy of the row.
        loaded = self._session.identity_map.get(Session.identity_key(Lease, name))
        if loaded is not None:
            self._session.expire(loaded)


__all__: Sequence[str] = (
    "AttachmentRepository",
    "CommunicationRepository",
    "InboundRepository",
    "IssueRepository",
    "LeaseRepository",
    "OutboxRepository",
    "RequestRepository",
    "ReviewRepository",
)


class SignoffRepository(_Repository):
    """Sign-offs that changed state, and replies held for the office's review."""

    def add(self, signoff: Signoff) -> Signoff:
        return self._add(signoff)

    def for_outbox(self, outbox_id: int, action: str | None = None) -> Signoff | None:
        """The sign-off already given in answer to this mail (with this action), if any:
        replays find it."""
        query = select(Signoff).where(Signoff.outbox_id == outbox_id)
        if action is not None:
            query = query.where(Signoff.action == action)
        return self._session.scalars(query).first()

    def for_request(self, request_id: int) -> builtins.list[Signoff]:
        return self._all(
            select(Signoff).where(Signoff.request_id == request_id).order_by(Signoff.at, Signoff.id)
        )

    def hold(self, held: HeldSignoff) -> HeldSignoff:
        return self._add(held)

    def held(self, held_id: int) -> HeldSignoff | None:
        return self._session.get(HeldSignoff, held_id)

    def pending_review(self) -> builtins.list[HeldSignoff]:
        return self._all(
            select(HeldSignoff)
            .where(HeldSignoff.state == HeldState.PENDING)
            .order_by(HeldSignoff.created_at, HeldSignoff.id)
        )


class MeetingRepository(_Repository):
    """Meetings with their attendees and proposed new times."""

    def add(self, meeting: Meeting) -> Meeting:
        return self._add(meeting)

    def get(self, meeting_id: int) -> Meeting:
        return self._get(Meeting, meeting_id)

    def by_id(self, meeting_id: int) -> Meeting | None:
        return self._session.get(Meeting, meeting_id)

    def by_uid(self, uid: str) -> Meeting | None:
        return self._session.scalars(select(Meeting).where(Meeting.uid == uid)).first()

    def for_request(self, request_id: int) -> builtins.list[Meeting]:
        return self._all(
            select(Meeting)
            .where(Meeting.request_id == request_id)
            .order_by(Meeting.start, Meeting.id)
        )

    def add_attendee(self, attendee: MeetingAttendee) -> MeetingAttendee:
        return self._add(attendee)

    def attendees(self, meeting_id: int) -> builtins.list[MeetingAttendee]:
        return self._all(
            select(MeetingAttendee)
            .where(MeetingAttendee.meeting_id == meeting_id)
            .order_by(MeetingAttendee.id)
        )

    def attendee(self, meeting_id: int, email: str) -> MeetingAttendee | None:
        return self._session.scalars(
            select(MeetingAttendee).where(
                MeetingAttendee.meeting_id == meeting_id,
                func.lower(MeetingAttendee.email) == email.lower(),
            )
        ).first()

    def upcoming_unreminded(self, now: datetime) -> builtins.list[Meeting]:
        """Confirmed meetings still ahead whose attendees were not reminded yet."""
        return self._all(
            select(Meeting)
            .where(
                Meeting.status == "CONFIRMED", Meeting.start > now, Meeting.reminded_at.is_(None)
            )
            .order_by(Meeting.start)
        )

    def propose(self, proposal: MeetingProposal) -> MeetingProposal:
        return self._add(proposal)

    def proposal(self, proposal_id: int) -> MeetingProposal | None:
        return self._session.get(MeetingProposal, proposal_id)

    def pending_proposals(self, meeting_id: int) -> builtins.list[MeetingProposal]:
        return self._all(
            select(MeetingProposal)
            .where(MeetingProposal.meeting_id == meeting_id, MeetingProposal.state == "pending")
            .order_by(MeetingProposal.id)
        )


class MinutesRepository(_Repository):
    """Versions of the minutes, their confirmations, and the tasks they create."""

    def add(self, minutes: Minutes) -> Minutes:
        return self._add(minutes)

    def get(self, minutes_id: int) -> Minutes:
        return self._get(Minutes, minutes_id)

    def for_request(self, request_id: int) -> builtins.list[Minutes]:
        return self._all(
            select(Minutes).where(Minutes.request_id == request_id).order_by(Minutes.version)
        )

    def add_confirmation(self, confirmation: MinutesConfirmation) -> MinutesConfirmation:
        return self._add(confirmation)

    def confirmations(self, minutes_id: int) -> builtins.list[MinutesConfirmation]:
        return self._all(
            select(MinutesConfirmation)
            .where(MinutesConfirmation.minutes_id == minutes_id)
            .order_by(MinutesConfirmation.id)
        )

    def add_task(self, task: Task) -> Task:
        return self._add(task)

    def tasks_of_request(self, request_id: int) -> builtins.list[Task]:
        return self._all(select(Task).where(Task.request_id == request_id).order_by(Task.ref))

    def tasks_of_minutes(self, minutes_id: int) -> builtins.list[Task]:
        return self._all(select(Task).where(Task.minutes_id == minutes_id).order_by(Task.ref))

    def task(self, request_id: int, ref: str) -> Task | None:
        return self._session.scalars(
            select(Task).where(Task.request_id == request_id, Task.ref == ref)
        ).first()

    def delete_task(self, task: Task) -> None:
        self._session.delete(task)


class ClockRepository(_Repository):
    """Running service levels; the sweep reads only the rows that are due."""

    def add(self, clock: ClockItem) -> ClockItem:
        """Inserted at once, without a flush; returns ``clock`` with its id, outside the
        session (the sweep and ``open_for`` load the row when it is to change)."""
        clock.id = self._insert_now(clock)
        return clock

    def record(self, **values: Any) -> int:
        """Insert a clock from its column values (the keywords of :class:`ClockItem`)
        at once, without building an ORM object for it; its id."""
        return self._insert_values(ClockItem, values)

    def due(self, now: datetime, limit: int = 1000) -> builtins.list[ClockItem]:
        return self._all(
            select(ClockItem)
            .where(ClockItem.state == "open", ClockItem.next_at <= now)
            .order_by(ClockItem.next_at, ClockItem.id)
            .limit(limit)
        )

    def open_for(
        self, request_id: int, name: str, subject: str | None = None, awaited: str | None = None
    ) -> builtins.list[ClockItem]:
        query = select(ClockItem).where(
            ClockItem.request_id == request_id, ClockItem.name == name, ClockItem.state == "open"
        )
        if subject is not None:
            query = query.where(ClockItem.subject == subject)
        if awaited is not None:
            query = query.where(func.lower(ClockItem.awaited) == awaited.lower())
        return self._all(query.order_by(ClockItem.id))

    def next_for_request(self, request_id: int) -> ClockItem | None:
        return self._session.scalars(
            select(ClockItem)
            .where(ClockItem.request_id == request_id, ClockItem.state == "open")
            .order_by(ClockItem.due_at)
        ).first()


class PlanRepository(_Repository):
    """Plans sent for a request (department plans, consolidated plan versions) and each
    approver's step on a consolidated version."""

    def add(self, plan: Plan) -> Plan:
        return self._add(plan)

    def get(self, plan_id: int) -> Plan:
        return self._get(Plan, plan_id)

    def for_request(self, request_id: int, kind: str | None = None) -> builtins.list[Plan]:
        """The request's plans (of ``kind`` when given), oldest first."""
        query = select(Plan).where(Plan.request_id == request_id)
        if kind is not None:
            query = query.where(Plan.kind == kind)
        return self._all(query.order_by(Plan.created_at, Plan.id))

    def add_approval(self, approval: PlanApproval) -> PlanApproval:
        return self._add(approval)

    def approval(self, approval_id: int) -> PlanApproval | None:
        return self._session.get(PlanApproval, approval_id)

    def approvals(self, plan_id: int) -> builtins.list[PlanApproval]:
        """The steps of one version, in the order the approvers are asked."""
        return self._all(
            select(PlanApproval)
            .where(PlanApproval.plan_id == plan_id)
            .order_by(PlanApproval.position)
        )


class AcceptanceRepository(_Repository):
    """Acceptance records of the explicit acceptance form (成果验收表)."""

    def add(self, record: AcceptanceRecord) -> AcceptanceRecord:
        return self._add(record)

    def for_request(self, request_id: int) -> builtins.list[AcceptanceRecord]:
        """The request's records in the order the deliverables were submitted."""
        return self._all(
            select(AcceptanceRecord)
            .where(AcceptanceRecord.request_id == request_id)
            .order_by(AcceptanceRecord.submitted_at, AcceptanceRecord.id)
        )

    def pending_for_task(self, task_id: int) -> AcceptanceRecord | None:
        """The task's latest submission still waiting for a decision, if any."""
        return self._session.scalars(
            select(AcceptanceRecord)
            .where(AcceptanceRecord.task_id == task_id, AcceptanceRecord.result == "pending")
            .order_by(AcceptanceRecord.id.desc())
        ).first()
