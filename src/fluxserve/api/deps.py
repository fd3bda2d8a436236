"""FastAPI dependencies: the context, the caller's key, the rate limit, the JSON body."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Request

from fluxserve.api.context import ApiContext
from fluxserve.billing.keys import ApiKeyRecord
from fluxserve.errors import InvalidRequest

KEY_HEADERS = ("Ocp-Apim-Subscription-Key", "X-Secret-Key")


def get_context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ApiContext, Depends(get_context)]


def caller_key(request: Request, ctx: Ctx) -> ApiKeyRecord:
    """Either header the spec uses carries the key; both name the same key store."""
    plain = next((request.headers[h] for h in KEY_HEADERS if request.headers.get(h)), None)
    return ctx.keys.authenticate(plain)


CallerKey = Annotated[ApiKeyRecord, Depends(caller_key)]


def submitting_key(key: CallerKey, ctx: Ctx) -> ApiKeyRecord:
    """The caller's key, after spending one token of its submission rate."""
    ctx.limiter.take(key.id)
    return key


SubmittingKey = Annotated[ApiKeyRecord, Depends(submitting_key)]


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise InvalidRequest("Request body is required (JSON)")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidRequest("Request body must be valid JSON") from None


JsonBody = Annotated[Any, Depends(json_body)]
