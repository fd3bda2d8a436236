"""Bodies of the account view (GET /v2/account) and of the operators' admin API. Amounts are
US dollars as exact decimal strings ("0.025"), never rounded."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from fluxserve.api.schemas.responses import JobStatus


class HoldItem(BaseModel):
    request_id: str
    model_id: str
    status: JobStatus
    amount_usd: str
    since: str


class ModelUsageItem(BaseModel):
    model_id: str
    requests: int = Field(description="Charged requests in the period")
    charged_usd: str


class Usage(BaseModel):
    since: str
    until: str
    total_usd: str
    models: list[ModelUsageItem]


class LedgerItem(BaseModel):
    """`amount_usd` changes the key's funds (balance + held); `held_change_usd` is what a
    hold or release moved between balance and held."""

    id: int
    kind: str
    amount_usd: str
    held_change_usd: str | None
    balance_after_usd: str
    held_after_usd: str
    request_id: str | None
    note: str | None
    created_at: str


class AccountV2(BaseModel):
    key_id: str
    name: str
    key_prefix: str
    balance_usd: str
    held_usd: str
    holds: list[HoldItem]
    usage: Usage
    ledger: list[LedgerItem]


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=200)
    credit_usd: str = Field(default="0", description='Starting balance, e.g. "10" or "0.025"')
    operator: bool = Field(default=False, description="May read every request")


class KeyInfo(BaseModel):
    id: str
    name: str
    key_prefix: str
    disabled: bool
    operator: bool
    created_at: str
    balance_usd: str
    held_usd: str


class CreatedKey(KeyInfo):
    key: str = Field(description="The API key itself: shown this once, never stored")


class TopUp(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_usd: str = Field(description='More than 0, e.g. "5" or "0.025"')
    note: str | None = Field(default=None, max_length=500)


class JobItem(BaseModel):
    request_id: str
    model_id: str
    key_id: str
    status: JobStatus
    price_usd: str
    created_at: str
    completed_at: str | None


class JobList(BaseModel):
    jobs: list[JobItem]
