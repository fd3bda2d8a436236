"""LoRA adapters for one resident pipeline: loaded once, active only during the call that asks.

After every call the pipeline's LoRA layers are disabled again, so a request without LoRAs gets
exactly the pixels it would get had no LoRA ever been loaded. Adapters stay loaded (disabled) for
reuse, at most `max_cached` per pipeline; the least recently used one is deleted beyond that.

A compiled transformer serves LoRAs through hot-swapped slots instead (`slots.py`); both
kinds offer the `Adapters` interface."""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from fluxserve.engine.boundary.messages import LoraRef
from fluxserve.engine.pipelines import Pipeline
from fluxserve.errors import InvalidRequest

logger = logging.getLogger("fluxserve.engine")

MAX_CACHED_ADAPTERS = 8


class Adapters(Protocol):
    """How a resident pipeline applies a request's LoRAs."""

    def applied(self, loras: tuple[LoraRef, ...]) -> AbstractContextManager[None]:
        """Apply `loras` for the body only: afterwards the pixels are those without LoRAs."""
        ...

    def loaded(self) -> list[str]:
        """Names (as requested) of the LoRAs held."""
        ...


class LoraAdapters:
    """The adapters loaded into one pipeline (and the variants that share its modules)."""

    def __init__(self, pipe: Pipeline, max_cached: int = MAX_CACHED_ADAPTERS) -> None:
        self._pipe = pipe
        self._max_cached = max_cached
        self._loaded: OrderedDict[str, str] = OrderedDict()  # adapter name -> LoRA name

    @contextmanager
    def applied(self, loras: tuple[LoraRef, ...]) -> Iterator[None]:
        """Activate `loras` (at their scales) for the body, then disable every LoRA layer."""
        if not loras:
            yield
            return
        try:
            # Inside the try: a freshly loaded adapter is active, even if the next one fails.
            names = [self._ensure_loaded(ref) for ref in loras]
            self._pipe.enable_lora()
            self._pipe.set_adapters(names, [ref.scale for ref in loras])
            yield
        finally:
            self._pipe.disable_lora()

    def loaded(self) -> list[str]:
        """Names (as requested) of the adapters held, least recently used first."""
        return list(self._loaded.values())

    def _ensure_loaded(self, ref: LoraRef) -> str:
        # Keyed by file too: a LoRA re-trained under the same name must not reuse the old one.
        adapter = adapter_name(ref)
        if adapter in self._loaded:
            self._loaded.move_to_end(adapter)
            return adapter
        if not Path(ref.path).is_file():
            raise InvalidRequest(f"LoRA {ref.name!r}: file {ref.path} does not exist")
        try:
            with warnings.catch_warnings():
                # peft warns on every adapter after the first; holding several is the point.
                warnings.filterwarnings("ignore", message="Already found a `peft_config`")
                self._pipe.load_lora_weights(ref.path, adapter_name=adapter)
        except Exception as exc:
            self._forget(adapter)
            raise InvalidRequest(f"LoRA {ref.name!r} could not be loaded: {exc}") from exc
        self._loaded[adapter] = ref.name
        logger.info("loaded LoRA %s from %s", ref.name, ref.path)
        while len(self._loaded) > self._max_cached:
            oldest = next(iter(self._loaded))
            self._forget(oldest)
        return adapter

    def _forget(self, adapter: str) -> None:
        self._loaded.pop(adapter, None)
        try:
            self._pipe.delete_adapters(adapter)
        except Exception:
            # Nothing of it got loaded (a half-failed load); nothing to delete.
            logger.debug("no layers of adapter %s to delete", adapter)


def adapter_name(ref: LoraRef) -> str:
    """A peft adapter name for `ref`, new whenever its file changes."""
    path = Path(ref.path)
    stamp = path.stat().st_mtime_ns if path.exists() else 0
    digest = hashlib.sha256(f"{ref.name}\0{path.resolve()}\0{stamp}".encode()).hexdigest()
    # peft adapter names become module-dict keys: no dots, and short.
    return f"lora_{digest[:16]}"
