"""Request ids: `{model_id}_{uuidv7}`, time-ordered so ids sort by arrival."""

from __future__ import annotations

import uuid

import uuid6


def new_request_id(model_id: str) -> str:
    return f"{model_id}_{uuid6.uuid7()}"


def new_uuid4() -> str:
    return str(uuid.uuid4())
