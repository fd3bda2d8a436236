"""Cancelling a request (a fluxserve extension, as fal and Replicate clients expect)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from fluxserve.api.deps import CallerKey, Ctx
from fluxserve.api.routes.common import owner_of
from fluxserve.api.routing import ERROR_RESPONSES
from fluxserve.api.schemas.responses import ErrorBody, RequestStatus
from fluxserve.jobs.views import status_body

router = APIRouter()


@router.post(
    "/v2/requests/{request_id}/cancel",
    operation_id="cancel_request",
    summary="Cancel a request (uncharged): at once while QUEUED, at its next step if running",
    response_model=RequestStatus,
    responses={
        401: ERROR_RESPONSES[401],
        404: {"model": ErrorBody, "description": "No such request of yours"},
        409: {"model": ErrorBody, "description": "It has ended already; `status` says how"},
    },
)
async def cancel_request(request_id: str, ctx: Ctx, key: CallerKey) -> JSONResponse:
    job = await ctx.blocking.run(ctx.jobs.cancel, request_id, owner_of(key))
    # This node's waiters, webhook delivery and workers; other nodes hear the NOTIFY.
    ctx.signals.job_finished(job.request_id)
    ctx.signals.job_changed(job.request_id, job.model_id)
    return JSONResponse(status_body(job, ctx.media_url))
