"""A request's live events (Server-Sent Events; a fluxserve extension)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse

from fluxserve.api.deps import CallerKey, Ctx
from fluxserve.api.event_stream import job_events
from fluxserve.api.routes.common import owned_job
from fluxserve.api.routing import ERROR_RESPONSES
from fluxserve.api.schemas.responses import ErrorBody

router = APIRouter()


@router.get(
    "/v2/requests/{request_id}/events",
    operation_id="request_events",
    summary="Live events of a request (text/event-stream) until it ends; resumable",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}},
        401: ERROR_RESPONSES[401],
        404: {"model": ErrorBody, "description": "No such request of yours"},
    },
)
async def request_events(
    request_id: str,
    ctx: Ctx,
    key: CallerKey,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    job = await ctx.blocking.run(owned_job, ctx, request_id, key)
    return StreamingResponse(
        job_events(ctx, job, last_event_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
