"""Engines and session factories, built by the caller (never at import time).

SQLite is set up for one file shared by threads and processes: WAL journal, a busy
timeout, foreign keys enforced, and every transaction opened with ``BEGIN IMMEDIATE``
so writers queue on the file lock instead of failing half-way (the pysqlite recipe
from the SQLAlchemy documentation). PostgreSQL gets ``pool_pre_ping`` so a restarted
server costs one failed ping, not one failed transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from store.errors import UnsupportedDatabaseError

#: How long a SQLite connection waits for the file lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalise_url(url: str | URL) -> URL:
    """Parse ``url``, choosing the psycopg 3 driver for plain ``postgresql://`` URLs."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql", "postgres"):
        raise UnsupportedDatabaseError(
            f"unsupported database {backend!r}: use sqlite or postgresql"
        )
    # psycopg 3 is the PostgreSQL driver we ship; a URL without a driver means it.
    if backend == "postgres" or (backend == "postgresql" and "+" not in parsed.drivername):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, *, echo: bool = False) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``)."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, echo=echo)
    return create_engine(parsed, echo=echo, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; loaded objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def _sqlite_engine(url: URL, *, echo: bool) -> Engine:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see "begin").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock up front: a deferred transaction that read first and
        # writes later fails with SQLITE_BUSY instead of waiting its turn.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
