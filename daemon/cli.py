"""The ``liaison`` command. Every error ends as one clear line on stderr, never a traceback."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from daemon.settings import Settings, load_settings
from daemon.settings_errors import ConfigError

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2


class CliError(Exception):
    """An error to show the operator as one line."""


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(Path(args.config) if args.config else None)


def _app(args: argparse.Namespace, *, migrate: bool = True) -> Any:
    """The application; reading commands pass ``migrate=False`` and never change a schema."""
    from daemon.bootstrap import build_app

    return build_app(_settings(args), migrate=migrate)


def _print_json(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str))


# --- commands ---------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from daemon.service import Service

    Service(_app(args)).run_forever()
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from daemon.checks import check_servers

    try:
        settings = _settings(args)
    except ConfigError as exc:
        print(f"configuration has {len(exc.problems)} problem(s):", file=sys.stderr)
        for p in exc.problems:
            print(f"  {p}", file=sys.stderr)
        return EXIT_PROBLEMS
    where = settings.source or "embedded defaults"
    print(f"configuration: {where}: ok")
    failed = 0
    for result in check_servers(settings):
        mark = "ok" if result.ok else "FAILED"
        print(f"{result.name}: {mark}: {result.detail}")
        failed += 0 if result.ok else 1
    return EXIT_PROBLEMS if failed else EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from daemon.init_files import StarterFilesExistError, write_starter_files

    try:
        written = write_starter_files(Path(args.dir), force=args.force)
    except StarterFilesExistError as exc:
        raise CliError(str(exc)) from exc
    for path in written:
        print(f"wrote {path}")
    return EXIT_OK


def cmd_db(args: argparse.Namespace) -> int:
    from store.migrate import current, upgrade

    url = _settings(args).store.url
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    upgrade(url)
    print(f"database at revision {current(url)}")
    return EXIT_OK


def cmd_parse(args: argparse.Namespace) -> int:
    from daemon.bootstrap import parse_options
    from mail_parsers.jsonout import to_json
    from mail_parsers.message import parse_message

    options = parse_options(_settings(args))
    for name in args.files:
        raw = _read(name)
        parsed = parse_message(raw, options)
        if args.json:
            _print_json({"file": name, **to_json(parsed)})
        else:
            h = parsed.headers
            print(f"{name}: {parsed.kind}: {h.from_addr or '?'}: {h.subject}")
            for err in parsed.errors:
                print(f"  error: {err.field}: {err.code}{': ' + err.raw if err.raw else ''}")
    return EXIT_OK


def cmd_process(args: argparse.Namespace) -> int:
    from daemon.inbound import Arrival, Outcome, SourceRef
    from daemon.outbox import OutboxDispatcher
    from daemon.pipeline import BATCH_SIZE, Pipeline

    # Every file is read before anything is stored: an unreadable one changes nothing.
    arrivals = [
        (name, Arrival(SourceRef(f"file:{Path(name).resolve()}", None, None), _read(name)))
        for name in args.files
    ]
    from daemon.isolation import IsolatedParser

    app = _app(args)
    failed = 0
    parser = IsolatedParser(app.workflow.parse_options)
    try:
        pipeline = Pipeline(
            session_factory=app.session_factory,
            config=app.workflow,
            blobs=app.blobs,
            clock=app.clock,
            parse=parser,
        )
        # Group commit: the files of a batch share one transaction (a failing one is
        # set apart and counted alone), which is most of what a backlog costs.
        for first in range(0, len(arrivals), BATCH_SIZE):
            batch = arrivals[first : first + BATCH_SIZE]
            handled = pipeline.handle_batch([arrival for _, arrival in batch])
            for (name, _), (outcome, result) in zip(batch, handled, strict=True):
                if result is None:  # it failed; the attempt is counted
                    failed += 1
                    what = "failed; process it again to retry"
                    if outcome is Outcome.QUARANTINED:
                        what = "quarantined after repeated failures"
                    print(f"{name}: {what}")
                    continue
                number = f" {result.request_number}" if result.request_number else ""
                print(f"{name}: {result.outcome} ({result.kind or '-'}{number})")
        report = OutboxDispatcher(
            session_factory=app.session_factory,
            transport=app.transport(),
            clock=app.clock,
            calendar=app.calendar(),
        ).drain()
        print(f"outbox: {report.sent} sent, {report.retried} deferred, {report.failed} failed")
    finally:
        parser.close()
        app.close()
    return EXIT_PROBLEMS if failed else EXIT_OK


def cmd_requests(args: argparse.Namespace) -> int:
    from store.uow import SqlUnitOfWork
    from workflow.queries import list_requests

    app = _app(args, migrate=False)
    try:
        with SqlUnitOfWork(app.session_factory) as uow:
            rows = list_requests(uow, app.workflow, args.state)
    finally:
        app.close()
    if args.json:
        _print_json(rows)
    else:
        for r in rows:
            print(f"{r['number']:<16} {r['state']:<12} due {r['due'] or '-':<10} {r['title']}")
        if not rows:
            print("no requests")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from store.uow import SqlUnitOfWork
    from workflow.queries import show_request

    app = _app(args, migrate=False)
    try:
        with SqlUnitOfWork(app.session_factory) as uow:
            view = show_request(uow, args.number, app.workflow)
    finally:
        app.close()
    if args.json:
        _print_json(view)
    else:
        for key, value in view.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                print(f"{key}:")
                for item in value:
                    print("  " + ", ".join(f"{k}={v}" for k, v in item.items()))
            else:
                print(f"{key}: {value}")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from daemon.export_files import default_filename, write_html, write_xlsx, write_zip
    from store.uow import SqlUnitOfWork
    from workflow.export import dossier, raw_messages

    app = _app(args, migrate=False)
    try:
        with SqlUnitOfWork(app.session_factory) as uow:
            built = dossier(uow, args.number, app.workflow, language=args.lang)
            messages = raw_messages(uow, args.number) if args.format == "zip" else []
    finally:
        app.close()
    out = Path(args.output) if args.output else Path(default_filename(built.number, args.format))
    try:
        if args.format == "xlsx":
            write_xlsx(built, out)
        elif args.format == "html":
            write_html(built, out)
        else:
            write_zip(built, messages, out)
    except OSError as exc:
        raise CliError(f"cannot write {out}: {exc.strerror or exc}") from exc
    print(f"wrote {out}")
    return EXIT_OK


def cmd_quarantine(args: argparse.Namespace) -> int:
    from daemon.inbound import Arrival, Outcome, SourceRef
    from daemon.pipeline import Pipeline
    from store.uow import SqlUnitOfWork
    from workflow.intake import release_from_quarantine
    from workflow.queries import quarantine_list

    app = _app(args, migrate=False)
    try:
        if args.action == "list":
            with SqlUnitOfWork(app.session_factory) as uow:
                rows = quarantine_list(uow, app.workflow.timezone)
            if args.json:
                _print_json(rows)
            for r in [] if args.json else rows:
                print(f"{r['id']:>6} {r['received_at']} {r['kind'] or '-':<16} {r['reason']}")
            if not rows and not args.json:
                print("quarantine is empty")
            return EXIT_OK
        if args.id is None:
            raise CliError(f"quarantine {args.action} needs a message id")
        if args.action == "show":
            with SqlUnitOfWork(app.session_factory) as uow:
                msg = uow.inbound.by_id(args.id)
                if msg is None or msg.state != "quarantined":
                    raise CliError(f"no quarantined message with id {args.id}")
                print(f"id: {msg.id}\nsource: {msg.source}\nmessage-id: {msg.message_id}")
                print(f"attempts: {msg.attempts}\nreason: {msg.reason}\n")
                sys.stdout.write(msg.raw.decode("utf-8", "replace"))
            return EXIT_OK
        with SqlUnitOfWork(app.session_factory) as uow:
            mail = release_from_quarantine(args.id, uow=uow)
            uow.commit()
        pipeline = Pipeline(
            session_factory=app.session_factory,
            config=app.workflow,
            blobs=app.blobs,
            clock=app.clock,
        )
        ref = SourceRef(mail.source, mail.uidvalidity, mail.uid)
        outcome = pipeline.handle(Arrival(ref, mail.raw))
        reason = pipeline.results[-1].reason if pipeline.results else None
        print(f"message {args.id}: {outcome.value}{': ' + reason if reason else ''}")
        return EXIT_OK if outcome is Outcome.PROCESSED else EXIT_PROBLEMS
    finally:
        app.close()


def cmd_review(args: argparse.Namespace) -> int:
    from daemon.outbox import OutboxDispatcher
    from store.uow import SqlUnitOfWork
    from workflow.outbound import queue_mail
    from workflow.queries import review_list
    from workflow.replies import apply_reviewed

    app = _app(args, migrate=False)
    try:
        if args.action == "list":
            with SqlUnitOfWork(app.session_factory) as uow:
                rows = review_list(uow, app.workflow.timezone)
            if args.json:
                _print_json(rows)
            elif not rows:
                print("nothing is waiting for review")
            for r in [] if args.json else rows:
                print(
                    f"{r['id']:>6} {r['created_at']} {r['number'] or '-':<14} {r['sender']:<28} "
                    f"{r['action']:<16} {r['reason']}: {r['detail']}"
                )
            return EXIT_OK
        if args.id is None:
            raise CliError(f"review {args.action} needs the id shown by 'liaison review list'")
        now = app.clock.now()
        with SqlUnitOfWork(app.session_factory) as uow:
            outcome = apply_reviewed(
                args.id,
                approve=args.action == "approve",
                reviewer=args.by or "operator",
                uow=uow,
                now=now,
                config=app.workflow,
            )
            for mail in outcome.mails:
                queue_mail(mail, uow=uow, now=now, config=app.workflow)
            uow.commit()
        print(f"review {args.id}: {outcome.result}")
        OutboxDispatcher(
            session_factory=app.session_factory,
            transport=app.transport(),
            clock=app.clock,
            calendar=app.calendar(),
        ).drain()
        return EXIT_OK if outcome.result in ("applied", "rejected") else EXIT_PROBLEMS
    finally:
        app.close()


def cmd_tick(args: argparse.Namespace) -> int:
    from datetime import datetime

    from daemon.outbox import OutboxDispatcher
    from store.uow import SqlUnitOfWork
    from workflow.clock import FrozenClock
    from workflow.clocks import tick

    app = _app(args, migrate=False)
    try:
        if args.now:
            try:
                at = datetime.fromisoformat(args.now)
            except ValueError as exc:
                raise CliError(f"--now {args.now!r} is not an ISO 8601 instant") from exc
            if at.tzinfo is None:
                at = at.replace(tzinfo=app.workflow.timezone)
            app.clock = FrozenClock(at)
        now = app.clock.now()
        with SqlUnitOfWork(app.session_factory) as uow:
            report = tick(uow=uow, now=now, config=app.workflow, dry_run=args.dry_run)
            if not args.dry_run:
                uow.commit()
        verb = "would send" if args.dry_run else "queued"
        print(
            f"tick at {now.astimezone(app.workflow.timezone).isoformat()}: "
            f"{report.reminders} agenda reminder(s); {verb} {report.mails} mail(s)"
        )
        if not args.dry_run:
            OutboxDispatcher(
                session_factory=app.session_factory,
                transport=app.transport(),
                clock=app.clock,
                calendar=app.calendar(),
            ).drain()
        return EXIT_OK
    finally:
        app.close()


def cmd_demo(args: argparse.Namespace) -> int:
    from daemon.demo import run_demo

    return run_demo(workdir=Path(args.workdir) if args.workdir else None)


# --- parser -----------------------------------------------------------------------------


def _read(name: str) -> bytes:
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {name}: {exc.strerror}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liaison", description="Run cross-department coordination from a shared mailbox."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, func: Callable[[argparse.Namespace], int], help: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument(
            "--config",
            metavar="FILE",
            help="configuration file (default: $LIAISON_CONFIG, /etc/liaison/liaison.toml, "
            "embedded defaults)",
        )
        p.set_defaults(func=func)
        return p

    add("run", cmd_run, "run the service in the foreground")
    add("check", cmd_check, "validate the configuration and reach every configured server")
    p = add("init", cmd_init, "write a commented configuration and a directory file to start from")
    p.add_argument("dir", nargs="?", default=".", help="target directory (default: current)")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p = add("db", cmd_db, "database maintenance")
    p.add_argument("action", choices=["upgrade"], help="upgrade: apply migrations")
    p = add("parse", cmd_parse, "classify and parse messages without storing anything")
    p.add_argument("files", nargs="+", metavar="FILE.eml")
    p.add_argument("--json", action="store_true", help="one JSON object per line per file")
    p = add("process", cmd_process, "ingest messages from files through the full pipeline")
    p.add_argument("files", nargs="+", metavar="FILE.eml")
    p = add("requests", cmd_requests, "list requests with state and next deadline")
    p.add_argument("--state", help="only requests in this state")
    p.add_argument("--json", action="store_true")
    p = add("show", cmd_show, "show one request")
    p.add_argument("number", help="request number, e.g. XT-2026-0001")
    p.add_argument("--json", action="store_true")
    p = add("export", cmd_export, "write the dossier of one request (xlsx, html or zip)")
    p.add_argument("number", help="request number, e.g. XT-2026-0001")
    p.add_argument("--format", required=True, choices=["xlsx", "html", "zip"])
    p.add_argument("-o", "--output", metavar="FILE", help="output file (default: NUMBER.FORMAT)")
    p.add_argument("--lang", choices=["zh", "en"], default="zh", help="column names (default: zh)")
    p = add("quarantine", cmd_quarantine, "messages that could not be processed")
    p.add_argument("action", choices=["list", "show", "retry"])
    p.add_argument("id", nargs="?", type=int, help="message id (show, retry)")
    p.add_argument("--json", action="store_true")
    p = add("tick", cmd_tick, "run the clocks (reminders, escalations, weekly jobs) once")
    p.add_argument("--now", metavar="ISO8601", help="as of this instant (default: now)")
    p.add_argument("--dry-run", action="store_true", help="say what would be sent; change nothing")
    p = add("review", cmd_review, "sign-offs held for review: list, approve or reject them")
    p.add_argument("action", choices=["list", "approve", "reject"])
    p.add_argument("id", nargs="?", type=int, help="held sign-off id (approve, reject)")
    p.add_argument("--by", metavar="ADDRESS", help="who decided (recorded with the decision)")
    p.add_argument("--json", action="store_true")
    p = add("demo", cmd_demo, "run a complete example against the embedded defaults")
    p.add_argument("--workdir", help="keep the demo's files here (default: a temporary directory)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose or args.command == "run" else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic narrates every migration step at INFO; the operator needs its warnings only.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"liaison: configuration has {len(exc.problems)} problem(s):", file=sys.stderr)
        for p in exc.problems:
            print(f"  {p}", file=sys.stderr)
        return EXIT_PROBLEMS
    except CliError as exc:
        print(f"liaison: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one line for the operator; details with -v
        from store.errors import SchemaNotCurrentError
        from workflow.directory import DirectoryError
        from workflow.errors import NotFoundError

        if isinstance(exc, DirectoryError):
            print(f"liaison: {exc}", file=sys.stderr)
            return EXIT_PROBLEMS
        if isinstance(exc, NotFoundError | SchemaNotCurrentError):
            print(f"liaison: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if args.verbose:
            logging.getLogger("liaison").exception("unexpected error")
        print(f"liaison: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS


if __name__ == "__main__":
    sys.exit(main())
