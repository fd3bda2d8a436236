"""Cancelling a job inside the caller's write transaction: a QUEUED job ends at once, a
PROCESSING one ends its attempt CANCELLED (every later write of that attempt is refused)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from fluxserve.db.schema import jobs
from fluxserve.errors import Conflict, NotFound
from fluxserve.jobs import notify
from fluxserve.jobs.ending import finish, settle
from fluxserve.jobs.records import JobRecord, JobState
from fluxserve.jobs.rows import job_from_row


def locked(conn: Connection, request_id: str, owner: str | None) -> JobRecord:
    """The job, its row locked until the transaction ends. Someone else's job is NotFound,
    exactly like a missing one (ids are not a lookup oracle)."""
    row = None
    if "\x00" not in request_id:
        query = select(jobs).where(jobs.c.request_id == request_id).with_for_update()
        row = conn.execute(query).one_or_none()
    if row is None or (owner is not None and row._mapping["key_id"] != owner):
        raise NotFound(f"Request '{request_id}' not found")
    return job_from_row(row)


def cancel(conn: Connection, job: JobRecord, now: datetime, error: str | None) -> JobRecord:
    """End the (locked) `job` CANCELLED; Conflict, naming its state, once it has ended."""
    if job.is_terminal:
        raise Conflict(
            f"Request '{job.request_id}' has already ended: {job.state.value}",
            title="Conflict",
            details={"status": job.state.value},
        )
    values = {"error": error}
    ended: JobRecord | None
    if job.state is JobState.PROCESSING:
        ended = finish(conn, job, JobState.CANCELLED, values, now)
    else:
        ended = _end_queued(conn, job, values, now)
    # Locked and not ended: both updates match. The queue behind it moved.
    assert ended is not None
    notify.changed(conn, job.request_id, job.model_id)
    return ended


def _end_queued(
    conn: Connection, job: JobRecord, values: dict[str, str | None], now: datetime
) -> JobRecord | None:
    row = conn.execute(
        update(jobs)
        .where(jobs.c.request_id == job.request_id, jobs.c.state == JobState.QUEUED.value)
        .values(state=JobState.CANCELLED.value, updated_at=now, completed_at=now, **values)
        .returning(*jobs.c)
    ).one_or_none()
    if row is None:
        return None
    return settle(conn, job_from_row(row), JobState.CANCELLED, now)
