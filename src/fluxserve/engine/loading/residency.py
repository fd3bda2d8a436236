"""Which pipelines are resident, what they share, and which one goes when memory runs short.

Pipelines load on first use and stay. A model whose family member is resident with the same
share key (see `families.py`) is loaded with that member's text encoders, tokenizers and VAE
passed in, so they exist once. With a memory budget, least-recently-used pipelines are evicted:
before a load (by what the model measured last time it was resident) and after it (by what it
measures now). Memory is the bytes of parameters and buffers of every distinct module, so shared
modules count once; a module still used by a resident pipeline is not freed by an eviction."""

from __future__ import annotations

import gc
import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from fluxserve.engine.lora.adapters import Adapters, LoraAdapters
from fluxserve.engine.lora.slots import LoraSlots, slot_names
from fluxserve.engine.pipelines import Pipeline

logger = logging.getLogger("fluxserve.engine")

GIB = 1024**3


@dataclass
class LoadedModel:
    """One resident engine model: its pipeline and the variants built on the same modules."""

    engine_model: str
    pipe: Pipeline
    share_key: Hashable | None
    variants: dict[str, Pipeline] = field(default_factory=dict)
    adapters: Adapters = field(init=False)

    def __post_init__(self) -> None:
        # Variants share the transformer and text encoders, hence the adapters, of `pipe`.
        # A transformer compiled with LoRA slots swaps LoRAs into them; others load adapters.
        if slot_names(self.pipe.transformer):
            self.adapters = LoraSlots(self.pipe)
        else:
            self.adapters = LoraAdapters(self.pipe)

    def variant(self, pipeline_class: Any) -> Pipeline:
        """The same modules behind another pipeline class (e.g. FluxImg2ImgPipeline from a
        FluxPipeline), created once with `from_pipe`, never loaded again."""
        name = pipeline_class.__name__
        if name not in self.variants:
            # from_pipe casts to float32 unless told the dtype, and would share the stateful
            # scheduler; give the variant the pipeline's dtype and a scheduler of its own.
            scheduler = FlowMatchEulerDiscreteScheduler.from_config(  # type: ignore[no-untyped-call]
                self.pipe.scheduler.config
            )
            variant = pipeline_class.from_pipe(
                self.pipe, dtype=self.pipe.dtype, scheduler=scheduler
            )
            variant.set_progress_bar_config(disable=True)
            self.variants[name] = variant
        return self.variants[name]

    def modules(self) -> list[torch.nn.Module]:
        return [c for c in self.pipe.components.values() if isinstance(c, torch.nn.Module)]


Loader = Callable[[str, Mapping[str, Any]], LoadedModel]


class Residency:
    """LRU set of resident pipelines under an optional byte budget. Not thread-safe: the engine
    serialises calls."""

    def __init__(
        self,
        loader: Loader,
        shared_components: Callable[[str], tuple[str, ...]],
        share_key: Callable[[str], Hashable | None],
        budget_bytes: int | None = None,
    ) -> None:
        self._loader = loader
        self._shared_components = shared_components
        self._share_key = share_key
        self._budget = budget_bytes
        self._resident: OrderedDict[str, LoadedModel] = OrderedDict()
        self._last_size: dict[str, int] = {}

    def get(self, engine_model: str) -> LoadedModel:
        """The resident model, loading it (and evicting others) if needed; marks it most
        recently used."""
        if engine_model in self._resident:
            self._resident.move_to_end(engine_model)
            return self._resident[engine_model]
        self._evict_for(self._last_size.get(engine_model, 0), keep=None)
        loaded = self._loader(engine_model, self._donor_modules(engine_model))
        self._resident[engine_model] = loaded
        self._last_size[engine_model] = self._exclusive_bytes(engine_model)
        self._evict_for(0, keep=engine_model)
        return loaded

    def resident(self) -> list[str]:
        """Resident model ids, least recently used first."""
        return list(self._resident)

    def is_resident(self, engine_model: str) -> bool:
        return engine_model in self._resident

    def resident_bytes(self) -> int:
        return module_bytes(m for loaded in self._resident.values() for m in loaded.modules())

    def evict(self, engine_model: str) -> None:
        if self._resident.pop(engine_model, None) is not None:
            logger.info("%s: evicted", engine_model)
            _release_memory()

    def clear(self) -> None:
        self._resident.clear()
        _release_memory()

    def _donor_modules(self, engine_model: str) -> dict[str, Any]:
        key = self._share_key(engine_model)
        if key is None:
            return {}
        for other in reversed(self._resident.values()):
            if other.share_key == key:
                return {n: getattr(other.pipe, n) for n in self._shared_components(engine_model)}
        return {}

    def _exclusive_bytes(self, engine_model: str) -> int:
        """Bytes that evicting `engine_model` alone would free."""
        others = {
            id(m)
            for name, loaded in self._resident.items()
            if name != engine_model
            for m in loaded.modules()
        }
        own = [m for m in self._resident[engine_model].modules() if id(m) not in others]
        return module_bytes(own)

    def _evict_for(self, incoming: int, keep: str | None) -> None:
        if self._budget is None:
            return
        while self.resident_bytes() + incoming > self._budget:
            victims = [name for name in self._resident if name != keep]
            if not victims:
                if keep is not None:
                    logger.warning("%s alone exceeds the memory budget", keep)
                return
            self.evict(victims[0])


def module_bytes(modules: Iterable[torch.nn.Module]) -> int:
    """Bytes of parameters and buffers of the distinct modules (each counted once)."""
    seen: set[int] = set()
    tensors: dict[int, torch.Tensor] = {}
    for module in modules:
        if id(module) in seen:
            continue
        seen.add(id(module))
        for tensor in [*module.parameters(), *module.buffers()]:
            tensors[id(tensor)] = tensor
    return sum(t.numel() * t.element_size() for t in tensors.values())


def budget_bytes(gigabytes: float | None) -> int | None:
    return None if gigabytes is None else int(gigabytes * GIB)


def _release_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
