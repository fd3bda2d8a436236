"""Blocking work run on worker threads, never on the event loop: while one request waits on the
database or decodes a 40 MP image, every other request keeps being answered.

Two lanes, each capped by a limiter of its own. `run` is the database lane (transactions,
storage I/O), sized to the connections the process keeps, so a burst queues here (cheaply, as
awaiting tasks) instead of in threads blocked on the pool; `run_cpu` is the image lane (decode,
encode, base64), sized to the cores, so seconds of pixel work never hold up a status read.
Neither starves the threads FastAPI uses for sync dependencies."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from typing import ParamSpec, TypeVar

import anyio.to_thread

P = ParamSpec("P")
T = TypeVar("T")


class Blocking:
    """Runs a blocking call on one of at most `threads` threads (database lane) or of
    `cpu_threads` (image lane) and awaits its result."""

    def __init__(self, threads: int, cpu_threads: int | None = None) -> None:
        if threads < 1:
            raise ValueError("threads must be >= 1")
        self._limiter = anyio.CapacityLimiter(threads)
        self._cpu_limiter = anyio.CapacityLimiter(cpu_threads or os.cpu_count() or 1)

    @property
    def threads(self) -> int:
        return int(self._limiter.total_tokens)

    async def run(self, call: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await anyio.to_thread.run_sync(partial(call, *args, **kwargs), limiter=self._limiter)

    async def run_cpu(self, call: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        work = partial(call, *args, **kwargs)
        return await anyio.to_thread.run_sync(work, limiter=self._cpu_limiter)
