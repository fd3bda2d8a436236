"""Shared pieces of the request bodies: the spec's error wording, common fields.

FastAPI validates each body against its model; `message_for` turns the first error into the
sentence the API answers with (see `api/errors.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, StringConstraints

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
    def message_for(cls, error: Mapping[str, Any]) -> str:
        """The message for one pydantic error, `loc` relative to the body."""
        loc = [str(p) for p in error.get("loc", ())]
        field = loc[0] if loc else ""
        if field in cls.FIELD_ERRORS:
            return cls.FIELD_ERRORS[field]
        if error.get("type") == "missing":
            return f"{field} is required"
        if error.get("type") == "string_too_short" and field == "prompt":
            return "prompt must not be empty"
        msg = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        where = ".".join(loc)
        return f"{where}: {msg}" if where else msg
