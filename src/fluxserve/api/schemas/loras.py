"""The optional `loras` list that generation endpoints accept (a fluxserve extension)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MAX_LORAS = 4


class LoraInput(BaseModel):
    """`{"path": <request id of a finished training, or an http(s)/data: URL>, "scale": 0.8}`"""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(min_length=1, max_length=4096)
    scale: float = Field(default=1.0, ge=-4.0, le=4.0)


LoraList = list[LoraInput]
