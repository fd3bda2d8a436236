"""Tiny FLUX.1 family: schnell, dev, Fill and Kontext.

The four share one CLIP, one T5, their tokenizers and one VAE, built from the same seeds, so the
runtime can keep a single copy of those modules for the whole family. Only transformers differ."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AutoencoderKL,
    FluxFillPipeline,
    FluxKontextPipeline,
    FluxPipeline,
    FluxTransformer2DModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

from fluxserve.engine.demo import dimensions
from fluxserve.engine.demo.construct import flow_match_scheduler, save_pipeline, seeded
from fluxserve.engine.demo.tokenizers import clip_tokenizer, t5_tokenizer

CLIP_SEED = 101
T5_SEED = 102
VAE_SEED = 103
SCHNELL_SEED = 111
DEV_SEED = 112
FILL_SEED = 113
KONTEXT_SEED = 114

PACKED_LATENT_CHANNELS = dimensions.FLUX1_LATENT_CHANNELS * 4  # 2x2 patches
# Fill's transformer also reads the packed masked-image latents and the packed 8x8 mask.
FILL_IN_CHANNELS = PACKED_LATENT_CHANNELS * 2 + 8 * 8 * 4


def _clip(vocab_size: int, bos_id: int, eos_id: int) -> torch.nn.Module:
    config = CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=dimensions.CLIP.hidden,
        intermediate_size=dimensions.CLIP.ffn,
        projection_dim=dimensions.CLIP.hidden,
        num_hidden_layers=dimensions.CLIP.layers,
        num_attention_heads=dimensions.CLIP.heads,
        max_position_embeddings=dimensions.CLIP_MAX_LENGTH,
        bos_token_id=bos_id,
        eos_token_id=eos_id,  # the pooled output is read at the first end-of-text token
        pad_token_id=eos_id,
    )
    return seeded(CLIP_SEED, CLIPTextModel, config)


def _t5(vocab_size: int) -> torch.nn.Module:
    config = T5Config(
        vocab_size=vocab_size,
        d_model=dimensions.T5.hidden,
        d_kv=dimensions.T5.hidden // dimensions.T5.heads,
        d_ff=dimensions.T5.ffn,
        num_layers=dimensions.T5.layers,
        num_heads=dimensions.T5.heads,
        relative_attention_num_buckets=dimensions.T5_RELATIVE_BUCKETS,
        feed_forward_proj="gated-gelu",
        is_encoder_decoder=False,
        use_cache=False,
    )
    return seeded(T5_SEED, T5EncoderModel, config)


def _vae() -> torch.nn.Module:
    blocks = len(dimensions.VAE_BLOCKS)
    return seeded(
        VAE_SEED,
        AutoencoderKL,
        down_block_types=("DownEncoderBlock2D",) * blocks,
        up_block_types=("UpDecoderBlock2D",) * blocks,
        block_out_channels=dimensions.VAE_BLOCKS,
        latent_channels=dimensions.FLUX1_LATENT_CHANNELS,
        norm_num_groups=dimensions.VAE_NORM_GROUPS,
        layers_per_block=1,
        scaling_factor=0.3611,  # the real FLUX.1 VAE's values
        shift_factor=0.1159,
        sample_size=1024,  # and its tile size: tiled decodes cut 1024 px tiles, as on real weights
        use_quant_conv=False,
        use_post_quant_conv=False,
    )


def _transformer(
    seed: int, *, guidance: bool, in_channels: int = PACKED_LATENT_CHANNELS
) -> torch.nn.Module:
    size = dimensions.FLUX1_TRANSFORMER
    return seeded(
        seed,
        FluxTransformer2DModel,
        in_channels=in_channels,
        out_channels=PACKED_LATENT_CHANNELS,
        num_layers=size.double_layers,
        num_single_layers=size.single_layers,
        attention_head_dim=size.head_dim,
        num_attention_heads=size.heads,
        joint_attention_dim=dimensions.T5.hidden,
        pooled_projection_dim=dimensions.CLIP.hidden,
        guidance_embeds=guidance,
        axes_dims_rope=size.rope_axes,
    )


def scheduler(*, dynamic_shift: bool) -> object:
    # schnell: fixed shift 1.0; dev, Fill and Kontext: resolution-dependent shift.
    return flow_match_scheduler(
        shift=3.0 if dynamic_shift else 1.0,
        use_dynamic_shifting=dynamic_shift,
        base_shift=0.5,
        max_shift=1.15,
        base_image_seq_len=256,
        max_image_seq_len=4096,
    )


def shared_components() -> dict[str, Any]:
    """Text encoders, tokenizers and VAE common to the whole FLUX.1 family."""
    tokenizer = clip_tokenizer()
    tokenizer_2 = t5_tokenizer()
    return {
        "tokenizer": tokenizer,
        "text_encoder": _clip(len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id),
        "tokenizer_2": tokenizer_2,
        "text_encoder_2": _t5(len(tokenizer_2)),
        "vae": _vae(),
    }


def build_schnell(dest: Path) -> None:
    """FLUX.1 [schnell]: timestep-distilled, no guidance embedding."""
    save_pipeline(
        FluxPipeline,
        dest,
        **shared_components(),
        transformer=_transformer(SCHNELL_SEED, guidance=False),
        scheduler=scheduler(dynamic_shift=False),
    )


def build_dev(dest: Path) -> None:
    """FLUX.1 [dev]: guidance-distilled (guidance goes in as an embedding)."""
    save_pipeline(
        FluxPipeline,
        dest,
        **shared_components(),
        transformer=_transformer(DEV_SEED, guidance=True),
        scheduler=scheduler(dynamic_shift=True),
    )


def build_fill(dest: Path) -> None:
    """FLUX.1 Fill [dev]: inpainting, with masked-image and mask input channels."""
    save_pipeline(
        FluxFillPipeline,
        dest,
        **shared_components(),
        transformer=_transformer(FILL_SEED, guidance=True, in_channels=FILL_IN_CHANNELS),
        scheduler=scheduler(dynamic_shift=True),
    )


def build_kontext(dest: Path) -> None:
    """FLUX.1 Kontext [dev]: the standard transformer, reading the input image as extra tokens."""
    save_pipeline(
        FluxKontextPipeline,
        dest,
        **shared_components(),
        transformer=_transformer(KONTEXT_SEED, guidance=True),
        scheduler=scheduler(dynamic_shift=True),
    )
