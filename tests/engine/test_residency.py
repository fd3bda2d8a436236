"""Resident pipelines: shared family modules, variants built on them, LRU eviction."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluxserve.engine.inference.local_engine import LocalEngine
from fluxserve.engine.loading.residency import GIB, module_bytes
from fluxserve.settings import EngineConfig
from tests.engine.fixtures_local_engine import (
    FLUX1_FAMILY,
    KLEIN_FAMILY,
    input_png,
    local_engine,
    make_settings,
    make_task,
)

__all__ = ["local_engine"]

FLUX1_SHARED = ("text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "vae")
KLEIN_SHARED = ("text_encoder", "tokenizer", "vae")


def test_flux1_family_shares_encoders_and_vae(local_engine: LocalEngine) -> None:
    first, *others = (local_engine.loaded_model(m).pipe for m in FLUX1_FAMILY)
    for other in others:
        for name in FLUX1_SHARED:
            assert getattr(other, name) is getattr(first, name), name
        assert other.transformer is not first.transformer
        assert other.scheduler is not first.scheduler


def test_klein_pair_shares_encoder_and_vae_but_not_with_flux2_dev(
    local_engine: LocalEngine,
) -> None:
    klein, base = (local_engine.loaded_model(m).pipe for m in KLEIN_FAMILY)
    for name in KLEIN_SHARED:
        assert getattr(klein, name) is getattr(base, name), name
    assert klein.transformer is not base.transformer
    dev = local_engine.loaded_model("flux2-dev").pipe
    assert dev.vae is not klein.vae


def test_shared_modules_count_once(local_engine: LocalEngine) -> None:
    loaded = [local_engine.loaded_model(m) for m in ("flux1-schnell", "flux1-dev")]
    separately = sum(module_bytes(model.modules()) for model in loaded)
    together = module_bytes(m for model in loaded for m in model.modules())
    pipe = loaded[0].pipe
    shared = module_bytes([pipe.text_encoder, pipe.text_encoder_2, pipe.vae])
    assert together == separately - shared > 0


def test_img2img_is_built_on_the_dev_pipeline(local_engine: LocalEngine) -> None:
    task = make_task("flux1-dev", operation="image_to_image", image=input_png(), strength=0.6)
    local_engine.generate(task)
    loaded = local_engine.loaded_model("flux1-dev")
    variant = loaded.variants["FluxImg2ImgPipeline"]
    assert variant.transformer is loaded.pipe.transformer
    assert variant.vae is loaded.pipe.vae
    assert variant.scheduler is not loaded.pipe.scheduler  # schedulers keep per-call state
    assert variant.dtype == loaded.pipe.dtype
    local_engine.generate(task)
    assert local_engine.loaded_model("flux1-dev").variants["FluxImg2ImgPipeline"] is variant


def test_least_recently_used_model_is_evicted(tmp_path: Path, demo_cache: Path) -> None:
    a, b, c = "flux1-schnell", "flux2-klein-4b", "flux2-dev"
    sizes = _sizes(tmp_path / "measure", demo_cache, (a, b, c))
    # Room for a and c, or a and b, but never all three.
    budget = sizes[a] + max(sizes[b], sizes[c]) + min(sizes[b], sizes[c]) // 2
    engine = LocalEngine(
        make_settings(
            tmp_path / "budget", demo_cache, engine=EngineConfig(gpu_memory_budget_gb=budget / GIB)
        )
    )
    engine.generate(make_task(a))
    engine.generate(make_task(b))
    engine.generate(make_task(a))  # b is now the least recently used
    engine.generate(make_task(c))
    assert engine.resident() == [a, c]
    loaded = {s.engine_model: s.loaded for s in engine.statuses()}
    assert (loaded[a], loaded[b], loaded[c]) == (True, False, True)
    engine.generate(make_task(b))  # a is now the least recently used
    assert engine.resident() == [c, b]
    assert engine.resident_bytes() <= budget
    engine.close()


def _sizes(data_dir: Path, demo_cache: Path, models: tuple[str, ...]) -> dict[str, int]:
    engine = LocalEngine(make_settings(data_dir, demo_cache))
    sizes = {m: module_bytes(engine.loaded_model(m).modules()) for m in models}
    engine.close()
    return sizes


def test_a_model_larger_than_the_budget_still_serves(tmp_path: Path, demo_cache: Path) -> None:
    settings = make_settings(tmp_path, demo_cache, engine=EngineConfig(gpu_memory_budget_gb=1e-9))
    engine = LocalEngine(settings)
    engine.generate(make_task("flux1-schnell"))
    engine.generate(make_task("flux1-dev"))
    assert engine.resident() == ["flux1-dev"]
    assert len(engine.generate(make_task("flux1-dev"))) == 1
    engine.close()


@pytest.mark.parametrize("preload", [("flux2-klein-4b",), ("flux2-klein-4b", "no-such-model")])
def test_preload_loads_at_start(tmp_path: Path, demo_cache: Path, preload: tuple[str, ...]) -> None:
    engine = LocalEngine(make_settings(tmp_path, demo_cache, engine=EngineConfig(preload=preload)))
    assert engine.resident() == ["flux2-klein-4b"]
    engine.close()
