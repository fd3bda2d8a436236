"""Random-weight pipelines of the real architectures: published sizes, and the engine serving them.

Full-size models are only counted on the meta device (nothing allocated); tiny ones of the same
classes go through `LocalEngine` like any weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from fluxserve.catalog import ENGINE_MODELS
from fluxserve.engine.inference.local_engine import LocalEngine
from fluxserve.engine.loading.families import share_key
from fluxserve.engine.loading.random_models import (
    BUILDERS,
    build_random_pipeline,
    parameter_counts,
)
from fluxserve.engine.loading.weights import resolve_weights
from fluxserve.errors import ModelNotFound
from fluxserve.settings import ModelConfig, Settings
from tests.engine.fixtures_local_engine import make_task

B = 1e9
M = 1e6


def _settings(tmp_path: Path, weights: str, *models: str) -> Settings:
    return Settings(data_dir=tmp_path, models={m: ModelConfig(weights=weights) for m in models})


def test_every_engine_model_has_a_random_architecture() -> None:
    assert set(BUILDERS) == set(ENGINE_MODELS)


@pytest.mark.parametrize(
    ("engine_model", "expected"),
    [
        # Published sizes: FLUX.1 12B transformer, T5-XXL encoder, CLIP-L text, FLUX.1 VAE.
        (
            "flux1-dev",
            {"transformer": 11.9 * B, "text_encoder_2": 4.76 * B,
             "text_encoder": 123 * M, "vae": 83.8 * M},
        ),
        ("flux1-schnell", {"transformer": 11.9 * B}),
        # klein 4B: a ~4B transformer beside Qwen3-4B; FLUX.2-dev: 32B beside Mistral Small 24B.
        ("flux2-klein-4b", {"transformer": 3.9 * B, "text_encoder": 4.0 * B, "vae": 84 * M}),
        ("flux2-dev", {"transformer": 32.2 * B, "text_encoder": 24.0 * B}),
    ],
)  # fmt: skip
def test_full_size_models_have_the_published_parameter_counts(
    engine_model: str, expected: dict[str, float]
) -> None:
    counts = parameter_counts(engine_model, "full")
    for component, count in expected.items():
        assert counts[component] == pytest.approx(count, rel=0.01), component


def test_full_size_configs_match_the_real_shapes() -> None:
    dev = build_random_pipeline("flux1-dev", "full", "meta", torch.bfloat16)
    schnell = build_random_pipeline("flux1-schnell", "full", "meta", torch.bfloat16)
    config = dev.transformer.config
    assert (config.num_layers, config.num_single_layers) == (19, 38)
    assert config.num_attention_heads * config.attention_head_dim == 3072
    assert (config.joint_attention_dim, config.pooled_projection_dim) == (4096, 768)
    assert (config.guidance_embeds, schnell.transformer.config.guidance_embeds) == (True, False)
    assert (dev.vae.config.scaling_factor, dev.vae.config.shift_factor) == (0.3611, 0.1159)
    assert dev.vae_scale_factor == 8
    assert dev.transformer.dtype == torch.bfloat16


def test_random_weights_resolve_and_never_share(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "random:full", "flux1-dev")
    source = resolve_weights(settings, "flux1-dev")
    assert (source.kind, source.random_scale, source.demo) == ("random", "full", True)
    assert source.disabled_reason is None
    assert share_key(source, "cuda", "bfloat16") is None
    bad = resolve_weights(_settings(tmp_path, "random:huge", "flux1-dev"), "flux1-dev")
    assert bad.disabled_reason == "random weights are full or tiny"


@pytest.mark.parametrize(
    ("engine_model", "guidance", "max_tokens"),
    [("flux1-schnell", None, 256), ("flux1-dev", 3.5, 512), ("flux2-klein-4b", 1.0, 512)],
)
def test_engine_serves_tiny_random_models_at_the_real_sequence_lengths(
    tmp_path: Path, engine_model: str, guidance: float | None, max_tokens: int
) -> None:
    engine = LocalEngine(_settings(tmp_path, "random:tiny", engine_model))
    pipe = engine.loaded_model(engine_model).pipe
    assert type(pipe).__name__ == ENGINE_MODELS[engine_model].pipeline
    lengths: list[int] = []

    def record(_module: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        lengths.append((args[0] if args else kwargs["input_ids"]).shape[1])

    encoder = pipe.text_encoder_2 if engine_model.startswith("flux1") else pipe.text_encoder
    hook = encoder.register_forward_pre_hook(record, with_kwargs=True)
    try:
        images = engine.generate(make_task(engine_model, steps=1, seeds=(1, 2), guidance=guidance))
    finally:
        hook.remove()
        engine.close()
    assert [image.size for image in images] == [(64, 64)] * 2
    assert lengths == [max_tokens]


def test_unknown_random_architecture_is_refused() -> None:
    with pytest.raises(ModelNotFound):
        build_random_pipeline("flux3-huge", "tiny", "cpu", torch.float32)
    with pytest.raises(ValueError, match="scales"):
        build_random_pipeline("flux1-dev", "medium", "cpu", torch.float32)
