"""SQLite connection set-up: WAL, a busy timeout, foreign keys, and our own BEGIN.

The sqlite3 driver's own transaction handling skips BEGIN before SELECTs, so a read-then-write
transaction could act on a stale snapshot. We take over: every transaction starts with our
BEGIN (`begin`, called by `Database` inside SQLAlchemy's transaction), and write transactions
with BEGIN IMMEDIATE, which takes the write lock up front (waiting up to the busy timeout) so
concurrent writers queue instead of failing with SQLITE_BUSY. It is not a SQLAlchemy "begin"
event: an engine with connection events pays for them on every connection checkout and
transaction, which cost a status read more than its own statements."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, event
from sqlalchemy.exc import DBAPIError, IntegrityError

try:
    import fcntl
except ImportError:  # not on Windows: writers of other processes meet SQLite's busy wait
    fcntl = None  # type: ignore[assignment]

BUSY_TIMEOUT_MS = 30_000


def is_memory(url: URL) -> bool:
    """True for an in-memory SQLite URL (`sqlite://` or `sqlite:///:memory:`)."""
    return url.database in (None, "", ":memory:")


def ensure_parent_dir(url: URL) -> None:
    """Create the folder that will hold a file database."""
    if not is_memory(url) and url.database is not None:
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def install_hooks(engine: Engine) -> None:
    """Attach the pragmas, and the driver's autocommit mode (BEGIN is ours), to every
    connection of `engine`."""
    memory = is_memory(engine.url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first, so that even switching to WAL waits for a lock.
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()


def begin(conn: Connection, *, write: bool) -> None:
    """Open the transaction of `conn` (inside its SQLAlchemy `begin()`, which commits or rolls
    it back): BEGIN IMMEDIATE to write. On the driver's own connection, as a SQLAlchemy
    execution costs more than the statement; a refusal (the database locked past the busy
    timeout) still reaches callers as SQLAlchemy's error."""
    statement = "BEGIN IMMEDIATE" if write else "BEGIN"
    try:
        conn.connection.driver_connection.execute(statement)  # type: ignore[union-attr]
    except sqlite3.Error as exc:
        raise DBAPIError.instance(statement, (), exc, sqlite3.Error) from exc


class WriterQueue:
    """Where a SQLite file's writers wait their turn. SQLite has one writer at a time, and a
    writer that finds the lock taken sleeps in growing steps (up to 100 ms) before it tries
    again: under a burst that lottery is the tail latency. Writers queue here instead: on a
    lock of this process, then on an advisory file lock that every process of this machine
    using the database takes (API processes, the worker), which the kernel hands to the next
    waiter as soon as it is released and frees when a process dies. Reentrant: a nested write
    meets SQLite's busy timeout as it would without the queue, rather than hanging."""

    def __init__(self, database: Path) -> None:
        self._path = database.with_name(database.name + ".writers")
        self._local = threading.RLock()
        self._depth = 0
        self._file: Any = None

    @contextmanager
    def turn(self) -> Iterator[bool]:
        """This writer's turn; True unless the calling thread had its turn already (nested)."""
        with self._local:
            self._depth += 1
            try:
                if self._depth == 1:
                    self._lock_file()
                yield self._depth == 1
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._unlock_file()

    def _lock_file(self) -> None:
        if fcntl is None:
            return
        if self._file is None:
            self._file = self._path.open("a+b")
        fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)

    def _unlock_file(self) -> None:
        if fcntl is not None and self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)

    @contextmanager
    def idle(self) -> Iterator[None]:
        """No writer of this process at work meanwhile (other processes' may be)."""
        with self._local:
            yield

    def close(self) -> None:
        with self._local:
            if self._file is not None:
                self._file.close()
                self._file = None


class ResidentWriter:
    """The connection this process writes a SQLite file on. Writers take turns (WriterQueue),
    so one connection serves every writer that has its turn. Keeping it spares each write
    transaction the pool's checkout and check-in, which cost a submit about as much as its
    five statements, and keeps the connection's cache of prepared statements warm. The pool
    keeps one slot more for it (`Database.open`). A connection is discarded, and the next
    writer opens a fresh one, when an error of the database other than a refused constraint
    went through it, or when anything leaves a transaction open on it (a constraint refused at
    COMMIT rolls nothing back by itself)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction (BEGIN IMMEDIATE) on the resident connection; only for the
        writer whose turn it is."""
        if self._conn is None:
            self._conn = self._engine.connect()
        conn = self._conn
        try:
            with conn.begin():
                begin(conn, write=True)
                yield conn
        except BaseException as exc:
            failed = isinstance(exc, DBAPIError) and not isinstance(exc, IntegrityError)
            if failed or _still_in_transaction(conn):
                self._discard()
            raise

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.invalidate()  # not back to the pool: it may be what failed
            conn.close()


def _still_in_transaction(conn: Connection) -> bool:
    """Whether SQLAlchemy or SQLite itself still has a transaction open on `conn` (after its
    transaction ended in an error); True when that cannot be told."""
    try:
        driver = conn.connection.driver_connection
        return conn.in_transaction() or bool(getattr(driver, "in_transaction", True))
    except Exception:
        return True
