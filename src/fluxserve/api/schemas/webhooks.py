"""The webhook delivery log and replay answers, as `/openapi.json` shows them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class WebhookTry(BaseModel):
    at: str = Field(description="When the try ended (ISO 8601, UTC)")
    status_code: int | None = Field(description="The receiver's HTTP status; null: no answer")
    error: str | None = Field(description="Why the try did not count as delivered")


class WebhookDelivery(BaseModel):
    id: str = Field(description="The `webhook-id` header of this delivery, stable across tries")
    url: str
    event: str = Field(description="completed, failed or error")
    status: Literal["pending", "delivered", "failed"]
    created_at: str
    finished_at: str | None
    next_attempt_at: str | None = Field(description="The next try, while pending")
    attempts: list[WebhookTry]


class WebhookLog(BaseModel):
    request_id: str
    webhook_url: str | None
    deliveries: list[WebhookDelivery]


class WebhookReplay(BaseModel):
    request_id: str
    delivery_id: str = Field(description="The new delivery, in the log once tried")
