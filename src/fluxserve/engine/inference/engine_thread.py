"""All of an engine's torch work on one thread of its own.

On the CPU, torch's parallel regions run on an OpenMP team that belongs to the thread that
starts them. Once a second thread of the process has run one, every call gets slower for the
rest of the process, the first thread's too: a 256² demo generation measured 20 ms from one
thread, and 29–30 ms from any thread after another had run it once (bench/ measurements in
docs/benchmarks.md §2). A server calls its engine from whichever worker thread claimed the job,
so the engine hands its work to this one thread instead. Calls still run one at a time, as
before; the hop costs microseconds."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class EngineThread:
    """Runs calls on one dedicated thread and waits for them; a call made on that thread (a
    nested one) runs in place."""

    def __init__(self, name: str = "engine") -> None:
        self._ident: int | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=name, initializer=self._note)
        self._closed = False

    def _note(self) -> None:
        self._ident = threading.get_ident()

    def run(self, call: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        if self._closed or threading.get_ident() == self._ident:
            return call(*args, **kwargs)
        return self._pool.submit(call, *args, **kwargs).result()

    def close(self) -> None:
        """End the thread once its call (if any) returns; later calls run in place."""
        self._closed = True
        self._pool.shutdown(wait=True)
