"""A request's webhook deliveries, for the key that made it: the log of every try, and a
replay that sends the final status body again through the outbox."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from fluxserve.api.context import ApiContext
from fluxserve.api.deps import CallerKey, Ctx
from fluxserve.api.routing import ERROR_RESPONSES, Responses
from fluxserve.api.schemas.responses import ErrorBody
from fluxserve.api.schemas.webhooks import WebhookLog, WebhookReplay
from fluxserve.billing.keys import ApiKeyRecord
from fluxserve.errors import Conflict, NotFound
from fluxserve.jobs.events import event_name
from fluxserve.jobs.outbox import Delivery
from fluxserve.jobs.records import TERMINAL_STATES, JobRecord
from fluxserve.webhooks.standard import delivery_id

router = APIRouter(tags=["Webhooks"])

_OWNER_ONLY: Responses = {
    401: ERROR_RESPONSES[401],
    404: {"model": ErrorBody, "description": "No such request of yours"},
}


def _own_job(ctx: ApiContext, key: ApiKeyRecord, request_id: str) -> JobRecord:
    # getDataBatch's callers know their request by its batch requestId (the job's alias).
    job = ctx.jobs.get(request_id) or ctx.jobs.get_by_alias(request_id)
    # Only the key that made the request: the log shows its webhook URL.
    if job is None or job.key_id != key.id:
        raise NotFound(f"Request '{request_id}' not found")
    return job


def _when(moment: Any) -> str | None:
    return None if moment is None else moment.isoformat()


def _delivery_body(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery_id(delivery.id),
        "url": delivery.url,
        "event": delivery.event,
        "status": delivery.status,
        "created_at": _when(delivery.created_at),
        "finished_at": _when(delivery.finished_at),
        "next_attempt_at": _when(delivery.next_attempt_at),
        "attempts": [
            {"at": _when(t.attempted_at), "status_code": t.status_code, "error": t.error}
            for t in delivery.tries
        ],
    }


@router.get(
    "/v2/requests/{request_id}/webhooks",
    operation_id="request_webhooks",
    summary="The webhook deliveries of a request of yours: every try, its status code and time",
    response_model=WebhookLog,
    responses=_OWNER_ONLY,
)
async def webhook_log(request_id: str, ctx: Ctx, key: CallerKey) -> JSONResponse:
    job = await ctx.blocking.run(_own_job, ctx, key, request_id)
    deliveries = await ctx.blocking.run(ctx.outbox.deliveries, job.request_id)
    body = {
        "request_id": job.request_id,
        "webhook_url": job.webhook_url,
        "deliveries": [_delivery_body(d) for d in deliveries],
    }
    return JSONResponse(body)


@router.post(
    "/v2/requests/{request_id}/webhooks/replay",
    operation_id="request_webhooks_replay",
    summary="Send a finished request's webhook again (a new delivery, retried like any other)",
    response_model=WebhookReplay,
    status_code=202,
    responses={
        **_OWNER_ONLY,
        409: {"model": ErrorBody, "description": "Not finished yet, or made without a webhook"},
    },
)
async def webhook_replay(request_id: str, ctx: Ctx, key: CallerKey) -> JSONResponse:
    job = await ctx.blocking.run(_own_job, ctx, key, request_id)
    if job.webhook_url is None:
        raise Conflict("This request was made without a webhook URL")
    if job.state not in TERMINAL_STATES:
        raise Conflict(f"The request is {job.state.value}: its webhook is sent when it ends")
    outbox_id = await ctx.blocking.run(
        ctx.outbox.replay, job.request_id, job.webhook_url, event_name(job.state)
    )
    body = {"request_id": job.request_id, "delivery_id": delivery_id(outbox_id)}
    return JSONResponse(body, status_code=202)
