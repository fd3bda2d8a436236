"""Submission rate limits: the in-process bucket, and the Redis bucket that every API node
shares (on a real Redis, started when down)."""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

import pytest

from fluxserve.api.ratelimit import RateLimiter, open_rate_limit
from fluxserve.api.redis_ratelimit import RedisRateLimiter
from fluxserve.errors import RateLimited
from fluxserve.settings import Settings
from tests.support.servers import free_port


def redis_limiter(url: str, per_minute: int, prefix: str) -> RedisRateLimiter:
    return RedisRateLimiter.connect(
        url, per_minute=per_minute, key_prefix=prefix, fallback=RateLimiter(per_minute)
    )


def spend_until_refused(limiter: RedisRateLimiter | RateLimiter, key: str, most: int) -> int:
    for spent in range(most):
        try:
            limiter.take(key)
        except RateLimited:
            return spent
    return most


def test_the_local_bucket_refills_evenly() -> None:
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])
    assert spend_until_refused(limiter, "k", 100) == 60
    with pytest.raises(RateLimited) as refused:
        limiter.take("k")
    assert refused.value.retry_after_s == 1
    now[0] += 1.0
    limiter.take("k")
    limiter.take("other")  # keys do not share


def test_nodes_share_one_redis_bucket(redis_url: str) -> None:
    prefix = f"test-{uuid.uuid4().hex}"
    node_a, node_b = redis_limiter(redis_url, 6, prefix), redis_limiter(redis_url, 6, prefix)
    for _ in range(3):
        node_a.take("key-1")
        node_b.take("key-1")
    for node in (node_a, node_b):
        with pytest.raises(RateLimited) as refused:
            node.take("key-1")
        assert refused.value.retry_after_s == 10  # 6 a minute: one every 10 s
    node_b.take("key-2")


def test_the_redis_bucket_refills(redis_url: str) -> None:
    limiter = redis_limiter(redis_url, 120, f"test-{uuid.uuid4().hex}")  # one every 0.5 s
    assert spend_until_refused(limiter, "k", 200) == 120
    time.sleep(0.6)
    limiter.take("k")
    with pytest.raises(RateLimited):
        limiter.take("k")


def test_without_redis_a_node_falls_back_to_its_own_bucket(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = redis_limiter(f"redis://127.0.0.1:{free_port()}/0", 2, "test")
    with caplog.at_level(logging.WARNING, logger="fluxserve.limits"):
        assert spend_until_refused(limiter, "k", 5) == 2
    assert "rate limits are per node" in caplog.text
    assert caplog.text.count("Redis unreachable") == 1  # warned once, not per request


def test_redis_is_used_only_when_configured(tmp_path: Path, redis_url: str) -> None:
    assert isinstance(open_rate_limit(Settings(data_dir=tmp_path)), RateLimiter)
    shared = Settings.model_validate({"data_dir": tmp_path, "limits": {"redis_url": redis_url}})
    assert isinstance(open_rate_limit(shared), RedisRateLimiter)
