"""FastAPI dependencies: the context, the caller's key, the rate limit, the model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request, Security
from fastapi.security import APIKeyHeader

from fluxserve.api.context import ApiContext
from fluxserve.billing.keys import ApiKeyRecord
from fluxserve.catalog import ApiModel

# Either header the spec uses carries the key; declared so that /docs offers to send one.
_SUBSCRIPTION_KEY = APIKeyHeader(
    name="Ocp-Apim-Subscription-Key", scheme_name="SubscriptionKey", auto_error=False
)
_SECRET_KEY = APIKeyHeader(name="X-Secret-Key", scheme_name="SecretKey", auto_error=False)


# Dependencies are `async def` on purpose: FastAPI runs a plain `def` one on a thread, a hop
# that costs more than these do. Whatever blocks goes through `ctx.blocking`.


async def get_context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ApiContext, Depends(get_context)]


async def caller_key(
    ctx: Ctx,
    subscription_key: Annotated[str | None, Security(_SUBSCRIPTION_KEY)],
    secret_key: Annotated[str | None, Security(_SECRET_KEY)],
) -> ApiKeyRecord:
    plain = subscription_key or secret_key
    cached = ctx.keys.authenticate_cached(plain)
    if cached is not None:
        return cached
    return await ctx.blocking.run(ctx.keys.authenticate, plain)


CallerKey = Annotated[ApiKeyRecord, Depends(caller_key)]


async def submitting_key(key: CallerKey, ctx: Ctx) -> ApiKeyRecord:
    """The caller's key, after spending one token of its submission rate. (Its cap on active
    jobs and its funds are checked where the job is created, in the same transaction, and
    before any input is fetched by routes that take inputs: see `Draft`.)"""
    if ctx.limiter.blocking:
        await ctx.blocking.run(ctx.limiter.take, key.id)
    else:
        ctx.limiter.take(key.id)
    return key


SubmittingKey = Annotated[ApiKeyRecord, Depends(submitting_key)]


def enabled_model(model_id: str) -> Callable[[ApiContext], Awaitable[ApiModel]]:
    """A dependency refusing a disabled or unknown model (the spec's `Model not found`) before
    the body is looked at."""

    async def check(ctx: Ctx) -> ApiModel:
        return ctx.intake.model(model_id)

    return check


WebhookUrlHeader = Annotated[
    str | None,
    Header(alias="X-Webhook-URL", description="http(s) URL that gets the status body at the end"),
]
