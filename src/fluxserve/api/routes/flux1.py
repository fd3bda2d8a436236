"""FLUX.1-backed async endpoints: flux-pro and flux-dev text-to-image, flux-dev
image-to-image, FLUX1.1 [pro] ultra, and FLUX.1 Fill [dev] inpainting."""

from __future__ import annotations

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse

from fluxserve.api.deps import Ctx, JsonBody, SubmittingKey
from fluxserve.api.intake import new_id, submit_generation
from fluxserve.api.loras import resolve_loras
from fluxserve.api.responses import accepted, polling_url, wait_for_end
from fluxserve.api.routes.common import header_webhook
from fluxserve.api.schemas.fields import MAX_OUTPUT_PIXELS, seeds_for
from fluxserve.api.schemas.flux1 import (
    FAL_IMAGE_SIZES,
    FillGenerate,
    Flux1ImageToImage,
    Flux1TextToImage,
    UltraGenerate,
)
from fluxserve.errors import InvalidRequest
from fluxserve.inputs.sizes import megapixels_size, parse_image_size, ultra_aspect_size
from fluxserve.jobs.spec import GenerationSpec, SafetySpec
from fluxserve.jobs.views import status_body

router = APIRouter()

DEFAULT_STEPS = 28
I2I_AUTO_MAX_PIXELS = 2 * 1024 * 1024
ULTRA_GUIDANCE = 3.5
ULTRA_RAW_GUIDANCE = 2.5  # "raw": lower guidance gives the less processed, natural look
FILL_MAX_PIXELS = 4 * 1024 * 1024
# enhance_prompt: a fixed, documented enrichment; no hidden language model rewrites prompts.
ENHANCE_SUFFIX = (
    ", highly detailed, sharp focus, balanced composition, natural lighting, rich textures, "
    "professional photography"
)


def _fal_size(value: str) -> tuple[int, int]:
    if value not in FAL_IMAGE_SIZES and "x" not in value.lower():
        raise InvalidRequest(f"image_size must be one of: {', '.join(FAL_IMAGE_SIZES)}")
    return parse_image_size(value, what="image_size", input_size=None, max_pixels=MAX_OUTPUT_PIXELS)


async def _text_to_image(
    ctx: Ctx, key: SubmittingKey, data: JsonBody, model_id: str, webhook_header: str | None
) -> JSONResponse:
    model = ctx.intake.model(model_id)
    body = Flux1TextToImage.parse(data)
    webhook = header_webhook(webhook_header)
    width, height = _fal_size(body.image_size)
    request_id = new_id(model)
    spec = GenerationSpec(
        engine_model=model.engine_model,
        operation="text_to_image",
        prompt=body.prompt,
        width=width,
        height=height,
        steps=body.num_inference_steps or ctx.intake.default_steps(model_id, DEFAULT_STEPS),
        seeds=seeds_for(body.seed, body.num_images),
        guidance=body.guidance_scale,
        acceleration=body.acceleration,
        output_format=body.output_format,
        safety=SafetySpec(enabled=body.enable_safety_checker),
        loras=await resolve_loras(ctx, key, request_id, body.loras, model.engine_model),
    )
    job = submit_generation(
        ctx.intake, request_id=request_id, model=model, key=key, spec=spec, webhook=webhook
    )
    return accepted(ctx, job)


@router.post("/flux-pro/v1/pro/textToImage", status_code=202)
async def flux_pro_text_to_image(
    ctx: Ctx, key: SubmittingKey, data: JsonBody, x_webhook_url: str | None = Header(default=None)
) -> JSONResponse:
    return await _text_to_image(ctx, key, data, "flux-pro", x_webhook_url)


@router.post("/flux-dev/v1/dev/textToImage", status_code=202)
async def flux_dev_text_to_image(
    ctx: Ctx, key: SubmittingKey, data: JsonBody, x_webhook_url: str | None = Header(default=None)
) -> JSONResponse:
    return await _text_to_image(ctx, key, data, "flux-dev", x_webhook_url)


@router.post("/flux-dev/v1/dev/imageToImage", status_code=202)
async def flux_dev_image_to_image(
    ctx: Ctx, key: SubmittingKey, data: JsonBody, x_webhook_url: str | None = Header(default=None)
) -> JSONResponse:
    model = ctx.intake.model("flux-dev")
    body = Flux1ImageToImage.parse(data)
    webhook = header_webhook(x_webhook_url)
    image = await ctx.intake.fetch_image(body.image_url, what="image_url")
    width, height = parse_image_size(
        body.image_size,
        what="image_size",
        input_size=(image.width, image.height),
        max_pixels=I2I_AUTO_MAX_PIXELS if body.image_size == "auto" else MAX_OUTPUT_PIXELS,
    )
    request_id = new_id(model)
    spec = GenerationSpec(
        engine_model=model.engine_model,
        operation="image_to_image",
        prompt=body.prompt,
        width=width,
        height=height,
        steps=body.num_inference_steps or ctx.intake.default_steps("flux-dev", DEFAULT_STEPS),
        seeds=seeds_for(body.seed, body.num_images),
        guidance=body.guidance_scale,
        strength=body.strength,
        acceleration=body.acceleration,
        output_format=body.output_format,
        image_key=ctx.intake.input_key(request_id, "image"),
        safety=SafetySpec(enabled=body.enable_safety_checker),
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


@router.post("/pro1.1/v1/pro1.1ultra/generateRequest", status_code=202)
async def ultra_generate(
    ctx: Ctx, key: SubmittingKey, data: JsonBody, x_webhook_url: str | None = Header(default=None)
) -> JSONResponse:
    model = ctx.intake.model("flux-pro-1-1")
    body = UltraGenerate.parse(data)
    webhook = header_webhook(x_webhook_url)
    width, height = ultra_aspect_size(body.aspect_ratio)
    request_id = new_id(model)
    spec = GenerationSpec(
        engine_model=model.engine_model,
        operation="text_to_image",
        prompt=body.prompt + (ENHANCE_SUFFIX if body.enhance_prompt else ""),
        width=width,
        height=height,
        steps=ctx.intake.default_steps("flux-pro-1-1", DEFAULT_STEPS),
        seeds=seeds_for(body.seed, body.num_images),
        guidance=ULTRA_RAW_GUIDANCE if body.raw else ULTRA_GUIDANCE,
        output_format=body.output_format,
        safety=body.safety(),
        loras=await resolve_loras(ctx, key, request_id, body.loras, model.engine_model),
    )
    job = submit_generation(
        ctx.intake, request_id=request_id, model=model, key=key, spec=spec, webhook=webhook
    )
    if not body.sync_mode:
        return accepted(ctx, job)
    done = await wait_for_end(ctx, job.request_id, ctx.settings.sync_timeout_s)
    if done.state.value in ("QUEUED", "PROCESSING"):
        return accepted(ctx, done)
    result = status_body(done, ctx.settings.public_url)
    result["polling_url"] = polling_url(ctx, done.request_id)
    return JSONResponse(result, status_code=200)


@router.post("/flux-fill-dev/v1/flux-fill/generate", status_code=202)
async def fill_generate(
    ctx: Ctx, key: SubmittingKey, data: JsonBody, x_webhook_url: str | None = Header(default=None)
) -> JSONResponse:
    model = ctx.intake.model("flux-fill-dev")
    body = FillGenerate.parse(data)
    webhook = header_webhook(x_webhook_url)
    image = await ctx.intake.fetch_image(body.image, what="image")
    mask = await ctx.intake.fetch_image(body.mask, what="mask")
    width, height = megapixels_size(body.megapixels, (image.width, image.height))
    if width * height > FILL_MAX_PIXELS:
        width, height = megapixels_size("4", (image.width, image.height))
    request_id = new_id(model)
    spec = GenerationSpec(
        engine_model=model.engine_model,
        operation="fill",
        prompt=body.prompt,
        width=width,
        height=height,
        steps=body.num_inference_steps or ctx.intake.default_steps("flux-fill-dev", DEFAULT_STEPS),
        seeds=seeds_for(body.seed, body.num_outputs),
        guidance=body.guidance,
        output_format=body.output_format,
        output_quality=body.output_quality,
        image_key=ctx.intake.input_key(request_id, "image"),
        mask_key=ctx.intake.input_key(request_id, "mask"),
        safety=body.safety(),
        loras=await resolve_loras(
            ctx, key, request_id, body.loras, model.engine_model, scale=body.lora_scale
        ),
    )
    job = submit_generation(
        ctx.intake,
        request_id=request_id,
        model=model,
        key=key,
        spec=spec,
        webhook=webhook,
        images={"image": image, "mask": mask},
    )
    return accepted(ctx, job)
