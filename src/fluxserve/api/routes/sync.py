"""The synchronous endpoints, which answer `{"output": url}` once the image exists:
FLUX.2 klein (generateImage), FLUX.2 dev (generateT2I) and FLUX.1 schnell (getData)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from fluxserve.api.deps import Ctx, JsonBody, SubmittingKey
from fluxserve.api.intake import new_id, submit_generation
from fluxserve.api.loras import resolve_loras
from fluxserve.api.responses import sync_output
from fluxserve.api.schemas.fields import check_pixels, seeds_for
from fluxserve.api.schemas.sized import Flux2DevGenerate, KleinGenerate, SchnellGenerate
from fluxserve.jobs.spec import GenerationSpec, LoraSpec, SafetySpec
from fluxserve.safety.sanitize import sanitize_prompt

router = APIRouter()

KLEIN_GUIDANCE = 1.0  # klein 4B is step-distilled: it runs without classifier-free guidance
FLUX2_DEV_STEPS = 28
FLUX2_DEV_GUIDANCE = 4.0


@router.post("/flux-2-klein-4b/v1/generateImage")
async def klein_generate(ctx: Ctx, key: SubmittingKey, data: JsonBody) -> dict[str, Any]:
    model = ctx.intake.model("flux-2-klein-4b")
    body = KleinGenerate.parse(data)
    request_id = new_id(model)
    spec = GenerationSpec(
        engine_model=model.engine_model,
        operation="text_to_image",
        prompt=body.prompt,
        width=body.width,
        height=body.height,
        steps=body.steps,
        seeds=seeds_for(body.seed, 1),
        guidance=KLEIN_GUIDANCE,
        output_format="png",
        safety=SafetySpec(),
        loras=await resolve_loras(ctx, key, request_id, body.loras, model.engine_model),
    )
    job = submit_generation(ctx.intake, request_id=request_id, model=model, key=key, spec=spec)
    return await sync_output(ctx, job)


@router.post("/generateT2I")
async def flux2_dev_generate(ctx: Ctx, key: SubmittingKey, data: JsonBody) -> dict[str, Any]:
    model = ctx.intake.model("flux-2-dev")
    body = Flux2DevGenerate.parse(data)
    check_pixels(body.width, body.height)
    request_id = new_id(model)
    spec = GenerationSpec(
        engine_model=model.engine_model,
        operation="text_to_image",
        prompt=sanitize_prompt(body.prompt),
        width=body.width,
        height=body.height,
        steps=body.steps or ctx.intake.default_steps("flux-2-dev", FLUX2_DEV_STEPS),
        seeds=seeds_for(body.seed, 1),
        guidance=FLUX2_DEV_GUIDANCE,
        output_format="png",
        safety=SafetySpec(),
        loras=await resolve_loras(ctx, key, request_id, body.loras, model.engine_model),
    )
    job = submit_generation(ctx.intake, request_id=request_id, model=model, key=key, spec=spec)
    return await sync_output(ctx, job)


def schnell_spec(
    engine_model: str, body: SchnellGenerate, *, sanitize: bool, loras: list[LoraSpec]
) -> GenerationSpec:
    body.check_size()
    return GenerationSpec(
        engine_model=engine_model,
        operation="text_to_image",
        prompt=sanitize_prompt(body.prompt) if sanitize else body.prompt,
        width=body.width,
        height=body.height,
        steps=body.num_steps,
        seeds=seeds_for(body.seed, 1),
        output_format="png",
        safety=SafetySpec(),
        loras=loras,
    )


@router.post("/flux-1-schnell/v1/getData")
async def schnell_generate(ctx: Ctx, key: SubmittingKey, data: JsonBody) -> dict[str, Any]:
    model = ctx.intake.model("flux-1-schnell")
    body = SchnellGenerate.parse(data)
    request_id = new_id(model)
    loras = await resolve_loras(ctx, key, request_id, body.loras, model.engine_model)
    spec = schnell_spec(model.engine_model, body, sanitize=False, loras=loras)
    job = submit_generation(ctx.intake, request_id=request_id, model=model, key=key, spec=spec)
    return await sync_output(ctx, job)
