"""FLUX.1-backed async endpoints: flux-pro and flux-dev text-to-image, flux-dev
image-to-image, FLUX1.1 [pro] ultra, and FLUX.1 Fill [dev] inpainting."""

from __future__ import annotations

from typing import Annotated

from fastapi.responses import JSONResponse

from fluxserve.api.context import ApiContext
from fluxserve.api.deps import Submission, WebhookUrlHeader, submission_to
from fluxserve.api.draft import Draft
from fluxserve.api.responses import accepted, polling_url, wait_for_end
from fluxserve.api.routes.common import header_webhook
from fluxserve.api.routing import spec_post, spec_router
from fluxserve.api.schemas.flux1 import (
    FAL_IMAGE_SIZES,
    FillGenerate,
    Flux1ImageToImage,
    Flux1TextToImage,
    UltraGenerate,
)
from fluxserve.api.schemas.responses import Accepted, UltraResult
from fluxserve.billing.keys import ApiKeyRecord
from fluxserve.catalog import ApiModel
from fluxserve.errors import InvalidRequest
from fluxserve.inputs.sizes import megapixels_size, parse_image_size, ultra_aspect_size
from fluxserve.jobs.records import TERMINAL_STATES
from fluxserve.jobs.spec import SafetySpec
from fluxserve.jobs.views import status_body

router = spec_router()

FILL_MAX_MEGAPIXELS = "4"
# enhance_prompt: a fixed, documented enrichment; no hidden language model rewrites prompts.
ENHANCE_SUFFIX = (
    ", highly detailed, sharp focus, balanced composition, natural lighting, rich textures, "
    "professional photography"
)


def _fal_size(value: str, model: ApiModel) -> tuple[int, int]:
    if value not in FAL_IMAGE_SIZES and "x" not in value.lower():
        raise InvalidRequest(f"image_size must be one of: {', '.join(FAL_IMAGE_SIZES)}")
    return parse_image_size(
        value, what="image_size", input_size=None, max_pixels=model.defaults.max_pixels
    )


async def _text_to_image(
    ctx: ApiContext,
    key: ApiKeyRecord,
    model: ApiModel,
    body: Flux1TextToImage,
    webhook_header: str | None,
) -> JSONResponse:
    draft = await Draft.start(ctx, key, model)
    webhook = header_webhook(webhook_header)
    width, height = _fal_size(body.image_size, model)
    spec = draft.spec(
        seed=body.seed,
        count=body.num_images,
        operation="text_to_image",
        prompt=body.prompt,
        width=width,
        height=height,
        steps=draft.steps(body.num_inference_steps),
        guidance=body.guidance_scale,
        acceleration=body.acceleration,
        output_format=body.output_format,
        safety=SafetySpec(enabled=body.enable_safety_checker),
        loras=await draft.loras(body.loras),
    )
    return accepted(ctx, await draft.submit(spec, webhook))


@spec_post(router, "flux_pro_text_to_image", Accepted, status_code=202)
async def flux_pro_text_to_image(
    caller: Annotated[Submission, submission_to("flux-pro")],
    body: Flux1TextToImage,
    x_webhook_url: WebhookUrlHeader = None,
) -> JSONResponse:
    ctx, key, model = caller
    return await _text_to_image(ctx, key, model, body, x_webhook_url)


@spec_post(router, "flux_dev_text_to_image", Accepted, status_code=202)
async def flux_dev_text_to_image(
    caller: Annotated[Submission, submission_to("flux-dev")],
    body: Flux1TextToImage,
    x_webhook_url: WebhookUrlHeader = None,
) -> JSONResponse:
    ctx, key, model = caller
    return await _text_to_image(ctx, key, model, body, x_webhook_url)


@spec_post(router, "flux_dev_image_to_image", Accepted, status_code=202)
async def flux_dev_image_to_image(
    caller: Annotated[Submission, submission_to("flux-dev")],
    body: Flux1ImageToImage,
    x_webhook_url: WebhookUrlHeader = None,
) -> JSONResponse:
    ctx, key, model = caller
    draft = await Draft.start(ctx, key, model)
    webhook = header_webhook(x_webhook_url)
    image = await draft.fetch_image(body.image_url, what="image_url")
    limits = model.defaults
    width, height = parse_image_size(
        body.image_size,
        what="image_size",
        input_size=(image.width, image.height),
        max_pixels=limits.auto_max_pixels if body.image_size == "auto" else limits.max_pixels,
    )
    spec = draft.spec(
        seed=body.seed,
        count=body.num_images,
        operation="image_to_image",
        prompt=body.prompt,
        width=width,
        height=height,
        steps=draft.steps(body.num_inference_steps),
        guidance=body.guidance_scale,
        strength=body.strength,
        acceleration=body.acceleration,
        output_format=body.output_format,
        safety=SafetySpec(enabled=body.enable_safety_checker),
        loras=await draft.loras(body.loras),
    )
    return accepted(ctx, await draft.submit(spec, webhook))


@spec_post(
    router,
    "ultra_generate",
    Accepted,
    status_code=202,
    responses={200: {"model": UltraResult, "description": "Done (`sync_mode: true`)"}},
)
async def ultra_generate(
    caller: Annotated[Submission, submission_to("flux-pro-1-1")],
    body: UltraGenerate,
    x_webhook_url: WebhookUrlHeader = None,
) -> JSONResponse:
    ctx, key, model = caller
    draft = await Draft.start(ctx, key, model)
    webhook = header_webhook(x_webhook_url)
    width, height = ultra_aspect_size(body.aspect_ratio)
    spec = draft.spec(
        seed=body.seed,
        count=body.num_images,
        operation="text_to_image",
        prompt=body.prompt + (ENHANCE_SUFFIX if body.enhance_prompt else ""),
        width=width,
        height=height,
        steps=draft.steps(),
        guidance=model.defaults.raw_guidance if body.raw else model.defaults.guidance,
        output_format=body.output_format,
        safety=body.safety(),
        loras=await draft.loras(body.loras),
    )
    job = await draft.submit(spec, webhook, waiting=body.sync_mode)
    if not body.sync_mode:
        return accepted(ctx, job)
    done = await wait_for_end(ctx, job.request_id, ctx.settings.sync_timeout_s)
    if done.state not in TERMINAL_STATES:
        return accepted(ctx, done)
    result = status_body(done, ctx.media_url)
    result["polling_url"] = polling_url(ctx, done.request_id)
    return JSONResponse(result, status_code=200)


@spec_post(router, "fill_generate", Accepted, status_code=202)
async def fill_generate(
    caller: Annotated[Submission, submission_to("flux-fill-dev")],
    body: FillGenerate,
    x_webhook_url: WebhookUrlHeader = None,
) -> JSONResponse:
    ctx, key, model = caller
    draft = await Draft.start(ctx, key, model)
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
        steps=draft.steps(body.num_inference_steps),
        guidance=body.guidance,
        output_format=body.output_format,
        output_quality=body.output_quality,
        safety=body.safety(),
        loras=await draft.loras(body.loras, scale=body.lora_scale),
    )
    return accepted(ctx, await draft.submit(spec, webhook))
