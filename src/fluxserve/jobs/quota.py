"""How many jobs a key has waiting or running, counted in the job store (the system of
record), so every API node enforces the same cap. The submit transaction checks the cap itself
(`check_active_cap`), so one node cannot overshoot it."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, bindparam, func, literal_column, select

from fluxserve.db.database import Database
from fluxserve.db.driver import DriverStatement
from fluxserve.db.schema import jobs
from fluxserve.errors import TooManyActiveJobs
from fluxserve.jobs.records import JobState

ACTIVE_STATES = (JobState.QUEUED.value, JobState.PROCESSING.value)
# A job takes seconds; a client told to come back sooner would only be refused again.
RETRY_AFTER_S = 5

# One cached statement: counted no further than `up_to` on the (key_id, state) index. The
# states are written into its SQL: a list of values would be re-expanded at every execution.
_ACTIVE_IN_SQL: list[ColumnElement[str]] = [literal_column(f"'{state}'") for state in ACTIVE_STATES]
_COUNT_ACTIVE = DriverStatement(
    select(func.count()).select_from(
        select(jobs.c.request_id)
        .where(jobs.c.key_id == bindparam("key_id"), jobs.c.state.in_(_ACTIVE_IN_SQL))
        .limit(bindparam("up_to"))
        .subquery()
    )
)
_NO_LIMIT = 2**62


def count_active(conn: Connection, key_id: str, up_to: int | None = None) -> int:
    """The key's QUEUED + PROCESSING jobs, of every model, in the caller's transaction;
    counted no further than `up_to` when given (a cap only needs to know it is reached)."""
    limit = _NO_LIMIT if up_to is None else up_to
    return int(_COUNT_ACTIVE.one(conn, {"key_id": key_id, "up_to": limit})[0])


def check_active_cap(conn: Connection, key_id: str, cap: int) -> None:
    """TooManyActiveJobs when `key_id` already has `cap` jobs queued or running."""
    if count_active(conn, key_id, up_to=cap) >= cap:
        raise TooManyActiveJobs(cap, RETRY_AFTER_S)


def count_active_jobs(db: Database, key_id: str, up_to: int | None = None) -> int:
    """`count_active` in a read transaction of its own."""
    with db.read() as conn:
        return count_active(conn, key_id, up_to)
