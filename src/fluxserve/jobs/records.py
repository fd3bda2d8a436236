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
    # Not in the spec: stopped by its owner, or by a sync call that gave up before it started.
    CANCELLED = "CANCELLED"


TERMINAL_STATES: frozenset[JobState] = frozenset(
    {JobState.COMPLETED, JobState.FAILED, JobState.ERROR, JobState.CANCELLED}
)


@dataclass(frozen=True)
class JobRecord:
    """One job as stored. All datetimes are timezone-aware UTC.

    `spec` is the validated, normalised request (JSON-serialisable); `price_micros` is what
    was held when it was accepted; `output_keys` are storage keys (URLs are built when
    answering); `alias` is a second public id (the schnell batch `requestId`). While it is
    PROCESSING, `attempt_id` names the claim that runs it, on `worker_id` of node `node_id`,
    and `lease_until` is renewed by that node's heartbeat. `sched_rank` places it in the claim
    order (jobs/scheduling.py)."""

    request_id: str
    model_id: str
    key_id: str
    state: JobState
    spec: dict[str, Any]
    price_micros: int
    output_keys: list[str]
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
    node_id: str | None = None
    attempt_id: str | None = None
    sched_rank: int = 0

    @property
    def is_terminal(self) -> bool:
        """True once the job is COMPLETED, FAILED, ERROR or CANCELLED."""
        return self.state in TERMINAL_STATES
