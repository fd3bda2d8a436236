"""The per-key submission rate: the contract, and the in-process token bucket.

The in-process bucket is right for a single API node; with several, each would enforce its
own share, so `open_rate_limit` picks the Redis bucket that all of them share when
`[limits] redis_url` is set."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

from fluxserve.errors import RateLimited
from fluxserve.settings import Settings


class RateLimit(Protocol):
    # True when `take` waits on the network (run it on a thread), False when it is a few
    # arithmetic operations in memory (run it in place: a thread hop would cost more).
    blocking: bool

    def take(self, key_id: str) -> None:
        """Spend one submission of `key_id`'s rate or raise RateLimited with the wait."""
        ...


class RateLimiter:
    """A token bucket per key, in this process: `per_minute` tokens, refilled evenly."""

    blocking = False

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


def open_rate_limit(settings: Settings) -> RateLimit:
    """The Redis bucket shared by every API node when Redis is configured, else this
    process's own."""
    local = RateLimiter(settings.rate_limit_per_minute)
    url = settings.limits.redis_url
    if url is None:
        return local
    # Imported here: redis-py is only needed (and only installed) where Redis is configured.
    from fluxserve.api.redis_ratelimit import RedisRateLimiter

    return RedisRateLimiter.connect(
        url,
        per_minute=settings.rate_limit_per_minute,
        key_prefix=settings.limits.redis_key_prefix,
        fallback=local,
    )
