"""Which fluxserve models the OpenAI Images routes take and what each does there, read from the
model registry: an API model's engine pipeline says whether it draws from text, edits an image,
or repaints a masked area. Trainers take no part."""

from __future__ import annotations

from fluxserve.catalog import API_MODELS, ENGINE_MODELS, ApiModel
from fluxserve.errors import InvalidRequest
from fluxserve.vocabulary import Operation

TEXT_TO_IMAGE_PIPELINES = frozenset({"FluxPipeline", "Flux2Pipeline", "Flux2KleinPipeline"})
EDIT_OPERATIONS: dict[str, Operation] = {
    "FluxPipeline": "image_to_image",
    "Flux2Pipeline": "edit",
    "Flux2KleinPipeline": "edit",
    "FluxKontextPipeline": "edit",
}
MASKED_OPERATIONS: dict[str, Operation] = {"FluxFillPipeline": "fill"}


def _pipeline(model: ApiModel) -> str:
    return ENGINE_MODELS[model.engine_model].pipeline


def _ids(table: frozenset[str] | dict[str, Operation]) -> list[str]:
    return [m.id for m in API_MODELS.values() if not m.trainer and _pipeline(m) in table]


def generation_model_ids() -> list[str]:
    return _ids(TEXT_TO_IMAGE_PIPELINES)


def edit_model_ids(*, masked: bool) -> list[str]:
    return _ids(MASKED_OPERATIONS if masked else EDIT_OPERATIONS)


def check_generation(model: ApiModel) -> None:
    if model.trainer or _pipeline(model) not in TEXT_TO_IMAGE_PIPELINES:
        choices = ", ".join(generation_model_ids())
        raise InvalidRequest(f"{model.id} does not make images from text; use one of: {choices}")


def edit_operation(model: ApiModel, *, masked: bool) -> Operation:
    """The job operation of an edit with `model`, with or without a mask."""
    table = MASKED_OPERATIONS if masked else EDIT_OPERATIONS
    operation = None if model.trainer else table.get(_pipeline(model))
    if operation is None:
        kind = "a masked edit" if masked else "an edit without a mask"
        choices = ", ".join(edit_model_ids(masked=masked))
        raise InvalidRequest(f"{model.id} cannot make {kind}; use one of: {choices}")
    return operation
