"""Construction helpers: seeded eval-mode modules, schedulers, and saving a pipeline folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from diffusers import FlowMatchEulerDiscreteScheduler


def seeded(seed: int, cls: Any, /, *args: Any, **kwargs: Any) -> torch.nn.Module:
    """`cls(*args, **kwargs)` under torch seed `seed`, in eval mode (T5 dropout would make one
    seed give different images), the caller's random state untouched. That state is per
    process: build from one thread at a time."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module: torch.nn.Module = cls(*args, **kwargs)
    return module.eval()


def flow_match_scheduler(**settings: Any) -> object:
    """The flow-matching Euler scheduler every FLUX pipeline uses, with `settings`."""
    # diffusers leaves this constructor unannotated.
    scheduler: object = FlowMatchEulerDiscreteScheduler(**settings)  # type: ignore[no-untyped-call]
    return scheduler


def save_pipeline(pipeline_cls: Any, dest: Path, **components: Any) -> None:
    """Assemble `pipeline_cls` from `components` and write it as a diffusers folder."""
    pipeline_cls(**components).save_pretrained(dest)
