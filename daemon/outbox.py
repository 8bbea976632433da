"""Deliver the outbox: claim due rows, send each, record the result.

Rows are claimed in a short transaction by pushing their next attempt into the future
(a lease); the send happens outside any transaction, so intake is never blocked by a
slow relay. A crash after the relay's ``250`` but before ``mark_sent`` commits sends
the same bytes, with the same Message-ID, once more when the lease runs out: the only
way a mail can go out twice, as the guarantees allow.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from calendar_sync.errors import CalendarError, TransientCalendarError
from calendar_sync.port import Calendar
from daemon.faults import crash_point
from daemon.transport_errors import PermanentSendError, TransientSendError
from daemon.transports import Transport, retry_delay
from store.uow import SqlUnitOfWork
from workflow.clock import Clock
from workflow.outbound import CALENDAR_KINDS_PREFIX

log = logging.getLogger("liaison.outbox")

#: Default for how long a claimed row stays invisible to other senders (replicas or a restart).
CLAIM_LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class _Job:
    id: int
    kind: str
    message_id: str
    envelope_from: str
    recipients: tuple[str, ...]
    raw: bytes
    attempts: int


@dataclass
class DispatchReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0


class OutboxDispatcher:
    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        transport: Transport,
        clock: Clock,
        batch: int = 50,
        max_attempts: int = 12,
        claim_lease: timedelta = CLAIM_LEASE,
        calendar: Calendar | None = None,
    ) -> None:
        self._sf = session_factory
        self._transport = transport
        self._clock = clock
        self._batch = batch
        self._max_attempts = max_attempts
        self._claim_lease = claim_lease
        self._calendar = calendar
        self.wakeup = threading.Event()

    def run_once(self) -> DispatchReport:
        report = DispatchReport()
        for job in self._claim():
            self._deliver(job, report)
        return report

    def drain(self) -> DispatchReport:
        """Send until nothing is due now (used by ``process`` and the demo)."""
        total = DispatchReport()
        while True:
            r = self.run_once()
            total.sent += r.sent
            total.retried += r.retried
            total.failed += r.failed
            if r.sent + r.retried + r.failed == 0:
                return total

    def run(self, stop: threading.Event, *, idle: float = 5.0) -> None:
        while not stop.is_set():
            try:
                report = self.run_once()
            except Exception:  # noqa: BLE001 - the store may be down; keep the loop alive
                log.exception("outbox pass failed; retrying")
                report = DispatchReport()
            if report.sent + report.retried + report.failed == 0:
                self.wakeup.wait(idle)
                self.wakeup.clear()

    def _claim(self) -> list[_Job]:
        now = self._clock.now()
        with SqlUnitOfWork(self._sf) as uow:
            rows = uow.outbox.claim_due(now, self._batch)
            jobs = []
            for row in rows:
                row.attempts += 1
                row.next_attempt_at = now + self._claim_lease
                jobs.append(
                    _Job(
                        row.id,
                        row.kind,
                        row.message_id,
                        row.envelope_from,
                        tuple(row.recipients),
                        row.raw,
                        row.attempts,
                    )
                )
            uow.commit()
        return jobs

    def _send(self, job: _Job) -> None:
        if not job.kind.startswith(CALENDAR_KINDS_PREFIX):
            self._transport.send(job.envelope_from, job.recipients, job.raw)
            return
        # A team-calendar copy: recipients hold the meeting's UID and SEQUENCE.
        if self._calendar is None:
            return
        uid, sequence = job.recipients[0], int(job.recipients[1])
        try:
            if job.kind == "calendar/cancel":
                self._calendar.cancel(uid, job.raw, sequence)
            else:
                self._calendar.publish(uid, job.raw, sequence)
        except TransientCalendarError as exc:
            raise TransientSendError(f"calendar: {exc}", recipients=[uid]) from exc
        except CalendarError as exc:
            raise PermanentSendError(f"calendar: {exc}", recipients=[uid]) from exc

    def _deliver(self, job: _Job, report: DispatchReport) -> None:
        try:
            self._send(job)
        except TransientSendError as exc:
            retry = exc.retry_recipients or list(job.recipients)
            if job.attempts >= self._max_attempts:
                self._finish(job, failed=f"gave up after {job.attempts} attempts: {exc}")
                report.failed += 1
                return
            delay = retry_delay(job.attempts)
            log.warning("sending %s deferred (%s); next try in %s", job.message_id, exc, delay)
            with SqlUnitOfWork(self._sf) as uow:
                uow.outbox.mark_retry(job.id, self._clock.now() + delay, str(exc))
                if retry != list(job.recipients):
                    # Whoever accepted (or refused for good) is not sent to again.
                    row = uow.outbox.get(job.id)
                    row.recipients = retry
                uow.commit()
            report.retried += 1
        except PermanentSendError as exc:
            if exc.accepted:
                # Delivered to some; the others can never get it. Keep both facts.
                self._finish(job, failed=None, note=f"refused for some recipients: {exc}")
                report.sent += 1
            else:
                self._finish(job, failed=str(exc))
                report.failed += 1
        else:
            crash_point("after-send")
            self._finish(job, failed=None)
            report.sent += 1

    def _finish(self, job: _Job, *, failed: str | None, note: str | None = None) -> None:
        with SqlUnitOfWork(self._sf) as uow:
            if failed is None:
                uow.outbox.mark_sent(job.id, self._clock.now())
                if note is not None:
                    log.error("sending %s: %s", job.message_id, note)
                    uow.outbox.get(job.id).last_error = note
            else:
                log.error(
                    "sending %s to %s failed: %s", job.message_id, ", ".join(job.recipients), failed
                )
                uow.outbox.mark_failed(job.id, failed)
            uow.commit()
