"""Attempts: each claim of a job gets an id, and a row in `job_attempts` saying who ran it,
when, and how it ended. The id guards every write of the attempt and names its media folder,
so a stale attempt can neither finish a job nor touch another attempt's files."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, insert, update

from fluxserve.db.driver import DriverStatement
from fluxserve.db.schema import job_attempts, jobs
from fluxserve.jobs.records import JobRecord, JobState
from fluxserve.jobs.rows import job_from_row, job_from_values


def current(job: JobRecord) -> tuple[Any, ...]:
    """The guard of every worker write: still PROCESSING, still under `job`'s attempt."""
    return (
        jobs.c.request_id == job.request_id,
        jobs.c.state == JobState.PROCESSING.value,
        jobs.c.attempt_id == job.attempt_id,
    )


# `current` for a statement built once (db/driver.py), given `current_values(job)`: the attempt
# is compared NULL-safe, as `current`'s `==` compares it with None.
CURRENT_GIVEN = (
    jobs.c.request_id == bindparam("request_id"),
    jobs.c.state == JobState.PROCESSING.value,
    jobs.c.attempt_id.is_not_distinct_from(bindparam("running_attempt")),
)


def current_values(job: JobRecord) -> dict[str, Any]:
    """The parameters of `CURRENT_GIVEN` for `job`."""
    return {"request_id": job.request_id, "running_attempt": job.attempt_id}


# A claim's two statements, on the driver (db/driver.py): a worker runs them for every job.
_START = DriverStatement(
    update(jobs)
    .where(jobs.c.request_id == bindparam("request_id"), jobs.c.state == JobState.QUEUED.value)
    .values(
        state=JobState.PROCESSING.value,
        attempts=jobs.c.attempts + 1,
        attempt_id=bindparam("new_attempt_id"),
        worker_id=bindparam("new_worker_id"),
        node_id=bindparam("new_node_id"),
        lease_until=bindparam("new_lease_until"),
        updated_at=bindparam("now"),
    )
    .returning(*jobs.c)
)
_RECORD_START = DriverStatement(
    insert(job_attempts).values(
        attempt_id=bindparam("new_attempt_id"),
        request_id=bindparam("request_id"),
        node_id=bindparam("new_node_id"),
        worker_id=bindparam("new_worker_id"),
        started_at=bindparam("now"),
    )
)


def start(
    conn: Connection,
    request_id: str,
    worker_id: str,
    node_id: str,
    lease_s: float,
    now: datetime,
) -> JobRecord | None:
    """QUEUED → PROCESSING under a new attempt; None if someone else took it first."""
    values = {
        "request_id": request_id,
        "new_attempt_id": uuid.uuid4().hex,
        "new_worker_id": worker_id,
        "new_node_id": node_id,
        "new_lease_until": now + timedelta(seconds=lease_s),
        "now": now,
    }
    row = _START.one_or_none(conn, values)
    if row is None:
        return None
    _RECORD_START.execute(conn, values)
    return job_from_values(row)


def requeue(conn: Connection, job: JobRecord, now: datetime, outcome: str) -> JobRecord | None:
    """PROCESSING → QUEUED, ending `job`'s attempt with `outcome`. A handed-back attempt was
    nobody's fault, so it gives its attempt back."""
    refund = 1 if outcome == "HANDED_BACK" else 0
    row = conn.execute(
        update(jobs)
        .where(*current(job))
        .values(
            state=JobState.QUEUED.value,
            attempts=jobs.c.attempts - refund,
            attempt_id=None,
            worker_id=None,
            node_id=None,
            lease_until=None,
            progress=None,
            updated_at=now,
        )
        .returning(*jobs.c)
    ).one_or_none()
    if row is None:
        return None
    end(conn, job, outcome, now)
    return job_from_row(row)


_END = DriverStatement(
    update(job_attempts)
    .where(job_attempts.c.attempt_id == bindparam("ended_attempt"))
    .values(ended_at=bindparam("now"), outcome=bindparam("new_outcome"))
)


def end(conn: Connection, job: JobRecord, outcome: str, now: datetime) -> None:
    if job.attempt_id is None:
        return
    _END.execute(conn, {"ended_attempt": job.attempt_id, "now": now, "new_outcome": outcome})
