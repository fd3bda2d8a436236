"""A diffusers pipeline as this package sees it: its static type, and its latent grid."""

from __future__ import annotations

from typing import Any, TypeAlias

# diffusers pipelines expose their components (transformer, vae, scheduler, ...) and LoRA
# methods as attributes that no static type describes, so code that uses them sees `Any`.
Pipeline: TypeAlias = Any


def latent_multiple(pipe: Pipeline) -> int:
    """The pixel size of one packed latent cell of `pipe` (16 for FLUX)."""
    return int(pipe.vae_scale_factor) * 2
