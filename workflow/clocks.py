"""The clocks the service runs every minute (``liaison tick`` runs them once).

Each job is a plain function of the unit of work and ``now``; it returns the mails it
decided on. Today: the agenda reminder the working day before each meeting. The
service levels of the profile (reminders and escalations) join here as they are built.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from store.uow import SqlUnitOfWork
from workflow.config import WorkflowConfig
from workflow.meetings import send_agenda_reminders
from workflow.outbound import queue_mail


@dataclass(frozen=True)
class TickReport:
    mails: int
    reminders: int


def tick(
    *, uow: SqlUnitOfWork, now: datetime, config: WorkflowConfig, dry_run: bool = False
) -> TickReport:
    """Run every clock once as of ``now``; with ``dry_run`` decide but record nothing."""
    mails = send_agenda_reminders(uow=uow, now=now, config=config)
    queued = 0
    if not dry_run:
        for mail in mails:
            queued += len(queue_mail(mail, uow=uow, now=now, config=config))
    return TickReport(mails=queued if not dry_run else len(mails), reminders=len(mails))
