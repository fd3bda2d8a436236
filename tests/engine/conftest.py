"""Shared engine fixtures: tiny demo models built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluxserve.catalog import ENGINE_MODELS
from fluxserve.engine.demo import ensure_demo_model


@pytest.fixture(scope="session")
def demo_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo-model cache root with every engine model already built (about a second).

    `ensure_demo_model(engine_model_id, demo_cache)` returns a model's folder at no cost."""
    root = tmp_path_factory.mktemp("demo_models")
    for engine_model_id in ENGINE_MODELS:
        ensure_demo_model(engine_model_id, root)
    return root


@pytest.fixture(scope="session")
def demo_models(demo_cache: Path) -> dict[str, Path]:
    """Engine model id -> its built demo folder, loadable with `from_pretrained`."""
    return {m: ensure_demo_model(m, demo_cache) for m in ENGINE_MODELS}
