"""In-process wake-ups: workers learn of new jobs, sync requests learn of finished ones, a worker
learns that the job it runs ended elsewhere (cancelled), and event streams learn of changes.

These only shorten waits. Correctness never depends on them: workers also poll the store and
waiters re-read it, so a job submitted on another node is still picked up and seen."""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, suppress
from typing import TypeVar

_T = TypeVar("_T")
_Waiter = tuple[asyncio.AbstractEventLoop, asyncio.Event]


def _model_key(model_id: str) -> str:
    return f"model:{model_id}"


class ChangeWatch:
    """Wakes an event stream when its job, or the queue of its model, changes. Registered from
    creation on, so a change between a read and the next wait is never missed."""

    def __init__(self, event: asyncio.Event) -> None:
        self._event = event

    def clear(self) -> None:
        """Call before reading the store: only changes after this read wake the next wait."""
        self._event.clear()

    async def wait(self, timeout_s: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout_s)


class JobSignals:
    def __init__(self) -> None:
        self._work = threading.Condition()
        self._queued: dict[str, int] = defaultdict(int)  # per model: jobs signalled queued
        self._wakes = 0
        self._lock = threading.Lock()
        self._waiters: dict[str, list[_Waiter]] = defaultdict(list)
        self._watchers: dict[str, list[_Waiter]] = defaultdict(list)
        self._ends: dict[str, list[threading.Event]] = defaultdict(list)
        self._finish_listeners: list[Callable[[], object]] = []

    def add_finish_listener(self, listener: Callable[[], object]) -> None:
        """Call `listener` (from any thread) whenever a job ends, e.g. to wake webhook delivery."""
        self._finish_listeners.append(listener)

    def job_queued(self, model_id: str) -> None:
        """A job of `model_id` was queued: wake the workers that claim that model's jobs."""
        with self._work:
            self._queued[model_id] += 1
            self._work.notify_all()

    def work_mark(self, model_ids: Collection[str]) -> int:
        """Take before looking for work; `wait_for_work` with it returns at once when work for
        `model_ids` was signalled since (so a job queued during the look is never slept on)."""
        with self._work:
            return self._count(model_ids)

    def wait_for_work(self, model_ids: Collection[str], mark: int, timeout_s: float) -> None:
        """Block a worker thread until a job of `model_ids` is queued after `mark` was taken,
        `wake_all` is called, or the timeout passes. Only the workers of the queued job's model
        wake: a signal is never spent on a worker (say, a training lane) that cannot run it."""
        with self._work:
            self._work.wait_for(lambda: self._count(model_ids) != mark, timeout_s)

    def wake_all(self) -> None:
        """Wake every waiting worker once (to re-check the store, or to see a stop flag)."""
        with self._work:
            self._wakes += 1
            self._work.notify_all()

    def _count(self, model_ids: Collection[str]) -> int:
        return self._wakes + sum(self._queued.get(model_id, 0) for model_id in model_ids)

    def job_finished(self, request_id: str) -> None:
        with self._lock:
            waiters = self._waiters.pop(request_id, [])
            watchers = list(self._watchers.get(request_id, []))
            ends = list(self._ends.get(request_id, []))
        for loop, event in waiters + watchers:
            loop.call_soon_threadsafe(event.set)
        for end in ends:
            end.set()
        for listener in self._finish_listeners:
            listener()

    def job_changed(self, request_id: str, model_id: str) -> None:
        """The job was claimed or progressed, or the queue of `model_id` moved."""
        with self._lock:
            watchers = [*self._watchers.get(request_id, [])]
            watchers += self._watchers.get(_model_key(model_id), [])
        for loop, event in watchers:
            loop.call_soon_threadsafe(event.set)

    @contextmanager
    def ending(self, request_id: str) -> Iterator[threading.Event]:
        """A flag (for a worker thread) set when the job is reported ended by anyone, e.g.
        cancelled by its owner on any node, while this worker still runs it."""
        end = threading.Event()
        with self._lock:
            self._ends[request_id].append(end)
        try:
            yield end
        finally:
            with self._lock:
                _discard(self._ends, request_id, end)

    @contextmanager
    def changes(self, request_id: str, model_id: str) -> Iterator[ChangeWatch]:
        """Watch a job and its model's queue (in an event loop) for as long as the block runs."""
        item = (asyncio.get_running_loop(), asyncio.Event())
        keys = (request_id, _model_key(model_id))
        with self._lock:
            for key in keys:
                self._watchers[key].append(item)
        try:
            yield ChangeWatch(item[1])
        finally:
            with self._lock:
                for key in keys:
                    _discard(self._watchers, key, item)

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
                _discard(self._waiters, request_id, (loop, event))


def _discard(table: dict[str, list[_T]], key: str, item: _T) -> None:
    entries = table.get(key)
    if entries and item in entries:
        entries.remove(item)
        if not entries:
            del table[key]
