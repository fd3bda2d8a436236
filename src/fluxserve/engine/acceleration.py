"""Speed and memory options: per-call (denoiser caching, VAE tiling) and at load time (CPU
offload, attention backend, regional compilation, torchao quantization).

`acceleration` levels map to diffusers' caching hooks, in the one table `CACHE_CONFIGS`:
- FLUX.1 transformers use First Block Cache: after the first block, if its residual changed less
  than `threshold` (relative mean absolute difference) since the last full step, the other blocks
  are skipped and their cached residual reused. 0.05 is near-lossless, 0.12 a visible but usually
  acceptable trade (the diffusers / ParaAttention guidance for FLUX).
- FLUX.2 transformers (dev and klein) cannot run First Block Cache in diffusers 0.42: their
  double-stream head block and single-stream tail blocks return different shapes
  (huggingface/diffusers#14280, fix pending in #14359). They use TaylorSeer instead, which
  predicts attention outputs from a Taylor expansion of earlier steps and recomputes every
  `cache_interval` steps; it decides per step, not per batch.
All levels run on every pipeline class (checked on the demo weights)."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from diffusers import FirstBlockCacheConfig, TaylorSeerCacheConfig

from fluxserve.engine.lora_slots import prepare_lora_slots
from fluxserve.engine.messages import Acceleration
from fluxserve.engine.pipelines import Pipeline
from fluxserve.settings import EngineConfig

logger = logging.getLogger("fluxserve.engine")


# (transformer class, level) -> cache config; a level absent here runs without caching.
def _first_block(threshold: float) -> Callable[[], object]:
    return lambda: FirstBlockCacheConfig(threshold=threshold)  # type: ignore[no-untyped-call]


def _taylor_seer(interval: int, warmup: int) -> Callable[[], object]:
    return lambda: TaylorSeerCacheConfig(  # type: ignore[no-untyped-call]
        cache_interval=interval, disable_cache_before_step=warmup
    )


# (transformer class, level) -> cache config; a level absent here runs without caching.
CACHE_CONFIGS: dict[tuple[str, Acceleration], Callable[[], object]] = {
    ("FluxTransformer2DModel", "regular"): _first_block(0.05),
    ("FluxTransformer2DModel", "high"): _first_block(0.12),
    ("Flux2Transformer2DModel", "regular"): _taylor_seer(interval=2, warmup=3),
    ("Flux2Transformer2DModel", "high"): _taylor_seer(interval=4, warmup=2),
}

# torchao configs for the transformer; fp8 needs compute capability >= 8.9 (Ada, Hopper).
_QUANTIZATION_CONFIGS = {
    "fp8": "Float8DynamicActivationFloat8WeightConfig",
    "int8": "Int8WeightOnlyConfig",
}


class LoadOptionError(Exception):
    """An operator option cannot be applied to a model; the model is disabled with this reason."""


@contextmanager
def call_acceleration(
    pipe: Pipeline, acceleration: Acceleration, pixels: int, tiling_min_pixels: int
) -> Iterator[None]:
    """Switch caching and VAE tiling on for one pipeline call, and back off after it.

    Tiling is set on every call (on or off) because the VAE may be shared by several pipelines."""
    _set_vae_tiling(pipe, pixels >= tiling_min_pixels)
    transformer = pipe.transformer
    make_config = CACHE_CONFIGS.get((type(transformer).__name__, acceleration))
    if make_config is None:
        yield
        return
    transformer.enable_cache(make_config())
    try:
        # Img2img, Fill, Kontext and FLUX.2-dev call the transformer without naming a cache
        # context; they run one (conditional) transformer call per step, so one context for
        # the whole call is right. Pipelines that name their own contexts override it.
        with transformer.cache_context("cond"):
            yield
    finally:
        transformer.disable_cache()


def _set_vae_tiling(pipe: Pipeline, on: bool) -> None:
    vae = pipe.vae
    if on:
        vae.enable_tiling()
    else:
        vae.disable_tiling()


def apply_load_options(pipe: Pipeline, config: EngineConfig, device: str) -> None:
    """Apply the operator's engine options to a freshly loaded pipeline and place it on `device`.

    CUDA-only options (quantization, CPU offload, regional compilation unless `compile_on_cpu`)
    are logged and ignored elsewhere. Raises LoadOptionError when an option cannot be honoured."""
    on_cuda = device.startswith("cuda")
    name = type(pipe).__name__
    if config.quantization != "none":
        if on_cuda:
            _quantize(pipe, config.quantization)
        else:
            logger.info("%s: quantization=%s ignored on %s", name, config.quantization, device)
    if config.attention_backend:
        try:
            pipe.transformer.set_attention_backend(config.attention_backend)
        except Exception as exc:
            raise LoadOptionError(
                f"attention backend {config.attention_backend!r} unavailable: {exc}"
            ) from exc
    _place(pipe, config, device, on_cuda)
    if config.compile_repeated_blocks:
        if on_cuda or config.compile_on_cpu:
            _compile(pipe, config)
        else:
            logger.info("%s: compile_repeated_blocks ignored on %s", name, device)


def _compile(pipe: Pipeline, config: EngineConfig) -> None:
    """Regional compilation, with LoRA slots added first: an adapter added to compiled blocks
    would compile them again, a LoRA swapped into a slot does not."""
    try:
        prepare_lora_slots(pipe.transformer, config.lora_slots, config.lora_max_rank)
    except Exception as exc:
        raise LoadOptionError(f"LoRA slots for the compiled transformer failed: {exc}") from exc
    pipe.transformer.compile_repeated_blocks(fullgraph=True)


def _place(pipe: Pipeline, config: EngineConfig, device: str, on_cuda: bool) -> None:
    if config.cpu_offload and on_cuda:
        pipe.enable_model_cpu_offload(device=device)
        return
    if config.cpu_offload:
        logger.info("%s: cpu_offload ignored on %s", type(pipe).__name__, device)
    pipe.to(device)


def _quantize(pipe: Pipeline, kind: str) -> None:
    try:
        quantization: Any = importlib.import_module("torchao.quantization")
    except ImportError as exc:
        raise LoadOptionError(
            f"quantization={kind} needs torchao, which is not installed (pip install torchao)"
        ) from exc
    config = getattr(quantization, _QUANTIZATION_CONFIGS[kind])()
    quantization.quantize_(pipe.transformer, config)
