"""Per-key token bucket. In-process: with several API nodes each enforces its own share."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from fluxserve.errors import RateLimited


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key_id: str) -> None:
        """Spend one token for `key_id` or raise RateLimited with the seconds to wait."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self._capacity, now))
            tokens = min(self._capacity, tokens + (now - last) * self._rate)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, now)
                raise RateLimited(max(1, math.ceil((1.0 - tokens) / self._rate)))
            self._buckets[key_id] = (tokens - 1.0, now)
