"""Words every layer shares for what a request asks: one definition each. Imports nothing from
fluxserve and no torch, so the API, the job specs and the engine can all use it."""

from __future__ import annotations

from typing import Literal

Operation = Literal["text_to_image", "image_to_image", "edit", "fill", "restore"]
Acceleration = Literal["none", "regular", "high"]
OutputFormat = Literal["jpeg", "jpg", "png", "webp"]
