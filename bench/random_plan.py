"""What `gpu_models.py --random-full-size` measures: engine settings, and which model runs what.

Each `Group` is one engine build (a fresh in-process `LocalEngine` serving `random:full` or
`random:tiny` weights with the setting's engine options); its `Measure`s are timed calls on it.
Groups run in this order and the most wanted numbers come first, so a run that hits its time
budget loses the least useful rows. Sized to fit 10 minutes on one H100/H200, compile included
(an estimate from public figures, not yet timed on a GPU): 1024x1024, the API's default steps,
one timed call per measure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Setting:
    """Engine options (EngineConfig fields) for one build."""

    engine: dict[str, Any]
    card_gib: float | None = None  # offload presets: the card size peak memory must fit in
    needs_torchao: bool = False


SETTINGS: dict[str, Setting] = {
    "bf16 eager": Setting({}),
    "compile": Setting({"compile_repeated_blocks": True}),
    "fp8+compile": Setting(
        {"quantization": "fp8", "compile_repeated_blocks": True}, needs_torchao=True
    ),
    # Model offload moves each component to the GPU only while it runs. A bf16 FLUX.1
    # transformer alone is 23.8 GB, so both presets use the fp8 transformer (11.9 GB); the
    # 16 GB one also decodes in VAE tiles, which caps the decoder's activation peak.
    "offload 24GB": Setting(
        {"cpu_offload": True, "quantization": "fp8"}, card_gib=24, needs_torchao=True
    ),
    "offload 16GB": Setting(
        {"cpu_offload": True, "quantization": "fp8", "vae_tiling_min_pixels": 0},
        card_gib=16,
        needs_torchao=True,
    ),
}


@dataclass(frozen=True)
class Measure:
    """One timed call: images per call, acceleration level, steps (None: the API default)."""

    batch: int = 1
    acceleration: str = "none"
    steps: int | None = None


@dataclass(frozen=True)
class Group:
    model: str
    setting: str
    measures: tuple[Measure, ...] = field(default=(Measure(),))
    min_gpu_gib: float = 0.0  # skipped (with a note) on a smaller GPU


EAGER_BATCHES = (Measure(1), Measure(2), Measure(4))
# Caching skips by the data; with random weights only its per-step cost means anything.
CACHED = Measure(1, acceleration="regular")
# FLUX.2-dev: a 32B transformer beside a 24B text encoder, 112 GB in bf16.
FLUX2_DEV_MIN_GIB = 125.0

PLAN: tuple[Group, ...] = (
    Group("flux1-dev", "bf16 eager", (*EAGER_BATCHES, CACHED)),
    Group("flux1-schnell", "bf16 eager", EAGER_BATCHES),
    # klein: the API's default (25 steps) and the distilled model's own 4.
    Group("flux2-klein-4b", "bf16 eager", (*EAGER_BATCHES, Measure(1, steps=4), CACHED)),
    Group("flux1-dev", "compile"),
    Group("flux1-schnell", "compile"),
    Group("flux2-klein-4b", "compile", (Measure(), Measure(1, steps=4))),
    Group("flux1-dev", "fp8+compile"),
    Group("flux1-schnell", "fp8+compile"),
    Group("flux2-klein-4b", "fp8+compile", (Measure(), Measure(1, steps=4))),
    Group("flux1-dev", "offload 24GB"),
    Group("flux1-dev", "offload 16GB"),
    Group("flux2-dev", "bf16 eager", min_gpu_gib=FLUX2_DEV_MIN_GIB),
)
