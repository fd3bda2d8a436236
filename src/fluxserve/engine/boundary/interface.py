"""The one engine type the worker programs against. Torch-free, so importing it (or the process
engine) never loads torch in the worker."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from PIL import Image

from fluxserve.engine.boundary.messages import (
    GenerateTask,
    ModelStatus,
    Progress,
    TrainResult,
    TrainTask,
)

ProgressCallback = Callable[[Progress], None]


class StopSignal(Protocol):
    """Set when the job a call works for was cancelled: the engine stops at its next step
    (denoising or training) and raises `Cancelled`. A `threading.Event` is one."""

    def is_set(self) -> bool: ...


class Engine(Protocol):
    """Implemented by `LocalEngine` (this process), `ProcessEngine` (a child process) and
    `NoEngine` (API-only nodes).

    Errors: `ModelNotFound` (unknown or disabled engine model), `InvalidRequest` (the task
    cannot run: size off the 16-pixel grid, operation the model lacks, undecodable input,
    missing LoRA file), `EngineFailure` (anything breaking inside: a pipeline error, out of
    memory, a dead engine process)."""

    def generate(
        self,
        task: GenerateTask,
        progress: ProgressCallback | None = None,
        stop: StopSignal | None = None,
    ) -> list[Image.Image]:
        """One width x height image per seed, in seed order; `progress` hears every step;
        `Cancelled` once `stop` is set."""
        ...

    def generate_many(self, tasks: Sequence[GenerateTask]) -> list[list[Image.Image]]:
        """Each task's images; compatible tasks share a call, and one failure fails all."""
        ...

    def train(
        self,
        task: TrainTask,
        progress: ProgressCallback | None = None,
        stop: StopSignal | None = None,
    ) -> TrainResult:
        """A LoRA on the model's transformer, which is left as it was; `Cancelled` once `stop`
        is set (the last checkpoint stays)."""
        ...

    def statuses(self) -> list[ModelStatus]:
        """Every engine model: weights, demo or not, enabled, loaded, and why not."""
        ...

    def close(self) -> None: ...
