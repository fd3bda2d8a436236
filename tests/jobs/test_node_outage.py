"""A node's start and stop ride out a PostgreSQL that is briefly away: registering, rescuing
its previous life, handing back and marking itself stopped wait for the server to return
instead of failing (a node starting then would exit; one stopping would leave its jobs to
their leases). Each step here starts while the server is down."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import select

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from fluxserve.db.schema import nodes
from fluxserve.jobs.nodes import NodeStore
from fluxserve.jobs.records import JobState
from fluxserve.jobs.store import JobStore
from tests.support.private_pg import PrivatePostgres, private_postgres

T = TypeVar("T")


@contextmanager
def _database() -> Iterator[tuple[PrivatePostgres, Database]]:
    with private_postgres() as server:
        db = Database.open(server.url, pool_size=2, max_overflow=0)
        try:
            yield server, db
        finally:
            db.close()


def _while_down(server: PrivatePostgres, step: Callable[[], T]) -> T:
    """`step()` started with the server stopped; the server comes back a second later."""
    server.stop()
    back = threading.Timer(1.0, server.start)
    back.start()
    try:
        return step()
    finally:
        back.join()


def test_a_node_starts_and_stops_while_the_database_is_away() -> None:
    with _database() as (server, db):
        store, node_store = JobStore(db), NodeStore(db)
        key, _ = KeyStore(db).create(name="t", credit_micros=0)
        for n in range(2):
            store.create(
                request_id=f"flux-dev_{n}", model_id="flux-dev", key_id=key.id,
                spec={"prompt": "a kite"}, price_micros=0,
            )  # fmt: skip
        store.claim("w", "old-life", 3600)
        store.claim("w", "stopping", 3600)

        _while_down(server, lambda: node_store.register("new", "worker", ["flux-dev"]))
        rescued = _while_down(server, lambda: store.rescue_node("old-life", max_attempts=3))
        handed = _while_down(server, lambda: store.hand_back("stopping"))
        _while_down(server, lambda: node_store.stopped("new"))

        assert [job.state for job in rescued] == [JobState.QUEUED]
        assert [(job.state, job.attempts) for job in handed] == [(JobState.QUEUED, 0)]
        with db.read() as conn:
            row = conn.execute(select(nodes).where(nodes.c.id == "new")).one()
        assert row.kind == "worker" and row.stopped_at is not None
