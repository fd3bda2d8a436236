"""Loading one engine model's pipeline from its resolved weights."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import diffusers
import torch
import transformers

from fluxserve.catalog import ENGINE_MODELS
from fluxserve.engine.devices import resolve_device
from fluxserve.engine.loading.load_options import apply_load_options
from fluxserve.engine.loading.weights import WeightsSource
from fluxserve.engine.pipelines import Pipeline
from fluxserve.settings import Settings

logger = logging.getLogger("fluxserve.engine")

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class LoadError(Exception):
    """A model could not be loaded; it is disabled with this reason."""


@dataclass(frozen=True)
class ModelPlan:
    """Everything needed to load one engine model, decided before loading it."""

    engine_model: str
    source: WeightsSource
    device: str
    dtype: str  # a key of _DTYPES

    @property
    def torch_dtype(self) -> torch.dtype:
        return _DTYPES[self.dtype]


def quiet_library_progress() -> None:
    """Switch off diffusers' and transformers' loading progress bars: a server logs, it does
    not draw bars on stderr."""
    diffusers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]


def resolve_dtype(dtype: str, device: str) -> str:
    """`auto` is bfloat16 on CUDA (what FLUX weights ship in) and float32 on the CPU."""
    if dtype == "auto":
        return "bfloat16" if device.startswith("cuda") else "float32"
    return dtype


def plan_model(settings: Settings, source: WeightsSource) -> ModelPlan:
    config = settings.model(source.engine_model)
    device = resolve_device(config.device)
    return ModelPlan(source.engine_model, source, device, resolve_dtype(config.dtype, device))


def load_pipeline(settings: Settings, plan: ModelPlan, shared: Mapping[str, Any]) -> Pipeline:
    """Load `plan`'s pipeline, reusing the already-loaded `shared` components, and place it.

    Raises LoadError with a reason fit for /health when anything goes wrong, except running
    out of memory (torch.OutOfMemoryError passes through: the weights may be fine)."""
    pipeline_class = getattr(diffusers, ENGINE_MODELS[plan.engine_model].pipeline)
    try:
        if plan.source.kind == "random":
            pipe = _random_pipeline(settings, plan)
        else:
            location, revision = _location(settings, plan)
            pipe = pipeline_class.from_pretrained(
                location, revision=revision, dtype=plan.torch_dtype, **shared
            )
        apply_load_options(pipe, settings.engine, plan.device)
    except torch.OutOfMemoryError:
        raise  # memory pressure, not the weights' fault: the caller decides
    except Exception as exc:
        raise LoadError(f"loading {plan.source.location} failed: {_short(exc)}") from exc
    pipe.set_progress_bar_config(disable=True)
    if shared:
        logger.info("%s: sharing %s with a loaded family member", plan.engine_model, sorted(shared))
    return pipe


def _random_pipeline(settings: Settings, plan: ModelPlan) -> Pipeline:
    # Imported here: only speed and memory checks build random weights.
    from fluxserve.engine.loading.random_models import build_random_pipeline

    scale = plan.source.random_scale
    logger.warning(
        "%s: serving RANDOM %s-size weights (images are noise)", plan.engine_model, scale
    )
    build = partial(build_random_pipeline, plan.engine_model, scale, dtype=plan.torch_dtype)
    if settings.engine.cpu_offload and plan.device.startswith("cuda"):
        # Offloading moves every module to the CPU anyway, but initialising 12B random weights
        # there takes minutes; build on the GPU when it has room, else on the CPU.
        try:
            return build(device=plan.device)
        except torch.OutOfMemoryError:
            torch.cuda.empty_cache()
            logger.info("%s: no room on %s, building on the CPU", plan.engine_model, plan.device)
            return build(device="cpu")
    return build(device=plan.device)


def _location(settings: Settings, plan: ModelPlan) -> tuple[str, str | None]:
    source = plan.source
    if source.kind == "demo":
        # Imported here: the demo builders pull in tokenizer training code that real weights
        # never need.
        from fluxserve.engine.demo import ensure_demo_model

        folder: Path = ensure_demo_model(plan.engine_model, settings.demo_weights_dir)
        logger.warning(
            "%s: serving DEMO weights (tiny random, images are noise)", plan.engine_model
        )
        return str(folder), None
    if source.kind == "hub":
        logger.info("%s: loading %s@%s", plan.engine_model, source.location, source.revision)
        return source.location, source.revision
    logger.info("%s: loading %s", plan.engine_model, source.location)
    return source.location, None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}"[:300]
