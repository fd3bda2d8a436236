"""The static type of a diffusers pipeline as this package sees it."""

from __future__ import annotations

from typing import Any, TypeAlias

# diffusers pipelines expose their components (transformer, vae, scheduler, ...) and LoRA
# methods as attributes that no static type describes, so code that uses them sees `Any`.
Pipeline: TypeAlias = Any
