"""Helpers and fixtures for the LocalEngine tests (import them explicitly).

Engines here serve the session's demo weights (built once by `demo_cache` in conftest.py):
each settings' data folder links `demo-weights` to that cache, so nothing is rebuilt."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from fluxserve.engine.boundary.messages import GenerateTask
from fluxserve.engine.inference.local_engine import LocalEngine
from fluxserve.settings import Settings
from tests.support.media import encode, mask_image, noise_image

FLUX1_FAMILY = ("flux1-schnell", "flux1-dev", "flux1-fill-dev", "flux1-kontext-dev")
KLEIN_FAMILY = ("flux2-klein-4b", "flux2-klein-base-4b")


def make_settings(data_dir: Path, demo_cache: Path, **fields: Any) -> Settings:
    """Settings whose demo weights come from the session's demo cache."""
    data_dir.mkdir(parents=True, exist_ok=True)
    link = data_dir / "demo-weights"
    if not link.exists():
        link.symlink_to(demo_cache, target_is_directory=True)
    return Settings(data_dir=data_dir, **fields)


def make_task(engine_model: str = "flux1-schnell", **fields: Any) -> GenerateTask:
    """A small, fast task: 64x64, 2 steps, one seed, unless told otherwise."""
    base = GenerateTask(
        engine_model=engine_model,
        operation="text_to_image",
        prompt="a red fox in the snow",
        width=64,
        height=64,
        steps=2,
        seeds=(1,),
    )
    return dataclasses.replace(base, **fields)


def input_png(width: int = 64, height: int = 64, seed: int = 0) -> bytes:
    return encode(noise_image(width, height, seed), "PNG")


def mask_png(width: int = 64, height: int = 64) -> bytes:
    return encode(mask_image(width, height), "PNG")


# One task per (model, operation) the engine supports, with the inputs each needs.
OPERATION_CASES: list[tuple[str, dict[str, Any]]] = [
    ("flux1-schnell", {}),
    ("flux1-dev", {"guidance": 3.5}),
    ("flux1-dev", {"operation": "image_to_image", "strength": 0.8, "image": input_png()}),
    ("flux1-fill-dev", {"operation": "fill", "image": input_png(), "mask": mask_png()}),
    ("flux1-kontext-dev", {"operation": "restore", "image": input_png(96, 48)}),
    ("flux2-dev", {"guidance": 4.0}),
    ("flux2-dev", {"operation": "edit", "image": input_png()}),
    ("flux2-klein-4b", {}),
    ("flux2-klein-4b", {"operation": "edit", "image": input_png()}),
    ("flux2-klein-base-4b", {"guidance": 4.0}),
]


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


def max_difference(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(pixels(a) - pixels(b)).max())


@pytest.fixture(scope="module")
def local_engine(
    tmp_path_factory: pytest.TempPathFactory, demo_cache: Path
) -> Iterator[LocalEngine]:
    """One engine for a test module, default settings, demo weights."""
    engine = LocalEngine(make_settings(tmp_path_factory.mktemp("engine"), demo_cache))
    yield engine
    engine.close()
