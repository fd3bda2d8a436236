"""FLUX.1 schnell batch: `getDataBatch` queues (webhook or up to 60 s of waiting) and
`checkStatus` answers by the batch requestId, with the lowercase statuses of that API."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi.responses import JSONResponse

from fluxserve.api.deps import CallerKey, Ctx, Submission, submission_to
from fluxserve.api.draft import Draft
from fluxserve.api.intake import Webhook
from fluxserve.api.responses import wait_for_end
from fluxserve.api.routes.sync import schnell_spec
from fluxserve.api.routing import spec_post, spec_router
from fluxserve.api.schemas.responses import BatchQueued, BatchStatus, ErrorBody
from fluxserve.api.schemas.sized import CheckStatus, SchnellBatch
from fluxserve.errors import NotFound
from fluxserve.ids import new_uuid4
from fluxserve.jobs.records import TERMINAL_STATES
from fluxserve.jobs.views import batch_status_body
from fluxserve.webhooks.validate import validate_webhook_url

router = spec_router()

POLLING_ENDPOINT = "/checkStatus"


def _queued_body(request_id: str, state: str, with_webhook: bool) -> dict[str, str]:
    message = (
        "Request queued. Result will be sent to the provided webhook URL."
        if with_webhook
        else "Request is still processing. Poll /checkStatus for the result."
    )
    instructions = "POST to /checkStatus with " + json.dumps({"requestId": request_id})
    return {
        "requestId": request_id,
        "status": state,
        "message": message,
        "pollingEndpoint": POLLING_ENDPOINT,
        "pollingInstructions": instructions,
    }


@spec_post(
    router,
    "schnell_batch",
    BatchStatus,
    responses={202: {"model": BatchQueued, "description": "Queued or still running"}},
)
async def get_data_batch(
    caller: Annotated[Submission, submission_to("flux-1-schnell")],
    body: SchnellBatch,
) -> JSONResponse:
    ctx, key, model = caller
    draft = await Draft.start(ctx, key, model)
    webhook = None
    if body.webhook_url:
        webhook = Webhook(url=validate_webhook_url(body.webhook_url), style="batch")
    spec = await schnell_spec(draft, body, sanitize=True)
    job = await draft.submit(spec, webhook, alias=new_uuid4())
    # A replayed Idempotency-Key answers with its first job, and so with that job's alias.
    alias = job.alias or ""
    if webhook is not None:
        return JSONResponse(_queued_body(alias, "queued", True), status_code=202)
    done = await wait_for_end(ctx, job.request_id, ctx.settings.batch_sync_wait_s)
    if done.state in TERMINAL_STATES:
        return JSONResponse(batch_status_body(done, ctx.media_url), status_code=200)
    return JSONResponse(_queued_body(alias, done.state.value.lower(), False), status_code=202)


@spec_post(
    router,
    "schnell_check_status",
    BatchStatus,
    responses={404: {"model": ErrorBody, "description": "No such request of yours"}},
)
async def check_status(ctx: Ctx, key: CallerKey, body: CheckStatus) -> JSONResponse:
    job = await ctx.blocking.run(ctx.jobs.get_by_alias, body.requestId)
    if job is None or (job.key_id != key.id and not key.is_operator):
        raise NotFound("Request not found")
    return JSONResponse(batch_status_body(job, ctx.media_url))
