"""Acceleration levels (denoiser caches) and automatic VAE tiling, on the demo weights."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from fluxserve.engine.boundary.messages import Progress
from fluxserve.engine.inference import acceleration
from fluxserve.engine.inference.local_engine import LocalEngine
from fluxserve.settings import EngineConfig
from tests.engine.fixtures_local_engine import (
    OPERATION_CASES,
    local_engine,
    make_settings,
    make_task,
    max_difference,
)

__all__ = ["local_engine"]

EXPECTED_CACHE = {"flux1": "FirstBlockCacheConfig", "flux2": "TaylorSeerCacheConfig"}


@pytest.mark.parametrize("level", ["regular", "high"])
@pytest.mark.parametrize(("engine_model", "fields"), OPERATION_CASES)
def test_each_level_caches_during_the_call_only(
    local_engine: LocalEngine, engine_model: str, fields: dict[str, Any], level: str
) -> None:
    transformer = local_engine.loaded_model(engine_model).pipe.transformer
    during: list[str] = []

    def watch(_: Progress) -> None:
        during.append(type(transformer._cache_config).__name__)

    task = make_task(engine_model, acceleration=level, steps=4, **fields)
    images = local_engine.generate(task, watch)
    assert [image.size for image in images] == [(64, 64)]
    family = "flux1" if engine_model.startswith("flux1") else "flux2"
    assert set(during) == {EXPECTED_CACHE[family]}
    assert not transformer.is_cache_enabled


def test_no_acceleration_runs_without_cache(local_engine: LocalEngine) -> None:
    transformer = local_engine.loaded_model("flux1-schnell").pipe.transformer
    during: list[bool] = []
    local_engine.generate(make_task(), lambda _: during.append(transformer.is_cache_enabled))
    assert during == [False, False]


@pytest.mark.parametrize(("engine_model", "fields"), OPERATION_CASES[:5])
def test_first_block_cache_skips_blocks_in_every_flux1_pipeline(
    local_engine: LocalEngine,
    monkeypatch: pytest.MonkeyPatch,
    engine_model: str,
    fields: dict[str, Any],
) -> None:
    # The tiny random transformers change too much per step for the real thresholds to skip;
    # an absurd threshold proves the wiring (cache context included) reaches the blocks.
    monkeypatch.setitem(
        acceleration.CACHE_CONFIGS,
        ("FluxTransformer2DModel", "high"),
        acceleration._first_block(1e9),
    )
    last_block = local_engine.loaded_model(engine_model).pipe.transformer.single_transformer_blocks[
        -1
    ]
    calls: list[int] = []
    handle = last_block.proj_out.register_forward_hook(lambda *_: calls.append(1))
    try:
        task = make_task(engine_model, steps=6, **fields)
        plain = local_engine.generate(task)[0]
        full = len(calls)
        calls.clear()
        cached = local_engine.generate(dataclasses.replace(task, acceleration="high"))[0]
    finally:
        handle.remove()
    assert len(calls) == 1 < full  # only the first step ran the tail blocks
    assert max_difference(plain, cached) > 0


@pytest.mark.parametrize("engine_model", ["flux1-schnell", "flux2-klein-4b", "flux2-dev"])
def test_vae_tiling_switches_on_for_large_outputs(
    tmp_path: Path, demo_cache: Path, engine_model: str
) -> None:
    settings = make_settings(
        tmp_path, demo_cache, engine=EngineConfig(vae_tiling_min_pixels=128 * 128)
    )
    engine = LocalEngine(settings)
    vae = engine.loaded_model(engine_model).pipe.vae
    tiling: dict[tuple[int, int], set[bool]] = {}
    for size in ((128, 128), (64, 64), (256, 128)):
        seen = tiling.setdefault(size, set())

        def watch(_: Progress, seen: set[bool] = seen) -> None:
            seen.add(vae.use_tiling)

        images = engine.generate(make_task(engine_model, width=size[0], height=size[1]), watch)
        assert images[0].size == size
    assert tiling == {(128, 128): {True}, (64, 64): {False}, (256, 128): {True}}
    engine.close()


def test_tiled_decode_really_tiles_on_flux1(tmp_path: Path, demo_cache: Path) -> None:
    # The demo VAEs tile as the real ones do: only images wider or taller than 1024 px.
    task = make_task(width=1088, height=64)
    images = []
    for name, threshold in (("untiled", 10**9), ("tiled", 0)):
        config = EngineConfig(vae_tiling_min_pixels=threshold)
        engine = LocalEngine(make_settings(tmp_path / name, demo_cache, engine=config))
        images.append(engine.generate(task)[0])
        engine.close()
    untiled, tiled = images
    assert tiled.size == untiled.size == (1088, 64)
    assert max_difference(tiled, untiled) > 0
