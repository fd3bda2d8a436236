"""Tiny FLUX.2 [klein] 4B and klein base 4B.

Both share one Qwen3 text encoder, its tokenizer and one VAE (same seeds); their transformers
differ. klein 4B is step-distilled (`is_distilled=True`: never runs classifier-free guidance);
klein base is not. Neither transformer has a guidance embedding: the pipeline passes none."""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import Flux2KleinPipeline
from transformers import Qwen3Config, Qwen3ForCausalLM

from fluxserve.engine.demo import dimensions, flux2
from fluxserve.engine.demo.construct import save_pipeline, seeded
from fluxserve.engine.demo.tokenizers import qwen_tokenizer

QWEN_SEED = 301
VAE_SEED = 302
KLEIN_SEED = 311
KLEIN_BASE_SEED = 312


def _qwen3(vocab_size: int, eos_id: int, pad_id: int) -> torch.nn.Module:
    size = dimensions.QWEN3
    config = Qwen3Config(
        vocab_size=vocab_size,
        hidden_size=size.hidden,
        intermediate_size=size.ffn,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        num_key_value_heads=1,
        head_dim=size.hidden // size.heads,
        max_position_embeddings=dimensions.CHAT_MAX_LENGTH,
        tie_word_embeddings=True,  # as in Qwen3-4B
        eos_token_id=eos_id,
        pad_token_id=pad_id,
    )
    return seeded(QWEN_SEED, Qwen3ForCausalLM, config)


def _build(dest: Path, *, transformer_seed: int, distilled: bool) -> None:
    tokenizer = qwen_tokenizer()
    save_pipeline(
        Flux2KleinPipeline,
        dest,
        scheduler=flux2.scheduler(),
        vae=flux2.vae(VAE_SEED),
        text_encoder=_qwen3(len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id),
        tokenizer=tokenizer,
        transformer=flux2.transformer(
            transformer_seed, text_hidden=dimensions.QWEN3.hidden, guidance=False
        ),
        is_distilled=distilled,
    )


def build_klein(dest: Path) -> None:
    """FLUX.2 [klein] 4B: step-distilled."""
    _build(dest, transformer_seed=KLEIN_SEED, distilled=True)


def build_klein_base(dest: Path) -> None:
    """FLUX.2 [klein] base 4B: undistilled (runs classifier-free guidance); LoRA trainers' base."""
    _build(dest, transformer_seed=KLEIN_BASE_SEED, distilled=False)
