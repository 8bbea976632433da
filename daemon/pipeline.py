"""One inbound message, one transaction: the handler every mailbox adapter calls.

Mailman's runner discipline: the message's effects are committed or rolled back as
one; a failure is counted in a fresh transaction, and after the limit the message is
quarantined with its reason so the service carries on. The source (IMAP, listener) is
told the outcome and acknowledges the message only after the commit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

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
        mail = InboundMail(
            arrival.ref.source, arrival.ref.uidvalidity, arrival.ref.uid, arrival.raw
        )
        try:
            result = self.ingest(mail)
        except ParserUnavailableError as exc:
            # The parser workers are stopping or cannot start: not this message's fault.
            log.warning("parser unavailable for %s (%s); will retry", arrival.ref, exc)
            return Outcome.RETRY
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
                return Outcome.RETRY
            if quarantined:
                log.error("quarantined %s: %s", arrival.ref, reason)
                return Outcome.QUARANTINED
            return Outcome.RETRY
        if result.queued:
            self._on_queued()
        return Outcome.QUARANTINED if result.outcome == "quarantined" else Outcome.PROCESSED

    def ingest(self, mail: InboundMail) -> IngestResult:
        with SqlUnitOfWork(self._sf) as uow:
            result = ingest(
                mail,
                uow=uow,
                now=self._clock.now(),
                config=self._config,
                blobs=self._blobs,
                parse=self._parse,
            )
            crash_point("before-commit")
            uow.commit()
        crash_point("after-commit")
        log.info(
            "%s: %s %s%s",
            mail.source,
            result.outcome,
            result.kind,
            f" {result.request_number}" if result.request_number else "",
        )
        with self._lock:
            self.results.append(result)
            del self.results[:-1000]
        return result
