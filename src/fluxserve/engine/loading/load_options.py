"""Load-time speed and memory options, applied to a freshly loaded pipeline: torchao
quantization, attention backend, CPU offload, regional compilation."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from fluxserve.engine.lora.slots import prepare_lora_slots
from fluxserve.engine.pipelines import Pipeline
from fluxserve.settings import EngineConfig

logger = logging.getLogger("fluxserve.engine")

# torchao configs for the transformer; fp8 needs compute capability >= 8.9 (Ada, Hopper).
_QUANTIZATION_CONFIGS = {
    "fp8": "Float8DynamicActivationFloat8WeightConfig",
    "int8": "Int8WeightOnlyConfig",
}


class LoadOptionError(Exception):
    """An operator option cannot be applied to a model; the model is disabled with this reason."""


def apply_load_options(pipe: Pipeline, config: EngineConfig, device: str) -> None:
    """Apply the operator's engine options to a freshly loaded pipeline and place it on `device`.

    CUDA-only options (quantization, CPU offload, regional compilation unless `compile_on_cpu`)
    are logged and ignored elsewhere. Raises LoadOptionError when an option cannot be honoured."""
    on_cuda = device.startswith("cuda")
    name = type(pipe).__name__
    if config.quantization != "none":
        if on_cuda:
            _quantize(pipe, config.quantization)
        else:
            logger.info("%s: quantization=%s ignored on %s", name, config.quantization, device)
    if config.attention_backend:
        try:
            pipe.transformer.set_attention_backend(config.attention_backend)
        except Exception as exc:
            raise LoadOptionError(
                f"attention backend {config.attention_backend!r} unavailable: {exc}"
            ) from exc
    _place(pipe, config, device, on_cuda)
    if config.compile_repeated_blocks:
        if on_cuda or config.compile_on_cpu:
            _compile(pipe, config)
        else:
            logger.info("%s: compile_repeated_blocks ignored on %s", name, device)


def _compile(pipe: Pipeline, config: EngineConfig) -> None:
    """Regional compilation, with LoRA slots added first: an adapter added to compiled blocks
    would compile them again, a LoRA swapped into a slot does not."""
    try:
        prepare_lora_slots(pipe.transformer, config.lora_slots, config.lora_max_rank)
    except Exception as exc:
        raise LoadOptionError(f"LoRA slots for the compiled transformer failed: {exc}") from exc
    pipe.transformer.compile_repeated_blocks(fullgraph=True)


def _place(pipe: Pipeline, config: EngineConfig, device: str, on_cuda: bool) -> None:
    if config.cpu_offload and on_cuda:
        pipe.enable_model_cpu_offload(device=device)
        return
    if config.cpu_offload:
        logger.info("%s: cpu_offload ignored on %s", type(pipe).__name__, device)
    pipe.to(device)


def _quantize(pipe: Pipeline, kind: str) -> None:
    try:
        quantization: Any = importlib.import_module("torchao.quantization")
    except ImportError as exc:
        raise LoadOptionError(
            f"quantization={kind} needs torchao, which is not installed (pip install torchao)"
        ) from exc
    config = getattr(quantization, _QUANTIZATION_CONFIGS[kind])()
    quantization.quantize_(pipe.transformer, config)
