"""Turning `jobs` rows into JobRecords."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from fluxserve.jobs.records import JobRecord, JobState


def job_from_row(row: Row[Any]) -> JobRecord:
    """Build a record from a full `jobs` row."""
    m = row._mapping
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
