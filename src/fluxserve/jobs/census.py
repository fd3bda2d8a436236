"""The queue as the job store sees it at one moment: what autoscalers and dashboards read.

Every API node asks the same database, so every node reports the same truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from fluxserve.db.database import Database
from fluxserve.db.schema import jobs, webhook_outbox


@dataclass(frozen=True)
class StateCount:
    count: int
    oldest_created_at: datetime | None


@dataclass(frozen=True)
class Census:
    by_model_state: dict[tuple[str, str], StateCount] = field(default_factory=dict)
    """(API model id, job state) -> how many jobs, and when the oldest of them was created."""
    outbox_pending: StateCount = StateCount(0, None)
    """Webhook deliveries not yet made (waiting or between retries)."""

    def of(self, model_id: str, state: str) -> StateCount:
        return self.by_model_state.get((model_id, state), StateCount(0, None))


def take_census(db: Database) -> Census:
    """Counts by model and state, and the webhook backlog, in one read transaction.

    The job query is covered by the (model_id, state, created_at) index."""
    job_query = select(
        jobs.c.model_id, jobs.c.state, func.count(), func.min(jobs.c.created_at)
    ).group_by(jobs.c.model_id, jobs.c.state)
    outbox_query = select(func.count(), func.min(webhook_outbox.c.created_at)).where(
        webhook_outbox.c.status == "pending"
    )
    with db.read() as conn:
        rows = conn.execute(job_query).all()
        pending, oldest = conn.execute(outbox_query).one()
    return Census(
        by_model_state={
            (model_id, state): StateCount(int(count), first)
            for model_id, state, count, first in rows
        },
        outbox_pending=StateCount(int(pending), oldest),
    )
