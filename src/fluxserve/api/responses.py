"""Response shapes shared by several routes: 202 accepted, and waiting for a sync result."""

from __future__ import annotations

import asyncio
import time

from fastapi.responses import JSONResponse

from fluxserve.api.context import ApiContext
from fluxserve.errors import Conflict, EngineFailure, InvalidRequest, Timeout
from fluxserve.jobs.records import TERMINAL_STATES, JobRecord, JobState
from fluxserve.jobs.views import media_urls

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
        remaining = deadline - time.monotonic()
        # Listen before reading the store: a job ending while the read is on its thread
        # still wakes us, instead of leaving us to sleep out the slice.
        finished = asyncio.create_task(
            ctx.signals.wait_finished(request_id, min(WAIT_SLICE_S, max(remaining, 0.0)))
        )
        await asyncio.sleep(0)  # let it register
        try:
            job = await ctx.blocking.run(ctx.jobs.get, request_id)
            assert job is not None
            if job.state in TERMINAL_STATES or remaining <= 0:
                return job
            await finished
        finally:
            finished.cancel()


async def wait_or_give_up(ctx: ApiContext, request_id: str) -> JobRecord:
    """The job once ended, for a sync route; when `sync_timeout_s` runs out first, the fair
    end of the wait: a job that has not started is cancelled (released, uncharged), one that
    runs goes on (and is charged when it completes). Either way a 504 (`Timeout`) says which,
    with the polling URL."""
    done = await wait_for_end(ctx, request_id, ctx.settings.sync_timeout_s)
    if done.is_terminal:
        return done
    seconds = ctx.settings.sync_timeout_s
    url = polling_url(ctx, request_id)
    done = await ctx.blocking.run(
        ctx.jobs.cancel_if_queued,
        request_id,
        f"Cancelled: not started within the {seconds:.0f} s a sync request waits",
    )
    details = {"status": done.state.value, "request_id": request_id, "polling_url": url}
    if done.state is JobState.CANCELLED:
        ctx.signals.job_finished(request_id)
        ctx.signals.job_changed(request_id, done.model_id)
        raise Timeout(
            f"The image was not started within {seconds:.0f} s, so the request was cancelled "
            f"and you were not charged; its status: {url}",
            details=details,
        )
    if done.state is JobState.PROCESSING:
        raise Timeout(
            f"The image is not ready after {seconds:.0f} s; it is still being made and is "
            f"charged when it completes; poll {url} for the result",
            details=details,
        )
    return done  # it ended just now


def cancelled(job: JobRecord) -> Conflict:
    """The answer of a sync route whose job its owner cancelled while it waited."""
    return Conflict(
        f"Request '{job.request_id}' was cancelled; you were not charged",
        title="Conflict",
        details={"status": job.state.value},
    )


async def sync_output(ctx: ApiContext, job: JobRecord) -> JSONResponse:
    """`{"output": url}` for the sync endpoints, or the error that ended the job."""
    done = await wait_or_give_up(ctx, job.request_id)
    if done.state is JobState.COMPLETED:
        return JSONResponse({"output": media_urls(done, ctx.media_url)[0]})
    if done.state is JobState.FAILED:
        raise InvalidRequest(done.error or "The request failed")
    if done.state is JobState.ERROR:
        raise EngineFailure(
            done.error or "The request could not be processed; you were not charged"
        )
    raise cancelled(done)
