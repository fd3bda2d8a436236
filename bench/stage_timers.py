"""Time the stages of a pipeline call from outside it: text encoding, each transformer forward,
VAE decoding. Installed on a resident pipeline, so the engine's own call path runs unchanged.

On CUDA each boundary synchronises the device (kernels run asynchronously; without it a stage
would look free and the next one would pay for it). The cost is a few syncs per step."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StageTimes:
    """Seconds spent in each stage since the last `reset`, and transformer forward calls."""

    text_encode: float = 0.0
    transformer: float = 0.0
    transformer_calls: int = 0
    vae_decode: float = 0.0

    def reset(self) -> None:
        self.text_encode = self.transformer = self.vae_decode = 0.0
        self.transformer_calls = 0


@dataclass
class StageTimers:
    """Timers on one pipeline; `remove()` puts everything back."""

    pipe: Any
    times: StageTimes = field(default_factory=StageTimes)
    _undo: list[Callable[[], None]] = field(default_factory=list)

    @property
    def on_cuda(self) -> bool:
        import torch

        return torch.cuda.is_available()

    def install(self) -> StageTimers:
        self._wrap_method(self.pipe, "encode_prompt", "text_encode")
        self._wrap_method(self.pipe.vae, "decode", "vae_decode")
        started: list[float] = []

        def before(*_: Any) -> None:
            started.append(self._now())

        def after(*_: Any) -> None:
            self.times.transformer += self._now() - started.pop()
            self.times.transformer_calls += 1

        handles = [
            self.pipe.transformer.register_forward_pre_hook(before),
            self.pipe.transformer.register_forward_hook(after),
        ]
        self._undo += [handle.remove for handle in handles]
        return self

    def remove(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _wrap_method(self, owner: Any, name: str, stage: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = self._now()
            try:
                return original(*args, **kwargs)
            finally:
                setattr(self.times, stage, getattr(self.times, stage) + self._now() - start)

        setattr(owner, name, timed)  # an instance attribute shadows the class's method
        self._undo.append(lambda: delattr(owner, name))

    def _now(self) -> float:
        if self.on_cuda:
            import torch

            torch.cuda.synchronize()
        return time.perf_counter()
