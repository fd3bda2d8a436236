"""Nodes: every process that runs jobs registers itself and beats a heartbeat from a timer of
its own, independent of inference progress. The beat also renews the leases of the jobs the
node is still working on, so a job's lease expires only when its node has stopped beating or
has stopped running it (a worker thread that died, an end that could not be recorded).

A node's start and stop ride out a database that is briefly away (a PostgreSQL restart or
failover): a node starting at that moment would otherwise exit, and one stopping would leave
its jobs to wait for their leases."""

from __future__ import annotations

import os
import socket
from collections.abc import Collection
from datetime import timedelta

from sqlalchemy import insert, select, update

from fluxserve.db.clock import Clock, checked
from fluxserve.db.database import Database
from fluxserve.db.retry import retry_transient
from fluxserve.db.schema import jobs, nodes
from fluxserve.jobs.records import JobState

# How long a node's start and stop wait for the database to come back.
OUTAGE_RETRY_S = 60.0


class NodeStore:
    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self._db = db
        self._now = checked(clock)

    def register(self, node_id: str, kind: str, models: Collection[str] | None) -> None:
        row = {
            "id": node_id,
            "kind": kind,
            "host": socket.gethostname()[:255],
            "pid": os.getpid(),
            "models": None if models is None else sorted(models),
        }
        tries = 0

        def once() -> None:
            nonlocal tries
            tries += 1
            # Stamped per try: a node that waited out an outage must not look dead at once.
            row["started_at"] = row["heartbeat_at"] = self._now()
            with self._db.write() as conn:
                # A connection may drop after its COMMIT landed: then the row is there.
                if tries > 1 and conn.scalar(select(nodes.c.id).where(nodes.c.id == node_id)):
                    return
                conn.execute(insert(nodes).values(row))

        retry_transient(once, within_s=OUTAGE_RETRY_S)

    def beat(self, node_id: str, lease_s: float, attempt_ids: Collection[str]) -> int:
        """Mark `node_id` alive and extend the leases of its jobs running under
        `attempt_ids`; how many it renewed."""
        now = self._now()
        with self._db.write() as conn:
            conn.execute(update(nodes).where(nodes.c.id == node_id).values(heartbeat_at=now))
            if not attempt_ids:
                return 0
            renewed = conn.execute(
                update(jobs)
                .where(
                    jobs.c.node_id == node_id,
                    jobs.c.state == JobState.PROCESSING.value,
                    jobs.c.attempt_id.in_(list(attempt_ids)),
                )
                .values(lease_until=now + timedelta(seconds=lease_s))
            )
            return int(renewed.rowcount)

    def stopped(self, node_id: str) -> None:
        def once() -> None:
            with self._db.write() as conn:
                conn.execute(
                    update(nodes)
                    .where(nodes.c.id == node_id, nodes.c.stopped_at.is_(None))
                    .values(stopped_at=self._now())
                )

        retry_transient(once, within_s=OUTAGE_RETRY_S)
