"""How many jobs a key has waiting or running, counted in the job store (the system of
record), so every API node enforces the same cap."""

from __future__ import annotations

from sqlalchemy import func, select

from fluxserve.db.database import Database
from fluxserve.db.schema import jobs
from fluxserve.jobs.records import JobState

ACTIVE_STATES = (JobState.QUEUED.value, JobState.PROCESSING.value)


def count_active_jobs(db: Database, key_id: str, up_to: int | None = None) -> int:
    """The key's QUEUED + PROCESSING jobs, of every model; counted no further than `up_to`
    when given (a cap only needs to know whether it is reached)."""
    active = select(jobs.c.request_id).where(
        jobs.c.key_id == key_id, jobs.c.state.in_(ACTIVE_STATES)
    )
    if up_to is not None:
        active = active.limit(up_to)
    query = select(func.count()).select_from(active.subquery())
    with db.read() as conn:
        return int(conn.execute(query).scalar_one())
