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
statement events and echo do not see it, and parameters that expand at execution (`IN` with a
list) are refused when it is compiled. A
driver error is raised as SQLAlchemy's own (`IntegrityError`, `OperationalError` …), and a
connection the error shows dead is invalidated, as a SQLAlchemy execution would."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Dialect, Select, UpdateBase
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.expression import ClauseElement

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: bool
    # Compiled name, the caller's key (None for a value fixed in the statement), fixed value,
    # and the type's bind processor.
    binds: tuple[tuple[str, str | None, Any, Processor | None], ...]
    # One per returned column; None when no column needs processing.
    results: tuple[Processor | None, ...] | None

    def row(self, raw: Any) -> tuple[Any, ...]:
        if self.results is None:
            return tuple(raw)
        return tuple(_processed(value, p) for value, p in zip(raw, self.results, strict=True))

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        processed = [
            (name, _processed(values[key] if key is not None else fixed, processor))
            for name, key, fixed, processor in self.binds
        ]
        if self.positional:
            return tuple(value for _, value in processed)
        return dict(processed)


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
        cursor = driver_conn.cursor()
        try:
            cursor.execute(compiled.sql, parameters)
            return fetch(cursor)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _as_sqlalchemy(conn, compiled.sql, parameters, exc, driver_conn, cursor) from exc
        finally:
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
    return _Compiled(compiled.string, compiled.positional, binds, _results(statement, dialect))


def _results(statement: ClauseElement, dialect: Dialect) -> tuple[Processor | None, ...] | None:
    """The result processor of each returned column (SELECT, or RETURNING)."""
    if isinstance(statement, Select):
        described = statement.column_descriptions
    elif isinstance(statement, UpdateBase):
        described = statement.returning_column_descriptions
    else:
        return None
    processors = tuple(
        column["type"].dialect_impl(dialect).result_processor(dialect, None) for column in described
    )
    return processors if any(p is not None for p in processors) else None


def _bind(
    name: str, bind: BindParameter[Any], dialect: Dialect
) -> tuple[str, str | None, Any, Processor | None]:
    processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
    if bind.required or bind.callable is not None:
        if bind.key.startswith("%("):
            raise ValueError(f"an anonymous parameter ({name}) must have a value")
        return (name, bind.key, None, processor)
    return (name, None, bind.effective_value, processor)


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
