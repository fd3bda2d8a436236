"""The typed messages between the worker and the engine. Plain dataclasses, no torch:
they cross a process boundary and are imported by code that must not load torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fluxserve.vocabulary import Acceleration, Operation


@dataclass(frozen=True)
class LoraRef:
    """A LoRA file on local disk, applied at `scale` for one request."""

    name: str
    path: str
    scale: float = 1.0


@dataclass(frozen=True)
class GenerateTask:
    """One generation request: one prompt, one image per seed."""

    engine_model: str
    operation: Operation
    prompt: str
    width: int
    height: int
    steps: int
    seeds: tuple[int, ...]
    guidance: float | None = None
    strength: float | None = None
    image: bytes | None = None  # encoded input image (any format PIL reads)
    mask: bytes | None = None  # white = repaint, black = keep
    acceleration: Acceleration = "none"
    loras: tuple[LoraRef, ...] = ()

    def batch_key(self) -> tuple[Any, ...]:
        """Tasks with equal keys may run as one pipeline call."""
        return (
            self.engine_model,
            self.operation,
            self.width,
            self.height,
            self.steps,
            self.guidance,
            self.strength,
            self.acceleration,
            self.loras,
            self.image is None and self.mask is None,
        )


@dataclass(frozen=True)
class TrainTask:
    """Train a LoRA on the transformer of `engine_model`."""

    engine_model: str
    images: tuple[bytes, ...]
    captions: tuple[str | None, ...]
    trigger: str
    steps: int
    learning_rate: float
    rank: int
    seed: int
    work_dir: str  # checkpoints live here; an existing checkpoint is resumed
    output_path: str  # the .safetensors file to write
    resolution: int = 512
    checkpoint_every: int = 10


@dataclass(frozen=True)
class Progress:
    step: int
    total: int
    loss: float | None = None


@dataclass(frozen=True)
class TrainResult:
    lora_path: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelStatus:
    """What the engine says about one engine model, for /health and the catalog."""

    engine_model: str
    weights: str  # a path, a hub id, or "demo"
    demo: bool
    enabled: bool
    loaded: bool
    reason: str | None = None
