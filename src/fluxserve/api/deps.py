"""FastAPI dependencies: the context, the caller's key, the rate limit, the model."""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

from fastapi import Depends, Header, Request

from fluxserve.api.context import ApiContext
from fluxserve.billing.keys import ApiKeyRecord
from fluxserve.catalog import ApiModel

# Either header the spec uses carries the key (scheme name -> header). They are read here and
# declared to /docs by `api/openapi_security.py`, not as FastAPI `Security` dependencies: FastAPI
# walks every dependency again on each request, and those two cost a tenth of a status read.
KEY_HEADERS = {"SubscriptionKey": "Ocp-Apim-Subscription-Key", "SecretKey": "X-Secret-Key"}


# Dependencies are `async def` on purpose: FastAPI runs a plain `def` one on a thread, a hop
# that costs more than these do. Whatever blocks goes through `ctx.blocking`.


async def get_context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ApiContext, Depends(get_context)]


async def caller_key(request: Request) -> ApiKeyRecord:
    ctx: ApiContext = request.app.state.ctx
    plain = next(filter(None, map(request.headers.get, KEY_HEADERS.values())), None)
    cached = ctx.keys.authenticate_cached(plain)
    if cached is not None:
        return cached
    return await ctx.blocking.run(ctx.keys.authenticate, plain)


CallerKey = Annotated[ApiKeyRecord, Depends(caller_key)]


async def submitting_key(request: Request) -> ApiKeyRecord:
    """The caller's key, after spending one token of its submission rate. (Its cap on active
    jobs and its funds are checked where the job is created, in the same transaction, and
    before any input is fetched by routes that take inputs: see `Draft`.)"""
    key = await caller_key(request)
    ctx: ApiContext = request.app.state.ctx
    if ctx.limiter.blocking:
        await ctx.blocking.run(ctx.limiter.take, key.id)
    else:
        ctx.limiter.take(key.id)
    return key


class Submission(NamedTuple):
    """Who submits, to which model, through which context."""

    ctx: ApiContext
    key: ApiKeyRecord
    model: ApiModel


class SubmissionTo:
    """The dependency of a route that submits to `model_id`: the caller's key after one token
    of its rate (`submitting_key`), then the model, refused when disabled or unknown (the
    spec's `Model not found`), both before the body is looked at. One dependency, not three:
    FastAPI's solving costs more per dependency than each of these does."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    async def __call__(self, request: Request) -> Submission:
        key = await submitting_key(request)
        ctx: ApiContext = request.app.state.ctx
        return Submission(ctx, key, ctx.intake.model(self.model_id))


def submission_to(model_id: str) -> Any:
    """`Annotated[Submission, submission_to("flux-dev")]` in a route's parameters."""
    return Depends(SubmissionTo(model_id))


WebhookUrlHeader = Annotated[
    str | None,
    Header(alias="X-Webhook-URL", description="http(s) URL that gets the status body at the end"),
]
