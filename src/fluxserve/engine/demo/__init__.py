"""Tiny random-weight demo models: real diffusers folders for every engine model, built offline.

Each folder loads with its pipeline class's ordinary `from_pretrained(folder)` and generates
images of any requested size in milliseconds on CPU. Builds are deterministic (byte-identical
files in any process). Models of one family share text encoders, tokenizers and VAE weights:
the FLUX.1 four, and the two klein models. Dimensions live in `dimensions.py`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fluxserve.engine.demo import flux1, flux2, klein
from fluxserve.engine.demo.cache import build_once
from fluxserve.errors import ModelNotFound

# Bump when any builder or size changes, so cached folders of the old build are not reused.
BUILD_VERSION = "2"

DEMO_BUILDERS: dict[str, Callable[[Path], None]] = {
    "flux1-schnell": flux1.build_schnell,
    "flux1-dev": flux1.build_dev,
    "flux1-fill-dev": flux1.build_fill,
    "flux1-kontext-dev": flux1.build_kontext,
    "flux2-dev": flux2.build_dev,
    "flux2-klein-4b": klein.build_klein,
    "flux2-klein-base-4b": klein.build_klein_base,
}


def _builder(engine_model_id: str) -> Callable[[Path], None]:
    builder = DEMO_BUILDERS.get(engine_model_id)
    if builder is None:
        raise ModelNotFound(engine_model_id, "no demo weights are built for it")
    return builder


def build_demo_model(engine_model_id: str, dest: Path) -> None:
    """Write a complete diffusers folder for this engine model (model_index.json + components)."""
    _builder(engine_model_id)(dest)


def ensure_demo_model(engine_model_id: str, cache_root: Path) -> Path:
    """cache_root/<engine_model_id>/<BUILD_VERSION>, built when missing (into a temporary folder
    renamed into place, so nobody sees half a model and racing builders are safe)."""
    builder = _builder(engine_model_id)
    return build_once(cache_root / engine_model_id / BUILD_VERSION, builder)
