"""The operators' HTTP admin API: keys, credit and jobs without shell access to the database
node. Every route needs `Authorization: Bearer <operator_token>` (see docs/security.md); with no
token configured the admin API does not exist."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from fluxserve.api.account_view import job_item, key_info
from fluxserve.api.deps import Ctx
from fluxserve.api.routing import ERROR_RESPONSES, Responses
from fluxserve.api.schemas.account import CreatedKey, JobList, KeyInfo, NewKey, TopUp
from fluxserve.api.schemas.responses import ErrorBody
from fluxserve.errors import InvalidRequest, NotFound, Unauthorized
from fluxserve.jobs.records import JobState
from fluxserve.money import usd_to_micros

_BEARER = HTTPBearer(scheme_name="OperatorToken", auto_error=False)
MAX_JOBS = 1000


def operator(
    ctx: Ctx, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)]
) -> None:
    """Lets the request through only with the configured operator token."""
    configured = ctx.settings.operator_token
    if configured is None:
        raise NotFound("Not Found: the admin API is off (no operator_token is set)")
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), configured.get_secret_value().encode()):
        raise Unauthorized("Missing or invalid operator token", title="Unauthorized")


_ERRORS: Responses = {
    400: ERROR_RESPONSES[400],
    401: {"model": ErrorBody, "description": "Missing or invalid operator token"},
    404: {"model": ErrorBody, "description": "No such key, or the admin API is off"},
}
router = APIRouter(prefix="/admin/v1", dependencies=[Depends(operator)], responses=_ERRORS)


def _micros(value: str, what: str) -> int:
    try:
        micros = usd_to_micros(value)
    except ValueError as exc:
        raise InvalidRequest(f"{what}: {exc}") from None
    if micros < 0:
        raise InvalidRequest(f"{what} must not be negative")
    return micros


@router.post("/keys", operation_id="admin_create_key", summary="Create an API key")
async def create_key(ctx: Ctx, body: NewKey) -> CreatedKey:
    """The key itself is in the answer, once; only its hash is stored."""
    credit = _micros(body.credit_usd, "credit_usd")
    record, plain = ctx.keys.create(name=body.name, credit_micros=credit, is_operator=body.operator)
    info = key_info(record, ctx.keys.wallet(record.id))
    return CreatedKey(**info.model_dump(), key=plain)


@router.get("/keys/{key_id}", operation_id="admin_get_key", summary="A key and its wallet")
async def get_key(ctx: Ctx, key_id: str) -> KeyInfo:
    record = ctx.keys.resolve(key_id)
    return key_info(record, ctx.keys.wallet(record.id))


@router.post(
    "/keys/{key_id}/disable", operation_id="admin_disable_key", summary="Disable a key for good"
)
async def disable_key(ctx: Ctx, key_id: str) -> KeyInfo:
    record = ctx.keys.disable(key_id)
    return key_info(record, ctx.keys.wallet(record.id))


@router.post("/keys/{key_id}/top-up", operation_id="admin_top_up", summary="Add credit to a key")
async def top_up(ctx: Ctx, key_id: str, body: TopUp) -> KeyInfo:
    micros = _micros(body.amount_usd, "amount_usd")
    if micros == 0:
        raise InvalidRequest("amount_usd must be more than 0")
    ctx.keys.topup(key_id, micros, body.note)
    record = ctx.keys.resolve(key_id)
    return key_info(record, ctx.keys.wallet(record.id))


@router.get("/jobs", operation_id="admin_list_jobs", summary="Jobs by key and state, newest first")
async def list_jobs(
    ctx: Ctx,
    key: Annotated[str | None, Query(description="Key id (key_…)")] = None,
    state: Annotated[JobState | None, Query(description="QUEUED, PROCESSING, ...")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_JOBS)] = 100,
) -> JobList:
    key_id = ctx.keys.resolve(key).id if key is not None else None
    jobs = ctx.job_listing.list(key_id=key_id, state=state, limit=limit)
    return JobList(jobs=[job_item(job) for job in jobs])
