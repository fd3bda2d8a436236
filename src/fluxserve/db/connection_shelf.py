"""SQLAlchemy connections kept open between transactions.

`Engine.connect()` builds a `Connection` and checks a driver connection out of the pool, and
closing it checks the driver connection back in and resets it: together more than a status
read's own statements cost. So a finished `Connection` goes on a shelf, and the next
transaction of any thread takes it from there.

The shelf owns as many connections as the pool allows at most (`capacity`), and a caller that
finds them all in use waits here for one to come back, as it would have waited on the pool:
a connection that came back to the shelf would never reach a caller waiting on the pool. Of
the idle ones it keeps the pool's `size` and hands the rest back to the pool; the pool's bound
on open connections holds as before. A connection a caller left in a transaction (SQLAlchemy's
or SQLite's own), or invalidated, goes back to the pool, which resets or drops it.

Only for SQLite: its connections have nothing that can go stale between two transactions (no
server to restart). PostgreSQL keeps the pool's checkout, whose check (`db/pg_liveness.py`)
finds a connection that a server restart has broken."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import TimeoutError as PoolTimeout

WAIT_S = 30.0  # SQLAlchemy's pool timeout


class ConnectionShelf:
    def __init__(
        self,
        engine: Engine,
        *,
        size: int,
        capacity: int,
    ) -> None:
        self._engine = engine
        self._size = size
        self._capacity = capacity
        self._idle: list[Connection] = []
        self._open = 0  # made by the shelf and not closed: idle or in use
        self._changed = threading.Condition(threading.Lock())
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection of the engine, outside any transaction, for one caller at a time."""
        conn = self._take()
        try:
            yield conn
        finally:
            self._put_back(conn)

    def _take(self) -> Connection:
        conn = self._idle_or_slot()
        return conn if conn is not None else self._connect()

    def _idle_or_slot(self) -> Connection | None:
        """An idle connection, or None once a slot for a new one is reserved."""
        with self._changed:
            if not self._available() and not self._changed.wait_for(self._available, WAIT_S):
                raise PoolTimeout(f"all {self._capacity} database connections stayed in use")
            if self._idle:
                return self._idle.pop()
            self._open += 1
            return None

    def _available(self) -> bool:
        return bool(self._idle) or self._open < self._capacity

    def _connect(self) -> Connection:
        try:
            return self._engine.connect()
        except BaseException:
            self._release_slot()
            raise

    def _put_back(self, conn: Connection) -> None:
        # Whatever a caller left behind (a transaction still open, an invalidated driver
        # connection) goes back to the pool, which resets or discards it.
        unfit = conn.closed or conn.invalidated or conn.in_transaction() or _driver_busy(conn)
        with self._changed:
            keep = not (unfit or self._closed) and len(self._idle) < self._size
            if keep:
                self._idle.append(conn)
                self._changed.notify()
        if not keep:
            self._drop(conn)

    def _drop(self, conn: Connection) -> None:
        try:
            conn.close()
        finally:
            self._release_slot()

    def _release_slot(self) -> None:
        with self._changed:
            self._open -= 1
            self._changed.notify()

    def close(self) -> None:
        """Close the idle connections; those in use close when their caller finishes."""
        with self._changed:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            with suppress(Exception):  # one that fails to close must not keep the rest open
                self._drop(conn)


def _driver_busy(conn: Connection) -> bool:
    # A COMMIT that failed (disk full, I/O error, a deferred foreign key) ends SQLAlchemy's
    # transaction but can leave SQLite's open, holding the write lock: the pool's reset would
    # have rolled it back.
    return bool(conn.connection.driver_connection.in_transaction)  # type: ignore[union-attr]
