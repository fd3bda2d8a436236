"""The two LoRA trainer endpoints."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, WithJsonSchema

from fluxserve.api.schemas.base import RequestBody
from fluxserve.training_params import (
    LEARNING_RATE_MAX,
    LEARNING_RATE_MIN,
    STEPS_MAX,
    STEPS_MIN,
    TRAINING_DEFAULTS,
)

# Checked by `validate_training_params` (its messages name the range); shown typed in /docs.
TrainingSteps = Annotated[
    Any,
    WithJsonSchema({"type": "integer", "minimum": STEPS_MIN, "maximum": STEPS_MAX}),
    Field(description=f"Default {TRAINING_DEFAULTS.steps}"),
]
LearningRate = Annotated[
    Any,
    WithJsonSchema({"type": "number", "minimum": LEARNING_RATE_MIN, "maximum": LEARNING_RATE_MAX}),
    Field(description=f"Default {TRAINING_DEFAULTS.learning_rate:g}"),
]


class TrainerRequest(RequestBody):
    image_data_url: str = Field(
        min_length=1, description="http(s) or data: URL of one image or a zip of images"
    )
    steps: TrainingSteps = None
    learning_rate: LearningRate = None
    trigger_phrase: str | None = Field(default=None, max_length=100)
