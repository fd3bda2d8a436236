"""An engine runs one call at a time; calls wait for their turn. A call whose job is cancelled
while it waits gives up at once, instead of holding its worker until the engine is free and
then starting work nobody wants."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from fluxserve.engine.boundary.interface import StopSignal
from fluxserve.errors import Cancelled

# How often a call with a stop signal looks at it while it waits (for its turn, or for the
# engine process's next message).
STOP_CHECK_S = 0.05


@contextmanager
def engine_turn(lock: threading.Lock, stop: StopSignal | None) -> Iterator[None]:
    """Hold `lock` for one call; `Cancelled` when `stop` is set before the turn comes."""
    if stop is None:
        lock.acquire()
    else:
        while not lock.acquire(timeout=STOP_CHECK_S):
            if stop.is_set():
                raise Cancelled("cancelled while waiting for the engine")
    try:
        yield
    finally:
        lock.release()
