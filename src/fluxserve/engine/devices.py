"""Which torch device a setting of "auto" means, without importing diffusers (the image
classifier runs in processes that only check images)."""

from __future__ import annotations

import torch


def resolve_device(device: str) -> str:
    """`auto` is the first CUDA device when there is one, else the CPU."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device
