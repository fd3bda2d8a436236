"""Domain records -> the bodies of /v2/account and of the admin API (exact dollar strings)."""

from __future__ import annotations

from datetime import datetime

from fluxserve.api.schemas.account import (
    AccountV2,
    HoldItem,
    JobItem,
    KeyInfo,
    LedgerItem,
    ModelUsageItem,
    Usage,
)
from fluxserve.billing.account import AccountView
from fluxserve.billing.keys import ApiKeyRecord
from fluxserve.billing.ledger import LedgerEntry
from fluxserve.billing.wallet import WalletView
from fluxserve.jobs.records import JobRecord
from fluxserve.jobs.views import iso_utc
from fluxserve.money import micros_to_usd


def usd(micros: int) -> str:
    return str(micros_to_usd(micros))


def _iso(dt: datetime) -> str:
    text = iso_utc(dt)
    assert text is not None
    return text


def ledger_item(entry: LedgerEntry) -> LedgerItem:
    change = entry.held_change_micros
    return LedgerItem(
        id=entry.id,
        kind=entry.kind,
        amount_usd=usd(entry.amount_micros),
        held_change_usd=None if change is None else usd(change),
        balance_after_usd=usd(entry.balance_after_micros),
        held_after_usd=usd(entry.held_after_micros),
        request_id=entry.request_id,
        note=entry.note,
        created_at=_iso(entry.created_at),
    )


def account_body(
    key: ApiKeyRecord, view: AccountView, since: datetime, until: datetime
) -> AccountV2:
    holds = [
        HoldItem(
            request_id=h.request_id,
            model_id=h.model_id,
            status=h.state,  # type: ignore[arg-type]  # a stored, checked state
            amount_usd=usd(h.micros),
            since=_iso(h.since),
        )
        for h in view.holds
    ]
    models = [
        ModelUsageItem(model_id=u.model_id, requests=u.requests, charged_usd=usd(u.charged_micros))
        for u in view.usage
    ]
    total = sum(u.charged_micros for u in view.usage)
    return AccountV2(
        key_id=key.id,
        name=key.name,
        key_prefix=key.prefix,
        balance_usd=usd(view.wallet.balance_micros),
        held_usd=usd(view.wallet.held_micros),
        holds=holds,
        usage=Usage(since=_iso(since), until=_iso(until), total_usd=usd(total), models=models),
        ledger=[ledger_item(entry) for entry in view.entries],
    )


def key_info(key: ApiKeyRecord, wallet: WalletView) -> KeyInfo:
    return KeyInfo(
        id=key.id,
        name=key.name,
        key_prefix=key.prefix,
        disabled=key.disabled,
        operator=key.is_operator,
        created_at=_iso(key.created_at),
        balance_usd=usd(wallet.balance_micros),
        held_usd=usd(wallet.held_micros),
    )


def job_item(job: JobRecord) -> JobItem:
    return JobItem(
        request_id=job.request_id,
        model_id=job.model_id,
        key_id=job.key_id,
        status=job.state.value,  # type: ignore[arg-type]
        price_usd=usd(job.price_micros),
        created_at=_iso(job.created_at),
        completed_at=iso_utc(job.completed_at),
    )
