"""Running one batch as one pipeline call: seeds, progress, acceleration, LoRAs, output checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import diffusers
import torch
from PIL import Image

from fluxserve.engine.boundary.interface import ProgressCallback, StopSignal
from fluxserve.engine.boundary.messages import GenerateTask, Progress
from fluxserve.engine.inference.acceleration import call_acceleration
from fluxserve.engine.inference.batching import Batch
from fluxserve.engine.inference.operations import pipeline_class_for, plan_call, validate_task
from fluxserve.engine.loading.residency import LoadedModel
from fluxserve.engine.pipelines import latent_multiple
from fluxserve.errors import Cancelled, EngineFailure, FluxServeError
from fluxserve.settings import EngineConfig


def run_batch(
    loaded: LoadedModel,
    batch: Batch,
    tasks: Sequence[GenerateTask],
    config: EngineConfig,
    progress: ProgressCallback | None = None,
    stop: StopSignal | None = None,
) -> list[Image.Image]:
    """Images of `batch.items`, in order, from one call of the pipeline.

    Domain errors (a task the model cannot run, a bad LoRA, `Cancelled` once `stop` is set)
    pass through; anything else that breaks becomes `EngineFailure`."""
    task = batch.task
    if stop is not None and stop.is_set():
        raise Cancelled("cancelled before the pipeline call")
    try:
        images = _call(loaded, batch, tasks, config, progress, stop)
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
    stop: StopSignal | None,
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
    if progress is not None or stop is not None:
        kwargs["callback_on_step_end"] = _step_callback(progress, stop)
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


def _step_callback(
    progress: ProgressCallback | None, stop: StopSignal | None
) -> Callable[..., dict[str, Any]]:
    def on_step_end(
        pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        total = int(pipe.num_timesteps)
        if progress is not None:
            progress(Progress(step=step + 1, total=total))
        if stop is not None and stop.is_set() and step + 1 < total:
            # Raised rather than `pipe._interrupt = True`, which would still run the loop's
            # remaining iterations and the VAE decode of a picture nobody will collect.
            raise Cancelled(f"cancelled after denoising step {step + 1} of {total}")
        return callback_kwargs

    return on_step_end


def _check_output(task: GenerateTask, images: list[Image.Image], expected: int) -> None:
    sizes = {image.size for image in images}
    if len(images) != expected or sizes != {(task.width, task.height)}:
        raise EngineFailure(
            f"{task.engine_model} returned {len(images)} images of sizes {sorted(sizes)}, "
            f"expected {expected} of {task.width}x{task.height}"
        )
