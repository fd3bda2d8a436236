"""The engine in this process.

`LocalEngine` owns the pipelines of this process: it resolves every engine model's weights at
start, loads pipelines on first use (or at start for `engine.preload`), batches compatible tasks
into one call, and turns failures into domain errors: `ModelNotFound` for a disabled model,
`InvalidRequest` for a task the model cannot run, `EngineFailure` for anything that breaks inside
a pipeline."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from PIL import Image

from fluxserve.catalog import ENGINE_MODELS
from fluxserve.engine.boundary.interface import ProgressCallback, StopSignal
from fluxserve.engine.boundary.messages import (
    GenerateTask,
    ModelStatus,
    Progress,
    TrainResult,
    TrainTask,
)
from fluxserve.engine.boundary.turn import engine_turn
from fluxserve.engine.inference.batching import Batch, plan_batches
from fluxserve.engine.inference.engine_thread import EngineThread
from fluxserve.engine.inference.pipeline_call import run_batch
from fluxserve.engine.loading.families import share_key, shared_components
from fluxserve.engine.loading.loader import (
    LoadError,
    ModelPlan,
    load_pipeline,
    plan_model,
    quiet_library_progress,
)
from fluxserve.engine.loading.residency import LoadedModel, Residency, budget_bytes
from fluxserve.engine.loading.weights import WeightsSource, resolve_weights
from fluxserve.errors import EngineFailure, FluxServeError, ModelNotFound
from fluxserve.settings import Settings

logger = logging.getLogger("fluxserve.engine")


class LocalEngine:
    """`Engine` in this process. Calls run one at a time, all on the engine's own thread
    (`EngineThread`), whichever thread makes them."""

    def __init__(self, settings: Settings) -> None:
        quiet_library_progress()
        self._settings = settings
        self._sources = {m: resolve_weights(settings, m) for m in ENGINE_MODELS}
        self._plans = {m: plan_model(settings, s) for m, s in self._sources.items()}
        self._share_keys = {
            m: share_key(p.source, p.device, p.dtype) for m, p in self._plans.items()
        }
        self._load_failures: dict[str, str] = {}
        self._residency = Residency(
            self._load,
            shared_components,
            self._share_keys.__getitem__,
            budget_bytes(settings.engine.gpu_memory_budget_gb),
        )
        self._lock = threading.Lock()
        self._torch = EngineThread()
        for source in self._sources.values():
            if source.disabled_reason:
                logger.warning("%s: disabled: %s", source.engine_model, source.disabled_reason)
        self._preload(settings.engine.preload)

    def generate(
        self,
        task: GenerateTask,
        progress: ProgressCallback | None = None,
        stop: StopSignal | None = None,
    ) -> list[Image.Image]:
        return self._run([task], progress, stop)[0]

    def generate_many(self, tasks: Sequence[GenerateTask]) -> list[list[Image.Image]]:
        return self._run(tasks, None, None)

    def train(
        self,
        task: TrainTask,
        progress: ProgressCallback | None = None,
        stop: StopSignal | None = None,
    ) -> TrainResult:
        """Train a LoRA on the transformer of `task.engine_model`'s resident pipeline; the
        pipeline is back to its clean state afterwards, so generation is unaffected."""
        with engine_turn(self._lock, stop):
            return self._torch.run(self._train, task, progress, stop)

    def _train(
        self, task: TrainTask, progress: ProgressCallback | None, stop: StopSignal | None
    ) -> TrainResult:
        # Imported here: only engines that train pay for the training code's imports.
        from fluxserve.engine.training.loop import train_lora

        loaded = self._loaded(task.engine_model)
        try:
            return train_lora(loaded.pipe, task, progress, stop)
        except FluxServeError:
            raise
        except torch.OutOfMemoryError as exc:
            _free_cuda_cache()
            raise EngineFailure(f"{task.engine_model}: out of memory while training") from exc
        except Exception as exc:
            logger.exception("training on %s failed", task.engine_model)
            raise EngineFailure(f"Training failed: {type(exc).__name__}: {exc}") from exc

    def statuses(self) -> list[ModelStatus]:
        with self._lock:
            return [self._status(m) for m in ENGINE_MODELS]

    def close(self) -> None:
        with self._lock:
            self._torch.run(self._residency.clear)
            self._torch.close()

    def loaded_model(self, engine_model: str) -> LoadedModel:
        """The resident model (loading it if needed). For tests and diagnostics."""
        with self._lock:
            return self._torch.run(self._loaded, engine_model)

    def resident(self) -> list[str]:
        """Resident model ids, least recently used first."""
        with self._lock:
            return self._residency.resident()

    def resident_bytes(self) -> int:
        with self._lock:
            return self._residency.resident_bytes()

    def _run(
        self,
        tasks: Sequence[GenerateTask],
        progress: ProgressCallback | None,
        stop: StopSignal | None,
    ) -> list[list[Image.Image]]:
        with engine_turn(self._lock, stop):
            return self._torch.run(self._batches, tasks, progress, stop)

    def _batches(
        self,
        tasks: Sequence[GenerateTask],
        progress: ProgressCallback | None,
        stop: StopSignal | None,
    ) -> list[list[Image.Image]]:
        results: list[list[Image.Image | None]] = [[None] * len(t.seeds) for t in tasks]
        batches = plan_batches(tasks, self._settings.engine.max_batch)
        for number, batch in enumerate(batches):
            loaded = self._loaded(batch.task.engine_model)
            report = _offset_progress(progress, number, len(batches))
            images = self._call(loaded, batch, tasks, report, stop)
            for item, image in zip(batch.items, images, strict=True):
                results[item.task][item.seed] = image
        return [[image for image in row if image is not None] for row in results]

    def _call(
        self,
        loaded: LoadedModel,
        batch: Batch,
        tasks: Sequence[GenerateTask],
        progress: ProgressCallback | None,
        stop: StopSignal | None,
    ) -> list[Image.Image]:
        try:
            return run_batch(loaded, batch, tasks, self._settings.engine, progress, stop)
        except EngineFailure:
            _free_cuda_cache()
            raise

    def _loaded(self, engine_model: str) -> LoadedModel:
        if engine_model not in ENGINE_MODELS:
            raise ModelNotFound(engine_model, "unknown engine model")
        reason = self._disabled_reason(engine_model)
        if reason is not None:
            raise ModelNotFound(engine_model, reason)
        try:
            return self._residency.get(engine_model)
        except torch.OutOfMemoryError as exc:
            # Memory pressure is not the model's fault: leave it enabled for a later try.
            _free_cuda_cache()
            raise EngineFailure(f"{engine_model}: out of memory while loading") from exc
        except LoadError as exc:
            self._load_failures[engine_model] = str(exc)
            logger.error("%s: disabled: %s", engine_model, exc)
            raise ModelNotFound(engine_model, str(exc)) from exc

    def _load(self, engine_model: str, shared: Mapping[str, Any]) -> LoadedModel:
        plan: ModelPlan = self._plans[engine_model]
        pipe = load_pipeline(self._settings, plan, shared)
        return LoadedModel(engine_model, pipe, self._share_keys[engine_model])

    def _disabled_reason(self, engine_model: str) -> str | None:
        return self._sources[engine_model].disabled_reason or self._load_failures.get(engine_model)

    def _status(self, engine_model: str) -> ModelStatus:
        source: WeightsSource = self._sources[engine_model]
        reason = self._disabled_reason(engine_model)
        return ModelStatus(
            engine_model=engine_model,
            weights=source.location,
            demo=source.demo,
            enabled=reason is None,
            loaded=self._residency.is_resident(engine_model),
            reason=reason,
        )

    def _preload(self, engine_models: Sequence[str]) -> None:
        for engine_model in engine_models:
            try:
                self.loaded_model(engine_model)
            except (ModelNotFound, EngineFailure) as exc:
                logger.error("preload of %s failed: %s", engine_model, exc)


def _offset_progress(
    progress: ProgressCallback | None, number: int, count: int
) -> ProgressCallback | None:
    """Steps of call `number` of `count` as steps of the whole request."""
    if progress is None:
        return None
    if count == 1:
        return progress

    def report(step: Progress) -> None:
        progress(Progress(step=number * step.total + step.step, total=count * step.total))

    return report


def _free_cuda_cache() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
