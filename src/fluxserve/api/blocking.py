"""Blocking work (database transactions, image decode and encode, file and bucket I/O) run on
worker threads, never on the event loop: while one request waits on the database or decodes a
40 MP image, every other request keeps being answered.

The threads are capped by a limiter of their own, sized to the database connection pool, so a
burst queues here (cheaply, as awaiting tasks) instead of in threads blocked on the pool, and
so it never starves the threads FastAPI uses for sync dependencies."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import ParamSpec, TypeVar

import anyio.to_thread

P = ParamSpec("P")
T = TypeVar("T")


class Blocking:
    """Runs a blocking call on one of at most `threads` threads and awaits its result."""

    def __init__(self, threads: int) -> None:
        if threads < 1:
            raise ValueError("threads must be >= 1")
        self._limiter = anyio.CapacityLimiter(threads)

    @property
    def threads(self) -> int:
        return int(self._limiter.total_tokens)

    async def run(self, call: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await anyio.to_thread.run_sync(partial(call, *args, **kwargs), limiter=self._limiter)
