"""Shared pieces of the request bodies: parsing with the spec's error style, common fields."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from fluxserve.errors import InvalidRequest

MAX_PROMPT_CHARS = 4000

Prompt = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_PROMPT_CHARS)
]


class RequestBody(BaseModel):
    """A JSON body. Unknown fields are ignored, as a hosted API would; known ones are strict."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    # Exact messages for a field's errors, where the spec gives them word for word.
    FIELD_ERRORS: ClassVar[dict[str, str]] = {}

    @classmethod
    def parse(cls, data: Any) -> Self:
        if not isinstance(data, dict):
            raise InvalidRequest("Request body must be a JSON object")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InvalidRequest(cls._message(exc)) from None

    @classmethod
    def _message(cls, exc: ValidationError) -> str:
        first = exc.errors()[0]
        loc = [str(p) for p in first.get("loc", ())]
        field = loc[0] if loc else ""
        if field in cls.FIELD_ERRORS:
            return cls.FIELD_ERRORS[field]
        if first.get("type") == "missing":
            return f"{field} is required"
        if first.get("type") == "string_too_short" and field == "prompt":
            return "prompt must not be empty"
        msg = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        where = ".".join(loc)
        return f"{where}: {msg}" if where else msg
