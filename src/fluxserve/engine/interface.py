"""The engine interface the worker programs against. Torch-free, so importing it (or the
process engine) never loads torch in the worker."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from PIL import Image

from fluxserve.engine.messages import GenerateTask, ModelStatus, Progress, TrainResult, TrainTask

ProgressCallback = Callable[[Progress], None]


class Engine(Protocol):
    """What the worker needs from an engine, wherever it runs.

    Errors: `ModelNotFound` (unknown or disabled engine model, with the reason),
    `InvalidRequest` (the task cannot run: size off the 16-pixel grid, operation the model lacks,
    undecodable input, missing LoRA file), `EngineFailure` (anything breaking inside the engine:
    a pipeline error, out of memory, the engine process dying)."""

    def generate(
        self, task: GenerateTask, progress: ProgressCallback | None = None
    ) -> list[Image.Image]:
        """One image per seed of `task`, in seed order, each exactly width x height.
        `progress` hears every denoising step."""
        ...

    def generate_many(self, tasks: Sequence[GenerateTask]) -> list[list[Image.Image]]:
        """The images of each task, in order; compatible tasks run as one pipeline call.
        One failing call fails the whole list."""
        ...

    def train(self, task: TrainTask, progress: ProgressCallback | None = None) -> TrainResult:
        """Train a LoRA on `task.engine_model`'s transformer; `progress` hears every step
        (with its loss). The pipeline is left exactly as it was."""
        ...

    def statuses(self) -> list[ModelStatus]:
        """Every engine model: its weights, whether demo, enabled, loaded, and why not."""
        ...

    def close(self) -> None:
        """Release every pipeline (and, for a process engine, the process)."""
        ...
