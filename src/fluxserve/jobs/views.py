"""The wire shapes of a job (pure functions, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fluxserve.jobs.records import JobRecord, JobState

DEFAULT_MEDIA_TYPE = "application/octet-stream"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_utc(dt: datetime | None) -> str | None:
    """ISO-8601 in UTC with milliseconds and 'Z', e.g. "2026-03-31T10:00:15.000Z"."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime: {dt!r}")
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def media_urls(job: JobRecord, public_url: str | None) -> list[str]:
    """The job's output URLs; stored paths ("/media/…") are made absolute on `public_url`."""
    if not public_url:
        return list(job.output_urls)
    base = public_url.rstrip("/")
    return [f"{base}{url}" if url.startswith("/") else url for url in job.output_urls]


def status_body(job: JobRecord, public_url: str) -> dict[str, Any]:
    """The spec's status object (GET /v2/requests/status/{id} and status webhooks).

    `output` is set only once COMPLETED; `progress` appears only while the job has some."""
    output = None
    if job.state is JobState.COMPLETED:
        output = {
            "media_url": media_urls(job, public_url),
            "media_type": job.media_type or DEFAULT_MEDIA_TYPE,
        }
    body: dict[str, Any] = {
        "request_id": job.request_id,
        "status": job.state.value,
        "model_id": job.model_id,
        "error": job.error,
        "output": output,
        "created_at": iso_utc(job.created_at),
        "updated_at": iso_utc(job.updated_at),
        "completed_at": iso_utc(job.completed_at),
    }
    if job.progress is not None:
        body["progress"] = job.progress
    return body


def batch_status_body(job: JobRecord, public_url: str | None = None) -> dict[str, Any]:
    """The schnell batch shape (/checkStatus and batch webhooks): lowercase status, the first
    image URL as `output`, `completedAt` in epoch milliseconds, `error` when it failed."""
    urls = media_urls(job, public_url) if job.state is JobState.COMPLETED else []
    body: dict[str, Any] = {
        "requestId": job.alias or job.request_id,
        "status": job.state.value.lower(),
        "output": urls[0] if urls else None,
        "completedAt": _epoch_ms(job.completed_at),
    }
    if job.state in (JobState.FAILED, JobState.ERROR):
        body["error"] = job.error
    return body


def _epoch_ms(dt: datetime | None) -> int | None:
    return None if dt is None else (dt - _EPOCH) // timedelta(milliseconds=1)
