"""FLUX.1-backed async endpoints: flux-pro and flux-dev text-to-image, flux-dev
image-to-image, FLUX1.1 [pro] ultra, and FLUX.1 Fill [dev] inpainting."""

from __future__ import annotations

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse

from fluxserve.api.context import ApiContext
from fluxserve.api.deps import Ctx, JsonBody, SubmittingKey
from fluxserve.api.draft import Draft
from fluxserve.api.responses import accepted, polling_url, wait_for_end
from fluxserve.api.routes.common import header_webhook
from fluxserve.api.schemas.fields import MAX_OUTPUT_PIXELS
from fluxserve.api.schemas.flux1 import (
    FAL_IMAGE_SIZES,
    FillGenerate,
    Flux1ImageToImage,
    Flux1TextToImage,
    UltraGenerate,
)
from fluxserve.billing.keys import ApiKeyRecord
from fluxserve.errors import InvalidRequest
from fluxserve.inputs.sizes import megapixels_size, parse_image_size, ultra_aspect_size
from fluxserve.jobs.records import TERMINAL_STATES
from fluxserve.jobs.spec import SafetySpec
from fluxserve.jobs.views import status_body

router = APIRouter()

DEFAULT_STEPS = 28
I2I_AUTO_MAX_PIXELS = 2 * 1024 * 1024
ULTRA_GUIDANCE = 3.5
ULTRA_RAW_GUIDANCE = 2.5  # "raw": lower guidance gives the less processed, natural look
FILL_MAX_MEGAPIXELS = "4"
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
    ctx: ApiContext, key: ApiKeyRecord, data: object, model_id: str, webhook_header: str | None
) -> JSONResponse:
    draft = Draft.start(ctx, key, model_id)
    body = Flux1TextToImage.parse(data)
    webhook = header_webhook(webhook_header)
    width, height = _fal_size(body.image_size)
    spec = draft.spec(
        seed=body.seed,
        count=body.num_images,
        operation="text_to_image",
        prompt=body.prompt,
        width=width,
        height=height,
        steps=draft.steps(body.num_inference_steps, DEFAULT_STEPS),
        guidance=body.guidance_scale,
        acceleration=body.acceleration,
        output_format=body.output_format,
        safety=SafetySpec(enabled=body.enable_safety_checker),
        loras=await draft.loras(body.loras),
    )
    return accepted(ctx, draft.submit(spec, webhook))


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
    draft = Draft.start(ctx, key, "flux-dev")
    body = Flux1ImageToImage.parse(data)
    webhook = header_webhook(x_webhook_url)
    image = await draft.fetch_image(body.image_url, what="image_url")
    width, height = parse_image_size(
        body.image_size,
        what="image_size",
        input_size=(image.width, image.height),
        max_pixels=I2I_AUTO_MAX_PIXELS if body.image_size == "auto" else MAX_OUTPUT_PIXELS,
    )
    spec = draft.spec(
        seed=body.seed,
        count=body.num_images,
        operation="image_to_image",
        prompt=body.prompt,
        width=width,
        height=height,
        steps=draft.steps(body.num_inference_steps, DEFAULT_STEPS),
        guidance=body.guidance_scale,
        strength=body.strength,
        acceleration=body.acceleration,
        output_format=body.output_format,
        safety=SafetySpec(enabled=body.enable_safety_checker),
        loras=await draft.loras(body.loras),
    )
    return accepted(ctx, draft.submit(spec, webhook))


@router.post("/pro1.1/v1/pro1.1ultra/generateRequest", status_code=202)
async def ultra_generate(
    ctx: Ctx, key: SubmittingKey, data: JsonBody, x_webhook_url: str | None = Header(default=None)
) -> JSONResponse:
    draft = Draft.start(ctx, key, "flux-pro-1-1")
    body = UltraGenerate.parse(data)
    webhook = header_webhook(x_webhook_url)
    width, height = ultra_aspect_size(body.aspect_ratio)
    spec = draft.spec(
        seed=body.seed,
        count=body.num_images,
        operation="text_to_image",
        prompt=body.prompt + (ENHANCE_SUFFIX if body.enhance_prompt else ""),
        width=width,
        height=height,
        steps=draft.steps(None, DEFAULT_STEPS),
        guidance=ULTRA_RAW_GUIDANCE if body.raw else ULTRA_GUIDANCE,
        output_format=body.output_format,
        safety=body.safety(),
        loras=await draft.loras(body.loras),
    )
    job = draft.submit(spec, webhook)
    if not body.sync_mode:
        return accepted(ctx, job)
    done = await wait_for_end(ctx, job.request_id, ctx.settings.sync_timeout_s)
    if done.state not in TERMINAL_STATES:
        return accepted(ctx, done)
    result = status_body(done, ctx.settings.public_url)
    result["polling_url"] = polling_url(ctx, done.request_id)
    return JSONResponse(result, status_code=200)


@router.post("/flux-fill-dev/v1/flux-fill/generate", status_code=202)
async def fill_generate(
    ctx: Ctx, key: SubmittingKey, data: JsonBody, x_webhook_url: str | None = Header(default=None)
) -> JSONResponse:
    draft = Draft.start(ctx, key, "flux-fill-dev")
    body = FillGenerate.parse(data)
    webhook = header_webhook(x_webhook_url)
    image = await draft.fetch_image(body.image, what="image")
    await draft.fetch_image(body.mask, what="mask", name="mask")
    input_size = (image.width, image.height)
    width, height = megapixels_size(body.megapixels, input_size)
    cap_width, cap_height = megapixels_size(FILL_MAX_MEGAPIXELS, input_size)
    if width * height > cap_width * cap_height:  # "match_input" of a huge image
        width, height = cap_width, cap_height
    spec = draft.spec(
        seed=body.seed,
        count=body.num_outputs,
        operation="fill",
        prompt=body.prompt,
        width=width,
        height=height,
        steps=draft.steps(body.num_inference_steps, DEFAULT_STEPS),
        guidance=body.guidance,
        output_format=body.output_format,
        output_quality=body.output_quality,
        safety=body.safety(),
        loras=await draft.loras(body.loras, scale=body.lora_scale),
    )
    return accepted(ctx, draft.submit(spec, webhook))
