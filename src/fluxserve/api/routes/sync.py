"""The synchronous endpoints, which answer `{"output": url}` once the image exists:
FLUX.2 klein (generateImage), FLUX.2 dev (generateT2I) and FLUX.1 schnell (getData)."""

from __future__ import annotations

from typing import Annotated

from fastapi.responses import JSONResponse

from fluxserve.api.deps import Submission, submission_to
from fluxserve.api.draft import Draft
from fluxserve.api.responses import sync_output
from fluxserve.api.routing import Responses, spec_post, spec_router
from fluxserve.api.schemas.fields import check_pixels
from fluxserve.api.schemas.responses import ErrorBody, SyncOutput
from fluxserve.api.schemas.sized import Flux2DevGenerate, KleinGenerate, SchnellGenerate
from fluxserve.jobs.spec import GenerationSpec, SafetySpec
from fluxserve.safety.sanitize import sanitize_prompt

router = spec_router()

SYNC_RESPONSES: Responses = {
    504: {"model": ErrorBody, "description": "Not ready in time; the message has the polling URL"}
}


@spec_post(router, "klein_generate", SyncOutput, responses=SYNC_RESPONSES)
async def klein_generate(
    caller: Annotated[Submission, submission_to("flux-2-klein-4b")],
    body: KleinGenerate,
) -> JSONResponse:
    ctx, key, model = caller
    draft = await Draft.start(ctx, key, model)
    spec = draft.spec(
        seed=body.seed,
        operation="text_to_image",
        prompt=body.prompt,
        width=body.width,
        height=body.height,
        steps=draft.steps(body.steps),
        guidance=draft.guidance,
        output_format="png",
        safety=SafetySpec(),
        loras=await draft.loras(body.loras),
    )
    return await sync_output(ctx, await draft.submit(spec, waiting=True))


@spec_post(router, "flux2_dev_generate", SyncOutput, responses=SYNC_RESPONSES)
async def flux2_dev_generate(
    caller: Annotated[Submission, submission_to("flux-2-dev")],
    body: Flux2DevGenerate,
) -> JSONResponse:
    ctx, key, model = caller
    draft = await Draft.start(ctx, key, model)
    check_pixels(body.width, body.height)
    spec = draft.spec(
        seed=body.seed,
        operation="text_to_image",
        prompt=sanitize_prompt(body.prompt),
        width=body.width,
        height=body.height,
        steps=draft.steps(body.steps),
        guidance=draft.guidance,
        output_format="png",
        safety=SafetySpec(),
        loras=await draft.loras(body.loras),
    )
    return await sync_output(ctx, await draft.submit(spec, waiting=True))


async def schnell_spec(draft: Draft, body: SchnellGenerate, *, sanitize: bool) -> GenerationSpec:
    """getData and getDataBatch take the same body and make the same image."""
    body.check_size()
    return draft.spec(
        seed=body.seed,
        operation="text_to_image",
        prompt=sanitize_prompt(body.prompt) if sanitize else body.prompt,
        width=body.width,
        height=body.height,
        steps=draft.steps(body.num_steps),
        output_format="png",
        safety=SafetySpec(),
        loras=await draft.loras(body.loras),
    )


@spec_post(router, "schnell_generate", SyncOutput, responses=SYNC_RESPONSES)
async def schnell_generate(
    caller: Annotated[Submission, submission_to("flux-1-schnell")],
    body: SchnellGenerate,
) -> JSONResponse:
    ctx, key, model = caller
    draft = await Draft.start(ctx, key, model)
    spec = await schnell_spec(draft, body, sanitize=False)
    return await sync_output(ctx, await draft.submit(spec, waiting=True))
