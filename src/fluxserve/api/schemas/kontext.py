"""FLUX Kontext image restoration. Validation messages are the spec's, word for word."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, field_validator

from fluxserve.api.schemas.base import RequestBody
from fluxserve.api.schemas.fields import safety_spec
from fluxserve.jobs.spec import SafetySpec
from fluxserve.safety.policy import KONTEXT_RESTORE_SCALE

# The instruction that turns Kontext's editing into restoration; one place, easy to tune.
RESTORE_INSTRUCTION = (
    "Restore this photograph: remove scratches, dust, stains, noise, blur and compression "
    "artifacts, repair torn or faded areas, correct the colours, and keep the same people, "
    "faces, composition and details, sharp and natural."
)


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://", "data:")) and len(value) > 8


class KontextRestore(RequestBody):
    model_config = ConfigDict(extra="ignore", frozen=True, validate_default=True)

    input_image: Any = None
    seed: Any = None
    output_format: Any = "png"
    safety_tolerance: Any = 2
    webhook: Any = None
    webhook_events_filter: Any = None

    @field_validator("input_image")
    @classmethod
    def _input_image(cls, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("input_image is required and must be a string URL")
        if not _is_url(value.strip()):
            raise ValueError("input_image must be a valid URL")
        return value.strip()

    @field_validator("seed")
    @classmethod
    def _seed(cls, value: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError("seed must be a non-negative integer")
        return value

    @field_validator("output_format")
    @classmethod
    def _output_format(cls, value: Any) -> str:
        if value not in ("jpg", "png"):
            raise ValueError("output_format must be one of: jpg, png")
        return str(value)

    @field_validator("safety_tolerance")
    @classmethod
    def _tolerance(cls, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2:
            raise ValueError("safety_tolerance must be an integer in [0, 2]")
        return value

    @field_validator("webhook")
    @classmethod
    def _webhook(cls, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            raise ValueError("Invalid webhook URL")
        return value

    @field_validator("webhook_events_filter")
    @classmethod
    def _events(cls, value: Any) -> list[str] | None:
        allowed = {"start", "output", "logs", "completed", "failed"}
        if value is None:
            return None
        if not isinstance(value, list) or not all(v in allowed for v in value):
            raise ValueError(
                "webhook_events_filter must be a list of: start, output, logs, completed, failed"
            )
        return [str(v) for v in value]

    @classmethod
    def _message(cls, exc: Any) -> str:
        # Our validators already produce the spec's exact words.
        first = exc.errors()[0]
        return str(first.get("msg", "invalid request")).removeprefix("Value error, ")

    def safety(self) -> SafetySpec:
        return safety_spec(KONTEXT_RESTORE_SCALE, int(self.safety_tolerance), enabled=True)
