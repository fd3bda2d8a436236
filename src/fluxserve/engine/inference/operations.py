"""What each operation passes to which pipeline class: the keyword arguments of one call.

Sizes: every pipeline works on a latent grid of `latent_multiple` pixels (16 for FLUX) and would
silently round other sizes down, so the engine refuses them. The worker snaps a request's size to
the grid before it gets here and resizes the images to the exact size asked for afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image

from fluxserve.catalog import ENGINE_MODELS
from fluxserve.engine.boundary.messages import GenerateTask
from fluxserve.engine.decode import decode_image
from fluxserve.errors import InvalidRequest
from fluxserve.vocabulary import Operation

# Catalog pipeline class -> operation -> the diffusers class that runs it on the same modules.
OPERATIONS: dict[str, dict[Operation, str]] = {
    "FluxPipeline": {"text_to_image": "FluxPipeline", "image_to_image": "FluxImg2ImgPipeline"},
    "FluxFillPipeline": {"fill": "FluxFillPipeline"},
    "FluxKontextPipeline": {"restore": "FluxKontextPipeline", "edit": "FluxKontextPipeline"},
    "Flux2Pipeline": {"text_to_image": "Flux2Pipeline", "edit": "Flux2Pipeline"},
    "Flux2KleinPipeline": {"text_to_image": "Flux2KleinPipeline", "edit": "Flux2KleinPipeline"},
}

_NEEDS_IMAGE: frozenset[Operation] = frozenset({"image_to_image", "edit", "fill", "restore"})

# Img2img never plans more steps than this to make a high strength keep the input image.
MAX_IMG2IMG_STEPS = 100
# Img2img strength when the request names none (the hosted FLUX dev image-to-image default),
# and the range others are clamped to (0 would change nothing at all).
DEFAULT_STRENGTH = 0.95
MIN_STRENGTH = 0.01


@dataclass(frozen=True)
class CallPlan:
    """The pipeline class to run and its keyword arguments, minus prompts and generators."""

    pipeline_class: str
    kwargs: dict[str, Any]


def pipeline_class_for(task: GenerateTask) -> str:
    """The diffusers class that runs `task`, or InvalidRequest if the model cannot do it."""
    by_operation = OPERATIONS[ENGINE_MODELS[task.engine_model].pipeline]
    if task.operation not in by_operation:
        raise InvalidRequest(
            f"Model {task.engine_model} does not support {task.operation}; "
            f"it supports {', '.join(by_operation)}"
        )
    return by_operation[task.operation]


def validate_task(task: GenerateTask, multiple: int) -> None:
    """Refuse what the pipeline would silently change or reject mid-call."""
    if task.width % multiple or task.height % multiple or task.width <= 0 or task.height <= 0:
        raise InvalidRequest(
            f"width and height must be positive multiples of {multiple}, "
            f"got {task.width}x{task.height}"
        )
    if task.steps < 1:
        raise InvalidRequest(f"steps must be at least 1, got {task.steps}")
    if not task.seeds:
        raise InvalidRequest("at least one seed is needed")
    if task.operation in _NEEDS_IMAGE and task.image is None:
        raise InvalidRequest(f"{task.operation} needs an input image")
    if task.operation == "fill" and task.mask is None:
        raise InvalidRequest("fill needs a mask")


def plan_call(task: GenerateTask, count: int) -> CallPlan:
    """Keyword arguments of a pipeline call making `count` images for `task` (inputs decoded
    and sized)."""
    pipeline_class = pipeline_class_for(task)
    kwargs: dict[str, Any] = {
        "height": task.height,
        "width": task.width,
        "num_inference_steps": task.steps,
    }
    if task.guidance is not None:
        kwargs["guidance_scale"] = task.guidance
    # The registry names models whose pipeline default (512 tokens) is too long for them.
    max_tokens = ENGINE_MODELS[task.engine_model].max_sequence_length
    if max_tokens is not None:
        kwargs["max_sequence_length"] = max_tokens
    kwargs.update(_operation_kwargs(task, pipeline_class, count))
    return CallPlan(pipeline_class, kwargs)


def _operation_kwargs(task: GenerateTask, pipeline_class: str, count: int) -> dict[str, Any]:
    if task.operation == "text_to_image":
        return {}
    size = (task.width, task.height)
    image = decode_image(_required(task.image), "RGB")
    # Img2img and Fill encode the input with each image's generator, but only as many times as
    # images are passed: one copy per output keeps every seed's random stream as if alone.
    if task.operation == "image_to_image":
        given = DEFAULT_STRENGTH if task.strength is None else task.strength
        strength = min(max(given, MIN_STRENGTH), 1.0)
        return {
            "image": [image.resize(size, Image.Resampling.LANCZOS)] * count,
            "strength": strength,
            "num_inference_steps": img2img_steps(task.steps, strength),
        }
    if task.operation == "fill":
        mask = decode_image(_required(task.mask), "L", what="mask")
        return {
            "image": [image.resize(size, Image.Resampling.LANCZOS)] * count,
            "mask_image": [mask.resize(size, Image.Resampling.NEAREST)] * count,
        }
    if pipeline_class == "FluxKontextPipeline":
        # Kontext would resize the input to its preferred resolutions and the output to
        # `max_area`; sized here, it keeps exactly width x height.
        return {
            "image": image.resize(size, Image.Resampling.LANCZOS),
            "max_area": task.width * task.height,
            "_auto_resize": False,
        }
    if pipeline_class == "Flux2Pipeline":
        return {"image": [image]}  # a list of reference images
    return {"image": image}


def img2img_steps(steps: int, strength: float) -> int:
    """Steps to plan so the input image counts: img2img skips `int(steps - steps * strength)`
    steps, and skipping none starts from pure noise (4 steps at strength 0.8). Plan more steps
    until at least one is skipped and one runs."""
    planned = steps
    while planned < MAX_IMG2IMG_STEPS and not _keeps_input(planned, strength):
        planned += 1
    return planned


def _keeps_input(steps: int, strength: float) -> bool:
    # The same arithmetic as diffusers' get_timesteps.
    skipped = int(max(steps - min(steps * strength, steps), 0))
    return strength >= 1.0 or (skipped >= 1 and steps - skipped >= 1)


def _required(data: bytes | None) -> bytes:
    if data is None:
        raise InvalidRequest("an input image is missing")
    return data
