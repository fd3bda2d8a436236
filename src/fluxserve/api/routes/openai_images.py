"""The OpenAI Images API: `POST /v1/images/generations` and `POST /v1/images/edits`, so code
written for the official `openai` client runs against fluxserve with a fluxserve key. Requests
go through the same `Draft` as the spec's routes (wallet, prices, safety, LoRAs, inputs); the
answer waits for the job like the spec's sync endpoints do."""

from __future__ import annotations

import base64
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from fluxserve.api.context import ApiContext
from fluxserve.api.deps import Ctx
from fluxserve.api.draft import Draft
from fluxserve.api.openai_errors import OPENAI_ERROR_RESPONSES, OpenAIRoute
from fluxserve.api.openai_models import check_generation, edit_operation
from fluxserve.api.responses import cancelled, wait_or_give_up
from fluxserve.api.schemas.openai import (
    STEP_FACTOR,
    OpenAIEdit,
    OpenAIGenerate,
    OpenAIImage,
    OpenAIImageFields,
    OpenAIImagesResponse,
)
from fluxserve.billing.keys import ApiKeyRecord
from fluxserve.catalog import ApiModel
from fluxserve.errors import EngineFailure, InvalidRequest, ModerationBlocked
from fluxserve.inputs.images import DecodedImage
from fluxserve.inputs.masks import fill_mask_png
from fluxserve.inputs.sizes import DEFAULT_SIZE, parse_image_size
from fluxserve.jobs.records import JobRecord, JobState
from fluxserve.jobs.spec import SafetySpec
from fluxserve.jobs.views import media_urls
from fluxserve.safety.policy import OPENAI_MODERATION_LEVELS, OPENAI_MODERATION_SCALE

router = APIRouter(prefix="/v1/images", route_class=OpenAIRoute, tags=["OpenAI Images API"])

_BEARER = HTTPBearer(scheme_name="BearerKey", auto_error=False)
# The job keeps only its error text; these phrases are the safety checks' own (worker side).
_MODERATION_PHRASES = ("content safety filter", "image safety checker")
_FILE_FIELDS = ("image", "image[]", "mask")


def bearer_key(
    ctx: Ctx, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]
) -> ApiKeyRecord:
    """`Authorization: Bearer <fluxserve key>`, after one token of the key's submission rate."""
    key = ctx.keys.authenticate(credentials.credentials if credentials else None)
    ctx.limiter.take(key.id)
    return key


BearerKey = Annotated[ApiKeyRecord, Depends(bearer_key)]


def _steps(draft: Draft, fields: OpenAIImageFields) -> int:
    if fields.steps is not None:
        return min(fields.steps, draft.model.defaults.max_steps)
    scaled = round(draft.steps() * STEP_FACTOR[fields.quality])
    return max(1, min(draft.model.defaults.max_steps, scaled))


def _size(model: ApiModel, value: str, image: DecodedImage | None) -> tuple[int, int]:
    limits = model.defaults
    if value.strip().lower() == "auto" and image is None:
        width, height = DEFAULT_SIZE
    else:
        auto = value.strip().lower() == "auto"
        width, height = parse_image_size(
            value,
            what="size",
            input_size=(image.width, image.height) if image else None,
            max_pixels=limits.auto_max_pixels if auto else limits.max_pixels,
        )
    if limits.sides and not {width, height} <= set(limits.sides):
        sides = ", ".join(str(side) for side in limits.sides)
        raise InvalidRequest(f"size: {model.id} makes images with sides of {sides} pixels only")
    return width, height


def _safety(fields: OpenAIImageFields) -> SafetySpec:
    level = OPENAI_MODERATION_LEVELS[fields.moderation]
    policy = OPENAI_MODERATION_SCALE.policy(level)
    return SafetySpec(enabled=policy.enabled, strictness=policy.strictness)


def _image_data(ctx: ApiContext, key: str, url: str, b64: bool, seed: int) -> OpenAIImage:
    if not b64:
        return OpenAIImage(url=url, seed=seed)
    stored = ctx.intake.storage.get(key)
    if stored is None:
        raise EngineFailure("The image was made but could not be read back; you were charged")
    return OpenAIImage(b64_json=base64.b64encode(stored[0]).decode("ascii"), seed=seed)


def _failure(done: JobRecord) -> Exception:
    message = done.error or "The request failed"
    if done.state is JobState.FAILED:
        moderated = any(phrase in message for phrase in _MODERATION_PHRASES)
        return ModerationBlocked(message) if moderated else InvalidRequest(message)
    if done.state is JobState.ERROR:
        return EngineFailure(message)
    return cancelled(done)


async def _answer(
    ctx: ApiContext, job: JobRecord, fields: OpenAIImageFields, size: tuple[int, int]
) -> OpenAIImagesResponse:
    done = await wait_or_give_up(ctx, job.request_id)
    if done.state is not JobState.COMPLETED:
        raise _failure(done)
    seeds: list[int] = done.spec["seeds"]
    b64 = fields.response_format == "b64_json"
    urls = media_urls(done, ctx.media_url)
    images = [
        await ctx.blocking.run_cpu(_image_data, ctx, key, url, b64, seed)
        for key, url, seed in zip(done.output_keys, urls, seeds, strict=True)
    ]
    return OpenAIImagesResponse(
        created=int(time.time()),
        data=images,
        output_format=fields.output_format,
        size=f"{size[0]}x{size[1]}",
        quality=fields.quality,
        request_id=done.request_id,
    )


@router.post(
    "/generations",
    operation_id="openai_images_generations",
    summary="OpenAI Images API: create images from a prompt",
    response_model=OpenAIImagesResponse,
    response_model_exclude_none=True,
    responses=OPENAI_ERROR_RESPONSES,
)
async def generations(ctx: Ctx, key: BearerKey, body: OpenAIGenerate) -> OpenAIImagesResponse:
    """Same models, wallet, prices and safety as the spec's routes; `model` is a fluxserve
    model id that draws from text (see `/v1/models`). Answers once the images exist."""
    model = ctx.intake.model(body.model)
    check_generation(model)
    draft = await Draft.start(ctx, key, model)
    width, height = _size(model, body.size, None)
    spec = draft.spec(
        seed=body.seed,
        count=body.n,
        operation="text_to_image",
        prompt=body.prompt,
        width=width,
        height=height,
        steps=_steps(draft, body),
        guidance=body.guidance if body.guidance is not None else draft.guidance,
        output_format=body.output_format,
        safety=_safety(body),
        loras=await draft.loras(body.loras),
    )
    return await _answer(ctx, await draft.submit(spec, waiting=True), body, (width, height))


def _edit_schema() -> dict[str, Any]:
    schema = OpenAIEdit.model_json_schema()
    schema["properties"] = {
        "image": {"type": "string", "format": "binary", "description": "The image to edit"},
        "mask": {
            "type": "string",
            "format": "binary",
            "description": "Transparent (or, without alpha, white) where to repaint",
        },
        **schema["properties"],
    }
    schema["required"] = ["image", *schema.get("required", [])]
    return schema


async def _read_edit(request: Request) -> tuple[OpenAIEdit, bytes, bytes | None]:
    form = await request.form()
    uploads = {name: value for name, value in form.multi_items() if isinstance(value, UploadFile)}
    texts = {k: v for k, v in form.multi_items() if isinstance(v, str) and k not in _FILE_FIELDS}
    try:
        fields = OpenAIEdit.model_validate(texts)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    image = uploads.get("image") or uploads.get("image[]")
    if image is None:
        raise InvalidRequest("image is required (a file in the multipart body)")
    mask = uploads.get("mask")
    return fields, await image.read(), await mask.read() if mask is not None else None


@router.post(
    "/edits",
    operation_id="openai_images_edits",
    summary="OpenAI Images API: edit an image, or repaint its masked area",
    response_model=OpenAIImagesResponse,
    response_model_exclude_none=True,
    responses=OPENAI_ERROR_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": _edit_schema()}},
        }
    },
)
async def edits(request: Request, ctx: Ctx, key: BearerKey) -> OpenAIImagesResponse:
    """Multipart: `image`, optional `mask`, and the text fields. With a mask the model must
    repaint (flux-fill-dev); without one it must edit (FLUX.2, Kontext, or flux-dev img2img)."""
    fields, image_data, mask_data = await _read_edit(request)
    model = ctx.intake.model(fields.model)
    operation = edit_operation(model, masked=mask_data is not None)
    draft = await Draft.start(ctx, key, model)
    image = await draft.add_image(image_data, what="image")
    if mask_data is not None:
        await draft.add_image(mask_data, what="mask", name="mask")
        mask_png = await ctx.blocking.run_cpu(fill_mask_png, mask_data)
        await draft.add_image(mask_png, what="mask", name="mask")
    width, height = _size(model, fields.size, image)
    spec = draft.spec(
        seed=fields.seed,
        count=fields.n,
        operation=operation,
        prompt=fields.prompt,
        width=width,
        height=height,
        steps=_steps(draft, fields),
        guidance=fields.guidance if fields.guidance is not None else draft.guidance,
        strength=fields.strength if operation == "image_to_image" else None,
        output_format=fields.output_format,
        safety=_safety(fields),
        loras=await draft.loras(fields.loras),
    )
    return await _answer(ctx, await draft.submit(spec, waiting=True), fields, (width, height))
