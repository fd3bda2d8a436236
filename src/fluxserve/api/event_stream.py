"""A job's live events as Server-Sent Events, driven by the database and the wake-ups (which
cross nodes on PostgreSQL), so the stream follows a job that runs on any worker node.

One event per observed change: `status` when the state changes, `position` when a QUEUED job
moves up, `progress` when a PROCESSING job records a step (workers record at most two steps a
second); each carries the status body with `queue_position` and `eta_s`. The stream ends after
the terminal event. Event ids name the snapshot ("QUEUED.3", "PROCESSING.7", "COMPLETED"): a
client resuming with `Last-Event-ID` gets the current snapshot unless it is the one it saw."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fluxserve.api.context import ApiContext
from fluxserve.jobs.records import JobRecord, JobState
from fluxserve.jobs.views import status_body

RECHECK_S = 2.0  # re-read the store at least this often, in case a wake-up was lost
KEEPALIVE_S = 15.0  # a comment line this often keeps proxies from closing a quiet stream


def event_id(job: JobRecord, body: dict[str, Any]) -> str:
    """The snapshot's name; equal names mean nothing a client follows has changed."""
    if job.state is JobState.QUEUED:
        return f"QUEUED.{body.get('queue_position', 0)}"
    if job.state is JobState.PROCESSING:
        return f"PROCESSING.{(job.progress or {}).get('step', 0)}"
    return job.state.value


def event_kind(previous: str | None, current: str) -> str:
    """`status` on a change of state, else `position` (QUEUED) or `progress` (PROCESSING)."""
    if previous is None or previous.split(".")[0] != current.split(".")[0]:
        return "status"
    return "position" if current.startswith("QUEUED") else "progress"


def sse(kind: str, ident: str, data: dict[str, Any]) -> bytes:
    return f"id: {ident}\nevent: {kind}\ndata: {json.dumps(data)}\n\n".encode()


async def job_events(
    ctx: ApiContext, job: JobRecord, last_event_id: str | None
) -> AsyncIterator[bytes]:
    last = last_event_id
    sent_at = time.monotonic()
    with ctx.signals.changes(job.request_id, job.model_id) as watch:
        while True:
            watch.clear()  # before the read: a change after it wakes the wait below
            read = await ctx.blocking.run(ctx.jobs.status_read, job.request_id)
            if read is None:  # cannot happen (jobs are never deleted); end quietly
                return
            current = read.job
            body = status_body(current, ctx.media_url)
            body.update(read.whereabouts)
            ident = event_id(current, body)
            if ident != last:
                yield sse(event_kind(last, ident), ident, body)
                last, sent_at = ident, time.monotonic()
            elif time.monotonic() - sent_at >= KEEPALIVE_S:
                yield b": keep-alive\n\n"
                sent_at = time.monotonic()
            if current.is_terminal:
                return
            await watch.wait(RECHECK_S)
