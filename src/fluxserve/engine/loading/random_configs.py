"""Published configurations of the real FLUX components, and tiny ones of the same classes.

Speed and memory do not depend on the values of the weights, so a model built from these configs
with random weights does exactly the work of the real one. The `full` values are those of the
config files in the published repositories (FLUX.1-dev/schnell transformer, VAE and encoders:
black-forest-labs/FLUX.1-dev; CLIP-L: openai/clip-vit-large-patch14; T5-XXL:
google/t5-v1_1-xxl; FLUX.2-klein-4B with Qwen3-4B; FLUX.2-dev with Mistral-Small-3.1-24B), so
nothing is downloaded. The `tiny` values keep every class and every shape the pipelines check
against each other (latent channels, VAE depth, the text width the transformer reads), at widths
that run in milliseconds on a CPU."""

from __future__ import annotations

from typing import Any, Literal

Scale = Literal["full", "tiny"]
SCALES: tuple[Scale, ...] = ("full", "tiny")

Config = dict[str, Any]

# Tiny text encoders: the demo tokenizers use ~460 ids. (A real vocabulary would make the
# causal-LM encoders' logits over 512 tokens the bulk of a tiny CPU run.)
TINY_VOCAB = 1024

_FOUR_DOWN = ("DownEncoderBlock2D",) * 4
_FOUR_UP = ("UpDecoderBlock2D",) * 4

# FluxTransformer2DModel: 19 double-stream + 38 single-stream blocks, 24 heads x 128 (~11.9B).
FLUX1_TRANSFORMER: dict[Scale, Config] = {
    "full": {
        "in_channels": 64,
        "num_layers": 19,
        "num_single_layers": 38,
        "attention_head_dim": 128,
        "num_attention_heads": 24,
        "joint_attention_dim": 4096,  # the T5-XXL width
        "pooled_projection_dim": 768,  # the CLIP-L width
        "axes_dims_rope": (16, 56, 56),
    },
    "tiny": {
        "in_channels": 64,
        "num_layers": 1,
        "num_single_layers": 1,
        "attention_head_dim": 16,
        "num_attention_heads": 2,
        "joint_attention_dim": 32,
        "pooled_projection_dim": 32,
        "axes_dims_rope": (4, 6, 6),
    },
}
# FLUX.1 Fill reads the packed masked-image latents (64) and the packed 8x8 mask (256) too.
FLUX1_FILL_IN_CHANNELS = 64 + 64 + 256

# T5EncoderModel of google/t5-v1_1-xxl (~4.76B).
T5_ENCODER: dict[Scale, Config] = {
    "full": {
        "vocab_size": 32128,
        "d_model": 4096,
        "d_kv": 64,
        "d_ff": 10240,
        "num_layers": 24,
        "num_heads": 64,
        "relative_attention_num_buckets": 32,
        "relative_attention_max_distance": 128,
        "feed_forward_proj": "gated-gelu",
        "layer_norm_epsilon": 1e-6,
    },
    "tiny": {
        "vocab_size": TINY_VOCAB,
        "d_model": 32,
        "d_kv": 8,
        "d_ff": 37,
        "num_layers": 2,
        "num_heads": 4,
        "relative_attention_num_buckets": 8,
        "relative_attention_max_distance": 128,
        "feed_forward_proj": "gated-gelu",
        "layer_norm_epsilon": 1e-6,
    },
}

# CLIPTextModel of openai/clip-vit-large-patch14 (~123M).
CLIP_TEXT: dict[Scale, Config] = {
    "full": {
        "vocab_size": 49408,
        "hidden_size": 768,
        "intermediate_size": 3072,
        "projection_dim": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "max_position_embeddings": 77,
        "hidden_act": "quick_gelu",
    },
    "tiny": {
        "vocab_size": TINY_VOCAB,
        "hidden_size": 32,
        "intermediate_size": 37,
        "projection_dim": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "max_position_embeddings": 77,
        "hidden_act": "quick_gelu",
    },
}

# AutoencoderKL of FLUX.1 (~84M): 16 latent channels, no quant convs.
FLUX1_VAE: dict[Scale, Config] = {
    "full": {
        "down_block_types": _FOUR_DOWN,
        "up_block_types": _FOUR_UP,
        "block_out_channels": (128, 256, 512, 512),
        "layers_per_block": 2,
        "latent_channels": 16,
        "norm_num_groups": 32,
        "sample_size": 1024,
        "scaling_factor": 0.3611,
        "shift_factor": 0.1159,
        "use_quant_conv": False,
        "use_post_quant_conv": False,
    },
    "tiny": {
        "down_block_types": _FOUR_DOWN,
        "up_block_types": _FOUR_UP,
        "block_out_channels": (4, 4, 4, 4),  # four blocks: scale factor 8, as the real one
        "layers_per_block": 1,
        "latent_channels": 16,
        "norm_num_groups": 2,
        "scaling_factor": 0.3611,
        "shift_factor": 0.1159,
        "use_quant_conv": False,
        "use_post_quant_conv": False,
    },
}

# AutoencoderKLFlux2: the class defaults are the published FLUX.2 VAE (32 latent channels).
FLUX2_VAE: dict[Scale, Config] = {
    "full": {},
    "tiny": {"block_out_channels": (4, 4, 4, 4), "layers_per_block": 1, "norm_num_groups": 2},
}

# Flux2Transformer2DModel of FLUX.2-klein-4B: 5 double + 20 single blocks, 24 heads x 128,
# reading three stacked Qwen3-4B layers (3 x 2560).
KLEIN_TRANSFORMER: dict[Scale, Config] = {
    "full": {
        "num_layers": 5,
        "num_single_layers": 20,
        "attention_head_dim": 128,
        "num_attention_heads": 24,
        "joint_attention_dim": 7680,
        "timestep_guidance_channels": 256,
        "axes_dims_rope": (32, 32, 32, 32),
        "guidance_embeds": False,
    },
    "tiny": {
        "num_layers": 1,
        "num_single_layers": 1,
        "attention_head_dim": 16,
        "num_attention_heads": 2,
        "joint_attention_dim": 48,
        "timestep_guidance_channels": 32,
        "axes_dims_rope": (4, 4, 4, 4),
        "guidance_embeds": False,
    },
}

# Flux2Transformer2DModel of FLUX.2-dev (~32B): 8 double + 48 single blocks, 48 heads x 128,
# reading three stacked Mistral-Small layers (3 x 5120).
FLUX2_DEV_TRANSFORMER: dict[Scale, Config] = {
    "full": {
        "num_layers": 8,
        "num_single_layers": 48,
        "attention_head_dim": 128,
        "num_attention_heads": 48,
        "joint_attention_dim": 15360,
        "timestep_guidance_channels": 256,
        "axes_dims_rope": (32, 32, 32, 32),
        "guidance_embeds": True,
    },
    "tiny": {**KLEIN_TRANSFORMER["tiny"], "guidance_embeds": True},
}

# Qwen3ForCausalLM of Qwen3-4B (klein's text encoder; klein reads layers 9, 18 and 27).
QWEN3: dict[Scale, Config] = {
    "full": {
        "vocab_size": 151936,
        "hidden_size": 2560,
        "intermediate_size": 9728,
        "num_hidden_layers": 36,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "max_position_embeddings": 40960,
        "rope_theta": 1000000.0,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": True,
    },
    "tiny": {
        "vocab_size": TINY_VOCAB,
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 28,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "head_dim": 8,
        "max_position_embeddings": 40960,
        "rope_theta": 1000000.0,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": True,
    },
}

# Mistral3ForConditionalGeneration of Mistral-Small-3.1-24B (FLUX.2-dev's text encoder; the
# pipeline reads text layers 10, 20 and 30; the Pixtral vision tower only costs memory).
MISTRAL_TEXT: dict[Scale, Config] = {
    "full": {
        "vocab_size": 131072,
        "hidden_size": 5120,
        "intermediate_size": 32768,
        "num_hidden_layers": 40,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "max_position_embeddings": 131072,
        "rope_theta": 1000000000.0,
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False,
    },
    "tiny": {
        "vocab_size": TINY_VOCAB,
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 31,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "head_dim": 8,
        "max_position_embeddings": 131072,
        "rope_theta": 1000000000.0,
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False,
    },
}
PIXTRAL_VISION: dict[Scale, Config] = {
    "full": {
        "hidden_size": 1024,
        "intermediate_size": 4096,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "head_dim": 64,
        "image_size": 1540,
        "patch_size": 14,
    },
    "tiny": {
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "head_dim": 8,
        "image_size": 32,
        "patch_size": 4,
    },
}
