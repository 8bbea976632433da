"""The unit of work: one transaction, with every repository over the same session.

    uow = SqlUnitOfWork(make_session_factory(make_engine(url)))
    with uow:
        number = uow.requests.allocate_number("XT-2026")
        ...
        uow.commit()

Leaving the block without ``commit()`` rolls everything back. The same object can be
entered again afterwards for the next transaction (each time with a new session), but
not while it is already in use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from sqlalchemy.orm import Session

from store.engine import make_session_factory
from store.execution import ExecutionRepository
from store.repositories import (
    AcceptanceRepository,
    AttachmentRepository,
    ClockRepository,
    CommunicationRepository,
    InboundRepository,
    IssueRepository,
    LeaseRepository,
    MeetingRepository,
    MinutesRepository,
    OutboxRepository,
    PlanRepository,
    RequestRepository,
    ReviewRepository,
    SignoffRepository,
)

__all__ = ["SqlUnitOfWork", "make_session_factory"]


@dataclass(frozen=True)
class _Open:
    session: Session
    inbound: InboundRepository
    requests: RequestRepository
    issues: IssueRepository
    attachments: AttachmentRepository
    communications: CommunicationRepository
    outbox: OutboxRepository
    leases: LeaseRepository
    signoffs: SignoffRepository
    meetings: MeetingRepository
    minutes: MinutesRepository
    clocks: ClockRepository
    execution: ExecutionRepository
    plans: PlanRepository
    acceptances: AcceptanceRepository
    reviews: ReviewRepository


class SqlUnitOfWork:
    """A transaction over a SQLAlchemy session from ``session_factory``."""

    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self._session_factory = session_factory
        self._open: _Open | None = None

    def __enter__(self) -> Self:
        if self._open is not None:
            raise RuntimeError("unit of work is already in use")
        session = self._session_factory()
        self._open = _Open(
            session=session,
            inbound=InboundRepository(session),
            requests=RequestRepository(session),
            issues=IssueRepository(session),
            attachments=AttachmentRepository(session),
            communications=CommunicationRepository(session),
            outbox=OutboxRepository(session),
            leases=LeaseRepository(session),
            signoffs=SignoffRepository(session),
            meetings=MeetingRepository(session),
            minutes=MinutesRepository(session),
            clocks=ClockRepository(session),
            execution=ExecutionRepository(session),
            plans=PlanRepository(session),
            acceptances=AcceptanceRepository(session),
            reviews=ReviewRepository(session),
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        opened, self._open = self._open, None
        if opened is None:
            return
        try:
            opened.session.rollback()
        finally:
            opened.session.close()

    def commit(self) -> None:
        """Make everything done in this block permanent."""
        self._active().session.commit()

    def rollback(self) -> None:
        """Undo everything since the last commit; the block may carry on."""
        self._active().session.rollback()

    def _active(self) -> _Open:
        if self._open is None:
            raise RuntimeError("unit of work used outside its with block")
        return self._open

    @property
    def session(self) -> Session:
        """The session, for the rare query no repository offers."""
        return self._active().session

    @property
    def inbound(self) -> InboundRepository:
        return self._active().inbound

    @property
    def requests(self) -> RequestRepository:
        return self._active().requests

    @property
    def issues(self) -> IssueRepository:
        return self._active().issues

    @property
    def attachments(self) -> AttachmentRepository:
        return self._active().attachments

    @property
    def communications(self) -> CommunicationRepository:
        return self._active().communications

    @property
    def outbox(self) -> OutboxRepository:
        return self._active().outbox

    @property
    def leases(self) -> LeaseRepository:
        return self._active().leases

    @property
    def signoffs(self) -> SignoffRepository:
        return self._active().signoffs

    @property
    def meetings(self) -> MeetingRepository:
        return self._active().meetings

    @property
    def minutes(self) -> MinutesRepository:
        return self._active().minutes

    @property
    def clocks(self) -> ClockRepository:
        return self._active().clocks

    @property
    def execution(self) -> ExecutionRepository:
        return self._active().execution

    @property
    def reviews(self) -> ReviewRepository:
        return self._active().reviews

    @property
    def plans(self) -> PlanRepository:
        return self._active().plans

    @property
    def acceptances(self) -> AcceptanceRepository:
        return self._active().acceptances
