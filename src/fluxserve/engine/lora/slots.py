"""LoRAs for a compiled transformer: a fixed set of adapter slots, filled by hot-swapping.

Adding a peft adapter changes the transformer's modules, and torch.compile then compiles the
blocks again. So when the blocks are compiled, the adapters exist before compilation:
`prepare_lora_slots` adds `slots` LoRA adapters of rank `max_rank` on every linear layer of the
transformer, all active, and turns their scalings into tensors (peft's
`prepare_model_for_compiled_hotswap`). A request's i-th LoRA is then copied into slot i in place
(diffusers' `load_lora_weights(..., hotswap=True)`: smaller ranks are zero-padded, layers it does
not touch are zeroed) and its scale written into the slot's scaling tensors. Between calls every
slot's scaling is 0: each slot adds exactly zero, so a request without LoRAs gets the pixels it
got before any LoRA was loaded, from the same compiled graph, with no recompilation.

Only what a swap can keep in place is accepted: plain LoRA weights on the transformer's linear
layers, of rank at most `max_rank`; anything else is refused with `InvalidRequest` before the
slot is touched. The adapter settings a swap cannot change (per-layer alphas, dropout, DoRA,
rsLoRA) are compared by diffusers while swapping; it deletes the slot when they differ, so the
slot is rebuilt (and the blocks compile once more) before the request is refused."""

from __future__ import annotations

import logging
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from diffusers.utils.state_dict_utils import convert_unet_state_dict_to_peft
from peft import LoraConfig
from peft.tuners.lora import LoraLayer
from peft.utils.hotswap import prepare_model_for_compiled_hotswap

from fluxserve.engine.boundary.messages import LoraRef
from fluxserve.engine.lora.adapters import adapter_name
from fluxserve.engine.pipelines import Pipeline
from fluxserve.errors import InvalidRequest

logger = logging.getLogger("fluxserve.engine")

# Single digits after the prefix: diffusers matches adapter names as substrings.
SLOT_PREFIX = "fluxserve_slot_"
MAX_SLOTS = 10
MAX_CHECKED = 256  # LoRAs remembered as fitting, so that swapping one back reads it once


def slot_names(transformer: Any) -> list[str]:
    """The slot adapters prepared on `transformer`, in slot order; empty when it has none."""
    config: Mapping[str, Any] = getattr(transformer, "peft_config", None) or {}
    return sorted(name for name in config if name.startswith(SLOT_PREFIX))


def prepare_lora_slots(transformer: Any, slots: int, max_rank: int) -> None:
    """Add `slots` empty LoRA slots of rank `max_rank` to `transformer`. Call it before
    compiling the transformer and before any other adapter is loaded."""
    if not 1 <= slots <= MAX_SLOTS:
        raise ValueError(f"slots must be 1..{MAX_SLOTS}, not {slots}")
    if getattr(transformer, "peft_config", None):
        raise ValueError("prepare LoRA slots before any other adapter is loaded")
    targets = _linear_layers(transformer)
    names = [f"{SLOT_PREFIX}{i}" for i in range(slots)]
    for name in names:
        _add_slot(transformer, name, targets, max_rank)
    _activate_slots(transformer, names)


@dataclass
class _Slot:
    name: str
    holder: str | None = None  # adapter_name() of the LoRA in it
    label: str | None = None  # that LoRA's name, as requested
    # The slot's scaling tensor in every LoRA layer, and each one's value at scale 1 for the
    # LoRA it holds (peft sets alpha / rank per layer when swapping).
    live: list[torch.Tensor] = field(default_factory=list)
    unit: list[torch.Tensor] = field(default_factory=list)


class LoraSlots:
    """The LoRA slots of one compiled pipeline (and the variants that share its transformer)."""

    def __init__(self, pipe: Pipeline) -> None:
        self._pipe = pipe
        transformer = pipe.transformer
        names = slot_names(transformer)
        if not names:
            raise ValueError("the transformer has no LoRA slots (see prepare_lora_slots)")
        self._max_rank = int(transformer.peft_config[names[0]].r)
        self._shapes = _slot_shapes(transformer, names[0])
        self._slots = [_Slot(name) for name in names]
        self._fitting: OrderedDict[str, None] = OrderedDict()  # adapter_name()s that fit
        for slot in self._slots:
            slot.live = _scalings(transformer, slot.name)
            _zero(slot)

    @contextmanager
    def applied(self, loras: tuple[LoraRef, ...]) -> Iterator[None]:
        """Swap `loras` into the slots (the i-th into slot i) and apply their scales for the
        body; every slot is back at scale 0 afterwards."""
        if not loras:
            yield
            return
        if len(loras) > len(self._slots):
            raise InvalidRequest(
                f"this server serves at most {len(self._slots)} LoRA(s) per request "
                f"(engine.lora_slots), {len(loras)} asked"
            )
        try:
            for slot, ref in zip(self._slots, loras, strict=False):
                self._fill(slot, ref)
                for live, unit in zip(slot.live, slot.unit, strict=True):
                    torch.mul(unit, ref.scale, out=live)
            yield
        finally:
            for slot in self._slots:
                _zero(slot)

    def loaded(self) -> list[str]:
        """Names (as requested) of the LoRAs held in the slots, in slot order."""
        return [slot.label for slot in self._slots if slot.label is not None]

    def _fill(self, slot: _Slot, ref: LoraRef) -> None:
        if not Path(ref.path).is_file():
            raise InvalidRequest(f"LoRA {ref.name!r}: file {ref.path} does not exist")
        key = adapter_name(ref)
        if slot.holder == key:
            return
        self._check(ref, key)
        slot.holder = slot.label = None
        try:
            self._pipe.load_lora_weights(ref.path, adapter_name=slot.name, hotswap=True)
        except Exception as exc:
            self._repair(slot)
            raise InvalidRequest(f"LoRA {ref.name!r} could not be swapped in: {exc}") from exc
        slot.unit = [live.clone() for live in slot.live]
        slot.holder, slot.label = key, ref.name
        logger.info("swapped LoRA %s into %s", ref.name, slot.name)

    def _check(self, ref: LoraRef, key: str) -> None:
        """Refuse what a swap cannot hold, before the slot is touched."""
        if key in self._fitting:
            self._fitting.move_to_end(key)
            return
        try:
            state = _transformer_state(self._pipe, ref.path)
        except Exception as exc:
            raise InvalidRequest(f"LoRA {ref.name!r} could not be loaded: {exc}") from exc
        problem = _misfit(state, self._shapes, self._max_rank)
        if problem is not None:
            raise InvalidRequest(f"LoRA {ref.name!r} cannot be served by this server: {problem}")
        self._fitting[key] = None
        if len(self._fitting) > MAX_CHECKED:
            self._fitting.popitem(last=False)

    def _repair(self, slot: _Slot) -> None:
        # diffusers deletes the adapter when a swap fails half-way; put the slot back. Its
        # modules are new, so the compiled blocks compile once more.
        transformer = self._pipe.transformer
        if slot.name in transformer.peft_config:
            return
        logger.warning("rebuilding LoRA %s after a failed swap (forces a recompile)", slot.name)
        _add_slot(transformer, slot.name, sorted(self._shapes), self._max_rank)
        _activate_slots(transformer, [s.name for s in self._slots])
        slot.live = _scalings(transformer, slot.name)
        slot.unit = []
        _zero(slot)


def _linear_layers(transformer: Any) -> list[str]:
    return [n for n, m in transformer.named_modules() if isinstance(m, torch.nn.Linear) and n]


def _add_slot(transformer: Any, name: str, targets: list[str], rank: int) -> None:
    # lora_B starts at zero (peft's default init), so an empty slot adds nothing even at scale 1.
    config = LoraConfig(r=rank, lora_alpha=rank, target_modules=targets)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Already found a `peft_config`")
        transformer.add_adapter(config, adapter_name=name)
    # Scalings become tensors, so that writing a scale never changes the compiled graph.
    prepare_model_for_compiled_hotswap(transformer, target_rank=rank, check_compiled="ignore")


def _activate_slots(transformer: Any, names: list[str]) -> None:
    transformer.set_adapter(names)
    for param_name, param in transformer.named_parameters():
        if any(f".{name}." in param_name for name in names):
            param.requires_grad_(False)  # served, not trained


def _lora_layers(transformer: Any, slot: str) -> Iterator[tuple[str, Any]]:
    for name, module in transformer.named_modules():
        if isinstance(module, LoraLayer) and slot in module.scaling:
            yield name, module


def _scalings(transformer: Any, slot: str) -> list[torch.Tensor]:
    return [module.scaling[slot] for _, module in _lora_layers(transformer, slot)]


def _slot_shapes(transformer: Any, slot: str) -> dict[str, tuple[int, int]]:
    return {
        name: (int(module.in_features), int(module.out_features))
        for name, module in _lora_layers(transformer, slot)
    }


@torch.no_grad()
def _zero(slot: _Slot) -> None:
    for live in slot.live:
        live.zero_()


def _transformer_state(pipe: Pipeline, path: str) -> dict[str, torch.Tensor]:
    """The LoRA file as diffusers will load it: converted to diffusers' key names, peft style."""
    state: dict[str, torch.Tensor] = pipe.lora_state_dict(path)
    if not any(".lora_A." in key for key in state):
        state = convert_unet_state_dict_to_peft(state)  # type: ignore[no-untyped-call]
    return state


def _misfit(
    state: Mapping[str, torch.Tensor], shapes: Mapping[str, tuple[int, int]], max_rank: int
) -> str | None:
    """Why the LoRA `state` cannot be swapped into slots over `shapes`, or None if it can."""
    prefix = "transformer."
    others = sorted(key for key in state if not key.startswith(prefix))
    if others:
        return f"only transformer LoRA weights can be hot-swapped, not {others[0]}"
    if not state:
        return "it holds no weights"
    ranks = [0]
    for key, value in state.items():
        module, _, rest = key.removeprefix(prefix).partition(".lora_")
        if rest not in ("A.weight", "B.weight") or value.ndim != 2:
            return f"{key} is not a plain LoRA weight"
        if module not in shapes:
            return f"layer {module!r} is not a linear layer of this transformer"
        in_features, out_features = shapes[module]
        rank, width = value.shape if rest == "A.weight" else value.shape[::-1]
        if width != (in_features if rest == "A.weight" else out_features):
            return f"{key} has shape {tuple(value.shape)}, which does not fit {module}"
        ranks.append(int(rank))
    if max(ranks) > max_rank:
        return f"rank {max(ranks)} is above engine.lora_max_rank ({max_rank})"
    return None
