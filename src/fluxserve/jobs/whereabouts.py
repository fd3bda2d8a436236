"""Where a job is: its place in its model's queue and how long it may still take. Read from the
database only, so any API node answers for jobs that run on any worker node. Cheap: a count on
an index bounded by the jobs ahead, one attempt row, and the model's recent run time, which an
API process re-reads at most every few seconds (an estimate needs no fresher figure). The
position follows the claim order itself (jobs/scheduling.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select

from fluxserve.db.driver import DriverStatement
from fluxserve.db.schema import job_attempts, jobs
from fluxserve.jobs.records import JobRecord, JobState
from fluxserve.jobs.scheduling import jobs_ahead

RECENT_JOBS = 20  # finished attempts of a model that the estimate averages
RECENT_TTL_S = 5.0  # how long a process reuses a model's recent mean run time
# ... and its "none yet": briefly, so a model's first finished job gives estimates within a
# second on every node, while a burst of reads of a model that never finished a job (a new
# deployment, a backlog with no worker up) is not one more query per read.
NONE_TTL_S = 1.0

_RECENT = (
    select(jobs.c.request_id)
    .where(jobs.c.model_id == bindparam("model_id"), jobs.c.state == JobState.COMPLETED.value)
    .order_by(jobs.c.created_at.desc())
    .limit(RECENT_JOBS)
    .subquery()
)
# Both steps ride an index: jobs by (model, state, created), attempts by request.
_RECENT_SPANS = (
    select(job_attempts.c.started_at, job_attempts.c.ended_at)
    .join(_RECENT, _RECENT.c.request_id == job_attempts.c.request_id)
    .where(job_attempts.c.outcome == JobState.COMPLETED.value)
)
# Read by every status read of a running job: on the driver (db/driver.py).
_STARTED = DriverStatement(
    select(job_attempts.c.started_at).where(job_attempts.c.attempt_id == bindparam("attempt_id"))
)


def recent_duration_s(conn: Connection, model_id: str) -> float | None:
    """Mean run time of the model's last completed jobs' final attempts; None before any."""
    rows = conn.execute(_RECENT_SPANS, {"model_id": model_id})
    spans = [(end - start).total_seconds() for start, end in rows]
    return sum(spans) / len(spans) if spans else None


class RecentDurations:
    """`recent_duration_s` per model, re-read once it is `ttl_s` old (0: always); "none yet"
    once it is `none_ttl_s` old, or at once after `forget` (this process finished a job)."""

    def __init__(
        self,
        ttl_s: float = RECENT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
        none_ttl_s: float = NONE_TTL_S,
    ):
        self._ttl_s = ttl_s
        self._none_ttl_s = min(none_ttl_s, ttl_s)
        self._clock = clock
        self._known: dict[str, tuple[float, float | None]] = {}
        self._lock = threading.Lock()

    def of(self, conn: Connection, model_id: str) -> float | None:
        now = self._clock()
        with self._lock:
            known = self._known.get(model_id)
        if known is not None:
            read_at, mean = known
            if now - read_at < (self._ttl_s if mean is not None else self._none_ttl_s):
                return mean
        fresh = recent_duration_s(conn, model_id)
        with self._lock:
            self._known[model_id] = (now, fresh)
        return fresh

    def forget(self, model_id: str) -> None:
        """A job of the model just finished here: a "none yet" is stale."""
        with self._lock:
            if model_id in self._known and self._known[model_id][1] is None:
                del self._known[model_id]


def running_eta_s(
    conn: Connection, job: JobRecord, now: datetime, durations: RecentDurations
) -> float | None:
    """Seconds left for a PROCESSING job: its own pace so far once it has made a step, else
    the model's recent mean run time less what it has run."""
    row = _STARTED.one_or_none(conn, {"attempt_id": job.attempt_id})
    if row is None:
        return None
    started: datetime = row[0]
    elapsed: float = max(0.0, (now - started).total_seconds())
    step = int((job.progress or {}).get("step", 0))
    total = int((job.progress or {}).get("total", 0))
    if 0 < step <= total:
        return elapsed / step * (total - step)
    mean = durations.of(conn, job.model_id)
    return None if mean is None else max(0.0, mean - elapsed)


def whereabouts(
    conn: Connection, job: JobRecord, now: datetime, durations: RecentDurations
) -> dict[str, Any]:
    """The status body's extra fields: `queue_position` and `eta_s` while QUEUED, `eta_s`
    while PROCESSING (null when nothing is known yet), nothing once it has ended. `job` is a
    record read in this transaction."""
    if job.state is JobState.QUEUED:
        position = jobs_ahead(conn, job)
        mean = durations.of(conn, job.model_id)
        # The jobs ahead and this one, one after another: a bound for one worker per model.
        eta = None if mean is None else (position + 1) * mean
        return {"queue_position": position, "eta_s": _rounded(eta)}
    if job.state is JobState.PROCESSING:
        return {"eta_s": _rounded(running_eta_s(conn, job, now, durations))}
    return {}


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)
