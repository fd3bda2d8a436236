"""Bodies of the OpenAI Images API routes (`/v1/images/*`): OpenAI's own fields, plus a few
fluxserve extensions (`seed`, `steps`, `guidance`, `strength`, `loras`) that the official
client sends through `extra_body`."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fluxserve.api.schemas.base import Prompt
from fluxserve.api.schemas.fields import ImageCount, Seed, Steps
from fluxserve.api.schemas.loras import LoraList

ResponseFormat = Literal["url", "b64_json"]
Quality = Literal["auto", "low", "medium", "high", "standard", "hd"]
ImageFormat = Literal["png", "jpeg", "webp"]

DEFAULT_GENERATION_MODEL = "flux-1-schnell"
DEFAULT_EDIT_MODEL = "flux-2-klein-4b"

# OpenAI's quality names map to a share of the model's default step count.
STEP_FACTOR: dict[str, float] = {
    "low": 0.5,
    "medium": 1.0,
    "auto": 1.0,
    "standard": 1.0,
    "high": 2.0,
    "hd": 2.0,
}


class OpenAIImageFields(BaseModel):
    """What generations and edits share."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    prompt: Prompt
    n: ImageCount = 1
    size: str = Field(
        default="auto",
        description='"WxH" (each side 64..4096, rounded to a multiple of 16) or "auto"',
    )
    response_format: ResponseFormat = "url"
    output_format: ImageFormat = "png"
    quality: Quality = Field(
        default="auto",
        description='Steps: "low" half the model default, "high"/"hd" twice it, else the default',
    )
    user: str | None = Field(default=None, max_length=256, description="Accepted and ignored")
    moderation: Literal["auto", "low"] = Field(
        default="auto", description='"low" applies the more permissive safety threshold'
    )
    # fluxserve extensions (send them with the official client's `extra_body`)
    seed: Seed | None = Field(default=None, description="fluxserve: the first image's seed")
    steps: Steps | None = Field(default=None, description="fluxserve: overrides `quality`")
    guidance: float | None = Field(
        default=None, ge=0.0, le=100.0, description="fluxserve: guidance scale"
    )


class OpenAIGenerate(OpenAIImageFields):
    """`POST /v1/images/generations` (JSON)."""

    model: str = Field(
        default=DEFAULT_GENERATION_MODEL,
        description="A fluxserve model id that makes images from text (see /v1/models)",
    )
    loras: LoraList | None = Field(default=None, description="fluxserve: LoRAs to apply")

    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "model": "flux-dev",
                    "prompt": "a red bicycle leaning on a yellow wall",
                    "size": "1024x768",
                    "n": 1,
                    "response_format": "url",
                    "seed": 7,
                }
            ]
        },
    )


class OpenAIEdit(OpenAIImageFields):
    """The text fields of `POST /v1/images/edits` (multipart, beside the `image` and optional
    `mask` files). `loras` is a JSON array in one form field."""

    model: str = Field(
        default=DEFAULT_EDIT_MODEL,
        description="flux-fill-dev with a mask; an editing model (FLUX.2, Kontext) without",
    )
    loras: LoraList | None = Field(
        default=None, description='fluxserve: JSON text, e.g. [{"path": "...", "scale": 0.8}]'
    )
    strength: float = Field(
        default=0.95, gt=0.0, le=1.0, description="fluxserve: how far FLUX.1 image-to-image moves"
    )

    @field_validator("loras", mode="before")
    @classmethod
    def _json_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else None
            except json.JSONDecodeError as exc:
                raise ValueError("must be a JSON array of {path, scale} objects") from exc
        return value


class OpenAIImage(BaseModel):
    url: str | None = None
    b64_json: str | None = None
    revised_prompt: str | None = None
    seed: int = Field(description="fluxserve: the seed that made this image")


class OpenAIImagesResponse(BaseModel):
    """OpenAI's `ImagesResponse`, plus fluxserve's `request_id` (the job behind it)."""

    created: int
    data: list[OpenAIImage]
    output_format: ImageFormat
    size: str
    quality: Quality
    request_id: str


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIError(BaseModel):
    """OpenAI's error shape, used on the `/v1/images/*` routes only."""

    error: OpenAIErrorDetail
