"""An engine call whose job is cancelled while it waits for its turn gives up at once; without
a stop signal a call waits as long as it takes."""

from __future__ import annotations

import threading

import pytest

from fluxserve.engine.boundary.turn import engine_turn
from fluxserve.errors import Cancelled


def _waiting_call(
    lock: threading.Lock, stop: threading.Event | None
) -> tuple[threading.Thread, list[str]]:
    outcome: list[str] = []

    def call() -> None:
        try:
            with engine_turn(lock, stop):
                outcome.append("ran")
        except Cancelled:
            outcome.append("cancelled")

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread, outcome


def test_a_call_cancelled_while_it_waits_never_runs() -> None:
    lock = threading.Lock()
    stop = threading.Event()
    with lock:  # another call holds the engine
        thread, outcome = _waiting_call(lock, stop)
        stop.set()
        thread.join(10)
        assert outcome == ["cancelled"]
    assert lock.acquire(blocking=False)  # the cancelled call took nothing with it
    lock.release()


@pytest.mark.parametrize("stop", [None, threading.Event()])
def test_a_waiting_call_runs_once_the_engine_is_free(stop: threading.Event | None) -> None:
    lock = threading.Lock()
    with lock:
        thread, outcome = _waiting_call(lock, stop)
        assert outcome == []  # still waiting
    thread.join(10)
    assert outcome == ["ran"]
