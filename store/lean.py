"""Fixed statements of the intake path, compiled once and run on the DBAPI cursor.

Every message that arrives runs about a dozen statements that never change shape: the
de-duplication lookups, the sender count, the number, the inserts of its rows and the
update of its inbound row. Through ``Connection.execute`` each one costs SQLAlchemy's
per-execution work (cache key, execution context, parameter processing, result object),
some 30 to 60 µs, on top of what the database takes; at a dozen statements that was a
quarter of an ingest (``docs/benchmarks.md``).

:func:`run` compiles such a statement once per dialect and set of parameter names, with
SQLAlchemy's own compiler and the same bind processors a normal execution applies
(``UtcDateTime``, ``JsonList`` and the dialect's own types), then runs it on the
cursor of the connection the transaction already holds. What it skips, and why that is
safe for the statements given to it:

* statement-level engine events (``before_cursor_execute`` and the like): the engine
  listens only to ``connect`` and ``begin``, and the transaction has begun before
  :func:`run` is reached (it takes the session's connection);
* result processing: the statements return nothing, or one integer column (an id, a
  count, a sequence value), which the drivers return as ``int`` already;
* expanding (``IN``) parameters: refused when the statement is compiled.

Errors are raised as ``Connection.execute`` raises them: a driver error as its
SQLAlchemy exception (``sqlalchemy.exc.IntegrityError`` and so on), a value a bind
processor refuses (a naive datetime) as ``StatementError`` with the error as ``orig``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Prepared:
    """One statement compiled for one dialect and one set of parameter names."""

    sql: str
    #: Bound parameter names in the order of the placeholders (positional paramstyles),
    #: or None when the driver takes a mapping by name.
    positions: tuple[str, ...] | None
    #: (name, processor or None) for every bound parameter.
    processors: tuple[tuple[str, _Processor | None], ...]
    #: Values of the parameters the statement carries itself (literals turned into
    #: bound parameters by the compiler, ``LIMIT 1``...).
    defaults: Mapping[str, Any]
    #: Parameters of columns with a Python-side default (``mapped_column(default=...)``)
    #: not given: the function that computes each value, called per execution.
    computed: Mapping[str, Callable[[], Any]]

    def arguments(self, params: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """The driver's arguments for ``params``, processed as SQLAlchemy would."""
        values: dict[str, Any] = {}
        for name, processor in self.processors:
            if name in params:
                value = params[name]
            elif name in self.computed:
                value = self.computed[name]()
            else:
                value = self.defaults[name]
            values[name] = value if processor is None or value is None else processor(value)
        if self.positions is None:
            return values
        return tuple(values[name] for name in self.positions)


class UnsupportedStatementError(ValueError):
    """A statement :func:`run` cannot take (an expanding parameter, a missing value)."""


def prepare(statement: ClauseElement, dialect: Dialect, names: tuple[str, ...]) -> Prepared:
    """Compile ``statement`` for ``dialect``, with the parameters ``names`` supplied."""
    compiled = statement.compile(dialect=dialect, column_keys=list(names))
    if not isinstance(compiled, SQLCompiler):
        raise UnsupportedStatementError(f"not a SQL statement: {statement!r}")
    processors: list[tuple[str, _Processor | None]] = []
    defaults: dict[str, Any] = {}
    computed = {
        column.key: _default_of(column, compiled)
        for column in (*compiled.insert_prefetch, *compiled.update_prefetch)
        if column.key not in names
    }
    for name, bind in compiled.binds.items():
        if bind.expanding:
            raise UnsupportedStatementError(f"expanding parameter {name!r} in {compiled}")
        if name not in names and name not in computed:
            if bind.required or bind.callable is not None:
                raise UnsupportedStatementError(f"no value for parameter {name!r} in {compiled}")
            defaults[name] = bind.value
        processors.append((name, bind.type.dialect_impl(dialect).bind_processor(dialect)))
    positions = tuple(compiled.positiontup or ()) if compiled.positional else None
    return Prepared(compiled.string, positions, tuple(processors), defaults, computed)


def _default_of(column: Any, compiled: SQLCompiler) -> Callable[[], Any]:
    """What computes the value of ``column``'s Python-side default (a constant, or a
    function that takes no argument, such as ``list``)."""
    default = column.default if compiled.isinsert else column.onupdate
    if default is not None and default.is_scalar:
        value = default.arg
        return lambda: value
    if default is not None and default.is_callable:
        # SQLAlchemy wraps a function of no argument as one of the execution context.
        function = default.arg
        return lambda: function(None)
    raise UnsupportedStatementError(f"column {column.key!r} has a default run by the database")


_cache: dict[tuple[int, int, tuple[str, ...]], tuple[ClauseElement, Dialect, Prepared]] = {}
_cache_lock = threading.Lock()


def prepared(statement: ClauseElement, dialect: Dialect, names: tuple[str, ...]) -> Prepared:
    """:func:`prepare`, once per statement object, dialect object and parameter names.

    Keyed by identity: the statements given here are module-level constants or built by
    cached functions, so they live as long as the process. The entry keeps both objects
    alive, so an id is never reused for another statement while it is cached.
    """
    key = (id(statement), id(dialect), names)
    entry = _cache.get(key)
    if entry is None:
        entry = (statement, dialect, prepare(statement, dialect, names))
        with _cache_lock:
            _cache.setdefault(key, entry)
    return entry[2]


def run(connection: Connection, statement: ClauseElement, params: Mapping[str, Any]) -> Any:
    """Execute ``statement`` with ``params`` on ``connection``'s transaction; the first
    column of the first row it returns, or None when it returns none."""
    dialect = connection.dialect
    plan = prepared(statement, dialect, tuple(params))
    try:
        arguments = plan.arguments(params)
    except Exception as error:  # noqa: BLE001 - a bind processor refused a value
        # As Connection.execute reports it: the statement, and the error as ``orig``.
        raise exc.StatementError(
            f"({type(error).__module__}.{type(error).__name__}) {error}",
            plan.sql,
            dict(params),
            error,
        ) from error
    cursor = connection.connection.cursor()
    try:
        cursor.execute(plan.sql, arguments)
        row = cursor.fetchone() if cursor.description is not None else None
    except dialect.loaded_dbapi.Error as error:
        raise exc.DBAPIError.instance(
            plan.sql, arguments, error, dialect.loaded_dbapi.Error, dialect=dialect
        ) from error
    finally:
        cursor.close()
    return None if row is None else row[0]
