"""FLUX.1 endpoints: flux-pro and flux-dev text-to-image, flux-dev image-to-image,
FLUX1.1 [pro] ultra, and FLUX.1 Fill [dev] inpainting."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fluxserve.api.schemas.base import Prompt, RequestBody
from fluxserve.api.schemas.fields import ImageCount, LooseInt, Seed, Steps, safety_spec
from fluxserve.api.schemas.loras import LoraList
from fluxserve.catalog import API_MODELS
from fluxserve.jobs.spec import SafetySpec
from fluxserve.safety.policy import FLUX_PRO_ULTRA_SCALE
from fluxserve.vocabulary import Acceleration

FAL_IMAGE_SIZES = (
    "square_hd",
    "square",
    "portrait_4_3",
    "portrait_16_9",
    "landscape_4_3",
    "landscape_16_9",
)
FLUX_DEV_GUIDANCE = API_MODELS["flux-dev"].defaults.guidance or 0.0
FILL_GUIDANCE = API_MODELS["flux-fill-dev"].defaults.guidance or 0.0


class Flux1TextToImage(RequestBody):
    prompt: Prompt
    image_size: str = "landscape_4_3"
    num_inference_steps: Steps | None = None
    guidance_scale: float = Field(default=FLUX_DEV_GUIDANCE, ge=0.0, le=20.0)
    num_images: ImageCount = 1
    enable_safety_checker: bool = True
    output_format: Literal["jpeg", "png"] = "jpeg"
    seed: Seed | None = None
    loras: LoraList | None = None
    acceleration: Acceleration = "none"


class Flux1ImageToImage(Flux1TextToImage):
    image_url: str = Field(min_length=1)
    strength: float = Field(default=0.95, gt=0.0, le=1.0)
    image_size: str = "auto"


class UltraGenerate(RequestBody):
    prompt: Prompt
    seed: Seed | None = None
    loras: LoraList | None = None
    sync_mode: bool = False
    num_images: ImageCount = 1
    enable_safety_checker: bool = True
    output_format: Literal["jpeg", "png"] = "jpeg"
    safety_tolerance: LooseInt | None = None
    enhance_prompt: bool = False
    aspect_ratio: Literal["21:9", "16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "9:21"] = (
        "16:9"
    )
    raw: bool = False

    def safety(self) -> SafetySpec:
        return safety_spec(
            FLUX_PRO_ULTRA_SCALE, self.safety_tolerance, enabled=self.enable_safety_checker
        )


class FillGenerate(RequestBody):
    prompt: Prompt
    image: str = Field(min_length=1)
    mask: str = Field(min_length=1)
    seed: Seed | None = None
    loras: LoraList | None = None
    guidance: float = Field(default=FILL_GUIDANCE, ge=0.0, le=100.0)
    num_outputs: ImageCount = 1
    num_inference_steps: Steps | None = None
    megapixels: Literal["0.25", "1", "match_input"] = "1"
    output_format: Literal["webp", "jpg", "png"] = "webp"
    output_quality: LooseInt = Field(default=80, ge=0, le=100)
    lora_scale: float = Field(default=1.0, ge=-4.0, le=4.0)
    disable_safety_checker: bool = False

    def safety(self) -> SafetySpec:
        return SafetySpec(enabled=not self.disable_safety_checker, strictness=0.5)
