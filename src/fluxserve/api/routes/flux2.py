"""FLUX.2 [pro] text-to-image (799) and image editing (866): async, 202 + polling."""

from __future__ import annotations

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse

from fluxserve.api.deps import Ctx, JsonBody, SubmittingKey
from fluxserve.api.intake import new_id, submit_generation
from fluxserve.api.loras import resolve_loras
from fluxserve.api.responses import accepted
from fluxserve.api.routes.common import header_webhook
from fluxserve.api.schemas.fields import MAX_OUTPUT_PIXELS, seeds_for
from fluxserve.api.schemas.flux2 import Flux2ImageToImage, Flux2TextToImage
from fluxserve.inputs.sizes import parse_image_size
from fluxserve.jobs.spec import GenerationSpec

router = APIRouter()

T2I = "flux-2-pro-text-to-image-799"
I2I = "flux-2-pro-image-to-image-866"
DEFAULT_STEPS = 28
GUIDANCE = 4.0
AUTO_MAX_PIXELS = 2 * 1024 * 1024  # "auto" keeps the input size up to 2 MP


@router.post(f"/{T2I}/v1/flux-2-pro-text-to-image-request", status_code=202)
async def text_to_image(
    ctx: Ctx,
    key: SubmittingKey,
    data: JsonBody,
    x_webhook_url: str | None = Header(default=None),
) -> JSONResponse:
    model = ctx.intake.model(T2I)
    body = Flux2TextToImage.parse(data)
    webhook = header_webhook(x_webhook_url)
    width, height = parse_image_size(
        body.image_size, what="image_size", input_size=None, max_pixels=MAX_OUTPUT_PIXELS
    )
    request_id = new_id(model)
    spec = GenerationSpec(
        engine_model=model.engine_model,
        operation="text_to_image",
        prompt=body.prompt,
        width=width,
        height=height,
        steps=ctx.intake.default_steps(T2I, DEFAULT_STEPS),
        seeds=seeds_for(body.seed, 1),
        guidance=GUIDANCE,
        output_format=body.output_format,
        safety=body.safety(),
        loras=await resolve_loras(ctx, key, request_id, body.loras, model.engine_model),
    )
    job = submit_generation(
        ctx.intake, request_id=request_id, model=model, key=key, spec=spec, webhook=webhook
    )
    return accepted(ctx, job)


@router.post(f"/{I2I}/v1/flux-2-pro-image-to-image-request", status_code=202)
async def image_to_image(
    ctx: Ctx,
    key: SubmittingKey,
    data: JsonBody,
    x_webhook_url: str | None = Header(default=None),
) -> JSONResponse:
    model = ctx.intake.model(I2I)
    body = Flux2ImageToImage.parse(data)
    webhook = header_webhook(x_webhook_url)
    safety = body.safety()
    image = await ctx.intake.fetch_image(body.image_urls[0], what="image_urls[0]")
    width, height = parse_image_size(
        body.image_size,
        what="image_size",
        input_size=(image.width, image.height),
        max_pixels=AUTO_MAX_PIXELS if body.image_size == "auto" else MAX_OUTPUT_PIXELS,
    )
    request_id = new_id(model)
    spec = GenerationSpec(
        engine_model=model.engine_model,
        operation="edit",
        prompt=body.prompt,
        width=width,
        height=height,
        steps=ctx.intake.default_steps(I2I, DEFAULT_STEPS),
        seeds=seeds_for(body.seed, 1),
        guidance=GUIDANCE,
        output_format=body.output_format,
        image_key=ctx.intake.input_key(request_id, "image"),
        safety=safety,
        loras=await resolve_loras(ctx, key, request_id, body.loras, model.engine_model),
    )
    job = submit_generation(
        ctx.intake,
        request_id=request_id,
        model=model,
        key=key,
        spec=spec,
        webhook=webhook,
        images={"image": image},
    )
    return accepted(ctx, job)
