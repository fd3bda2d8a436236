"""The API's thread lanes: results and errors come back, a lane runs no more calls at once than
it has threads, and a cancelled caller neither starts its call nor abandons one that runs."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from fluxserve.api.blocking import Blocking


async def until(condition: threading.Event) -> None:
    await asyncio.to_thread(condition.wait)


def test_results_and_errors_come_back() -> None:
    async def scenario() -> None:
        lanes = Blocking(2, cpu_threads=1)
        try:
            assert await lanes.run(pow, 2, 10) == 1024
            assert await lanes.run_cpu(sorted, [3, 1, 2]) == [1, 2, 3]
            with pytest.raises(ZeroDivisionError):
                await lanes.run(divmod, 1, 0)
        finally:
            lanes.close()

    asyncio.run(scenario())


def test_a_lane_runs_no_more_calls_than_its_threads() -> None:
    lock = threading.Lock()
    running: list[int] = []
    most = 0
    release = threading.Event()

    def call() -> None:
        nonlocal most
        with lock:
            running.append(1)
            most = max(most, len(running))
        release.wait()
        with lock:
            running.pop()

    async def scenario() -> None:
        lanes = Blocking(2)
        try:
            calls = [asyncio.ensure_future(lanes.run(call)) for _ in range(6)]
            while len(running) < 2:
                await asyncio.sleep(0.001)
            release.set()
            await asyncio.gather(*calls)
        finally:
            lanes.close()

    asyncio.run(scenario())
    assert most == 2


def test_a_cancelled_caller_waits_for_its_running_call_and_never_starts_a_queued_one() -> None:
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def slow() -> str:
        started.set()
        release.wait()
        ran.append("slow")
        return "done"

    async def scenario() -> None:
        lanes = Blocking(1)
        try:
            running = asyncio.ensure_future(lanes.run(slow))
            queued = asyncio.ensure_future(lanes.run(ran.append, "queued"))
            await until(started)
            queued.cancel()
            running.cancel()
            for _ in range(20):  # the running call holds its caller, however long it takes
                await asyncio.sleep(0)
            assert not running.done()
            release.set()
            with pytest.raises(asyncio.CancelledError):
                await running
            with pytest.raises(asyncio.CancelledError):
                await queued
            assert await lanes.run(ran.append, "after") is None
        finally:
            lanes.close()

    asyncio.run(scenario())
    assert ran == ["slow", "after"]


def test_a_call_sees_its_callers_context_variables() -> None:
    request: contextvars.ContextVar[str] = contextvars.ContextVar("request")

    async def scenario() -> list[str]:
        lanes = Blocking(1)
        try:

            async def one(name: str) -> str:
                request.set(name)
                return await lanes.run(request.get)

            return list(await asyncio.gather(one("a"), one("b")))
        finally:
            lanes.close()

    assert asyncio.run(scenario()) == ["a", "b"]
