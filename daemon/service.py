"""The running service: one intake source, the outbox sender, systemd status, clean shutdown."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler

from daemon.bootstrap import App, tls_context
from daemon.imap import ImapIntake, ImapMailbox, ImapSettings
from daemon.isolation import IsolatedParser
from daemon.listener import ListenerServer
from daemon.outbox import OutboxDispatcher
from daemon.pipeline import Pipeline
from daemon.scheduler import start_scheduler
from daemon.systemd import notify

log = logging.getLogger("liaison.service")


class Service:
    def __init__(self, app: App) -> None:
        self.app = app
        self.stop_event = threading.Event()
        self.dispatcher = OutboxDispatcher(
            session_factory=app.session_factory,
            transport=app.transport(),
            clock=app.clock,
            claim_lease=timedelta(seconds=app.settings.outbound.claim_lease),
            calendar=app.calendar(),
        )
        # Every message is parsed in a worker process with size, depth, part-count and
        # time limits, so one hostile message cannot hang or crash the service.
        self.parser = IsolatedParser(app.workflow.parse_options, workers=2)
        self.pipeline = Pipeline(
            session_factory=app.session_factory,
            config=app.workflow,
            blobs=app.blobs,
            clock=app.clock,
            on_queued=self.dispatcher.wakeup.set,
            parse=self.parser,
        )
        self.listener: ListenerServer | None = None
        self.scheduler: BackgroundScheduler | None = None
        self._threads: list[threading.Thread] = []

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        mailbox = self.app.settings.mailbox
        if mailbox.backend == "listener":
            lst = mailbox.listener
            self.listener = ListenerServer(lst.host, lst.port, lst.protocol, self.pipeline.handle)
            self.listener.start()
            log.info(
                "listening for %s on %s:%s", lst.protocol.upper(), lst.host, self.listener.port
            )
        elif mailbox.backend == "imap":
            imap = mailbox.imap
            settings = ImapSettings(
                host=imap.host,
                port=imap.port,
                security=imap.security,
                username=imap.username,
                password=imap.password,
                folder=imap.folder,
                processed_folder=imap.processed_folder,
                quarantine_folder=imap.quarantine_folder,
                idle_timeout=imap.idle_timeout,
                io_timeout=imap.timeout,
                ssl_context=tls_context(imap.ca_file),
            )
            intake = ImapIntake(
                lambda: ImapMailbox(settings),
                self.pipeline.handle,
                batch_handler=lambda arrivals: [
                    handled.outcome for handled in self.pipeline.handle_batch(arrivals)
                ],
            )
            self._spawn("imap-intake", lambda: intake.run(self.stop_event))
            log.info("reading imap://%s@%s:%s/%s", imap.username, imap.host, imap.port, imap.folder)
        else:
            raise NotImplementedError(f"mailbox backend {mailbox.backend!r} is not available yet")
        self._spawn("outbox", lambda: self.dispatcher.run(self.stop_event))
        self.scheduler = start_scheduler(self.app, self.dispatcher.wakeup.set)
        notify("READY=1")
        notify(f"STATUS=running; mailbox {mailbox.backend}")

    def stop(self) -> None:
        notify("STOPPING=1")
        self.stop_event.set()
        self.dispatcher.wakeup.set()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
        if self.listener is not None:
            self.listener.stop()
        for t in self._threads:
            t.join(timeout=15)
        self.parser.close()
        self.app.close()

    def run_forever(self) -> None:
        def _stop(signum: int, frame: FrameType | None) -> None:
            log.info("signal %s: stopping", signum)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        self.start()
        try:
            while not self.stop_event.wait(30):
                notify("WATCHDOG=1")
        finally:
            self.stop()

    def _spawn(self, name: str, target: object) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        t.start()
        self._threads.append(t)
