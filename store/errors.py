"""Errors raised by the store, and how to tell a passing outage from a lasting fault.

Transient errors (the database is down, locked or asked us to retry) are worth another
attempt with backoff; everything else is permanent for the message that caused it.
Only ``daemon/`` turns these into operator text.
"""

from __future__ import annotations

from sqlalchemy import exc as sa_exc


class StoreError(Exception):
    """Base class of every error the store raises itself."""


class NaiveDatetimeError(StoreError, ValueError):
    """A datetime without a time zone was given where an instant is needed."""


class NotFoundError(StoreError, LookupError):
    """A record that must exist does not."""


class InvalidBlobIdError(StoreError, ValueError):
    """A blob id that is not a SHA-256 hex digest (64 hexadecimal characters)."""


class BlobNotFoundError(NotFoundError):
    """No blob is stored under the given id."""


class BlobCorruptError(StoreError):
    """A stored blob no longer hashes to its id."""


class UnsupportedDatabaseError(StoreError):
    """The database URL names a backend the store does not support (SQLite, PostgreSQL)."""


# PostgreSQL SQLSTATE codes that mean "try the same transaction again".
_RETRYABLE_SQLSTATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now
    }
)


_RETRYABLE_SQLITE_ERRORS = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_IOERR",
    "SQLITE_CANTOPEN",
    "SQLITE_FULL",
)


def is_transient(error: BaseException) -> bool:
    """True when ``error`` is a database outage or contention that a retry may cure.

    Connection loss, a busy or locked SQLite file and PostgreSQL serialisation failures
    or deadlocks are transient; integrity violations, programming errors (a missing
    table, bad SQL) and the store's own errors are not.
    """
    if isinstance(error, sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return True
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate in _RETRYABLE_SQLSTATES or sqlstate.startswith("08")
    sqlite_name = getattr(orig, "sqlite_errorname", None)
    if isinstance(sqlite_name, str):
        return sqlite_name.startswith(_RETRYABLE_SQLITE_ERRORS)
    # A driver-level operational error with no server code: the server was not reached.
    return isinstance(error, sa_exc.OperationalError)


class SchemaNotCurrentError(StoreError):
    """The database is not at the schema revision this version of the code needs."""
