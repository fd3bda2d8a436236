"""The caller's own account: which key it is and what its wallet holds (the playground and the
SDK show the balance from here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from fluxserve.api.account_view import account_body
from fluxserve.api.deps import CallerKey, Ctx
from fluxserve.api.routing import ERROR_RESPONSES
from fluxserve.api.schemas.account import AccountV2
from fluxserve.api.schemas.responses import Account
from fluxserve.errors import InvalidRequest
from fluxserve.money import micros_to_usd

router = APIRouter()

DEFAULT_PERIOD = timedelta(days=30)
MAX_ENTRIES = 500


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise InvalidRequest(f"{name} must carry a time zone (e.g. 2026-12-01T00:00:00Z)")
    return value.astimezone(UTC)


@router.get(
    "/v1/account",
    operation_id="account",
    summary="The calling key's name and wallet",
    response_model=Account,
    responses={401: ERROR_RESPONSES[401], 403: ERROR_RESPONSES[403]},
)
async def account(ctx: Ctx, key: CallerKey) -> Account:
    """`balance_usd` is spendable; `held_usd` is reserved by requests still running."""
    wallet = await ctx.blocking.run(ctx.keys.wallet, key.id)
    return Account(
        name=key.name,
        key_prefix=key.prefix,
        balance_usd=str(micros_to_usd(wallet.balance_micros)),
        held_usd=str(micros_to_usd(wallet.held_micros)),
    )


@router.get(
    "/v2/account",
    operation_id="account_v2",
    summary="The calling key's balance, holds, usage per model over a period, and ledger",
    response_model=AccountV2,
    responses={
        400: ERROR_RESPONSES[400],
        401: ERROR_RESPONSES[401],
        403: ERROR_RESPONSES[403],
    },
)
async def account_v2(
    ctx: Ctx,
    key: CallerKey,
    since: Annotated[
        datetime | None, Query(description="Usage from (ISO 8601; default: 30 days ago)")
    ] = None,
    until: Annotated[datetime | None, Query(description="Usage until (default: now)")] = None,
    entries: Annotated[int, Query(ge=0, le=MAX_ENTRIES, description="Ledger entries")] = 20,
) -> AccountV2:
    """Amounts are exact decimal strings. `held_usd` is the sum of `holds`; `usage` counts
    the charges made in [since, until)."""
    end = _aware(until, "until") if until is not None else datetime.now(UTC)
    start = _aware(since, "since") if since is not None else end - DEFAULT_PERIOD
    if start > end:
        raise InvalidRequest("since must not be later than until")
    view = ctx.keys.account(key.id, start, end, entries)
    return account_body(key, view, start, end)
