"""FLUX.2 [pro] text-to-image (799) and image editing (866): async, 202 + polling."""

from __future__ import annotations

from typing import Annotated

from fastapi.responses import JSONResponse

from fluxserve.api.deps import Submission, WebhookUrlHeader, submission_to
from fluxserve.api.draft import Draft
from fluxserve.api.responses import accepted
from fluxserve.api.routes.common import header_webhook
from fluxserve.api.routing import spec_post, spec_router
from fluxserve.api.schemas.flux2 import Flux2ImageToImage, Flux2TextToImage
from fluxserve.api.schemas.responses import Accepted
from fluxserve.inputs.sizes import parse_image_size

router = spec_router()


@spec_post(router, "flux2_pro_text_to_image", Accepted, status_code=202)
async def text_to_image(
    caller: Annotated[Submission, submission_to("flux-2-pro-text-to-image-799")],
    body: Flux2TextToImage,
    x_webhook_url: WebhookUrlHeader = None,
) -> JSONResponse:
    ctx, key, model = caller
    draft = await Draft.start(ctx, key, model)
    webhook = header_webhook(x_webhook_url)
    width, height = parse_image_size(
        body.image_size, what="image_size", input_size=None, max_pixels=model.defaults.max_pixels
    )
    spec = draft.spec(
        seed=body.seed,
        operation="text_to_image",
        prompt=body.prompt,
        width=width,
        height=height,
        steps=draft.steps(),
        guidance=draft.guidance,
        output_format=body.output_format,
        safety=body.safety(),
        loras=await draft.loras(body.loras),
    )
    return accepted(ctx, await draft.submit(spec, webhook))


@spec_post(router, "flux2_pro_image_to_image", Accepted, status_code=202)
async def image_to_image(
    caller: Annotated[Submission, submission_to("flux-2-pro-image-to-image-866")],
    body: Flux2ImageToImage,
    x_webhook_url: WebhookUrlHeader = None,
) -> JSONResponse:
    ctx, key, model = caller
    draft = await Draft.start(ctx, key, model)
    webhook = header_webhook(x_webhook_url)
    safety = body.safety()
    image = await draft.fetch_image(body.image_urls[0], what="image_urls[0]")
    limits = model.defaults
    width, height = parse_image_size(
        body.image_size,
        what="image_size",
        input_size=(image.width, image.height),
        max_pixels=limits.auto_max_pixels if body.image_size == "auto" else limits.max_pixels,
    )
    spec = draft.spec(
        seed=body.seed,
        operation="edit",
        prompt=body.prompt,
        width=width,
        height=height,
        steps=draft.steps(),
        guidance=draft.guidance,
        output_format=body.output_format,
        safety=safety,
        loras=await draft.loras(body.loras),
    )
    return accepted(ctx, await draft.submit(spec, webhook))
