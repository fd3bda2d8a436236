"""Jobs by key and state, newest first: what the operators' admin API lists."""

from __future__ import annotations

from sqlalchemy import select

from fluxserve.db.database import Database
from fluxserve.db.schema import jobs
from fluxserve.jobs.records import JobRecord, JobState
from fluxserve.jobs.rows import job_from_row


class JobListing:
    def __init__(self, db: Database) -> None:
        self._db = db

    def list(self, *, key_id: str | None, state: JobState | None, limit: int) -> list[JobRecord]:
        """Up to `limit` jobs of `key_id` in `state` (either may be None: any)."""
        return _list(self._db, key_id, state, limit)


def _list(db: Database, key_id: str | None, state: JobState | None, limit: int) -> list[JobRecord]:
    query = select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.request_id.desc()).limit(limit)
    if key_id is not None:
        query = query.where(jobs.c.key_id == key_id)
    if state is not None:
        query = query.where(jobs.c.state == state.value)
    with db.read() as conn:
        return [job_from_row(row) for row in conn.execute(query)]
