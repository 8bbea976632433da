"""PostgreSQL on 127.0.0.1:5432, user ``postgres`` with trust authentication.

``pg_url`` creates a fresh database ``liaison_test_<random>`` for the test session and
drops it at the end. ``pg_empty_url`` hands out the same database with its ``public``
schema emptied before the test, for tests that build their own schema; ``pg_engine`` is
an engine on it with the schema migrated to head.

``empty_url`` and ``engine`` run a test once per backend of the store: an empty SQLite
file and the emptied PostgreSQL database; ``engine`` has the schema migrated to head.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine

from store.engine import make_engine
from store.migrate import upgrade
from tests.servers.requirements import missing_server

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"


def _admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=PG_HOST,
        port=PG_PORT,
        user=PG_USER,
        dbname="postgres",
        autocommit=True,
        connect_timeout=5,
    )


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """SQLAlchemy URL of a new, empty database that lives for the test session."""
    name = f"liaison_test_{secrets.token_hex(6)}"
    try:
        admin = _admin_connection()
    except psycopg.OperationalError as error:
        missing_server(f"PostgreSQL at {PG_HOST}:{PG_PORT} as {PG_USER}: {error}".strip())
        return
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with _admin_connection() as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def pg_empty_url(pg_url: str) -> str:
    """``pg_url`` with everything in its ``public`` schema dropped first.

    Dispose of engines at the end of the test: an open transaction would make the next
    test wait (and fail after ``lock_timeout``).
    """
    dbname = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname, autocommit=True
    ) as connection:
        connection.execute("SET lock_timeout = '10s'")
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")
    return pg_url


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.servers),
    ]
)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'var' / 'liaison.db'}"
    url: str = request.getfixturevalue("pg_empty_url")
    return url


@pytest.fixture
def engine(empty_url: str) -> Iterator[Engine]:
    """An engine on a database of each backend, migrated to the newest schema."""
    yield from _migrated(empty_url)


@pytest.fixture
def pg_engine(pg_empty_url: str) -> Iterator[Engine]:
    """An engine on the emptied PostgreSQL database, migrated to the newest schema."""
    yield from _migrated(pg_empty_url)


def _migrated(url: str) -> Iterator[Engine]:
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()
