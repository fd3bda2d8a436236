"""Ending a job inside the caller's write transaction: its state, its attempt's outcome, the
wake-up, the money and the webhook, all or nothing."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, update

from fluxserve.billing import wallet
from fluxserve.db.driver import DriverStatement
from fluxserve.db.schema import jobs
from fluxserve.jobs import attempts, events, notify, outbox
from fluxserve.jobs.records import JobRecord, JobState
from fluxserve.jobs.rows import job_from_values


def finish(
    conn: Connection,
    claimed: JobRecord,
    state: JobState,
    values: dict[str, Any],
    now: datetime,
    outcome: str | None = None,
) -> JobRecord | None:
    """End a job: state, times, money, webhook and its attempt's outcome, all in the caller's
    transaction; None when `claimed`'s attempt is no longer the one running the job."""
    names = tuple(sorted(values))
    row = _ending(names).one_or_none(
        conn,
        {f"new_{name}": values[name] for name in names}
        | attempts.current_values(claimed)
        | {"new_state": state.value, "now": now},
    )
    if row is None:
        return None
    attempts.end(conn, claimed, outcome or state.value, now)
    return settle(conn, job_from_values(row), state, now)


@functools.lru_cache(maxsize=32)
def _ending(names: tuple[str, ...]) -> DriverStatement:
    """The UPDATE that ends a running attempt's job and sets the columns `names` too (parameters
    `new_<name>`), on the driver (db/driver.py): every job ends once, and each kind of end sets
    the same columns, so there are few of these."""
    return DriverStatement(
        update(jobs)
        .where(*attempts.CURRENT_GIVEN)
        .values(
            state=bindparam("new_state"),
            updated_at=bindparam("now"),
            completed_at=bindparam("now"),
            lease_until=None,
            **{name: bindparam(f"new_{name}") for name in names},
        )
        .returning(*jobs.c)
    )


def settle(conn: Connection, job: JobRecord, state: JobState, now: datetime) -> JobRecord:
    """What follows any end of `job` in the same transaction: the wake-up, the money (only
    COMPLETED captures; every other end releases) and the webhook."""
    notify.finished(conn, job.request_id)
    if job.price_micros > 0:
        charge = wallet.capture if state is JobState.COMPLETED else wallet.release
        charge(conn, job.key_id, job.price_micros, job.request_id, now)
    if job.webhook_url is not None and events.allows(job.webhook_events, state):
        outbox.enqueue(
            conn,
            request_id=job.request_id,
            url=job.webhook_url,
            event=events.event_name(state),
            at=now,
        )
    return job
