"""The synchronous endpoints, which answer `{"output": url}` once the image exists:
FLUX.2 klein (generateImage), FLUX.2 dev (generateT2I) and FLUX.1 schnell (getData)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from fluxserve.api.deps import Ctx, JsonBody, SubmittingKey
from fluxserve.api.draft import Draft
from fluxserve.api.responses import sync_output
from fluxserve.api.schemas.fields import check_pixels
from fluxserve.api.schemas.sized import Flux2DevGenerate, KleinGenerate, SchnellGenerate
from fluxserve.jobs.spec import GenerationSpec, SafetySpec
from fluxserve.safety.sanitize import sanitize_prompt

router = APIRouter()

KLEIN_GUIDANCE = 1.0  # klein 4B is step-distilled: it runs without classifier-free guidance
FLUX2_DEV_STEPS = 28
FLUX2_DEV_GUIDANCE = 4.0


@router.post("/flux-2-klein-4b/v1/generateImage")
async def klein_generate(ctx: Ctx, key: SubmittingKey, data: JsonBody) -> dict[str, Any]:
    draft = Draft.start(ctx, key, "flux-2-klein-4b")
    body = KleinGenerate.parse(data)
    spec = draft.spec(
        seed=body.seed,
        operation="text_to_image",
        prompt=body.prompt,
        width=body.width,
        height=body.height,
        steps=body.steps,
        guidance=KLEIN_GUIDANCE,
        output_format="png",
        safety=SafetySpec(),
        loras=await draft.loras(body.loras),
    )
    return await sync_output(ctx, draft.submit(spec))


@router.post("/generateT2I")
async def flux2_dev_generate(ctx: Ctx, key: SubmittingKey, data: JsonBody) -> dict[str, Any]:
    draft = Draft.start(ctx, key, "flux-2-dev")
    body = Flux2DevGenerate.parse(data)
    check_pixels(body.width, body.height)
    spec = draft.spec(
        seed=body.seed,
        operation="text_to_image",
        prompt=sanitize_prompt(body.prompt),
        width=body.width,
        height=body.height,
        steps=draft.steps(body.steps, FLUX2_DEV_STEPS),
        guidance=FLUX2_DEV_GUIDANCE,
        output_format="png",
        safety=SafetySpec(),
        loras=await draft.loras(body.loras),
    )
    return await sync_output(ctx, draft.submit(spec))


async def schnell_spec(draft: Draft, body: SchnellGenerate, *, sanitize: bool) -> GenerationSpec:
    """getData and getDataBatch take the same body and make the same image."""
    body.check_size()
    return draft.spec(
        seed=body.seed,
        operation="text_to_image",
        prompt=sanitize_prompt(body.prompt) if sanitize else body.prompt,
        width=body.width,
        height=body.height,
        steps=body.num_steps,
        output_format="png",
        safety=SafetySpec(),
        loras=await draft.loras(body.loras),
    )


@router.post("/flux-1-schnell/v1/getData")
async def schnell_generate(ctx: Ctx, key: SubmittingKey, data: JsonBody) -> dict[str, Any]:
    draft = Draft.start(ctx, key, "flux-1-schnell")
    spec = await schnell_spec(draft, SchnellGenerate.parse(data), sanitize=False)
    return await sync_output(ctx, draft.submit(spec))
