"""Per-call speed and memory options: denoiser caching and VAE tiling (the load-time ones are in
`loading/load_options.py`).

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

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from diffusers import FirstBlockCacheConfig, TaylorSeerCacheConfig

from fluxserve.engine.pipelines import Pipeline
from fluxserve.vocabulary import Acceleration


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
