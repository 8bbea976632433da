"""APScheduler, and nothing else, lives here: each job is one line calling a workflow function."""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler

from daemon.bootstrap import App
from store.uow import SqlUnitOfWork
from workflow.clocks import tick

log = logging.getLogger("liaison.scheduler")


def run_clocks(app: App, on_queued: Callable[[], None]) -> None:
    """One transaction for one pass of the clocks; the sender is woken if mail was queued."""
    with SqlUnitOfWork(app.session_factory) as uow:
        report = tick(uow=uow, now=app.clock.now(), config=app.workflow)
        uow.commit()
    if report.mails:
        on_queued()


def start_scheduler(app: App, on_queued: Callable[[], None]) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1}
    )
    scheduler.add_job(run_clocks, "interval", minutes=1, args=(app, on_queued), id="clocks")
    scheduler.start()
    return scheduler
