"""Group commit: ``Pipeline.handle_batch`` (what ``liaison process`` runs) against the
real store, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from daemon.bootstrap import App
from daemon.inbound import Arrival, Outcome, SourceRef
from daemon.pipeline import Pipeline
from store.blobs import BlobStore
from store.uow import SqlUnitOfWork
from tests.support import scratch_app

PLAIN = "req_01_outlook_zh_plain_gb2312_b64.eml"
OTHER = "req_03_foxmail_gb2312.eml"
WITH_ATTACHMENT = "req_09_thunderbird_pdf_rfc2231.eml"


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    overrides = {}
    if request.param == "postgresql":
        overrides["LIAISON_STORE_URL"] = request.getfixturevalue("pg_empty_url")
    app, _ = scratch_app(tmp_path, **overrides)
    yield app
    app.close()


def _pipeline(app: App, blobs: BlobStore | None = None) -> Pipeline:
    return Pipeline(
        session_factory=app.session_factory,
        config=app.workflow,
        blobs=blobs or app.blobs,
        clock=app.clock,
    )


def _arrival(corpus_dir: Path, name: str, uid: str) -> Arrival:
    return Arrival(SourceRef("file:batch", None, uid), (corpus_dir / name).read_bytes())


def _commits(app: App) -> list[int]:
    """A list that grows by one at every COMMIT on the app's engine."""
    seen: list[int] = []
    engine = app.session_factory.kw["bind"]

    def count(_connection: Any) -> None:
        seen.append(1)

    event.listen(engine, "commit", count)
    return seen


def test_a_batch_shares_one_commit_and_numbers_in_order(app: App, corpus_dir: Path) -> None:
    files = sorted(p.name for p in corpus_dir.glob("req_*.eml"))
    arrivals = [_arrival(corpus_dir, name, str(i)) for i, name in enumerate(files)]
    pipeline = _pipeline(app)
    commits = _commits(app)

    handled = pipeline.handle_batch(arrivals)

    assert len(commits) == 1
    assert [h.outcome for h in handled] == [Outcome.PROCESSED] * len(files)
    results = [h.result for h in handled]
    assert all(r is not None and r.outcome == "processed" for r in results)
    numbered = [r.request_number for r in results if r is not None and r.kind == "request"]
    with SqlUnitOfWork(app.session_factory) as uow:
        stored = [r.number for r in uow.requests.list()]
        pending = uow.outbox.pending_count()
    assert numbered == stored == [f"XT-2026-{n:04d}" for n in range(1, len(stored) + 1)]
    assert len(stored) >= 10  # the corpus's valid requests
    assert pending == 2 * len(stored) + (len(files) - len(stored))  # invalid ones: one reply
    assert pipeline.results == [r for r in results if r is not None]


def test_a_message_repeated_inside_a_batch_is_a_duplicate(app: App, corpus_dir: Path) -> None:
    pipeline = _pipeline(app)
    handled = pipeline.handle_batch(
        [_arrival(corpus_dir, PLAIN, "1"), _arrival(corpus_dir, PLAIN, "2")]
    )
    assert [h.result.outcome for h in handled if h.result] == ["processed", "duplicate"]
    with SqlUnitOfWork(app.session_factory) as uow:
        assert len(uow.requests.list()) == 1


def test_a_failing_message_is_set_apart_and_the_rest_of_the_batch_committed(
    app: App, corpus_dir: Path, tmp_path: Path
) -> None:
    # A real fault, no injection: the attachment store's directory is a file, so only
    # the message with an attachment fails.
    blocked = tmp_path / "blocked"
    blocked.write_text("not a directory")
    pipeline = _pipeline(app, BlobStore(blocked / "sub"))
    commits = _commits(app)

    handled = pipeline.handle_batch(
        [
            _arrival(corpus_dir, PLAIN, "1"),
            _arrival(corpus_dir, WITH_ATTACHMENT, "2"),
            _arrival(corpus_dir, OTHER, "3"),
            _arrival(corpus_dir, PLAIN, "4"),
        ]
    )

    assert [h.outcome for h in handled] == [
        Outcome.PROCESSED,
        Outcome.RETRY,
        Outcome.PROCESSED,
        Outcome.PROCESSED,
    ]
    assert handled[1].result is None
    assert [h.result.outcome for h in handled if h.result] == [
        "processed",
        "processed",
        "duplicate",
    ]
    # The first try of the batch rolled back; then the message before the failure, the
    # failure counted alone, and the rest of the batch: three commits.
    assert len(commits) == 3
    with SqlUnitOfWork(app.session_factory) as uow:
        assert [r.number for r in uow.requests.list()] == ["XT-2026-0001", "XT-2026-0002"]
        failed = uow.inbound.find_duplicate("file:batch", None, "2", None, "")
        assert failed is not None
        assert (failed.state, failed.attempts) == ("received", 1)
        assert failed.reason and "NotADirectoryError" in failed.reason
        assert failed.raw == (corpus_dir / WITH_ATTACHMENT).read_bytes()


def test_a_batch_with_the_store_unreachable_leaves_every_message_to_retry(
    app: App, corpus_dir: Path, tmp_path: Path
) -> None:
    # A real fault: the database file's directory does not exist.
    from store.engine import make_engine, make_session_factory

    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'liaison.db'}")
    try:
        pipeline = Pipeline(
            session_factory=make_session_factory(engine),
            config=app.workflow,
            blobs=app.blobs,
            clock=app.clock,
        )
        handled = pipeline.handle_batch(
            [_arrival(corpus_dir, PLAIN, "1"), _arrival(corpus_dir, OTHER, "2")]
        )
    finally:
        engine.dispose()
    assert [h.outcome for h in handled] == [Outcome.RETRY, Outcome.RETRY]
    assert [h.result for h in handled] == [None, None]
