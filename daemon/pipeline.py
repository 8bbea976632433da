"""One inbound message, one transaction: the handler every mailbox adapter calls.

Mailman's runner discipline: the message's effects are committed or rolled back as
one; a failure is counted in a fresh transaction, and after the limit the message is
quarantined with its reason so the service carries on. The source (IMAP, listener) is
told the outcome and acknowledges the message only after the commit.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence, Set
from datetime import datetime
from typing import NamedTuple, Protocol, runtime_checkable

from sqlalchemy.orm import Session, sessionmaker

from daemon.faults import crash_point
from daemon.inbound import Arrival, Outcome
from daemon.isolation import ParserUnavailableError, PendingParse
from mail_parsers.message import parse_message
from mail_parsers.model import ParsedMessage, ParseOptions
from store.blobs import BlobStore
from store.uow import SqlUnitOfWork
from workflow.clock import Clock
from workflow.config import WorkflowConfig
from workflow.errors import RejectedInputError
from workflow.intake import InboundMail, IngestResult, content_hash, ingest, record_failure

log = logging.getLogger("liaison.pipeline")


#: Messages :meth:`Pipeline.handle_batch` callers commit together (``liaison process``).
BATCH_SIZE = 100


class Handled(NamedTuple):
    """What became of one message: what its source is told and, unless it failed, the
    result of its ingest."""

    outcome: Outcome
    result: IngestResult | None = None


_Parse = Callable[[bytes, ParseOptions], ParsedMessage]


@runtime_checkable
class BeginsParses(Protocol):
    """A parser that can begin a parse and answer later (:class:`IsolatedParser`)."""

    def __call__(self, raw: bytes, options: ParseOptions | None = None) -> ParsedMessage: ...

    def begin(self, raw: bytes, options: ParseOptions | None = None) -> PendingParse: ...


class _ParseAhead:
    """The parses of one batch, each begun while the message before it is ingested.

    With a parser whose worker is another process (:class:`IsolatedParser`), the worker
    parses the next message on the second core while this process ingests the current
    one: of the parse, this process pays only for handing the bytes over and unpickling
    the answer. Messages stored already (``known``: by content, as the duplicate lookup
    finds them) are not parsed ahead, so a message quarantined before is not parsed
    again. With any other parser, each message is parsed when ingest asks, as before.

    At most one parse is ahead, holding one worker; before a different one is begun it is
    answered (kept for when its message is ingested) or, if its message is past, dropped.
    """

    def __init__(self, parse: _Parse, raws: Sequence[bytes], known: Set[int]) -> None:
        self._parse = parse
        self._raws = raws
        self._known = known
        self._begins = parse if isinstance(parse, BeginsParses) else None
        self._pending: tuple[int, PendingParse] | None = None
        self._answered: dict[int, Callable[[], ParsedMessage]] = {}

    def parser_for(self, index: int) -> _Parse:
        """What ingest calls to parse message ``index``."""
        if self._begins is None:
            return self._parse
        return functools.partial(self._parsed, index)

    def _parsed(self, index: int, raw: bytes, options: ParseOptions) -> ParsedMessage:
        assert self._begins is not None
        answer = self._answer_of(index, raw, options)
        try:
            return answer()
        finally:
            following = next(
                (
                    i
                    for i in range(index + 1, len(self._raws))
                    if i not in self._known and i not in self._answered
                ),
                None,
            )
            if following is not None and self._pending is None:
                self._pending = (following, self._begins.begin(self._raws[following], options))

    def _answer_of(
        self, index: int, raw: bytes, options: ParseOptions
    ) -> Callable[[], ParsedMessage]:
        assert self._begins is not None
        if index in self._answered and raw is self._raws[index]:
            return self._answered.pop(index)
        if self._pending is not None:
            ahead, pending = self._pending
            if ahead == index and raw is self._raws[index]:
                self._pending = None
                return pending.result
            self._settle(keep=ahead > index)
        return self._begins.begin(raw, options).result

    def _settle(self, *, keep: bool) -> None:
        """Free the worker of the parse ahead; with ``keep``, its answer is kept for when
        its message comes, otherwise (its message is past) dropped."""
        assert self._pending is not None
        ahead, pending = self._pending
        self._pending = None
        if not keep:
            pending.discard()
            return
        try:
            parsed = pending.result()
        except (RejectedInputError, ParserUnavailableError) as error:
            refused = error

            def answer() -> ParsedMessage:
                raise refused

            self._answered[ahead] = answer
        else:
            self._answered[ahead] = lambda: parsed

    def __enter__(self) -> _ParseAhead:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pending is not None:
            _, pending = self._pending
            self._pending = None
            pending.discard()


class Pipeline:
    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        config: WorkflowConfig,
        blobs: BlobStore,
        clock: Clock,
        on_queued: Callable[[], None] = lambda: None,
        parse: _Parse = parse_message,
    ) -> None:
        self._sf = session_factory
        self._config = config
        self._blobs = blobs
        self._clock = clock
        self._on_queued = on_queued
        self._parse = parse
        self._lock = threading.Lock()
        #: The last results, for the demo and for tests that inspect what happened.
        self.results: list[IngestResult] = []

    def handle(self, arrival: Arrival) -> Outcome:
        """Ingest one message in a transaction of its own; what its source is told."""
        return self._handle(arrival).outcome

    def _handle(self, arrival: Arrival) -> Handled:
        mail = self._mail(arrival)
        try:
            result = self.ingest(mail)
        except ParserUnavailableError as exc:
            # The parser workers are stopping or cannot start: not this message's fault.
            log.warning("parser unavailable for %s (%s); will retry", arrival.ref, exc)
            return Handled(Outcome.RETRY)
        except Exception as exc:  # noqa: BLE001 - every failure is counted, none is fatal
            reason = f"{type(exc).__name__}: {exc}"
            log.warning("processing %s failed: %s", arrival.ref, reason, exc_info=True)
            try:
                with SqlUnitOfWork(self._sf) as uow:
                    quarantined = record_failure(
                        mail, reason, uow=uow, now=self._clock.now(), config=self._config
                    )
                    uow.commit()
            except Exception:  # noqa: BLE001 - the store itself is down: retry later
                log.exception("could not record the failure of %s; will retry", arrival.ref)
                return Handled(Outcome.RETRY)
            if quarantined:
                log.error("quarantined %s: %s", arrival.ref, reason)
                return Handled(Outcome.QUARANTINED)
            return Handled(Outcome.RETRY)
        return self._handled(result)

    def handle_batch(self, arrivals: Sequence[Arrival]) -> list[Handled]:
        """Handle ``arrivals`` in order, committing them together (group commit).

        What a backlog wants (``liaison process`` with many files): the messages share
        one transaction and one COMMIT, so the cost of the commit and its fsync is
        paid once per batch instead of once per message. The outcome of each message
        is the one :meth:`handle` would give. When one of them raises, nothing of the
        batch is kept: the ones before it are run again as a batch, the failing one
        alone through :meth:`handle` (so its failure is counted and, after the limit,
        it is quarantined), and the batch carries on after it. Sources acknowledge a
        message only after this returns, that is, after its commit.
        """
        outcomes: list[Handled] = []
        rest = list(arrivals)
        while rest:
            done, failed = self._ingest_together(rest)
            outcomes += done
            if failed is None:
                break
            outcomes.append(self._handle(rest[failed]))
            rest = rest[failed + 1 :]
        return outcomes

    def _ingest_together(self, arrivals: Sequence[Arrival]) -> tuple[list[Handled], int | None]:
        """Commit the longest prefix of ``arrivals`` that ingests without an error; the
        outcomes of that prefix and the index of the message that raised, if one did."""
        count = len(arrivals)
        while True:
            results: list[IngestResult] = []
            failed: int | None = None  # which message raised; None: the store itself
            raws = [arrival.raw for arrival in arrivals[:count]]
            try:
                with SqlUnitOfWork(self._sf) as uow, self._ahead(uow, raws) as ahead:
                    now = self._clock.now()
                    for index, arrival in enumerate(arrivals[:count]):
                        failed = index
                        mail = self._mail(arrival)
                        results.append(self._ingest_in(uow, mail, now, ahead.parser_for(index)))
                    failed = None
                    crash_point("before-commit")
                    uow.commit()
            except Exception:  # noqa: BLE001 - the message is run again alone by the caller
                if failed is None:  # the transaction itself failed: one at a time instead
                    outcomes = [self._handle(arrival) for arrival in arrivals[:count]]
                    return outcomes, (count if count < len(arrivals) else None)
                log.info("message %d of a batch failed; the batch is run again without it", failed)
                count = failed
                continue
            crash_point("after-commit")
            self._after_commit([a.ref.source for a in arrivals[:count]], results)
            return [self._handled(r) for r in results], (count if count < len(arrivals) else None)

    def _ahead(self, uow: SqlUnitOfWork, raws: Sequence[bytes]) -> _ParseAhead:
        """The parses of a batch, begun ahead except for messages stored already."""
        known: Set[int] = frozenset()
        if isinstance(self._parse, BeginsParses):
            hashes = [content_hash(raw) for raw in raws]
            stored = uow.inbound.stored_hashes(set(hashes))
            known = {i for i, sha in enumerate(hashes) if sha in stored}
        return _ParseAhead(self._parse, raws, known)

    def ingest(self, mail: InboundMail) -> IngestResult:
        with SqlUnitOfWork(self._sf) as uow:
            result = self._ingest_in(uow, mail, self._clock.now())
            crash_point("before-commit")
            uow.commit()
        crash_point("after-commit")
        self._after_commit([mail.source], [result])
        return result

    @staticmethod
    def _mail(arrival: Arrival) -> InboundMail:
        ref = arrival.ref
        return InboundMail(ref.source, ref.uidvalidity, ref.uid, arrival.raw)

    def _ingest_in(
        self, uow: SqlUnitOfWork, mail: InboundMail, now: datetime, parse: _Parse | None = None
    ) -> IngestResult:
        return ingest(
            mail,
            uow=uow,
            now=now,
            config=self._config,
            blobs=self._blobs,
            parse=parse or self._parse,
        )

    def _after_commit(self, sources: Sequence[str], results: Sequence[IngestResult]) -> None:
        for source, result in zip(sources, results, strict=True):
            log.info(
                "%s: %s %s%s",
                source,
                result.outcome,
                result.kind,
                f" {result.request_number}" if result.request_number else "",
            )
        with self._lock:
            self.results += results
            del self.results[:-1000]
        if any(result.queued for result in results):
            self._on_queued()

    @staticmethod
    def _handled(result: IngestResult) -> Handled:
        quarantined = result.outcome == "quarantined"
        return Handled(Outcome.QUARANTINED if quarantined else Outcome.PROCESSED, result)
