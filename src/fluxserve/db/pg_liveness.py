"""Checking a pooled PostgreSQL connection before use, without a round trip in the busy case.

A server that restarts or ends a session closes its socket, and often says why first. Either
makes the idle connection's socket readable, while a healthy idle connection receives nothing.
So a zero-timeout poll of the socket at checkout finds the connections a server restart has
broken, for the price of one system call: the pool's ping (a `SELECT 1` round trip on every
checkout) was 15 % of a status read (docs/benchmarks.md §10).

A connection can also die in silence: a NAT or load balancer that drops idle flows, a host
that vanished. Those only happen to connections left idle, so one idle for longer than
`IDLE_PING_S` still gets the ping before use, and TCP keepalives (`KEEPALIVES`) probe idle
connections so that a dead peer turns into a socket error the poll sees.

A connection found broken makes the pool connect that slot again (its documented
`DisconnectionError`); a healthy one dropped (a notice pushed by the server while it was
idle) only costs a reconnect."""

from __future__ import annotations

import select
import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

IDLE_PING_S = 30.0
# libpq connection parameters: probe after 30 s idle, every 10 s, give up after 3 misses.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
              "keepalives_count": 3}  # fmt: skip
_CHECKED_IN = "fluxserve_checked_in"


def check_on_checkout(engine: Engine) -> None:
    """Make `engine`'s pool replace a connection the server has closed (or spoken on) since it
    was last used, or one that was idle long and fails a ping."""

    def checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop(_CHECKED_IN, None)
        if server_spoke(dbapi_connection):
            raise DisconnectionError("the server closed this idle connection")
        if idle_since is not None and time.monotonic() - idle_since > IDLE_PING_S:
            try:
                engine.dialect.do_ping(dbapi_connection)
            except engine.dialect.loaded_dbapi.Error as exc:
                raise DisconnectionError("an idle connection failed its ping") from exc

    event.listen(engine.pool, "checkin", checkin)
    event.listen(engine.pool, "checkout", checkout)


def server_spoke(dbapi_connection: Any) -> bool:
    """True when the idle driver connection is closed, broken, or has unread input (or an
    error: poll always reports those)."""
    if dbapi_connection.closed or dbapi_connection.broken:
        return True
    fd = dbapi_connection.fileno()
    if not hasattr(select, "poll"):  # Windows
        readable, _, failed = select.select([fd], [], [fd], 0)
        return bool(readable or failed)
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))
