"""The per-key submission rate in Redis, shared by every API node.

GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp per key): the
whole check-and-spend is one Lua script, so it is atomic across nodes, and it reads Redis's
own clock, so the nodes' clocks need not agree. It allows the same as the in-process bucket:
a burst of `per_minute`, then `per_minute` a minute, evenly."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import redis

from fluxserve.api.ratelimit import RateLimit
from fluxserve.errors import RateLimited

log = logging.getLogger("fluxserve.limits")

# KEYS[1]: the key's theoretical arrival time (µs). ARGV[1]: µs per token; ARGV[2]: burst.
# Returns 0 when a token was spent, else the µs to wait.
_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allowed_at = new_tat - burst * interval
if now < allowed_at then
  return math.ceil(allowed_at - now)
end
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl_ms)
return 0
"""
_MICROS = 1_000_000
_TIMEOUT_S = 0.5
_WARN_EVERY_S = 30.0


class RedisRateLimiter:
    """Submission rate buckets in Redis. When Redis cannot be reached the node falls back to
    its own in-process bucket (logged), so an outage loosens the limit to per-node rather than
    refusing every submission; the active-job cap, kept in the job store, still holds."""

    blocking = True

    def __init__(
        self, client: redis.Redis, *, per_minute: int, key_prefix: str, fallback: RateLimit
    ) -> None:
        self._client = client
        self._script: Any = client.register_script(_GCRA)
        self._interval_us = math.ceil(60 * _MICROS / per_minute)
        self._burst = per_minute
        self._prefix = key_prefix
        self._fallback = fallback
        self._warned_at = -math.inf

    @classmethod
    def connect(
        cls, url: str, *, per_minute: int, key_prefix: str, fallback: RateLimit
    ) -> RedisRateLimiter:
        """A limiter on the Redis at `url` (connections are made on first use)."""
        client = redis.Redis.from_url(
            url, socket_timeout=_TIMEOUT_S, socket_connect_timeout=_TIMEOUT_S
        )
        return cls(client, per_minute=per_minute, key_prefix=key_prefix, fallback=fallback)

    def bucket_key(self, key_id: str) -> str:
        return f"{self._prefix}:rate:{key_id}"

    def take(self, key_id: str) -> None:
        try:
            wait_us = int(
                self._script(keys=[self.bucket_key(key_id)], args=[self._interval_us, self._burst])
            )
        except redis.RedisError as exc:
            self._warn(exc)
            self._fallback.take(key_id)
            return
        if wait_us > 0:
            raise RateLimited(max(1, math.ceil(wait_us / _MICROS)))

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_S:
            self._warned_at = now
            log.warning("Redis unreachable (%s); rate limits are per node until it is back", exc)
