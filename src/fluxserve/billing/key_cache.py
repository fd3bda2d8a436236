"""Keys this process has looked up recently, so that most requests authenticate without
touching the database.

An entry lives at most `ttl_s` seconds. A key disabled through this process's KeyStore is
dropped at once; one disabled by another process (the CLI, another API process or node) is
refused here at the latest `ttl_s` seconds later. Unknown keys are never cached: a key created
elsewhere works at once, and guessing keys cannot fill the cache."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

R = TypeVar("R")

MAX_ENTRIES = 10_000  # far more live keys than one process sees in `ttl_s`; a bound for memory


class KeyCache(Generic[R]):
    """Records by key hash, each trusted for `ttl_s` seconds (0 turns the cache off)."""

    def __init__(
        self,
        ttl_s: float,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[float, str, R]] = {}
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> R | None:
        if self._ttl_s <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key_hash)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[key_hash]
                return None
            return entry[2]

    def put(self, key_hash: str, key_id: str, record: R) -> None:
        if self._ttl_s <= 0:
            return
        with self._lock:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()  # rare; the next lookups refill it
            self._entries[key_hash] = (self._clock() + self._ttl_s, key_id, record)

    def drop(self, key_id: str) -> None:
        """Forget `key_id`'s entry (its key was just disabled)."""
        with self._lock:
            stale = [h for h, (_, kid, _) in self._entries.items() if kid == key_id]
            for key_hash in stale:
                del self._entries[key_hash]
