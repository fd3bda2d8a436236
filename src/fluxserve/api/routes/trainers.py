"""The two LoRA trainer endpoints. The dataset is fetched and checked at submit time, so a bad
dataset is a 400 before any GPU work, and only the checked images are kept for the job."""

from __future__ import annotations

import asyncio
import secrets

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse

from fluxserve.api.deps import Ctx, JsonBody, SubmittingKey
from fluxserve.api.intake import new_id
from fluxserve.api.responses import accepted
from fluxserve.api.routes.common import header_webhook
from fluxserve.api.schemas.trainers import TrainerRequest
from fluxserve.inputs.dataset import load_dataset
from fluxserve.jobs.spec import TrainingSpec
from fluxserve.training_params import validate_training_params

router = APIRouter()

IMAGE_TRAINER = "flux-2-pro-image-to-image-trainer-831"
DATASET_TRAINER = "flux-2-pro-text-to-image-trainer-712"


def default_trigger() -> str:
    """A rare token, unique per training, so two LoRAs never answer to the same phrase."""
    return "fsx" + secrets.token_hex(3)


async def _train(
    ctx: Ctx, key: SubmittingKey, data: JsonBody, model_id: str, webhook_header: str | None
) -> JSONResponse:
    model = ctx.intake.model(model_id)
    body = TrainerRequest.parse(data)
    params = validate_training_params(body.steps, body.learning_rate)
    webhook = header_webhook(webhook_header)
    raw = await ctx.intake.fetch_bytes(body.image_data_url, what="image_data_url")
    # Decoding up to 200 images is CPU work: keep it off the event loop.
    dataset = await asyncio.to_thread(load_dataset, raw, what="image_data_url")
    request_id = new_id(model)
    spec = TrainingSpec(
        engine_model=model.engine_model,
        dataset_key=ctx.intake.dataset_key(request_id),
        steps=params.steps,
        learning_rate=params.learning_rate,
        rank=params.rank,
        seed=secrets.randbelow(2**31),
        trigger=(body.trigger_phrase or "").strip() or default_trigger(),
        sample_count=len(dataset.samples),
        captioned=dataset.captioned,
    )
    job = ctx.intake.submit(
        request_id=request_id,
        model=model,
        key=key,
        spec=spec,
        price_micros=ctx.intake.price(model, 0, 0, 1),
        webhook=webhook,
        dataset=dataset,
    )
    return accepted(ctx, job)


@router.post(f"/{IMAGE_TRAINER}/v1/flux-2-pro-image-to-image-trainer-request", status_code=202)
async def image_trainer(
    ctx: Ctx, key: SubmittingKey, data: JsonBody, x_webhook_url: str | None = Header(default=None)
) -> JSONResponse:
    return await _train(ctx, key, data, IMAGE_TRAINER, x_webhook_url)


@router.post(f"/{DATASET_TRAINER}/v1/flux-2-pro-text-to-image-trainer-request", status_code=202)
async def dataset_trainer(
    ctx: Ctx, key: SubmittingKey, data: JsonBody, x_webhook_url: str | None = Header(default=None)
) -> JSONResponse:
    return await _train(ctx, key, data, DATASET_TRAINER, x_webhook_url)
