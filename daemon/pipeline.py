"""One inbound message, one transaction: the handler every mailbox adapter calls.

Mailman's runner discipline: the message's effects are committed or rolled back as
one; a failure is counted in a fresh transaction, and after the limit the message is
quarantined with its reason so the service carries on. The source (IMAP, listener) is
told the outcome and acknowledges the message only after the commit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.orm import Session, sessionmaker

from daemon.faults import crash_point
from daemon.inbound import Arrival, Outcome
from daemon.isolation import ParserUnavailableError
from mail_parsers.message import parse_message
from mail_parsers.model import ParsedMessage, ParseOptions
from store.blobs import BlobStore
from store.uow import SqlUnitOfWork
from workflow.clock import Clock
from workflow.config import WorkflowConfig
from workflow.intake import InboundMail, IngestResult, ingest, record_failure

log = logging.getLogger("liaison.pipeline")


#: Messages :meth:`Pipeline.handle_batch` callers commit together (``liaison process``).
BATCH_SIZE = 100


class Handled(NamedTuple):
    """What became of one message: what its source is told and, unless it failed, the
    result of its ingest."""

    outcome: Outcome
    result: IngestResult | None = None


class Pipeline:
    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        config: WorkflowConfig,
        blobs: BlobStore,
        clock: Clock,
        on_queued: Callable[[], None] = lambda: None,
        parse: Callable[[bytes, ParseOptions], ParsedMessage] = parse_message,
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
            try:
                with SqlUnitOfWork(self._sf) as uow:
                    now = self._clock.now()
                    for index, arrival in enumerate(arrivals[:count]):
                        failed = index
                        results.append(self._ingest_in(uow, self._mail(arrival), now))
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

    def _ingest_in(self, uow: SqlUnitOfWork, mail: InboundMail, now: datetime) -> IngestResult:
        return ingest(
            mail, uow=uow, now=now, config=self._config, blobs=self._blobs, parse=self._parse
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
