"""The wire shapes of a job (pure functions, no database)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fluxserve.jobs.records import JobRecord, JobState

DEFAULT_MEDIA_TYPE = "application/octet-stream"
# A storage key's public URL, as the answering node builds it (its storage's `url_for`).
UrlFor = Callable[[str], str]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_utc(dt: datetime | None) -> str | None:
    """ISO-8601 in UTC with milliseconds and 'Z', e.g. "2026-03-31T10:00:15.000Z"."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime: {dt!r}")
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def media_urls(job: JobRecord, url_for: UrlFor) -> list[str]:
    """The job's output URLs, built now from its storage keys, so they never depend on which
    node made the outputs. (Jobs finished before keys were stored hold URLs already.)"""
    return [key if "://" in key else url_for(key) for key in job.output_keys]


@dataclass(frozen=True)
class MediaState:
    """What the status route adds about the outputs' URLs (webhook bodies stay the spec's).

    `expires_at`: the earliest time the URLs built now may stop working (None: they do not
    expire); `deleted_at`: when retention deleted the outputs (None: they are kept)."""

    expires_at: datetime | None
    deleted_at: datetime | None = None


def status_body(job: JobRecord, url_for: UrlFor, media: MediaState | None = None) -> dict[str, Any]:
    """The spec's status object (GET /v2/requests/status/{id} and status webhooks).

    `output` is set only once COMPLETED; `progress` appears only while the job has some. With
    `media`, `expires_at` comes beside an output (null when its URLs do not expire); outputs
    that retention deleted give `output: null` and `media_deleted_at` rather than dead URLs."""
    output = None
    deleted_at = media.deleted_at if media is not None else None
    if job.state is JobState.COMPLETED and deleted_at is None:
        output = {
            "media_url": media_urls(job, url_for),
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
    if media is not None and output is not None:
        body["expires_at"] = iso_utc(media.expires_at)
    if deleted_at is not None:
        body["media_deleted_at"] = iso_utc(deleted_at)
    return body


def batch_status_body(job: JobRecord, url_for: UrlFor) -> dict[str, Any]:
    """The schnell batch shape (/checkStatus and batch webhooks): lowercase status, the first
    image URL as `output`, `completedAt` in epoch milliseconds, `error` when it failed."""
    urls = media_urls(job, url_for) if job.state is JobState.COMPLETED else []
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
