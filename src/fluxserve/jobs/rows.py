"""Turning `jobs` rows into JobRecords, and a new JobRecord into its row."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from fluxserve.db.schema import jobs
from fluxserve.jobs.records import JobRecord, JobState

JOB_COLUMNS = tuple(column.name for column in jobs.c)


def job_from_row(row: Row[Any]) -> JobRecord:
    """Build a record from a full `jobs` row."""
    return job_from_mapping(row._mapping)


def job_from_values(values: tuple[Any, ...]) -> JobRecord:
    """Build a record from a full `jobs` row read on the driver (db/driver.py): its values in
    the table's column order."""
    return job_from_mapping(dict(zip(JOB_COLUMNS, values, strict=True)))


def job_from_mapping(m: Mapping[Any, Any]) -> JobRecord:
    """Build a record from a full `jobs` row's values by column name."""
    return JobRecord(
        request_id=str(m["request_id"]),
        model_id=str(m["model_id"]),
        key_id=str(m["key_id"]),
        state=JobState(m["state"]),
        spec=dict(m["spec"]),
        price_micros=int(m["price_micros"]),
        output_keys=list(m["output_keys"]),
        media_type=m["media_type"],
        error=m["error"],
        progress=None if m["progress"] is None else dict(m["progress"]),
        attempts=int(m["attempts"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        completed_at=m["completed_at"],
        webhook_url=m["webhook_url"],
        webhook_events=None if m["webhook_events"] is None else list(m["webhook_events"]),
        webhook_style=str(m["webhook_style"]),
        alias=m["alias"],
        worker_id=m["worker_id"],
        lease_until=m["lease_until"],
        node_id=m["node_id"],
        attempt_id=m["attempt_id"],
        sched_rank=int(m["sched_rank"]),
    )


def new_job(
    *,
    request_id: str,
    model_id: str,
    key_id: str,
    spec: dict[str, Any],
    price_micros: int,
    now: datetime,
    webhook_url: str | None,
    webhook_events: list[str] | None,
    webhook_style: str,
    alias: str | None,
    sched_rank: int,
) -> JobRecord:
    """The record of a job accepted `now`: QUEUED, never tried."""
    return JobRecord(
        request_id=request_id, model_id=model_id, key_id=key_id, state=JobState.QUEUED,
        spec=dict(spec), price_micros=price_micros, output_keys=[], media_type=None,
        error=None, progress=None, attempts=0, created_at=now, updated_at=now,
        completed_at=None, webhook_url=webhook_url,
        webhook_events=None if webhook_events is None else list(webhook_events),
        webhook_style=webhook_style, alias=alias, worker_id=None, lease_until=None,
        sched_rank=sched_rank,
    )  # fmt: skip


def job_values(job: JobRecord, priority: int) -> dict[str, Any]:
    """Every column of the `jobs` row of `job` (the inverse of `job_from_row`)."""
    return {
        "request_id": job.request_id, "model_id": job.model_id, "key_id": job.key_id,
        "state": job.state.value, "spec": job.spec, "price_micros": job.price_micros,
        "output_keys": job.output_keys, "media_type": job.media_type, "error": job.error,
        "progress": job.progress, "attempts": job.attempts, "created_at": job.created_at,
        "updated_at": job.updated_at, "completed_at": job.completed_at,
        "webhook_url": job.webhook_url, "webhook_events": job.webhook_events,
        "webhook_style": job.webhook_style, "alias": job.alias, "worker_id": job.worker_id,
        "lease_until": job.lease_until, "node_id": job.node_id, "attempt_id": job.attempt_id,
        "priority": priority, "sched_rank": job.sched_rank,
    }  # fmt: skip
