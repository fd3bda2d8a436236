"""Choosing where the engine runs, from settings. Torch-free until a `LocalEngine` is asked for
in this process."""

from __future__ import annotations

from fluxserve.engine.boundary.interface import Engine
from fluxserve.engine.boundary.lazy_engine import LazyEngine
from fluxserve.settings import Settings


def open_engine(settings: Settings) -> Engine:
    """A `ProcessEngine` when `engine.isolate` is set (the default), else a `LocalEngine`.
    Either starts loading `engine.preload` right away."""
    if settings.engine.isolate:
        from fluxserve.engine.boundary.process_engine import ProcessEngine

        return ProcessEngine(settings)
    from fluxserve.engine.inference.local_engine import LocalEngine

    return LocalEngine(settings)


def open_training_engine(settings: Settings) -> Engine:
    """The training lane's engine: its own process (own lock, own memory budget), started on
    the first training, with nothing preloaded."""
    engine = settings.engine.model_copy(
        update={"preload": (), "gpu_memory_budget_gb": settings.training.gpu_memory_budget_gb}
    )
    lane_settings = settings.model_copy(update={"engine": engine})
    return LazyEngine(lambda: open_engine(lane_settings))
