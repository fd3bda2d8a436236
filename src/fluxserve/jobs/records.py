"""What a job is: its states and its stored record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    """The spec's status values, stored and shown upper-case."""

    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    ERROR = "ERROR"


TERMINAL_STATES: frozenset[JobState] = frozenset(
    {JobState.COMPLETED, JobState.FAILED, JobState.ERROR}
)


@dataclass(frozen=True)
class JobRecord:
    """One job as stored. All datetimes are timezone-aware UTC.

    `spec` is the validated, normalised request (JSON-serialisable); `price_micros` is what
    was held when it was accepted; `alias` is a second public id (the schnell batch
    `requestId`); `worker_id` and `lease_until` belong to whoever is processing it."""

    request_id: str
    model_id: str
    key_id: str
    state: JobState
    spec: dict[str, Any]
    price_micros: int
    output_urls: list[str]
    media_type: str | None
    error: str | None
    progress: dict[str, Any] | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    webhook_url: str | None
    webhook_events: list[str] | None
    webhook_style: str
    alias: str | None
    worker_id: str | None
    lease_until: datetime | None

    @property
    def is_terminal(self) -> bool:
        """True once the job is COMPLETED, FAILED or ERROR."""
        return self.state in TERMINAL_STATES
