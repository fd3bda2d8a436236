"""FLUX.2 [pro] text-to-image (799) and image editing (866): async, 202 + polling."""

from __future__ import annotations

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse

from fluxserve.api.deps import Ctx, JsonBody, SubmittingKey
from fluxserve.api.draft import Draft
from fluxserve.api.responses import accepted
from fluxserve.api.routes.common import header_webhook
from fluxserve.api.schemas.fields import MAX_OUTPUT_PIXELS
from fluxserve.api.schemas.flux2 import Flux2ImageToImage, Flux2TextToImage
from fluxserve.inputs.sizes import parse_image_size

router = APIRouter()

T2I = "flux-2-pro-text-to-image-799"
I2I = "flux-2-pro-image-to-image-866"
DEFAULT_STEPS = 28
GUIDANCE = 4.0
AUTO_MAX_PIXELS = 2 * 1024 * 1024  # "auto" keeps the input size up to 2 MP


@router.post(f"/{T2I}/v1/flux-2-pro-text-to-image-request", status_code=202)
async def text_to_image(
    ctx: Ctx, key: SubmittingKey, data: JsonBody, x_webhook_url: str | None = Header(default=None)
) -> JSONResponse:
    draft = Draft.start(ctx, key, T2I)
    body = Flux2TextToImage.parse(data)
    webhook = header_webhook(x_webhook_url)
    width, height = parse_image_size(
        body.image_size, what="image_size", input_size=None, max_pixels=MAX_OUTPUT_PIXELS
    )
    spec = draft.spec(
        seed=body.seed,
        operation="text_to_image",
        prompt=body.prompt,
        width=width,
        height=height,
        steps=draft.steps(None, DEFAULT_STEPS),
        guidance=GUIDANCE,
        output_format=body.output_format,
        safety=body.safety(),
        loras=await draft.loras(body.loras),
    )
    return accepted(ctx, draft.submit(spec, webhook))


@router.post(f"/{I2I}/v1/flux-2-pro-image-to-image-request", status_code=202)
async def image_to_image(
    ctx: Ctx, key: SubmittingKey, data: JsonBody, x_webhook_url: str | None = Header(default=None)
) -> JSONResponse:
    draft = Draft.start(ctx, key, I2I)
    body = Flux2ImageToImage.parse(data)
    webhook = header_webhook(x_webhook_url)
    safety = body.safety()
    image = await draft.fetch_image(body.image_urls[0], what="image_urls[0]")
    width, height = parse_image_size(
        body.image_size,
        what="image_size",
        input_size=(image.width, image.height),
        max_pixels=AUTO_MAX_PIXELS if body.image_size == "auto" else MAX_OUTPUT_PIXELS,
    )
    spec = draft.spec(
        seed=body.seed,
        operation="edit",
        prompt=body.prompt,
        width=width,
        height=height,
        steps=draft.steps(None, DEFAULT_STEPS),
        guidance=GUIDANCE,
        output_format=body.output_format,
        safety=safety,
        loras=await draft.loras(body.loras),
    )
    return accepted(ctx, draft.submit(spec, webhook))
