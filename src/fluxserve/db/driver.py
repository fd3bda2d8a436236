"""Statements run on the driver's own cursor, inside a SQLAlchemy transaction.

A SQLAlchemy execution builds an execution context, looks the statement up in its cache,
processes every parameter and wraps the cursor in a result: for the short statements of a
submit (count the key's active jobs, rank the job, insert it, hold its price, write the ledger)
that machinery cost more than SQLite's own work, about half of the transaction's CPU. A
`DriverStatement` is a Core statement compiled once per dialect by SQLAlchemy, whose
parameters still go through each column type's own bind processor (so UTC datetimes and JSON
are stored exactly as a SQLAlchemy execution stores them), then handed straight to the cursor.

Results go through each selected column's result processor the same way (JSON parsed, UTC
datetimes made aware), so a row reads as a SQLAlchemy execution would read it. What it gives up:
statement events and echo do not see it; and it refuses, when compiled, what it cannot do as
SQLAlchemy does: parameters that expand at execution (`IN` with a list) or come from a callable,
statements other than SELECT, INSERT, UPDATE and DELETE (a UNION), and Numeric columns in
results (their processors need the driver's type codes). It compiles once per dialect and
driver, so engines of one driver must not differ in type handling (`json_serializer` and the
like): `Database` sets none.

A driver error is raised as SQLAlchemy's own (`IntegrityError`, `OperationalError` …), and a
connection the error shows dead is invalidated, as a SQLAlchemy execution would."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Dialect, Numeric, Select, UpdateBase
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.expression import ClauseElement

Processor = Callable[[Any], Any]


# The default of a parameter the caller must give.
_REQUIRED: Any = object()


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # The parameters' names in the SQL, in order; None for a positional paramstyle.
    names: tuple[str, ...] | None
    # Per parameter: the caller's key (None for a value fixed in the statement), the fixed or
    # default value (_REQUIRED: none), and the type's bind processor.
    binds: tuple[tuple[str | None, Any, Processor | None], ...]
    # One per returned column; None when no column needs processing.
    results: tuple[Processor | None, ...] | None

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        processed = tuple(
            _processed(_value(values, key, default), processor)
            for key, default, processor in self.binds
        )
        return processed if self.names is None else dict(zip(self.names, processed, strict=True))

    def row(self, raw: Any) -> tuple[Any, ...]:
        if self.results is None:
            return tuple(raw)
        return tuple(_processed(value, p) for value, p in zip(raw, self.results, strict=True))


def _value(values: Mapping[str, Any], key: str | None, default: Any) -> Any:
    if key is None:
        return default
    if default is _REQUIRED:
        return values[key]  # KeyError names the missing parameter
    return values.get(key, default)


def _processed(value: Any, processor: Processor | None) -> Any:
    return value if processor is None else processor(value)


class DriverStatement:
    """A Core statement run on the DB-API cursor of a SQLAlchemy `Connection`.

    Built once (a module constant, like the statement it wraps); compiled on first use for each
    dialect. Parameters are passed by their `bindparam` names; values written into the statement
    (`column == "QUEUED"`, a default OFFSET) are bound as compiled."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[tuple[Any, ...], _Compiled] = {}

    def execute(self, conn: Connection, values: Mapping[str, Any]) -> None:
        """Run it for its effect."""
        self._run(conn, self._for(conn.dialect), values, lambda cursor: None)

    def one(self, conn: Connection, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """Run it and return its only row; a statement that returned none is a bug."""
        row = self.one_or_none(conn, values)
        if row is None:
            raise LookupError("the statement returned no row")
        return row

    def one_or_none(self, conn: Connection, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Run it and return its first row, or None when it returned none."""
        compiled = self._for(conn.dialect)
        row = self._run(conn, compiled, values, lambda cursor: cursor.fetchone())
        return None if row is None else compiled.row(row)

    def all(self, conn: Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run it and return every row."""
        compiled = self._for(conn.dialect)
        rows = self._run(conn, compiled, values, lambda cursor: cursor.fetchall())
        return [compiled.row(row) for row in rows]

    def _run(
        self,
        conn: Connection,
        compiled: _Compiled,
        values: Mapping[str, Any],
        fetch: Callable[[Any], Any],
    ) -> Any:
        parameters = compiled.parameters(values)
        driver_conn = conn.connection.driver_connection
        assert driver_conn is not None
        dbapi_error = conn.dialect.loaded_dbapi.Error
        cursor = None
        try:
            cursor = driver_conn.cursor()
            cursor.execute(compiled.sql, parameters)
            return fetch(cursor)
        except dbapi_error as exc:
            raise _as_sqlalchemy(conn, compiled.sql, parameters, exc, driver_conn, cursor) from exc
        finally:
            if cursor is not None:
                with suppress(dbapi_error):  # a dead connection's cursor; its error is raised
                    cursor.close()

    def _for(self, dialect: Dialect) -> _Compiled:
        identity = (dialect.name, dialect.driver, dialect.paramstyle, dialect.server_version_info)
        compiled = self._compiled.get(identity)
        if compiled is None:
            compiled = self._compiled[identity] = _compile(self.statement, dialect)
        return compiled


def _compile(statement: ClauseElement, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    if compiled.post_compile_params or compiled.literal_execute_params:
        raise ValueError("a DriverStatement cannot expand parameters at execution")
    names = {name: bind for bind, name in compiled.bind_names.items()}
    order = compiled.positiontup if compiled.positional else list(names)
    assert order is not None
    binds = tuple(_bind(name, names[name], dialect) for name in order)
    # A named paramstyle writes some names escaped into the SQL ("a.b" as "a_b").
    escaped = compiled.escaped_bind_names
    in_sql = None if compiled.positional else tuple(escaped.get(n, n) for n in order)
    return _Compiled(compiled.string, in_sql, binds, _results(statement, dialect))


def _results(statement: ClauseElement, dialect: Dialect) -> tuple[Processor | None, ...] | None:
    """The result processor of each returned column (SELECT, or RETURNING)."""
    if isinstance(statement, Select):
        described = statement.column_descriptions
    elif isinstance(statement, UpdateBase):
        described = statement.returning_column_descriptions
    else:
        raise ValueError("a DriverStatement runs a SELECT, INSERT, UPDATE or DELETE")
    types = [column["type"].dialect_impl(dialect) for column in described]
    if any(isinstance(type_, Numeric) for type_ in types):
        # Their processors need the driver's type code of each column, which this skips.
        raise ValueError("a DriverStatement reads no Numeric or Float column")
    processors = tuple(type_.result_processor(dialect, None) for type_ in types)
    return processors if any(p is not None for p in processors) else None


def _bind(
    name: str, bind: BindParameter[Any], dialect: Dialect
) -> tuple[str | None, Any, Processor | None]:
    if bind.callable is not None:
        raise ValueError(f"a DriverStatement takes no callable parameter ({bind.key})")
    processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
    default = _REQUIRED if bind.required else bind.value
    if bind.key.startswith("%("):  # anonymous: a value written into the statement
        if default is _REQUIRED:
            raise ValueError(f"an anonymous parameter ({name}) must have a value")
        return (None, default, processor)
    return (bind.key, default, processor)


def _as_sqlalchemy(
    conn: Connection, sql: str, parameters: Any, exc: Any, driver_conn: Any, cursor: Any
) -> DBAPIError:
    dialect = conn.dialect
    dead = dialect.is_disconnect(exc, driver_conn, cursor)
    if dead:
        conn.invalidate(exc)
    wrapped = DBAPIError.instance(
        sql, parameters, exc, dialect.loaded_dbapi.Error,
        connection_invalidated=dead, dialect=dialect,
    )  # fmt: skip
    return cast(DBAPIError, wrapped)  # a driver error always becomes a DBAPIError
