"""What an API-only node holds instead of an engine. Torch-free."""

from __future__ import annotations

from collections.abc import Sequence

from PIL.Image import Image

from fluxserve.catalog import ENGINE_MODELS
from fluxserve.engine.boundary.interface import ProgressCallback, StopSignal
from fluxserve.engine.boundary.messages import GenerateTask, ModelStatus, TrainResult, TrainTask
from fluxserve.engine.loading.weights import resolve_weights
from fluxserve.errors import EngineFailure
from fluxserve.settings import Settings

_NO_ENGINE = "this node runs no engine (started with --no-workers)"


class NoEngine:
    """`Engine` for API-only nodes: statuses from configuration; generation runs on worker
    nodes, so every other call fails."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def generate(
        self,
        task: GenerateTask,
        progress: ProgressCallback | None = None,
        stop: StopSignal | None = None,
    ) -> list[Image]:
        raise EngineFailure(_NO_ENGINE)

    def generate_many(self, tasks: Sequence[GenerateTask]) -> list[list[Image]]:
        raise EngineFailure(_NO_ENGINE)

    def train(
        self,
        task: TrainTask,
        progress: ProgressCallback | None = None,
        stop: StopSignal | None = None,
    ) -> TrainResult:
        raise EngineFailure(_NO_ENGINE)

    def statuses(self) -> list[ModelStatus]:
        statuses = []
        for engine_model in ENGINE_MODELS:
            source = resolve_weights(self._settings, engine_model)
            statuses.append(
                ModelStatus(
                    engine_model=engine_model,
                    weights=source.location,
                    demo=source.demo,
                    enabled=source.disabled_reason is None,
                    loaded=False,
                    reason=source.disabled_reason,
                )
            )
        return statuses

    def close(self) -> None:
        return None
