"""Resolve a request's `loras` to stored LoRA files: a finished training of the caller's (by
request id) or a file fetched from a URL. Checked at submit time, so a wrong LoRA is a 400."""

from __future__ import annotations

from fluxserve.api.context import ApiContext
from fluxserve.api.schemas.loras import MAX_LORAS, LoraInput
from fluxserve.billing.keys import ApiKeyRecord
from fluxserve.catalog import API_MODELS, ENGINE_MODELS
from fluxserve.errors import InvalidRequest
from fluxserve.jobs.records import JobRecord, JobState
from fluxserve.jobs.spec import LoraSpec, TrainingSpec, parse_spec

SAFETENSORS_MAGIC_MAX_HEADER = 100 * 1024 * 1024


def _looks_like_safetensors(data: bytes) -> bool:
    """A safetensors file starts with a little-endian u64 header length and a JSON header."""
    if len(data) < 10:
        return False
    header_len = int.from_bytes(data[:8], "little")
    return 2 <= header_len <= min(SAFETENSORS_MAGIC_MAX_HEADER, len(data) - 8) and data[8:9] == b"{"


def _from_training(
    ctx: ApiContext, key: ApiKeyRecord, lora: LoraInput, engine_model: str
) -> LoraSpec:
    job = ctx.jobs.get(lora.path)  # called on a thread (see resolve_loras)
    if job is None or (job.key_id != key.id and not key.is_operator):
        raise InvalidRequest(f"loras: no training '{lora.path}' of yours was found")
    model = API_MODELS.get(job.model_id)
    spec = parse_spec(job.spec)
    if not isinstance(spec, TrainingSpec) or model is None:
        raise InvalidRequest(f"loras: '{lora.path}' is not a LoRA training")
    if job.state is not JobState.COMPLETED:
        raise InvalidRequest(f"loras: training '{lora.path}' is {job.state.value}, not COMPLETED")
    base, target = ENGINE_MODELS[spec.engine_model], ENGINE_MODELS[engine_model]
    if base.family != target.family:
        raise InvalidRequest(
            f"loras: '{lora.path}' was trained on {base.id} and cannot be applied to {target.id}"
        )
    return LoraSpec(source=lora.path, storage_key=_lora_key(job), scale=lora.scale)


def _lora_key(job: JobRecord) -> str:
    """The stored LoRA file of a finished training (its first output)."""
    first = job.output_keys[0]
    if "://" in first:  # finished before outputs were stored by key
        return f"outputs/{job.request_id}/lora.safetensors"
    return first


async def _from_url(ctx: ApiContext, request_id: str, index: int, lora: LoraInput) -> LoraSpec:
    data = await ctx.intake.fetch_bytes(lora.path, what=f"loras[{index}].path")
    if not _looks_like_safetensors(data):
        raise InvalidRequest(f"loras[{index}].path is not a .safetensors LoRA file")
    key = f"inputs/{request_id}/lora-{index}.safetensors"
    await ctx.blocking.run(ctx.intake.storage.put, key, data, "application/octet-stream")
    return LoraSpec(source=lora.path, storage_key=key, scale=lora.scale)


async def resolve_loras(
    ctx: ApiContext,
    key: ApiKeyRecord,
    request_id: str,
    loras: list[LoraInput] | None,
    engine_model: str,
    scale: float = 1.0,
) -> list[LoraSpec]:
    """LoRA specs for the job; `scale` multiplies every LoRA's own scale (fill's lora_scale)."""
    if not loras:
        return []
    if len(loras) > MAX_LORAS:
        raise InvalidRequest(f"loras: at most {MAX_LORAS} LoRAs per request")
    specs = []
    for index, lora in enumerate(loras):
        if lora.path.startswith(("http://", "https://", "data:")):
            spec = await _from_url(ctx, request_id, index, lora)
        else:
            spec = await ctx.blocking.run(_from_training, ctx, key, lora, engine_model)
        specs.append(spec.model_copy(update={"scale": spec.scale * scale}))
    return specs
