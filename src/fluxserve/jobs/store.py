"""The job store: every state change is one transaction together with its money movement and
its webhook outbox row, so a crash at any point loses nothing and charges nothing twice.

Each claim is an *attempt* with its own id; every write a worker makes is guarded by it, so a
stale attempt (its node thought dead, its job re-queued) can never finish or touch the job.

Money policy: a job holds its price when accepted; only COMPLETED captures (charges) it;
FAILED, ERROR and CANCELLED release it, uncharged. A price of 0 touches neither wallet nor
ledger."""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Integer, Select, bindparam, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from fluxserve.billing import wallet
from fluxserve.db.clock import Clock, checked
from fluxserve.db.database import Database
from fluxserve.db.driver import DriverStatement
from fluxserve.db.retry import is_transient, retry_transient
from fluxserve.db.schema import jobs, nodes
from fluxserve.jobs import attempts, cancellation, idempotency, notify, quota, scheduling
from fluxserve.jobs.ending import finish
from fluxserve.jobs.idempotency import DuplicateIdempotencyKey, IdempotencyClaim, IdempotentJob
from fluxserve.jobs.media_log import deleted_on
from fluxserve.jobs.records import JobRecord, JobState
from fluxserve.jobs.rows import job_from_row, job_from_values, job_values, new_job
from fluxserve.jobs.whereabouts import RecentDurations, whereabouts
from fluxserve.settings import SchedulingConfig

WEBHOOK_STYLES = ("status", "batch")
# A new job's row, every column a parameter; run on the driver (db/driver.py): the record is
# built here, so nothing needs to come back.
_INSERT_JOB = DriverStatement(insert(jobs).values({c.name: bindparam(c.name) for c in jobs.c}))
_BY_ID = DriverStatement(select(jobs).where(jobs.c.request_id == bindparam("request_id")))


@functools.lru_cache(maxsize=64)
def _candidates(models: int | None) -> DriverStatement:
    """The next QUEUED jobs in claim order, of `models` models (parameters `model_0` …) or of
    every model: one statement per count, on the driver, since a worker claims for every job
    and its list of models does not change."""
    statement = (
        select(jobs.c.request_id)
        .where(jobs.c.state == JobState.QUEUED.value)
        .order_by(*scheduling.CLAIM_ORDER)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(skip_locked=True)
    )
    if models is not None:
        names = [bindparam(f"model_{i}", type_=jobs.c.model_id.type) for i in range(models)]
        statement = statement.where(jobs.c.model_id.in_(names))
    return DriverStatement(statement)


# How long a worker keeps trying to record a job's end while the database is unreachable. Longer
# than a PostgreSQL restart; past it the job's lease expires and another node runs it again.
FINISH_RETRY_S = 60.0


@dataclass(frozen=True)
class StatusRead:
    """What a status read needs, read in one transaction: the job, where it is (see
    `jobs/whereabouts.py`), and when the sweeper deleted which of its media."""

    job: JobRecord
    whereabouts: dict[str, Any]
    deleted: dict[str, datetime]


class JobStore:
    """Jobs in the database, for the API (create, get) and for workers (claim, finish)."""

    def __init__(
        self,
        db: Database,
        clock: Clock | None = None,
        scheduling: SchedulingConfig | None = None,
    ) -> None:
        self._db = db
        self._now = checked(clock)
        self._scheduling = scheduling or SchedulingConfig()
        self._durations = RecentDurations()

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
        priority: int = 0,
        idempotency_claim: IdempotencyClaim | None = None,
        active_cap: int | None = None,
    ) -> JobRecord:
        """Accept a QUEUED job and hold its price, in one transaction, with its
        `idempotency_claim` if any; `priority` and its key's line place it in the claim order
        (jobs/scheduling.py).

        Raises (and leaves nothing behind) TooManyActiveJobs when the key already has
        `active_cap` jobs queued or running, InsufficientBalance when the wallet is short,
        and DuplicateIdempotencyKey when the claim's key already made a job."""
        if price_micros < 0:
            raise ValueError("price_micros must be >= 0")
        if webhook_style not in WEBHOOK_STYLES:
            raise ValueError(f"webhook_style must be one of {WEBHOOK_STYLES}")
        now = self._now()
        try:
            with self._db.write() as conn:
                if active_cap is not None:
                    quota.check_active_cap(conn, key_id, active_cap)
                rank = scheduling.rank_for(
                    conn, self._scheduling, key_id=key_id, model_id=model_id, priority=priority,
                    now=now,
                )  # fmt: skip
                job = new_job(
                    request_id=request_id, model_id=model_id, key_id=key_id, spec=spec,
                    price_micros=price_micros, now=now, webhook_url=webhook_url,
                    webhook_events=webhook_events, webhook_style=webhook_style, alias=alias,
                    sched_rank=rank,
                )  # fmt: skip
                _INSERT_JOB.execute(conn, job_values(job, priority))
                if price_micros > 0:
                    wallet.hold(conn, key_id, price_micros, request_id, now)
                if idempotency_claim is not None:
                    idempotency.record(conn, key_id, idempotency_claim, request_id, now)
                notify.queued(conn, model_id)
        except IntegrityError:
            # PostgreSQL makes a concurrent twin wait for the first to commit, then refuses it
            # here; SQLite's write lock serialises them the same way.
            if idempotency_claim is None or self.idempotent(key_id, idempotency_claim.key) is None:
                raise
            raise DuplicateIdempotencyKey(idempotency_claim.key) from None
        return job

    def idempotent(self, key_id: str, key: str) -> IdempotentJob | None:
        """What the live `Idempotency-Key` `key` of the API key `key_id` made, or None."""
        with self._db.read() as conn:
            return idempotency.find(conn, key_id, key, self._now())

    def get(self, request_id: str) -> JobRecord | None:
        """The job, or None."""
        if _unstorable(request_id):
            return None
        with self._db.read() as conn:
            return _by_id(conn, request_id)

    def get_by_alias(self, alias: str) -> JobRecord | None:
        """The job with this alias (e.g. a schnell batch requestId), or None."""
        if _unstorable(alias):
            return None
        return self._get_where(jobs.c.alias == alias)

    def whereabouts(self, job: JobRecord) -> dict[str, Any]:
        """`queue_position` and `eta_s` of an unfinished job as it is now (see
        `jobs/whereabouts.py`)."""
        read = None if job.is_terminal else self.status_read(job.request_id)
        return {} if read is None else read.whereabouts

    def status_read(self, request_id: str) -> StatusRead | None:
        """The job with its whereabouts and media deletions, in one read; None when there is
        no such job."""
        if _unstorable(request_id):
            return None
        with self._db.read() as conn:
            job = _by_id(conn, request_id)
            if job is None:
                return None
            if job.is_terminal:
                where: dict[str, Any] = {}
                deleted = deleted_on(conn, request_id) if job.state is JobState.COMPLETED else {}
            else:
                where, deleted = whereabouts(conn, job, self._now(), self._durations), {}
        return StatusRead(job, where, deleted)

    def claim(
        self,
        worker_id: str,
        node_id: str,
        lease_s: float,
        model_ids: Collection[str] | None = None,
        limit: int = 1,
    ) -> list[JobRecord]:
        """Take up to `limit` QUEUED jobs (of `model_ids`, when given), first in the
        scheduling order (jobs/scheduling.py: priority, fair share between keys, age).

        Each taken job becomes PROCESSING under a new attempt of `worker_id` on `node_id`, with
        a lease of `lease_s` seconds that the node's heartbeat renews. No two claimers ever get
        the same job: PostgreSQL skips rows another claimer has locked, SQLite lets one writer
        in at a time, and the UPDATE re-checks the state either way."""
        models = None if model_ids is None else sorted(set(model_ids))
        if limit < 1 or models == []:
            return []
        now = self._now()
        candidates = _candidates(None if models is None else len(models))
        values = {"limit": limit} | {f"model_{i}": m for i, m in enumerate(models or ())}
        with self._db.write() as conn:
            ids = [row[0] for row in candidates.all(conn, values)]
            started = [
                attempts.start(conn, request_id, worker_id, node_id, lease_s, now)
                for request_id in ids
            ]
            for job in started:
                if job is not None:
                    notify.changed(conn, job.request_id, job.model_id)
        claimed = [job for job in started if job is not None]
        return sorted(claimed, key=lambda job: (job.created_at, job.request_id))

    def set_progress(self, job: JobRecord, progress: dict[str, Any]) -> bool:
        """Record progress (shown in status). False (and no change) once `job`'s attempt is
        not current: it was cancelled or given up on, and its worker should stop.

        Progress is advisory: while the database is unreachable the write is dropped, never
        raised into the generation it reports on (and the attempt counts as still current)."""
        now = self._now()
        try:
            with self._db.write() as conn:
                result = conn.execute(
                    update(jobs)
                    .where(*attempts.current(job))
                    .values(progress=progress, updated_at=now)
                )
                if result.rowcount == 0:
                    return False
                notify.changed(conn, job.request_id, job.model_id)
        except DBAPIError as exc:
            if not is_transient(exc):
                raise
        return True

    def cancel(self, request_id: str, owner: str | None, error: str | None = None) -> JobRecord:
        """CANCELLED now, hold released, webhook queued, all in one transaction; a running
        attempt ends CANCELLED (its worker learns of it from the wake-up and stops). `owner`:
        the key that must own the job (None: any). NotFound, or Conflict once it has ended."""
        with self._db.write() as conn:
            job = cancellation.locked(conn, request_id, owner)
            return cancellation.cancel(conn, job, self._now(), error)

    def cancel_if_queued(self, request_id: str, error: str) -> JobRecord:
        """CANCELLED (as `cancel`) if the job has not started; else the job as it is."""
        with self._db.write() as conn:
            job = cancellation.locked(conn, request_id, None)
            if job.state is not JobState.QUEUED:
                return job
            return cancellation.cancel(conn, job, self._now(), error)

    def complete(
        self, job: JobRecord, *, output_keys: list[str], media_type: str
    ) -> JobRecord | None:
        """COMPLETED with outputs; the hold is captured. None (and no change) unless `job`'s
        attempt is still the one running the job."""
        values = {"output_keys": output_keys, "media_type": media_type, "error": None}
        done = self._finish_one(job, JobState.COMPLETED, values)
        if done is not None:
            self._durations.forget(job.model_id)
        return done

    def fail(self, job: JobRecord, *, error: str) -> JobRecord | None:
        """FAILED (the request's own fault); the hold is released, uncharged."""
        return self._finish_one(job, JobState.FAILED, {"error": error})

    def error(self, job: JobRecord, *, error: str) -> JobRecord | None:
        """ERROR (a system fault); the hold is released, uncharged."""
        return self._finish_one(job, JobState.ERROR, {"error": error})

    def rescue(self, *, max_attempts: int, node_timeout_s: float) -> list[JobRecord]:
        """Jobs whose attempt is lost: their lease expired, or their node stopped or has not
        beaten for `node_timeout_s`. Each goes back to QUEUED while it has attempts left, and
        otherwise ends ERROR with its hold released. A live node's jobs are never touched."""
        now = self._now()
        dead_nodes = select(nodes.c.id).where(
            or_(
                nodes.c.heartbeat_at < now - timedelta(seconds=node_timeout_s),
                nodes.c.stopped_at.is_not(None),
            )
        )
        lost = or_(jobs.c.lease_until < now, jobs.c.node_id.in_(dead_nodes))
        return self._rescue_where(lost, max_attempts, now)

    def rescue_node(self, node_id: str, *, max_attempts: int) -> list[JobRecord]:
        """Every PROCESSING job of `node_id`, at once: for a node known to be dead (this
        process's own previous life, before a restart). Rides out a brief outage, as the
        node's start does; a second try finds nothing left to rescue."""
        return retry_transient(
            lambda: self._rescue_where(jobs.c.node_id == node_id, max_attempts, self._now()),
            within_s=FINISH_RETRY_S,
        )

    def hand_back(self, node_id: str) -> list[JobRecord]:
        """Re-queue at once, without spending an attempt, every PROCESSING job of `node_id`:
        a node stopping gracefully that could not finish them in time."""

        def once() -> list[JobRecord]:
            now = self._now()
            with self._db.write() as conn:
                running = [
                    job_from_row(r) for r in conn.execute(_processing(jobs.c.node_id == node_id))
                ]
                back = [attempts.requeue(conn, job, now, "HANDED_BACK") for job in running]
            return [job for job in back if job is not None]

        # Idempotent: a try whose COMMIT landed leaves nothing PROCESSING for the next one.
        return retry_transient(once, within_s=FINISH_RETRY_S)

    def _get_where(self, condition: Any) -> JobRecord | None:
        query: Select[Any] = select(jobs).where(condition)
        with self._db.read() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else job_from_row(row)

    def _finish_one(
        self, job: JobRecord, state: JobState, values: dict[str, Any]
    ) -> JobRecord | None:
        tries = 0

        def once() -> JobRecord | None:
            nonlocal tries
            tries += 1
            with self._db.write() as conn:
                done = finish(conn, job, state, values, self._now())
                if done is None and tries > 1:
                    # A connection may drop after its COMMIT landed: then this attempt did
                    # finish the job, and must not take itself for a stale one.
                    return _landed(conn, job, state)
                return done

        return retry_transient(once, within_s=FINISH_RETRY_S)

    def _rescue_where(self, condition: Any, max_attempts: int, now: datetime) -> list[JobRecord]:
        changed: list[JobRecord] = []
        with self._db.write() as conn:
            for job in [job_from_row(row) for row in conn.execute(_processing(condition))]:
                if job.attempts >= max_attempts:
                    message = f"Processing was interrupted {job.attempts} time(s); giving up"
                    result = finish(conn, job, JobState.ERROR, {"error": message}, now, "LOST")
                else:
                    result = attempts.requeue(conn, job, now, "LOST")
                if result is not None:
                    changed.append(result)
        return changed


def _by_id(conn: Connection, request_id: str) -> JobRecord | None:
    row = _BY_ID.one_or_none(conn, {"request_id": request_id})
    return None if row is None else job_from_values(row)


def _unstorable(key: str) -> bool:
    """No stored id holds NUL, and PostgreSQL refuses NUL in a query parameter: such a
    lookup is simply "not found", on every backend alike."""
    return "\x00" in key


def _landed(conn: Connection, job: JobRecord, state: JobState) -> JobRecord | None:
    row = conn.execute(
        select(jobs).where(
            jobs.c.request_id == job.request_id,
            jobs.c.attempt_id == job.attempt_id,
            jobs.c.state == state.value,
        )
    ).one_or_none()
    return None if row is None else job_from_row(row)


def _processing(condition: Any) -> Select[Any]:
    return (
        select(jobs)
        .where(jobs.c.state == JobState.PROCESSING.value, condition)
        .order_by(jobs.c.created_at)
        .with_for_update(skip_locked=True)
    )
