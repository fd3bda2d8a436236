"""Where a job is: its place in its model's queue and how long it may still take. Read from the
database only, so any API node answers for jobs that run on any worker node. Cheap: a count on
an index, the last few finished attempts of the model, and one attempt row. The position
follows the claim order itself (jobs/scheduling.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from fluxserve.db.schema import job_attempts, jobs
from fluxserve.jobs.records import JobRecord, JobState
from fluxserve.jobs.scheduling import queue_position

RECENT_JOBS = 20  # finished attempts of a model that the estimate averages


def recent_duration_s(conn: Connection, model_id: str) -> float | None:
    """Mean run time of the model's last completed jobs' final attempts; None before any.
    Both steps ride an index: jobs by (model, state, created), attempts by request."""
    recent = (
        select(jobs.c.request_id)
        .where(jobs.c.model_id == model_id, jobs.c.state == JobState.COMPLETED.value)
        .order_by(jobs.c.created_at.desc())
        .limit(RECENT_JOBS)
        .subquery()
    )
    query = (
        select(job_attempts.c.started_at, job_attempts.c.ended_at)
        .join(recent, recent.c.request_id == job_attempts.c.request_id)
        .where(job_attempts.c.outcome == JobState.COMPLETED.value)
    )
    spans = [(end - start).total_seconds() for start, end in conn.execute(query)]
    return sum(spans) / len(spans) if spans else None


def running_eta_s(conn: Connection, job: JobRecord, now: datetime) -> float | None:
    """Seconds left for a PROCESSING job: its own pace so far once it has made a step, else
    the model's recent mean run time less what it has run."""
    started = conn.execute(
        select(job_attempts.c.started_at).where(job_attempts.c.attempt_id == job.attempt_id)
    ).scalar_one_or_none()
    if started is None:
        return None
    elapsed: float = max(0.0, (now - started).total_seconds())
    step = int((job.progress or {}).get("step", 0))
    total = int((job.progress or {}).get("total", 0))
    if 0 < step <= total:
        return elapsed / step * (total - step)
    mean = recent_duration_s(conn, job.model_id)
    return None if mean is None else max(0.0, mean - elapsed)


def whereabouts(conn: Connection, job: JobRecord, now: datetime) -> dict[str, Any]:
    """The status body's extra fields: `queue_position` and `eta_s` while QUEUED, `eta_s`
    while PROCESSING (null when nothing is known yet), nothing once it has ended."""
    position = queue_position(conn, job.request_id) if job.state is JobState.QUEUED else None
    if position is not None:
        mean = recent_duration_s(conn, job.model_id)
        # The jobs ahead and this one, one after another: a bound for one worker per model.
        eta = None if mean is None else (position + 1) * mean
        return {"queue_position": position, "eta_s": _rounded(eta)}
    if job.state is JobState.PROCESSING:
        return {"eta_s": _rounded(running_eta_s(conn, job, now))}
    return {}


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)
