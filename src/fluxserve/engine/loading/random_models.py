"""Random-weight pipelines of the real FLUX architectures, built in memory without a download.

`build_random_pipeline` makes the same pipeline class that serves the real weights, with every
component built from the published configs in `random_configs.py` (`full`) or tiny ones of the
same classes (`tiny`, for CPU tests of the same code path). Modules are constructed directly on
the target device in the target dtype, so a 12B transformer never exists in float32 or on the CPU
first. Tokenizers are the demo ones: the text encoders keep their real vocabulary sizes and the
pipelines pad prompts to their real sequence lengths (512 tokens; 256 for schnell), so the text
encoders do the real work.

Weights are random: images are noise; only speed and memory mean anything."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from diffusers import (
    AutoencoderKL,
    AutoencoderKLFlux2,
    Flux2KleinPipeline,
    Flux2Pipeline,
    Flux2Transformer2DModel,
    FluxFillPipeline,
    FluxKontextPipeline,
    FluxPipeline,
    FluxTransformer2DModel,
)
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    Mistral3Config,
    Mistral3ForConditionalGeneration,
    MistralConfig,
    PixtralVisionConfig,
    Qwen3Config,
    Qwen3ForCausalLM,
    T5Config,
    T5EncoderModel,
)

from fluxserve.engine.demo import flux1 as demo_flux1
from fluxserve.engine.demo import flux2 as demo_flux2
from fluxserve.engine.demo.tokenizers import (
    clip_tokenizer,
    mistral_tokenizer,
    qwen_tokenizer,
    t5_tokenizer,
)
from fluxserve.engine.loading import random_configs as cfg
from fluxserve.engine.loading.random_configs import Scale
from fluxserve.engine.pipelines import Pipeline
from fluxserve.errors import ModelNotFound

RANDOM_SEED = 0


@contextmanager
def placement(device: str | torch.device, dtype: torch.dtype) -> Iterator[None]:
    """New tensors go to `device` in `dtype` (modules initialise there, never on the CPU first).

    The default dtype is process state: build from one thread at a time (the engine does)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device), torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_SEED)
            yield
    finally:
        torch.set_default_dtype(previous)


def _make(cls: Any, /, *args: Any, **kwargs: Any) -> torch.nn.Module:
    """`cls(*args, **kwargs)` in eval mode, as from_pretrained returns it (T5 dropout). No cast:
    parameters are made in the target dtype, and buffers some classes keep in float32 on purpose
    (rotary frequencies) stay so, as after from_pretrained(dtype=...)."""
    module: torch.nn.Module = cls(*args, **kwargs)
    return module.eval()


def _flux1_encoders(scale: Scale) -> dict[str, Any]:
    tokenizer, tokenizer_2 = clip_tokenizer(), t5_tokenizer()
    clip = CLIPTextConfig(
        **cfg.CLIP_TEXT[scale],
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,  # the pooled output is read at end of text
        pad_token_id=tokenizer.eos_token_id,
    )
    t5 = T5Config(**cfg.T5_ENCODER[scale], is_encoder_decoder=False, use_cache=False)
    return {
        "tokenizer": tokenizer,
        "text_encoder": _make(CLIPTextModel, clip),
        "tokenizer_2": tokenizer_2,
        "text_encoder_2": _make(T5EncoderModel, t5),
        "vae": _make(AutoencoderKL, **cfg.FLUX1_VAE[scale]),
    }


def _flux1(pipeline_class: Any, *, guidance: bool, fill: bool = False) -> Callable[..., Pipeline]:
    def build(scale: Scale) -> Pipeline:
        shape = dict(cfg.FLUX1_TRANSFORMER[scale])
        packed_latents = shape["in_channels"]
        if fill:
            shape["in_channels"] = cfg.FLUX1_FILL_IN_CHANNELS
        transformer = _make(
            FluxTransformer2DModel, **shape, out_channels=packed_latents, guidance_embeds=guidance
        )
        return pipeline_class(
            **_flux1_encoders(scale),
            transformer=transformer,
            scheduler=demo_flux1.scheduler(dynamic_shift=guidance),
        )

    return build


def _flux2(
    pipeline_class: Any, scale: Scale, transformer: cfg.Config, encoder: Any, **parts: Any
) -> Pipeline:
    """A FLUX.2 pipeline: the FLUX.2 VAE and scheduler, `transformer`'s shape, the text encoder
    `encoder` (class, config), and `parts` (tokenizer, flags)."""
    pipe: Pipeline = pipeline_class(
        scheduler=demo_flux2.scheduler(),
        vae=_make(AutoencoderKLFlux2, **cfg.FLUX2_VAE[scale]),
        transformer=_make(Flux2Transformer2DModel, **transformer),
        text_encoder=_make(*encoder),
        **parts,
    )
    return pipe


def _klein(distilled: bool) -> Callable[..., Pipeline]:
    def build(scale: Scale) -> Pipeline:
        tokenizer = qwen_tokenizer()
        ids = {"eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id}
        qwen = (Qwen3ForCausalLM, Qwen3Config(**cfg.QWEN3[scale], **ids))
        transformer = cfg.KLEIN_TRANSFORMER[scale]
        return _flux2(
            Flux2KleinPipeline,
            scale,
            transformer,
            qwen,
            tokenizer=tokenizer,
            is_distilled=distilled,
        )

    return build


def _flux2_dev(scale: Scale) -> Pipeline:
    tokenizer = mistral_tokenizer()
    config = Mistral3Config(
        text_config=MistralConfig(**cfg.MISTRAL_TEXT[scale]),
        vision_config=PixtralVisionConfig(**cfg.PIXTRAL_VISION[scale]),
        image_token_index=tokenizer.get_vocab()["[IMG]"],
        tie_word_embeddings=False,
    )
    mistral = (Mistral3ForConditionalGeneration, config)
    return _flux2(
        Flux2Pipeline, scale, cfg.FLUX2_DEV_TRANSFORMER[scale], mistral, tokenizer=tokenizer
    )


BUILDERS: dict[str, Callable[[Scale], Pipeline]] = {
    "flux1-schnell": _flux1(FluxPipeline, guidance=False),
    "flux1-dev": _flux1(FluxPipeline, guidance=True),
    "flux1-fill-dev": _flux1(FluxFillPipeline, guidance=True, fill=True),
    "flux1-kontext-dev": _flux1(FluxKontextPipeline, guidance=True),
    "flux2-dev": _flux2_dev,
    "flux2-klein-4b": _klein(distilled=True),
    "flux2-klein-base-4b": _klein(distilled=False),
}


def build_random_pipeline(
    engine_model: str, scale: str, device: str | torch.device, dtype: torch.dtype
) -> Pipeline:
    """`engine_model`'s serving pipeline with random weights of `scale` (`full` or `tiny`),
    built on `device`."""
    builder = BUILDERS.get(engine_model)
    if builder is None:
        raise ModelNotFound(engine_model, "no random-weight architecture is known for it")
    if scale not in cfg.SCALES:
        raise ValueError(f"random weights come in scales {cfg.SCALES}, not {scale!r}")
    with placement(device, dtype):
        pipe = builder(scale)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def parameter_counts(engine_model: str, scale: str) -> dict[str, int]:
    """Parameters of each module of the pipeline, counted on the meta device (nothing is
    allocated, so full-size models count in seconds on any machine)."""
    pipe = build_random_pipeline(engine_model, scale, "meta", torch.bfloat16)
    return {
        name: sum(p.numel() for p in module.parameters())
        for name, module in pipe.components.items()
        if isinstance(module, torch.nn.Module)
    }
