"""FLUX.2 [pro] text-to-image (799) and image editing (866), backed by FLUX.2 [dev]."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from fluxserve.api.schemas.base import Prompt, RequestBody
from fluxserve.api.schemas.fields import LooseInt, Seed, safety_spec
from fluxserve.api.schemas.loras import LoraList
from fluxserve.jobs.spec import SafetySpec
from fluxserve.safety.policy import (
    FLUX2_PRO_IMAGE_TO_IMAGE_SCALE,
    FLUX2_PRO_TEXT_TO_IMAGE_SCALE,
)

FLUX2_IMAGE_SIZES = (
    "portrait_4_5",
    "portrait_9_16",
    "square_1_1",
    "landscape_3_2",
    "landscape_4_3",
    "landscape_16_9",
    "landscape_21_9",
)


class Flux2TextToImage(RequestBody):
    prompt: Prompt
    image_size: str = "landscape_4_3"
    safety_tolerance: LooseInt | None = None
    enable_safety_checker: bool = True
    output_format: Literal["jpeg", "png", "webp"] = "jpeg"
    seed: Seed | None = None
    loras: LoraList | None = None

    def safety(self) -> SafetySpec:
        return safety_spec(
            FLUX2_PRO_TEXT_TO_IMAGE_SCALE,
            self.safety_tolerance,
            enabled=self.enable_safety_checker,
        )


class Flux2ImageToImage(RequestBody):
    prompt: Prompt
    image_urls: list[str] = Field(min_length=1)
    image_size: str = "auto"
    safety_tolerance: LooseInt | None = None
    enable_safety_checker: bool = True
    output_format: Literal["jpeg", "png", "webp"] = "jpeg"
    seed: Seed | None = None
    loras: LoraList | None = None

    FIELD_ERRORS: ClassVar[dict[str, str]] = {
        "image_urls": "image_urls must be a non-empty array of image URLs"
    }

    @field_validator("image_urls")
    @classmethod
    def _first_is_url(cls, value: list[str]) -> list[str]:
        if not value[0].strip():
            raise ValueError("the first image URL is empty")
        return value

    def safety(self) -> SafetySpec:
        return safety_spec(
            FLUX2_PRO_IMAGE_TO_IMAGE_SCALE,
            self.safety_tolerance,
            enabled=self.enable_safety_checker,
        )
