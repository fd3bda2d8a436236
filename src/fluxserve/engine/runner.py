"""Running one batch as one pipeline call: seeds, progress, acceleration, LoRAs, output checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import diffusers
import torch
from PIL import Image

from fluxserve.engine.acceleration import call_acceleration
from fluxserve.engine.batching import Batch
from fluxserve.engine.interface import ProgressCallback
from fluxserve.engine.messages import GenerateTask, Progress
from fluxserve.engine.operations import (
    latent_multiple,
    pipeline_class_for,
    plan_call,
    validate_task,
)
from fluxserve.engine.residency import LoadedModel
from fluxserve.errors import EngineFailure, FluxServeError
from fluxserve.settings import EngineConfig


def run_batch(
    loaded: LoadedModel,
    batch: Batch,
    tasks: Sequence[GenerateTask],
    config: EngineConfig,
    progress: ProgressCallback | None = None,
) -> list[Image.Image]:
    """Images of `batch.items`, in order, from one call of the pipeline.

    Domain errors (a task the model cannot run, a bad LoRA) pass through; anything else that
    breaks becomes `EngineFailure`."""
    task = batch.task
    try:
        images = _call(loaded, batch, tasks, config, progress)
    except FluxServeError:
        raise
    except Exception as exc:
        raise EngineFailure(
            f"{task.engine_model} {task.operation} failed: {type(exc).__name__}: {exc}"
        ) from exc
    _check_output(task, images, len(batch.items))
    return images


def _call(
    loaded: LoadedModel,
    batch: Batch,
    tasks: Sequence[GenerateTask],
    config: EngineConfig,
    progress: ProgressCallback | None,
) -> list[Image.Image]:
    task = batch.task
    pipeline_class = pipeline_class_for(task)
    pipe = (
        loaded.pipe
        if type(loaded.pipe).__name__ == pipeline_class
        else loaded.variant(getattr(diffusers, pipeline_class))
    )
    validate_task(task, latent_multiple(pipe))
    kwargs: dict[str, Any] = dict(plan_call(task, len(batch.items)).kwargs)
    kwargs["prompt"] = [tasks[item.task].prompt for item in batch.items]
    # One generator per image, seeded alone: an image does not depend on its batch.
    kwargs["generator"] = [
        torch.Generator("cpu").manual_seed(tasks[item.task].seeds[item.seed])
        for item in batch.items
    ]
    if progress is not None:
        kwargs["callback_on_step_end"] = _step_callback(progress)
    pixels = task.width * task.height
    with (
        loaded.adapters.applied(task.loras),
        call_acceleration(pipe, task.acceleration, pixels, config.vae_tiling_min_pixels),
        torch.inference_mode(),
    ):
        images: list[Image.Image] = pipe(**kwargs).images
    return images


def is_device_fault(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) is an accelerator fault, after which this process's
    CUDA context is unusable and only a new process recovers."""
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, torch.AcceleratorError) or "CUDA error" in str(current):
            return True
        current = current.__cause__
    return False


def _step_callback(progress: ProgressCallback) -> Callable[..., dict[str, Any]]:
    def on_step_end(
        pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        progress(Progress(step=step + 1, total=int(pipe.num_timesteps)))
        return callback_kwargs

    return on_step_end


def _check_output(task: GenerateTask, images: list[Image.Image], expected: int) -> None:
    sizes = {image.size for image in images}
    if len(images) != expected or sizes != {(task.width, task.height)}:
        raise EngineFailure(
            f"{task.engine_model} returned {len(images)} images of sizes {sorted(sizes)}, "
            f"expected {expected} of {task.width}x{task.height}"
        )
