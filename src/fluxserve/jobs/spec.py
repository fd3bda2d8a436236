"""The normalized, validated form of a request, as stored with its job and read by the worker.

Every endpoint's body maps onto one of these; from here on nothing depends on which endpoint
a request came through."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from fluxserve.vocabulary import Acceleration, Operation, OutputFormat


class LoraSpec(BaseModel):
    """A LoRA to apply: a finished training's request id, or the storage key it resolved to."""

    model_config = ConfigDict(frozen=True)

    source: str
    storage_key: str
    scale: float = 1.0


class SafetySpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    enabled: bool = True
    strictness: float = Field(default=0.5, ge=0.0, le=1.0)


class GenerationSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["generate"] = "generate"
    engine_model: str
    operation: Operation
    prompt: str
    width: int
    height: int
    steps: int
    seeds: list[int]
    guidance: float | None = None
    strength: float | None = None
    acceleration: Acceleration = "none"
    output_format: OutputFormat = "png"
    output_quality: int | None = None
    image_key: str | None = None
    mask_key: str | None = None
    safety: SafetySpec = Field(default_factory=SafetySpec)
    loras: list[LoraSpec] = Field(default_factory=list)


class TrainingSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["train"] = "train"
    engine_model: str
    dataset_key: str
    steps: int
    learning_rate: float
    rank: int
    seed: int
    trigger: str
    sample_count: int
    captioned: bool


JobSpec = Annotated[GenerationSpec | TrainingSpec, Field(discriminator="kind")]


class _SpecEnvelope(BaseModel):
    spec: JobSpec


def parse_spec(data: dict[str, object]) -> GenerationSpec | TrainingSpec:
    """Rebuild the typed spec from the JSON stored with a job."""
    return _SpecEnvelope.model_validate({"spec": data}).spec
