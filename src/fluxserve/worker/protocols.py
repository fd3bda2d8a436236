"""What the worker needs from the layers below it, as narrow protocols."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from PIL.Image import Image

from fluxserve.engine.messages import GenerateTask, Progress, TrainResult, TrainTask

ProgressFn = Callable[[Progress], None]


class EngineClient(Protocol):
    def generate(self, task: GenerateTask, progress: ProgressFn | None = None) -> list[Image]: ...

    def generate_many(self, tasks: Sequence[GenerateTask]) -> list[list[Image]]: ...

    def train(self, task: TrainTask, progress: ProgressFn | None = None) -> TrainResult: ...


class ImageChecker(Protocol):
    """Decides per image whether it may be stored and served."""

    def blocked_reason(self, images: Sequence[Image], strictness: float) -> str | None: ...
