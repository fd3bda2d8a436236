"""CUDA-only engine options on the demo weights. Skipped without a CUDA device."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from fluxserve.engine.inference.local_engine import LocalEngine
from fluxserve.errors import ModelNotFound
from fluxserve.settings import EngineConfig
from tests.engine.fixtures_local_engine import make_settings, make_task

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize(
    "config",
    [
        EngineConfig(),
        EngineConfig(cpu_offload=True),
        EngineConfig(compile_repeated_blocks=True),
        EngineConfig(attention_backend="native"),
    ],
    ids=["plain", "cpu_offload", "compile", "attention_backend"],
)
@pytest.mark.parametrize("engine_model", ["flux1-dev", "flux2-klein-4b"])
def test_options_run_on_cuda(
    tmp_path: Path, demo_cache: Path, config: EngineConfig, engine_model: str
) -> None:
    engine = LocalEngine(make_settings(tmp_path, demo_cache, engine=config))
    images = engine.generate(make_task(engine_model, width=128, seeds=(1, 2), acceleration="high"))
    assert [image.size for image in images] == [(128, 64)] * 2
    assert engine.loaded_model(engine_model).pipe.dtype == torch.bfloat16  # "auto" on CUDA
    engine.close()


@pytest.mark.parametrize("kind", ["int8", "fp8"])
def test_quantization_needs_torchao(tmp_path: Path, demo_cache: Path, kind: str) -> None:
    config = EngineConfig(quantization=kind)  # type: ignore[arg-type]
    engine = LocalEngine(make_settings(tmp_path, demo_cache, engine=config))
    if importlib.util.find_spec("torchao") is None:
        with pytest.raises(ModelNotFound, match="torchao"):
            engine.generate(make_task("flux1-dev"))
        status = next(s for s in engine.statuses() if s.engine_model == "flux1-dev")
        assert not status.enabled and "torchao" in (status.reason or "")
    else:
        assert len(engine.generate(make_task("flux1-dev"))) == 1
    engine.close()
