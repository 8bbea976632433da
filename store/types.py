"""Column types that behave the same on SQLite and PostgreSQL.

``UtcDateTime`` stores instants: it refuses naive datetimes, stores UTC and always
returns aware UTC datetimes. ``JsonList`` stores a JSON array (``JSONB`` on PostgreSQL,
``JSON`` text on SQLite) and always returns a Python list.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from store.errors import NaiveDatetimeError


class UtcDateTime(TypeDecorator[datetime]):
    """An aware instant, stored in UTC.

    PostgreSQL keeps it in ``timestamp with time zone``; SQLite has no time zones, so the
    UTC wall time is stored and UTC is attached again when it is read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDatetimeError(f"naive datetime refused (give it a time zone): {value!r}")
        utc = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return utc.replace(tzinfo=None)
        return utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JsonList(TypeDecorator[list[Any]]):
    """A JSON array: ``JSONB`` on PostgreSQL, JSON text on SQLite."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())

    def process_bind_param(self, value: list[Any] | None, dialect: Dialect) -> list[Any] | None:
        if value is None:
            return None
        if not isinstance(value, list | tuple):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        return list(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> list[Any] | None:
        if value is None:
            return None
        if not isinstance(value, list):
            raise TypeError(f"expected a JSON array in the database, got {type(value).__name__}")
        return value
