"""The order in which workers claim queued jobs: waiting clients first, keys taking turns,
and nobody starving. docs/scheduling.md states the rule; in short, every job gets a *rank* when
it is submitted, in milliseconds of queue time, and claims take the smallest rank first:

    rank = max(submitted_at, previous_rank_of_same_line + fair_share_s) - priority * aging_s

`priority` = key priority + model priority + sync_boost (when a client waits on the
connection). A job's *line* is its key's QUEUED and PROCESSING jobs of the same model and
priority, so a key with a backlog has its jobs spaced `fair_share_s` apart while another key's
first job ranks at its own submit time: keys take turns whatever the queue depth. Ranks are
fixed and fall behind the clock as a job waits, so a job's precedence over later arrivals grows
by one priority point per `aging_s` seconds waited: that is the aging that prevents starvation.

Because the rank is stored, a claim is one indexed `ORDER BY sched_rank` (with `FOR UPDATE
SKIP LOCKED` on PostgreSQL), the same order on every node and on SQLite."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, or_, select

from fluxserve.db.driver import DriverStatement
from fluxserve.db.schema import jobs
from fluxserve.jobs.records import JobRecord, JobState
from fluxserve.settings import SchedulingConfig

# Claims take jobs in this order; ties (same rank) fall back to first-come.
CLAIM_ORDER = (jobs.c.sched_rank, jobs.c.created_at, jobs.c.request_id)

_IN_LINE = (JobState.QUEUED.value, JobState.PROCESSING.value)


def job_priority(
    config: SchedulingConfig, *, key_priority: int, model_priority: int, waiting: bool
) -> int:
    """A new job's priority: its key's and model's, plus the boost of a waiting client."""
    return key_priority + model_priority + (config.sync_boost if waiting else 0)


def rank_for(
    conn: Connection,
    config: SchedulingConfig,
    *,
    key_id: str,
    model_id: str,
    priority: int,
    now: datetime,
) -> int:
    """The rank of a job submitted `now`, read in the caller's (creating) transaction.

    Two jobs of one key submitted at the same instant may read the same previous rank and
    tie; the tie is broken first-come, which is all that is lost."""
    head_start_ms = round(priority * config.aging_s * 1000)
    own_rank = _epoch_ms(now) - head_start_ms
    line = {"key_id": key_id, "model_id": model_id, "priority": priority}
    ranks = [rank for rank in _LAST_RANKS.one(conn, line) if rank is not None]
    if not ranks:
        return own_rank
    return max(own_rank, int(max(ranks)) + round(config.fair_share_s * 1000))


def queue_position(conn: Connection, request_id: str) -> int | None:
    """How many QUEUED jobs of its model a claim takes before this one (0: it is next; a
    worker of that model claims in this order). None when the job is not QUEUED (or does not
    exist)."""
    row = conn.execute(_OWN_PLACE, {"request_id": request_id}).one_or_none()
    if row is None:
        return None
    rank, created_at, own_id, model_id = row
    return _count_ahead(conn, rank, created_at, own_id, model_id)


def jobs_ahead(conn: Connection, job: JobRecord) -> int:
    """`queue_position` of a QUEUED job whose record the caller read in this transaction (its
    row is not read again)."""
    return _count_ahead(conn, job.sched_rank, job.created_at, job.request_id, job.model_id)


def _count_ahead(
    conn: Connection, rank: int, created_at: datetime, request_id: str, model_id: str
) -> int:
    place = {"rank": rank, "created_at": created_at, "request_id": request_id, "model": model_id}
    return int(_AHEAD.one(conn, place)[0] or 0)


# Statements built once, their values passed as parameters (a status read runs them all).
def _last_rank(state: str) -> Any:
    return (
        select(func.max(jobs.c.sched_rank))
        .where(
            jobs.c.key_id == bindparam("key_id"),
            jobs.c.model_id == bindparam("model_id"),
            jobs.c.priority == bindparam("priority"),
            jobs.c.state == state,
        )
        .scalar_subquery()
    )


# The line's last rank, QUEUED and PROCESSING apart: each is one step down ix_jobs_line_rank
# (a max over both states at once would visit every job of the line).
_LAST_RANKS = DriverStatement(select(*(_last_rank(state) for state in _IN_LINE)))
_OWN_PLACE = select(*CLAIM_ORDER, jobs.c.model_id).where(
    jobs.c.request_id == bindparam("request_id"), jobs.c.state == JobState.QUEUED.value
)


def _ahead() -> Any:
    rank = bindparam("rank", type_=jobs.c.sched_rank.type)
    created_at = bindparam("created_at", type_=jobs.c.created_at.type)
    request_id = bindparam("request_id", type_=jobs.c.request_id.type)
    before = or_(
        jobs.c.sched_rank < rank,
        and_(jobs.c.sched_rank == rank, jobs.c.created_at < created_at),
        and_(
            jobs.c.sched_rank == rank,
            jobs.c.created_at == created_at,
            jobs.c.request_id < request_id,
        ),
    )
    # `sched_rank <= rank` on its own lets the (model, state, rank) index bound the count to
    # the jobs ahead; the OR alone would make the database visit the whole queue.
    return select(func.count()).where(
        jobs.c.state == JobState.QUEUED.value,
        jobs.c.model_id == bindparam("model"),
        jobs.c.sched_rank <= rank,
        before,
    )


_AHEAD = DriverStatement(_ahead())


def _epoch_ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)
