"""Checking a pooled PostgreSQL connection before use without a round trip.

A server that restarts or ends a session closes its socket, and often says why first. Either
makes the idle connection's socket readable, while a healthy idle connection receives nothing.
So a zero-timeout poll of the socket at checkout finds the broken connections that the pool's
ping (a `SELECT 1` round trip on every checkout) would, for the price of one system call: the
ping was 15 % of a status read (docs/benchmarks.md §10). A connection found readable is
dropped and the pool hands out another; the rare healthy one dropped (a notice or a parameter
change pushed by the server while it was idle) only costs a reconnect."""

from __future__ import annotations

import select
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError


def drop_closed_on_checkout(engine: Engine) -> None:
    """Make `engine`'s pool replace a connection the server has closed (or spoken on) since it
    was last used, as it would one that failed the pool's ping."""
    event.listen(engine.pool, "checkout", _refuse_if_closed)


def _refuse_if_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    if server_spoke(dbapi_connection):
        # The pool's documented signal: discard this connection, check out another.
        raise DisconnectionError("the server closed this idle connection")


def server_spoke(dbapi_connection: Any) -> bool:
    """True when the idle driver connection is closed, broken, or has unread input."""
    if dbapi_connection.closed or dbapi_connection.broken:
        return True
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))
