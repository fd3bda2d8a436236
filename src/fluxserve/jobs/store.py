"""The job store: every state change is one transaction together with its money movement and
its webhook outbox row, so a crash at any point loses nothing and charges nothing twice.

Money policy: a job holds its price when accepted; only COMPLETED captures (charges) it;
FAILED and ERROR release it, uncharged. A price of 0 touches neither wallet nor ledger."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, func, insert, select, update

from fluxserve.billing import wallet
from fluxserve.db.clock import Clock, checked
from fluxserve.db.database import Database
from fluxserve.db.schema import jobs
from fluxserve.jobs import events, outbox
from fluxserve.jobs.records import JobRecord, JobState
from fluxserve.jobs.rows import job_from_row

WEBHOOK_STYLES = ("status", "batch")


class JobStore:
    """Jobs in the database, for the API (create, get) and for workers (claim, finish)."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self._db = db
        self._now = checked(clock)

    def create(
        self,
        *,
        request_id: str,
        model_id: str,
        key_id: str,
        spec: dict[str, Any],
        price_micros: int,
        webhook_url: str | None = None,
        webhook_events: list[str] | None = None,
        webhook_style: str = "status",
        alias: str | None = None,
    ) -> JobRecord:
        """Accept a QUEUED job and hold its price, in one transaction.

        Raises InsufficientBalance (and leaves nothing behind) when the wallet is short."""
        if price_micros < 0:
            raise ValueError("price_micros must be >= 0")
        if webhook_style not in WEBHOOK_STYLES:
            raise ValueError(f"webhook_style must be one of {WEBHOOK_STYLES}")
        now = self._now()
        with self._db.write() as conn:
            row = conn.execute(
                insert(jobs)
                .values(
                    request_id=request_id,
                    model_id=model_id,
                    key_id=key_id,
                    state=JobState.QUEUED.value,
                    spec=spec,
                    price_micros=price_micros,
                    output_urls=[],
                    attempts=0,
                    created_at=now,
                    updated_at=now,
                    webhook_url=webhook_url,
                    webhook_events=webhook_events,
                    webhook_style=webhook_style,
                    alias=alias,
                )
                .returning(*jobs.c)
            ).one()
            if price_micros > 0:
                wallet.hold(conn, key_id, price_micros, request_id, now)
        return job_from_row(row)

    def get(self, request_id: str) -> JobRecord | None:
        """The job, or None."""
        return self._get_where(jobs.c.request_id == request_id)

    def get_by_alias(self, alias: str) -> JobRecord | None:
        """The job with this alias (e.g. a schnell batch requestId), or None."""
        return self._get_where(jobs.c.alias == alias)

    def claim(
        self,
        worker_id: str,
        lease_s: float,
        model_ids: Collection[str] | None = None,
        limit: int = 1,
    ) -> list[JobRecord]:
        """Take up to `limit` of the oldest QUEUED jobs (of `model_ids`, when given).

        Each taken job becomes PROCESSING under `worker_id` with a lease of `lease_s` seconds
        and one more attempt. No two claimers ever get the same job: PostgreSQL skips rows
        another claimer has locked, SQLite lets one writer in at a time, and the UPDATE
        re-checks the state either way."""
        if limit < 1 or (model_ids is not None and not model_ids):
            return []
        now = self._now()
        candidates = (
            select(jobs.c.request_id)
            .where(jobs.c.state == JobState.QUEUED.value)
            .order_by(jobs.c.created_at, jobs.c.request_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if model_ids is not None:
            candidates = candidates.where(jobs.c.model_id.in_(list(model_ids)))
        with self._db.write() as conn:
            ids = list(conn.scalars(candidates))
            if not ids:
                return []
            claimed = self._start(conn, jobs.c.request_id.in_(ids), worker_id, lease_s, now)
        return sorted(claimed, key=lambda job: (job.created_at, job.request_id))

    def claim_specific(self, request_id: str, worker_id: str, lease_s: float) -> JobRecord | None:
        """Take this one job if it is still QUEUED; None otherwise."""
        now = self._now()
        with self._db.write() as conn:
            claimed = self._start(conn, jobs.c.request_id == request_id, worker_id, lease_s, now)
        return claimed[0] if claimed else None

    def renew_lease(self, request_id: str, worker_id: str, lease_s: float) -> bool:
        """Extend the lease; False when the job is no longer this worker's to process."""
        now = self._now()
        with self._db.write() as conn:
            result = conn.execute(
                update(jobs)
                .where(*_owned(request_id, worker_id))
                .values(lease_until=now + timedelta(seconds=lease_s))
            )
            return result.rowcount == 1

    def set_progress(self, request_id: str, worker_id: str, progress: dict[str, Any]) -> None:
        """Record progress (shown in status); ignored when the job is not this worker's."""
        now = self._now()
        with self._db.write() as conn:
            conn.execute(
                update(jobs)
                .where(*_owned(request_id, worker_id))
                .values(progress=progress, updated_at=now)
            )

    def complete(
        self, request_id: str, worker_id: str, *, output_urls: list[str], media_type: str
    ) -> JobRecord | None:
        """COMPLETED with outputs; the hold is captured. None (and no change) unless the job
        is PROCESSING under `worker_id`."""
        values = {"output_urls": output_urls, "media_type": media_type, "error": None}
        return self._finish_one(request_id, worker_id, JobState.COMPLETED, values)

    def fail(self, request_id: str, worker_id: str, *, error: str) -> JobRecord | None:
        """FAILED (the request's own fault); the hold is released, uncharged."""
        return self._finish_one(request_id, worker_id, JobState.FAILED, {"error": error})

    def error(self, request_id: str, worker_id: str, *, error: str) -> JobRecord | None:
        """ERROR (a system fault); the hold is released, uncharged."""
        return self._finish_one(request_id, worker_id, JobState.ERROR, {"error": error})

    def recover(
        self, *, max_attempts: int, now: datetime | None = None, all_processing: bool = False
    ) -> list[JobRecord]:
        """Deal with PROCESSING jobs whose worker is gone.

        Jobs whose lease has expired (or every PROCESSING job, with `all_processing`, when a
        single-process server starts) go back to QUEUED while `attempts < max_attempts`, and
        otherwise end as ERROR with their hold released. Returns the changed jobs."""
        at = now or self._now()
        stale = select(jobs).where(jobs.c.state == JobState.PROCESSING.value)
        if not all_processing:
            stale = stale.where(jobs.c.lease_until < at)
        stale = stale.order_by(jobs.c.created_at).with_for_update(skip_locked=True)
        changed: list[JobRecord] = []
        with self._db.write() as conn:
            for job in [job_from_row(row) for row in conn.execute(stale)]:
                result = self._recover_one(conn, job, max_attempts, at)
                if result is not None:
                    changed.append(result)
        return changed

    def queued_count(self, model_ids: Collection[str] | None = None) -> int:
        """How many jobs wait (for `model_ids`, when given)."""
        query = select(func.count()).select_from(jobs).where(jobs.c.state == JobState.QUEUED.value)
        if model_ids is not None:
            query = query.where(jobs.c.model_id.in_(list(model_ids)))
        with self._db.read() as conn:
            return int(conn.execute(query).scalar_one())

    def _get_where(self, condition: Any) -> JobRecord | None:
        query: Select[Any] = select(jobs).where(condition)
        with self._db.read() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else job_from_row(row)

    def _start(
        self, conn: Connection, which: Any, worker_id: str, lease_s: float, now: datetime
    ) -> list[JobRecord]:
        rows = conn.execute(
            update(jobs)
            .where(which, jobs.c.state == JobState.QUEUED.value)
            .values(
                state=JobState.PROCESSING.value,
                attempts=jobs.c.attempts + 1,
                worker_id=worker_id,
                lease_until=now + timedelta(seconds=lease_s),
                updated_at=now,
            )
            .returning(*jobs.c)
        ).all()
        return [job_from_row(row) for row in rows]

    def _finish_one(
        self, request_id: str, worker_id: str, state: JobState, values: dict[str, Any]
    ) -> JobRecord | None:
        now = self._now()
        with self._db.write() as conn:
            return _finish(conn, request_id, worker_id, state, values, now)

    def _recover_one(
        self, conn: Connection, job: JobRecord, max_attempts: int, now: datetime
    ) -> JobRecord | None:
        if job.attempts >= max_attempts:
            message = f"Processing was interrupted {job.attempts} time(s); giving up"
            return _finish(
                conn, job.request_id, job.worker_id, JobState.ERROR, {"error": message}, now
            )
        row = conn.execute(
            update(jobs)
            .where(*_owned(job.request_id, job.worker_id))
            .values(
                state=JobState.QUEUED.value,
                worker_id=None,
                lease_until=None,
                progress=None,
                updated_at=now,
            )
            .returning(*jobs.c)
        ).one_or_none()
        return None if row is None else job_from_row(row)


def _owned(request_id: str, worker_id: str | None) -> tuple[Any, ...]:
    """The guard of every worker write: still PROCESSING, still this worker's."""
    return (
        jobs.c.request_id == request_id,
        jobs.c.state == JobState.PROCESSING.value,
        jobs.c.worker_id == worker_id,
    )


def _finish(
    conn: Connection,
    request_id: str,
    worker_id: str | None,
    state: JobState,
    values: dict[str, Any],
    now: datetime,
) -> JobRecord | None:
    """End a job: state, times, money and webhook, all in the caller's transaction."""
    row = conn.execute(
        update(jobs)
        .where(*_owned(request_id, worker_id))
        .values(state=state.value, updated_at=now, completed_at=now, lease_until=None, **values)
        .returning(*jobs.c)
    ).one_or_none()
    if row is None:
        return None
    job = job_from_row(row)
    if job.price_micros > 0:
        settle = wallet.capture if state is JobState.COMPLETED else wallet.release
        settle(conn, job.key_id, job.price_micros, job.request_id, now)
    if job.webhook_url is not None and events.allows(job.webhook_events, state):
        outbox.enqueue(
            conn,
            request_id=job.request_id,
            url=job.webhook_url,
            event=events.event_name(state),
            at=now,
        )
    return job
