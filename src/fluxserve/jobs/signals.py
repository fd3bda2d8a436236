"""In-process wake-ups: workers learn of new jobs, sync requests learn of finished ones.

These only shorten waits. Correctness never depends on them: workers also poll the store and
waiters re-read it, so a job submitted on another node is still picked up and seen."""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from collections.abc import Callable


class JobSignals:
    def __init__(self) -> None:
        self._work = threading.Condition()
        self._pending = 0
        self._lock = threading.Lock()
        self._waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = (
            defaultdict(list)
        )
        self._finish_listeners: list[Callable[[], object]] = []

    def add_finish_listener(self, listener: Callable[[], object]) -> None:
        """Call `listener` (from any thread) whenever a job ends, e.g. to wake webhook delivery."""
        self._finish_listeners.append(listener)

    def job_queued(self) -> None:
        with self._work:
            self._pending += 1
            self._work.notify()

    def wait_for_work(self, timeout_s: float) -> None:
        """Block a worker thread until a job is queued or the timeout passes."""
        with self._work:
            if self._pending == 0:
                self._work.wait(timeout_s)
            self._pending = max(0, self._pending - 1)

    def wake_all(self) -> None:
        """Wake every waiting worker once (to re-check the store, or to see a stop flag)."""
        with self._work:
            self._work.notify_all()

    def job_finished(self, request_id: str) -> None:
        with self._lock:
            waiters = self._waiters.pop(request_id, [])
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)
        for listener in self._finish_listeners:
            listener()

    async def wait_finished(self, request_id: str, timeout_s: float) -> None:
        """Return when the job is reported finished or after `timeout_s`, whichever is first."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        with self._lock:
            self._waiters[request_id].append((loop, event))
        try:
            await asyncio.wait_for(event.wait(), timeout_s)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                entries = self._waiters.get(request_id)
                if entries and (loop, event) in entries:
                    entries.remove((loop, event))
                    if not entries:
                        del self._waiters[request_id]
