"""The engine as the worker sees it: generation, training, model statuses and the image check,
in this process or (by default) in an engine process of its own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from PIL.Image import Image

from fluxserve.catalog import ENGINE_MODELS
from fluxserve.engine.factory import open_engine as open_inner_engine
from fluxserve.engine.interface import Engine
from fluxserve.engine.messages import GenerateTask, ModelStatus, TrainResult, TrainTask
from fluxserve.engine.safety_image import ImageSafetyChecker, build_image_checker
from fluxserve.engine.weights import resolve_weights
from fluxserve.errors import EngineFailure
from fluxserve.settings import Settings
from fluxserve.worker.protocols import EngineClient, ImageChecker, ProgressFn


class EngineHandle(EngineClient, Protocol):
    def statuses(self) -> list[ModelStatus]: ...

    def image_checker(self) -> ImageChecker | None: ...

    def close(self) -> None: ...


class _Checker:
    def __init__(self, checker: ImageSafetyChecker) -> None:
        self._checker = checker

    def blocked_reason(self, images: Sequence[Image], strictness: float) -> str | None:
        for index, verdict in enumerate(self._checker.check(images, strictness)):
            if not verdict.allowed:
                return f"image {index + 1}: {verdict.reason or 'unsafe content'}"
        return None


class ConfiguredEngine:
    """Wraps a Local- or ProcessEngine with the operator's image checker."""

    def __init__(self, engine: Engine, checker: ImageChecker | None) -> None:
        self._engine = engine
        self._checker = checker

    @property
    def inner(self) -> Engine:
        return self._engine

    def generate(self, task: GenerateTask, progress: ProgressFn | None = None) -> list[Image]:
        return self._engine.generate(task, progress)

    def generate_many(self, tasks: Sequence[GenerateTask]) -> list[list[Image]]:
        return self._engine.generate_many(tasks)

    def train(self, task: TrainTask, progress: ProgressFn | None = None) -> TrainResult:
        return self._engine.train(task, progress)

    def statuses(self) -> list[ModelStatus]:
        return self._engine.statuses()

    def image_checker(self) -> ImageChecker | None:
        return self._checker

    def close(self) -> None:
        self._engine.close()


class DetachedEngine:
    """For API-only nodes: model statuses from configuration; generation happens elsewhere."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def generate(self, task: GenerateTask, progress: ProgressFn | None = None) -> list[Image]:
        raise EngineFailure("this node runs no engine (started with --no-workers)")

    def generate_many(self, tasks: Sequence[GenerateTask]) -> list[list[Image]]:
        raise EngineFailure("this node runs no engine (started with --no-workers)")

    def train(self, task: TrainTask, progress: ProgressFn | None = None) -> TrainResult:
        raise EngineFailure("this node runs no engine (started with --no-workers)")

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

    def image_checker(self) -> ImageChecker | None:
        return None

    def close(self) -> None:
        return None


def open_engine(settings: Settings) -> ConfiguredEngine:
    engine = open_inner_engine(settings)
    checker = build_image_checker(settings.safety.image_checker, settings.safety.image_model_path)
    return ConfiguredEngine(engine, _Checker(checker) if checker is not None else None)
