"""Choosing the engine implementation from settings. Torch-free until a `LocalEngine` is asked
for in this process."""

from __future__ import annotations

from fluxserve.engine.interface import Engine
from fluxserve.settings import Settings


def open_engine(settings: Settings) -> Engine:
    """A `ProcessEngine` when `engine.isolate` is set (the default), else a `LocalEngine` in
    this process. Either starts loading `engine.preload` right away."""
    if settings.engine.isolate:
        from fluxserve.engine.process import ProcessEngine

        return ProcessEngine(settings)
    from fluxserve.engine.runtime import LocalEngine

    return LocalEngine(settings)
