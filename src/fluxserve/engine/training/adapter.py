"""The trainable LoRA adapter on a FLUX.2 transformer: attached for one training, then removed.

The transformer is shared with generation, which may keep other (disabled) LoRAs loaded. The
training adapter gets its own name, is the only active one while training, and on exit the
transformer gets back its adapters, their active set and enabled state, its parameters'
`requires_grad` flags and its train/eval mode — or, when it had no adapters, its original
modules (every peft wrapper removed)."""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from diffusers.training_utils import cast_training_params
from peft import LoraConfig, get_peft_model_state_dict
from peft.tuners.tuners_utils import BaseTunerLayer

from fluxserve.engine.pipelines import Pipeline

ADAPTER_NAME = "fluxserve_training"

# Full-name regex (peft matches it with re.fullmatch). Dual-stream blocks have separate q/k/v
# and feed-forward layers for image and text; single-stream blocks fuse q, k, v and the MLP
# input into `attn.to_qkv_mlp_proj` and the attention and MLP outputs into a plain `attn.to_out`
# (not the `to_out.0` of the dual-stream blocks), so those two must be named or the LoRA would
# never reach the single-stream half of the model.
FLUX2_TARGET_MODULES = (
    r"transformer_blocks\.\d+\."
    r"(attn\.(to_q|to_k|to_v|to_out\.0|add_q_proj|add_k_proj|add_v_proj|to_add_out)"
    r"|ff\.linear_in|ff\.linear_out|ff_context\.linear_in|ff_context\.linear_out)"
    r"|single_transformer_blocks\.\d+\.attn\.(to_qkv_mlp_proj|to_out)"
)


@contextmanager
def training_adapter(
    transformer: Any, rank: int, seed: int
) -> Iterator[dict[str, torch.nn.Parameter]]:
    """Attach a fresh LoRA (rank `rank`, alpha = rank, initialised from `seed`) to
    `transformer` (a diffusers model with peft support) and yield the LoRA parameters by name,
    the only trainable ones, in float32. Restores the transformer on exit."""
    grad_flags = [(p, p.requires_grad) for p in transformer.parameters()]
    was_training = transformer.training
    had_adapters = bool(getattr(transformer, "peft_config", None))
    previous_active = list(transformer.active_adapters()) if had_adapters else []
    previous_enabled = _adapters_enabled(transformer)
    config = LoraConfig(
        r=rank, lora_alpha=rank, lora_dropout=0.0, target_modules=FLUX2_TARGET_MODULES
    )
    with torch.random.fork_rng(), warnings.catch_warnings():
        # Several adapters side by side is the point here, not a mistake to warn about.
        warnings.filterwarnings("ignore", message="Already found a `peft_config`")
        # peft draws the initial lora_A weights from the global generator.
        torch.manual_seed(seed)
        transformer.add_adapter(config, adapter_name=ADAPTER_NAME)
    try:
        transformer.set_adapter(ADAPTER_NAME)
        transformer.enable_adapters()
        transformer.requires_grad_(False)
        params = {
            name: p for name, p in transformer.named_parameters() if f".{ADAPTER_NAME}." in name
        }
        for param in params.values():
            param.requires_grad_(True)
        # Low-precision base weights are fine frozen; the trained weights need float32 updates.
        cast_training_params(transformer, dtype=torch.float32)
        transformer.train()
        yield params
    finally:
        if had_adapters:
            with warnings.catch_warnings():
                # peft reports re-activating the old adapters, which is what happens next.
                warnings.filterwarnings("ignore", message=f"Adapter {ADAPTER_NAME} was active")
                transformer.delete_adapters(ADAPTER_NAME)
            transformer.set_adapter(previous_active)
            if not previous_enabled:
                transformer.disable_adapters()
        else:
            transformer.unload_lora()
        for param, flag in grad_flags:
            param.requires_grad_(flag)
        transformer.train(was_training)


def save_adapter(pipe: Pipeline, output_path: Path) -> None:
    """Write the training adapter in diffusers' LoRA format (loadable with the pipeline's
    `load_lora_weights`), atomically: a temporary sibling renamed into place."""
    transformer = pipe.transformer
    state = get_peft_model_state_dict(transformer, adapter_name=ADAPTER_NAME)
    state = {key: value.detach().to("cpu").contiguous() for key, value in state.items()}
    metadata = transformer.peft_config[ADAPTER_NAME].to_dict()
    output_path.parent.mkdir(parents=True, exist_ok=True)
    fd, scratch = tempfile.mkstemp(
        prefix=f".{output_path.stem}.", suffix=".safetensors", dir=output_path.parent
    )
    os.close(fd)
    try:
        type(pipe).save_lora_weights(
            save_directory=output_path.parent,
            transformer_lora_layers=state,
            weight_name=Path(scratch).name,
            transformer_lora_adapter_metadata=metadata,
        )
        os.replace(scratch, output_path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


def _adapters_enabled(transformer: Any) -> bool:
    layers = [m for m in transformer.modules() if isinstance(m, BaseTunerLayer)]
    return not layers or not all(layer.disable_adapters for layer in layers)
