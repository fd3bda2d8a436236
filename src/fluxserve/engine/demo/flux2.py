"""Tiny FLUX.2 [dev], and the FLUX.2 parts that klein reuses (VAE, transformer, scheduler).

FLUX.2-dev's real tokenizer is a PixtralProcessor (which needs torchvision); the pipeline only
calls `apply_chat_template` on it, so a plain tokenizer with Mistral's chat template stands in."""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import AutoencoderKLFlux2, Flux2Pipeline, Flux2Transformer2DModel
from transformers import (
    Mistral3Config,
    Mistral3ForConditionalGeneration,
    MistralConfig,
    PixtralVisionConfig,
)

from fluxserve.engine.demo import dimensions
from fluxserve.engine.demo.construct import flow_match_scheduler, save_pipeline, seeded
from fluxserve.engine.demo.tokenizers import mistral_tokenizer

MISTRAL_SEED = 201
DEV_VAE_SEED = 202
DEV_TRANSFORMER_SEED = 211

STACKED_TEXT_LAYERS = 3  # both FLUX.2 pipelines concatenate three text-encoder hidden states


def vae(seed: int) -> torch.nn.Module:
    """A FLUX.2 VAE with four blocks (scale factor 8) and the real 32 latent channels."""
    blocks = len(dimensions.VAE_BLOCKS)
    return seeded(
        seed,
        AutoencoderKLFlux2,
        down_block_types=("DownEncoderBlock2D",) * blocks,
        up_block_types=("UpDecoderBlock2D",) * blocks,
        block_out_channels=dimensions.VAE_BLOCKS,
        latent_channels=dimensions.FLUX2_LATENT_CHANNELS,
        norm_num_groups=dimensions.VAE_NORM_GROUPS,
        layers_per_block=1,
    )


def transformer(seed: int, *, text_hidden: int, guidance: bool) -> torch.nn.Module:
    """A FLUX.2 transformer for a text encoder of width `text_hidden`."""
    size = dimensions.FLUX2_TRANSFORMER
    return seeded(
        seed,
        Flux2Transformer2DModel,
        in_channels=dimensions.FLUX2_LATENT_CHANNELS * 4,  # 2x2 patches
        num_layers=size.double_layers,
        num_single_layers=size.single_layers,
        attention_head_dim=size.head_dim,
        num_attention_heads=size.heads,
        joint_attention_dim=STACKED_TEXT_LAYERS * text_hidden,
        timestep_guidance_channels=dimensions.FLUX2_TIMESTEP_CHANNELS,
        axes_dims_rope=size.rope_axes,
        guidance_embeds=guidance,
    )


def scheduler() -> object:
    """The FLUX.2 scheduler settings (the pipelines compute their own shift `mu`)."""
    return flow_match_scheduler(
        shift=3.0,
        use_dynamic_shifting=True,
        base_shift=0.5,
        max_shift=1.15,
        base_image_seq_len=256,
        max_image_seq_len=4096,
        time_shift_type="exponential",
    )


def _mistral(vocab_size: int, image_token_id: int) -> torch.nn.Module:
    text = dimensions.MISTRAL
    vision = dimensions.PIXTRAL
    config = Mistral3Config(
        text_config=MistralConfig(
            vocab_size=vocab_size,
            hidden_size=text.hidden,
            intermediate_size=text.ffn,
            num_hidden_layers=text.layers,
            num_attention_heads=text.heads,
            num_key_value_heads=1,
            head_dim=text.hidden // text.heads,
            max_position_embeddings=dimensions.CHAT_MAX_LENGTH,
            tie_word_embeddings=False,
        ),
        vision_config=PixtralVisionConfig(
            hidden_size=vision.hidden,
            intermediate_size=vision.ffn,
            num_hidden_layers=vision.layers,
            num_attention_heads=vision.heads,
            image_size=dimensions.PIXTRAL_IMAGE_SIZE,
            patch_size=dimensions.PIXTRAL_PATCH,
        ),
        image_token_index=image_token_id,
        tie_word_embeddings=False,
    )
    return seeded(MISTRAL_SEED, Mistral3ForConditionalGeneration, config)


def build_dev(dest: Path) -> None:
    """FLUX.2 [dev]: Mistral 3 text encoder, guidance-distilled transformer."""
    tokenizer = mistral_tokenizer()
    save_pipeline(
        Flux2Pipeline,
        dest,
        scheduler=scheduler(),
        vae=vae(DEV_VAE_SEED),
        text_encoder=_mistral(len(tokenizer), tokenizer.get_vocab()["[IMG]"]),
        tokenizer=tokenizer,
        transformer=transformer(
            DEV_TRANSFORMER_SEED, text_hidden=dimensions.MISTRAL.hidden, guidance=True
        ),
    )
