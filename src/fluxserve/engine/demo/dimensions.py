"""Every tiny dimension of the demo models, in one place.

The shapes that pipelines check against each other are derived here, not repeated: the FLUX.1
transformer reads the T5 width as `joint_attention_dim` and the CLIP width as
`pooled_projection_dim`; FLUX.2 stacks three text-encoder layers, so its `joint_attention_dim` is
three times the text width. Text encoders for FLUX.2 are as deep as the layer indices the
pipelines read by default ((9, 18, 27) for klein, (10, 20, 30) for dev) plus one, so a call with
default arguments works for tiny and real weights alike."""

from __future__ import annotations

from dataclasses import dataclass

# Shared by every tokenizer: byte-level BPE learned from a fixed corpus.
BPE_MERGES = 192

# VAEs: four blocks so vae_scale_factor = 2 ** 3 = 8, as in the real models.
VAE_BLOCKS = (4, 4, 4, 4)
VAE_NORM_GROUPS = 2
FLUX1_LATENT_CHANNELS = 16  # real FLUX.1 value; Fill's 384 input channels depend on it
FLUX2_LATENT_CHANNELS = 32  # real FLUX.2 value


@dataclass(frozen=True)
class TextEncoderSize:
    """Width and depth of one tiny text encoder."""

    hidden: int
    layers: int
    heads: int
    ffn: int


CLIP = TextEncoderSize(hidden=32, layers=2, heads=2, ffn=37)
CLIP_MAX_LENGTH = 77
T5 = TextEncoderSize(hidden=32, layers=2, heads=4, ffn=37)
T5_MAX_LENGTH = 512
T5_RELATIVE_BUCKETS = 8
QWEN3 = TextEncoderSize(hidden=16, layers=28, heads=2, ffn=32)  # klein reads layers 9, 18, 27
MISTRAL = TextEncoderSize(hidden=16, layers=31, heads=2, ffn=32)  # dev reads layers 10, 20, 30
PIXTRAL = TextEncoderSize(hidden=16, layers=1, heads=2, ffn=32)  # unused by the pipeline
PIXTRAL_IMAGE_SIZE = 32
PIXTRAL_PATCH = 4
CHAT_MAX_LENGTH = 1024  # tokenizer default; pipelines pass their own max_sequence_length


@dataclass(frozen=True)
class TransformerSize:
    """Depth and attention shape of one tiny denoising transformer."""

    double_layers: int
    single_layers: int
    heads: int
    head_dim: int
    rope_axes: tuple[int, ...]  # sums to head_dim


FLUX1_TRANSFORMER = TransformerSize(1, 1, heads=2, head_dim=16, rope_axes=(4, 6, 6))
FLUX2_TRANSFORMER = TransformerSize(1, 1, heads=2, head_dim=16, rope_axes=(4, 4, 4, 4))
FLUX2_TIMESTEP_CHANNELS = 32
