"""PostgreSQL connections checked at checkout without a round trip (db/pg_liveness.py): after
the server restarts, the next transactions get fresh connections and none fails."""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
import pytest
from sqlalchemy import text

from fluxserve.db import pg_liveness
from fluxserve.db.database import Database
from fluxserve.db.pg_liveness import server_spoke
from tests.support.private_pg import private_postgres


def _backend(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_transactions_after_a_server_restart_get_fresh_connections() -> None:
    with private_postgres() as server:
        db = Database.open(server.url, pool_size=2, max_overflow=0)
        try:
            before = _backend(db)
            assert _backend(db) == before  # the pooled connection is reused while it lives
            server.restart()
            after = _backend(db)  # would raise on the dead connection without the check
            assert after != before
            with db.write() as conn:
                conn.execute(text("CREATE TABLE scratch (x INTEGER)"))
            with db.snapshot() as conn:
                assert conn.execute(text("SELECT count(*) FROM scratch")).scalar_one() == 0
        finally:
            db.close()


def test_an_idle_connection_the_server_ended_is_seen_as_closed() -> None:
    with private_postgres() as server:
        db = Database.open(server.url, pool_size=2, max_overflow=0)
        try:
            with db.engine.connect() as watched, db.engine.connect() as killer:
                driver = watched.connection.driver_connection
                assert not server_spoke(driver)  # idle and healthy: no system call says more
                pid = watched.execute(text("SELECT pg_backend_pid()")).scalar_one()
                watched.rollback()
                killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                killer.rollback()
                _wait_until(lambda: server_spoke(driver))
        finally:
            db.close()


def test_a_connection_idle_for_long_is_pinged_and_replaced_when_the_ping_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A connection that died in silence (a NAT that dropped the idle flow) shows nothing on
    # its socket: only the ping finds it, so a connection idle past IDLE_PING_S gets one.
    with private_postgres() as server:
        db = Database.open(server.url, pool_size=1, max_overflow=0)
        try:
            pings: list[object] = []

            def failing_ping(dbapi_connection: object) -> bool:
                pings.append(dbapi_connection)
                raise psycopg.OperationalError("no answer")

            before = _backend(db)
            monkeypatch.setattr(db.engine.dialect, "do_ping", failing_ping)
            assert _backend(db) == before and pings == []  # just used: no ping
            monkeypatch.setattr(pg_liveness, "IDLE_PING_S", 0.0)
            after = _backend(db)  # idle "long": pinged, the ping fails, the slot reconnects
            assert len(pings) == 1 and after != before
        finally:
            db.close()


def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the server's close never reached the client's socket")
        time.sleep(0.01)
