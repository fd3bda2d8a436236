"""FLUX Kontext image restoration: async, with the spec's own webhook fields."""

from __future__ import annotations

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse

from fluxserve.api.deps import Ctx, JsonBody, SubmittingKey
from fluxserve.api.draft import Draft
from fluxserve.api.intake import Webhook
from fluxserve.api.responses import accepted
from fluxserve.api.routes.common import header_webhook
from fluxserve.api.schemas.kontext import RESTORE_INSTRUCTION, KontextRestore
from fluxserve.inputs.sizes import parse_image_size

router = APIRouter()

MODEL_ID = "flux-kontext-restore-image"
DEFAULT_STEPS = 28
GUIDANCE = 2.5
MAX_PIXELS = 1024 * 1024  # Kontext works at about one megapixel


@router.post(f"/{MODEL_ID}/v1/flux-kontext-restore-image/generate", status_code=202)
async def restore(
    ctx: Ctx, key: SubmittingKey, data: JsonBody, x_webhook_url: str | None = Header(default=None)
) -> JSONResponse:
    draft = Draft.start(ctx, key, MODEL_ID)
    body = KontextRestore.parse(data)
    webhook = header_webhook(x_webhook_url)
    if body.webhook:
        webhook = Webhook(url=body.webhook, events=body.webhook_events_filter)
    image = await draft.fetch_image(body.input_image, what="input_image")
    width, height = parse_image_size(
        "auto", what="input_image", input_size=(image.width, image.height), max_pixels=MAX_PIXELS
    )
    spec = draft.spec(
        seed=body.seed,
        operation="restore",
        prompt=RESTORE_INSTRUCTION,
        width=width,
        height=height,
        steps=draft.steps(None, DEFAULT_STEPS),
        guidance=GUIDANCE,
        output_format=body.output_format,
        safety=body.safety(),
    )
    return accepted(ctx, draft.submit(spec, webhook))
