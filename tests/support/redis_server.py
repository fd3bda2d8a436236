"""The local Redis server, started when it is down (as CI runs it: no persistence)."""

from __future__ import annotations

import subprocess
import time

import redis

REDIS_URL = "redis://127.0.0.1:6379/0"
_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
    "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
    "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip


def _reachable() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def ensure_redis(timeout_s: float = 20.0) -> str | None:
    """The URL of a reachable Redis, started if it was down; None if it cannot be."""
    if _reachable():
        return REDIS_URL
    try:
        subprocess.run(_START, check=False, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    deadline = time.monotonic() + timeout_s
    while not _reachable():
        if time.monotonic() > deadline:
            return None
        time.sleep(0.2)
    return REDIS_URL
