"""Request ids: `{model_id}_{uuidv7}`, time-ordered so ids sort by arrival."""

from __future__ import annotations

import uuid

import uuid6


def new_request_id(model_id: str) -> str:
    return f"{model_id}_{uuid6.uuid7()}"


def new_uuid4() -> str:
    return str(uuid.uuid4())


def model_of(request_id: str) -> str | None:
    """The model id part of a request id, or None when it is not one of ours."""
    model, sep, tail = request_id.rpartition("_")
    if not sep or not model:
        return None
    try:
        uuid.UUID(tail)
    except ValueError:
        return None
    return model
