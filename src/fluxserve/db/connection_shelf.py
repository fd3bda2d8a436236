"""SQLAlchemy connections kept open between transactions, for SQLite.

`Engine.connect()` builds a `Connection` and checks a driver connection out of the pool, and
closing it checks the driver connection back in and resets it: together more than a status
read's own statements cost. A SQLite connection has nothing that can go stale between two
transactions (no server to restart, no network), so a finished `Connection` goes on a shelf
and the next transaction of any thread takes it from there. No more connections are open
than before: a connection is only ever made when the shelf is empty, that is when every one
made so far is in use, and the pool still bounds them. PostgreSQL keeps the pool's checkout,
whose check (`db/pg_liveness.py`) finds a connection that a server restart has broken."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine


class ConnectionShelf:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._idle: list[Connection] = []  # append and pop are atomic: no lock needed
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection of the engine, outside any transaction, for one caller at a time."""
        try:
            conn = self._idle.pop()
        except IndexError:
            conn = self._engine.connect()
        try:
            yield conn
        finally:
            self._put_back(conn)

    def _put_back(self, conn: Connection) -> None:
        # Whatever a caller left behind (a transaction still open, an invalidated driver
        # connection) goes back to the pool, which resets or discards it.
        if self._closed or conn.closed or conn.invalidated or conn.in_transaction():
            conn.close()
            return
        self._idle.append(conn)
        if self._closed:  # `close` ran meanwhile, and may have missed it
            self.close()

    def close(self) -> None:
        """Close the idle connections; those in use close when their caller finishes."""
        self._closed = True
        while self._idle:
            self._idle.pop().close()
