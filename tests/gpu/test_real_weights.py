"""Every engine model with real weights configured loads on the GPU and makes a 1024² image.

Reads the operator's configuration from FLUXSERVE_CONFIG (the server's own TOML). Skipped
without CUDA, without FLUXSERVE_CONFIG, and per model when it has no `weights` there."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from fluxserve.catalog import ENGINE_MODELS
from fluxserve.engine.boundary.messages import GenerateTask
from fluxserve.engine.inference.local_engine import LocalEngine
from fluxserve.settings import Settings, load_settings
from tests.support.media import encode, mask_image, noise_image

pytestmark = pytest.mark.gpu
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

SIZE = 1024
PROMPT = "a lighthouse on a cliff at dusk, photo"

# engine model -> (operation, steps, guidance); few steps: this checks that it works, not quality
CALLS: dict[str, tuple[str, int, float | None]] = {
    "flux1-schnell": ("text_to_image", 4, None),
    "flux1-dev": ("text_to_image", 8, 3.5),
    "flux1-fill-dev": ("fill", 8, 30.0),
    "flux1-kontext-dev": ("restore", 8, 2.5),
    "flux2-dev": ("text_to_image", 8, 4.0),
    "flux2-klein-4b": ("text_to_image", 4, 1.0),
    "flux2-klein-base-4b": ("text_to_image", 8, 4.0),
}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    config = os.environ.get("FLUXSERVE_CONFIG")
    if not config:
        pytest.skip("FLUXSERVE_CONFIG names no configuration with real weights")
    data_dir = tmp_path_factory.mktemp("real-weights")
    return load_settings({"data_dir": data_dir}, environ={"FLUXSERVE_CONFIG": config})


@pytest.fixture
def engine(settings: Settings) -> Iterator[LocalEngine]:
    """A fresh engine per model, so one model's memory is released before the next loads."""
    engine = LocalEngine(settings)
    yield engine
    engine.close()


def make_task(engine_model: str) -> GenerateTask:
    operation, steps, guidance = CALLS[engine_model]
    needs_image = operation in ("fill", "restore")
    return GenerateTask(
        engine_model=engine_model,
        operation=operation,  # type: ignore[arg-type]
        prompt=PROMPT,
        width=SIZE,
        height=SIZE,
        steps=steps,
        seeds=(42,),
        guidance=guidance,
        image=encode(noise_image(SIZE, SIZE), "PNG") if needs_image else None,
        mask=encode(mask_image(SIZE, SIZE), "PNG") if operation == "fill" else None,
    )


def test_every_engine_model_has_a_call() -> None:
    assert set(CALLS) == set(ENGINE_MODELS)


@needs_cuda
@pytest.mark.parametrize("engine_model", sorted(ENGINE_MODELS))
def test_real_model_generates_a_1024_image(
    settings: Settings, engine: LocalEngine, engine_model: str
) -> None:
    configured = settings.model(engine_model)
    if configured.weights is None or not configured.enabled:
        pytest.skip(f"{engine_model}: no real weights in {settings.config_path}")
    status = next(s for s in engine.statuses() if s.engine_model == engine_model)
    assert status.enabled, status.reason
    assert not status.demo
    assert status.weights == configured.weights or Path(status.weights).exists()

    images = engine.generate(make_task(engine_model))

    assert len(images) == 1
    assert images[0].size == (SIZE, SIZE)
    pixels = np.asarray(images[0].convert("RGB"), dtype=np.float64)
    # Real weights make a picture: neither a flat colour nor the black of a NaN decode.
    assert pixels.std() > 10.0
    assert 5.0 < pixels.mean() < 250.0
