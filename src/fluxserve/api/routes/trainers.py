"""The two LoRA trainer endpoints. The dataset is fetched and checked at submit time, so a bad
dataset is a 400 before any GPU work, and only the checked images are kept for the job."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi.responses import JSONResponse

from fluxserve.api.context import ApiContext
from fluxserve.api.deps import Submission, WebhookUrlHeader, submission_to
from fluxserve.api.draft import admit_inputs
from fluxserve.api.intake import new_id
from fluxserve.api.responses import accepted
from fluxserve.api.routes.common import header_webhook
from fluxserve.api.routing import spec_post, spec_router
from fluxserve.api.schemas.responses import Accepted
from fluxserve.api.schemas.trainers import TrainerRequest
from fluxserve.billing.keys import ApiKeyRecord
from fluxserve.catalog import ApiModel
from fluxserve.inputs.dataset import load_dataset
from fluxserve.jobs.spec import TrainingSpec
from fluxserve.training_params import validate_training_params

router = spec_router()

IMAGE_TRAINER = "flux-2-pro-image-to-image-trainer-831"
DATASET_TRAINER = "flux-2-pro-text-to-image-trainer-712"


def default_trigger() -> str:
    """A rare token, unique per training, so two LoRAs never answer to the same phrase."""
    return "fsx" + secrets.token_hex(3)


async def _train(
    ctx: ApiContext,
    key: ApiKeyRecord,
    model: ApiModel,
    body: TrainerRequest,
    webhook_header: str | None,
) -> JSONResponse:
    params = validate_training_params(body.steps, body.learning_rate)
    webhook = header_webhook(webhook_header)
    await ctx.blocking.run(admit_inputs, ctx, key, model)  # before the dataset is fetched
    raw = await ctx.intake.fetch_bytes(body.image_data_url, what="image_data_url")
    # Decoding up to 200 images is CPU work: keep it off the event loop.
    dataset = await ctx.blocking.run_cpu(load_dataset, raw, what="image_data_url")
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
    job = await ctx.blocking.run(
        ctx.intake.submit,
        request_id=request_id,
        model=model,
        key=key,
        spec=spec,
        price_micros=ctx.intake.price(model, 0, 0, 1),
        webhook=webhook,
        dataset=dataset,
    )
    return accepted(ctx, job)


@spec_post(router, "flux2_image_trainer", Accepted, status_code=202)
async def image_trainer(
    caller: Annotated[Submission, submission_to(IMAGE_TRAINER)],
    body: TrainerRequest,
    x_webhook_url: WebhookUrlHeader = None,
) -> JSONResponse:
    ctx, key, model = caller
    return await _train(ctx, key, model, body, x_webhook_url)


@spec_post(router, "flux2_dataset_trainer", Accepted, status_code=202)
async def dataset_trainer(
    caller: Annotated[Submission, submission_to(DATASET_TRAINER)],
    body: TrainerRequest,
    x_webhook_url: WebhookUrlHeader = None,
) -> JSONResponse:
    ctx, key, model = caller
    return await _train(ctx, key, model, body, x_webhook_url)
