"""Response shapes shared by several routes: 202 accepted, and waiting for a sync result."""

from __future__ import annotations

import time
from typing import Any

from fastapi.responses import JSONResponse

from fluxserve.api.context import ApiContext
from fluxserve.errors import EngineFailure, InvalidRequest, Timeout
from fluxserve.jobs.records import TERMINAL_STATES, JobRecord, JobState

WAIT_SLICE_S = 1.0  # re-read the store at least this often, in case the job ran on another node


def polling_url(ctx: ApiContext, request_id: str) -> str:
    return f"{ctx.settings.public_url}/v2/requests/status/{request_id}"


def accepted(ctx: ApiContext, job: JobRecord) -> JSONResponse:
    body = {
        "request_id": job.request_id,
        "status": job.state.value,
        "polling_url": polling_url(ctx, job.request_id),
    }
    return JSONResponse(body, status_code=202)


async def wait_for_end(ctx: ApiContext, request_id: str, timeout_s: float) -> JobRecord:
    """The job once it has ended, or its latest record when `timeout_s` runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        job = ctx.jobs.get(request_id)
        assert job is not None
        remaining = deadline - time.monotonic()
        if job.state in TERMINAL_STATES or remaining <= 0:
            return job
        await ctx.signals.wait_finished(request_id, min(WAIT_SLICE_S, remaining))


async def sync_output(ctx: ApiContext, job: JobRecord) -> dict[str, Any]:
    """`{"output": url}` for the sync endpoints, or the error that ended the job."""
    done = await wait_for_end(ctx, job.request_id, ctx.settings.sync_timeout_s)
    if done.state is JobState.COMPLETED:
        return {"output": done.output_urls[0]}
    if done.state is JobState.FAILED:
        raise InvalidRequest(done.error or "The request failed")
    if done.state is JobState.ERROR:
        raise EngineFailure(
            done.error or "The request could not be processed; you were not charged"
        )
    raise Timeout(
        f"The image is not ready after {ctx.settings.sync_timeout_s:.0f} s; poll "
        f"{polling_url(ctx, job.request_id)} for the result"
    )
