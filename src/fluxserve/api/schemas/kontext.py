"""FLUX Kontext image restoration. Validation messages are the spec's, word for word."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import ConfigDict, Field, WithJsonSchema, field_validator

from fluxserve.api.schemas.base import RequestBody
from fluxserve.api.schemas.fields import safety_spec
from fluxserve.errors import InvalidRequest
from fluxserve.jobs.spec import SafetySpec
from fluxserve.safety.policy import KONTEXT_RESTORE_SCALE
from fluxserve.webhooks.validate import INVALID_WEBHOOK_URL, validate_webhook_url

# The instruction that turns Kontext's editing into restoration; one place, easy to tune.
RESTORE_INSTRUCTION = (
    "Restore this photograph: remove scratches, dust, stains, noise, blur and compression "
    "artifacts, repair torn or faded areas, correct the colours, and keep the same people, "
    "faces, composition and details, sharp and natural."
)


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://", "data:")) and len(value) > 8


# Fields take any JSON, so that the validators below, not pydantic, word every refusal; the
# schema still shows /docs and clients the type the spec documents.
InputImage = Annotated[
    Any, WithJsonSchema({"type": "string"}), Field(description="http(s) or data: URL of the photo")
]
KontextSeed = Annotated[
    Any,
    WithJsonSchema({"type": "integer", "minimum": 0}),
    Field(description="Same seed, same image"),
]
KontextFormat = Annotated[Any, WithJsonSchema({"enum": ["jpg", "png"]})]
KontextTolerance = Annotated[
    Any,
    WithJsonSchema({"type": "integer", "minimum": 0, "maximum": 2}),
    Field(description="0 strictest, 2 most permissive"),
]
WebhookUrl = Annotated[
    Any, WithJsonSchema({"type": "string"}), Field(description="http(s) URL told of the end")
]
WEBHOOK_EVENTS = ("start", "output", "logs", "completed", "failed")
WebhookEvents = Annotated[
    Any, WithJsonSchema({"type": "array", "items": {"enum": list(WEBHOOK_EVENTS)}})
]


class KontextRestore(RequestBody):
    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        validate_default=True,
        json_schema_extra={"required": ["input_image"]},
    )

    input_image: InputImage = None
    seed: KontextSeed = None
    output_format: KontextFormat = "png"
    safety_tolerance: KontextTolerance = 2
    webhook: WebhookUrl = None
    webhook_events_filter: WebhookEvents = None

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
        if not isinstance(value, str):
            raise ValueError(INVALID_WEBHOOK_URL)
        # The X-Webhook-URL header's checks, word for word (the host is judged at submit).
        try:
            return validate_webhook_url(value)
        except InvalidRequest:
            raise ValueError(INVALID_WEBHOOK_URL) from None

    @field_validator("webhook_events_filter")
    @classmethod
    def _events(cls, value: Any) -> list[str] | None:
        if value is None:
            return None
        if not isinstance(value, list) or not all(v in WEBHOOK_EVENTS for v in value):
            raise ValueError(
                "webhook_events_filter must be a list of: start, output, logs, completed, failed"
            )
        return [str(v) for v in value]

    @classmethod
    def message_for(cls, error: Mapping[str, Any]) -> str:
        # Our validators already produce the spec's exact words.
        return str(error.get("msg", "invalid request")).removeprefix("Value error, ")

    def safety(self) -> SafetySpec:
        return safety_spec(KONTEXT_RESTORE_SCALE, int(self.safety_tolerance), enabled=True)
