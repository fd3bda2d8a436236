"""The two LoRA trainer endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from fluxserve.api.schemas.base import RequestBody


class TrainerRequest(RequestBody):
    image_data_url: str = Field(min_length=1)
    steps: Any = None
    learning_rate: Any = None
    trigger_phrase: str | None = Field(default=None, max_length=100)
