"""EngineThread: calls from any thread run on its one thread, nested calls run in place (no
deadlock), errors come back to the caller, and after `close` calls run in place."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from fluxserve.engine.inference.engine_thread import EngineThread


def test_calls_from_any_thread_run_on_one_thread() -> None:
    engine = EngineThread()
    try:
        with ThreadPoolExecutor(4) as callers:
            ran_on = set(callers.map(lambda _: engine.run(threading.get_ident), range(8)))
        assert len(ran_on) == 1
        assert ran_on != {threading.get_ident()}
    finally:
        engine.close()


def test_a_nested_call_runs_in_place_and_errors_come_back() -> None:
    engine = EngineThread()
    try:
        outer, inner = engine.run(lambda: (threading.get_ident(), engine.run(threading.get_ident)))
        assert outer == inner
        with pytest.raises(ZeroDivisionError):
            engine.run(divmod, 1, 0)
    finally:
        engine.close()


def test_after_close_calls_run_in_place() -> None:
    engine = EngineThread()
    engine.close()
    assert engine.run(threading.get_ident) == threading.get_ident()
