"""The attempts a node is running right now. Its heartbeat renews only their leases, so a job
that no thread is working on any more (its thread died, or its end could not be recorded)
lets its lease expire and is rescued, even though the node itself is alive."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from fluxserve.jobs.records import JobRecord


class InFlight:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: set[str] = set()

    @contextmanager
    def running(self, batch: Sequence[JobRecord]) -> Iterator[None]:
        ids = [job.attempt_id for job in batch if job.attempt_id is not None]
        with self._lock:
            self._ids.update(ids)
        try:
            yield
        finally:
            with self._lock:
                self._ids.difference_update(ids)

    def attempt_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._ids)
