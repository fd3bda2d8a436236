"""An engine made on first use: the training lane's, so that a node pays for a second engine
process only once it really trains. Torch-free."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from PIL.Image import Image

from fluxserve.engine.boundary.interface import Engine, ProgressCallback, StopSignal
from fluxserve.engine.boundary.messages import GenerateTask, ModelStatus, TrainResult, TrainTask


class LazyEngine:
    def __init__(self, make: Callable[[], Engine]) -> None:
        self._make = make
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def generate(
        self,
        task: GenerateTask,
        progress: ProgressCallback | None = None,
        stop: StopSignal | None = None,
    ) -> list[Image]:
        return self._get().generate(task, progress, stop)

    def generate_many(self, tasks: Sequence[GenerateTask]) -> list[list[Image]]:
        return self._get().generate_many(tasks)

    def train(
        self,
        task: TrainTask,
        progress: ProgressCallback | None = None,
        stop: StopSignal | None = None,
    ) -> TrainResult:
        return self._get().train(task, progress, stop)

    def statuses(self) -> list[ModelStatus]:
        engine = self._engine
        return [] if engine is None else engine.statuses()

    def close(self) -> None:
        with self._lock:
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.close()

    def _get(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = self._make()
            return self._engine
