"""Endpoints that take width/height in pixels: FLUX.2 klein, FLUX.2 dev (generateT2I) and
FLUX.1 schnell (getData, getDataBatch)."""

from __future__ import annotations

from pydantic import Field, field_validator

from fluxserve.api.schemas.base import Prompt, RequestBody
from fluxserve.api.schemas.fields import LooseInt, Seed, Steps, check_pixels
from fluxserve.api.schemas.loras import LoraList
from fluxserve.catalog import API_MODELS

KLEIN_SIDES = API_MODELS["flux-2-klein-4b"].defaults.sides
SCHNELL_MAX_STEPS = API_MODELS["flux-1-schnell"].defaults.max_steps
MIN_SIDE = 64
MAX_SIDE = 2048


def _side(value: int, field: str) -> int:
    if not MIN_SIDE <= value <= MAX_SIDE:
        raise ValueError(f"{field} must be between {MIN_SIDE} and {MAX_SIDE} pixels")
    return value


class KleinGenerate(RequestBody):
    prompt: Prompt
    steps: Steps | None = None
    width: LooseInt = 1024
    height: LooseInt = 1024
    seed: Seed | None = None
    loras: LoraList | None = None

    @field_validator("width", "height")
    @classmethod
    def _supported(cls, value: int) -> int:
        if value not in KLEIN_SIDES:
            sides = ", ".join(str(side) for side in KLEIN_SIDES)
            raise ValueError(f"must be one of the supported sizes: {sides}")
        return value


class Flux2DevGenerate(RequestBody):
    prompt: Prompt
    steps: Steps | None = None
    width: LooseInt = 1024
    height: LooseInt = 1024
    seed: Seed | None = None
    loras: LoraList | None = None

    @field_validator("width", "height")
    @classmethod
    def _positive(cls, value: int, info: object) -> int:
        return _side(value, getattr(info, "field_name", "size"))


class SchnellGenerate(RequestBody):
    prompt: Prompt
    # Bounds checked below (for the message), shown in the schema here.
    num_steps: LooseInt | None = Field(
        default=None, json_schema_extra={"minimum": 1, "maximum": SCHNELL_MAX_STEPS}
    )
    seed: Seed | None = None
    loras: LoraList | None = None
    width: LooseInt = 1024
    height: LooseInt = 1024

    @field_validator("num_steps")
    @classmethod
    def _steps(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= SCHNELL_MAX_STEPS:
            raise ValueError(
                f"must be between 1 and {SCHNELL_MAX_STEPS} (FLUX.1 schnell is a few-step model)"
            )
        return value

    @field_validator("width", "height")
    @classmethod
    def _sides(cls, value: int, info: object) -> int:
        return _side(value, getattr(info, "field_name", "size"))

    def check_size(self) -> None:
        check_pixels(self.width, self.height)


class SchnellBatch(SchnellGenerate):
    webhook_url: str | None = None


class CheckStatus(RequestBody):
    requestId: str = Field(min_length=1, max_length=100)
