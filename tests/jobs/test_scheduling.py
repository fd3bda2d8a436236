"""The claim order of jobs/scheduling.py on real SQLite and PostgreSQL: priorities, fair share
between keys, aging, and a queue position that follows the claims."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from fluxserve.errors import InvalidRequest
from fluxserve.jobs.scheduling import job_priority, queue_position
from fluxserve.jobs.store import JobStore
from fluxserve.settings import SchedulingConfig, load_settings

MODEL = "flux-1-schnell"


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class _Queue:
    """A job store on a manual clock, submitting tiny free jobs."""

    def __init__(self, db: Database, config: SchedulingConfig) -> None:
        self.clock = _Clock()
        self.store = JobStore(db, clock=self.clock, scheduling=config)
        self.config = config
        self._count = 0

    def submit(self, key_id: str, *, priority: int = 0, model: str = MODEL) -> str:
        self._count += 1
        request_id = f"job-{self._count:04d}"
        self.store.create(
            request_id=request_id,
            model_id=model,
            key_id=key_id,
            spec={"n": self._count},
            price_micros=0,
            priority=priority,
        )
        self.clock.advance(0.01)  # submits over HTTP are never at the same instant
        return request_id

    def claim_all(self, model: str = MODEL) -> list[str]:
        order: list[str] = []
        while batch := self.store.claim("w", "n", 30, model_ids=[model]):
            order += [job.request_id for job in batch]
        return order


def _key(keys: KeyStore, priority: int = 0) -> str:
    return keys.create(name="k", priority=priority)[0].id


def test_a_second_key_does_not_wait_behind_a_backlog(db: Database, keys: KeyStore) -> None:
    queue = _Queue(db, SchedulingConfig())
    a, b = _key(keys), _key(keys)
    backlog = [queue.submit(a) for _ in range(100)]
    queue.clock.advance(5)
    late = queue.submit(b)
    second_late = queue.submit(b)

    order = queue.claim_all()
    # B's first job ranks at its submit time; A's second job is already a fair share later.
    assert order.index(late) == 1
    assert order.index(second_late) == 3
    assert [r for r in order if r in backlog] == backlog  # each key's own jobs stay first-come


def test_sync_jobs_go_before_queued_async_work(db: Database, keys: KeyStore) -> None:
    config = SchedulingConfig()
    queue = _Queue(db, config)
    a, b = _key(keys), _key(keys, priority=3)
    queued = [queue.submit(a) for _ in range(10)] + [queue.submit(b) for _ in range(3)]
    queue.clock.advance(600)
    waiting = queue.submit(a, priority=config.sync_boost)
    assert queue.claim_all()[0] == waiting
    assert queued


def test_priority_is_first_come_within_and_ahead_of_lower(db: Database, keys: KeyStore) -> None:
    queue = _Queue(db, SchedulingConfig(fair_share_s=0))
    low, high = _key(keys), _key(keys)
    lows = [queue.submit(low) for _ in range(3)]
    highs = [queue.submit(high, priority=2) for _ in range(3)]
    assert queue.claim_all() == highs + lows


def test_age_lets_low_priority_work_through_a_stream_of_high(db: Database, keys: KeyStore) -> None:
    """priority 10 at aging_s = 1: worth 10 s of waiting, so a low job goes before every high
    job submitted more than 10 s after it, however many keep coming."""
    queue = _Queue(db, SchedulingConfig(aging_s=1, fair_share_s=0))
    low, high = _key(keys), _key(keys, priority=10)
    submitted_at = queue.clock.now
    low_job = queue.submit(low)
    served: list[str] = []
    ahead = 0
    for _ in range(40):  # two high jobs a second, one claim a second: the queue only grows
        for _ in range(2):
            ahead += queue.clock.now < submitted_at + timedelta(seconds=10)
            queue.submit(high, priority=10)
        served += [job.request_id for job in queue.store.claim("w", "n", 30)]
        queue.clock.advance(1)
    assert served.index(low_job) == ahead == 20


def test_queue_position_follows_the_claim_order(db: Database, keys: KeyStore) -> None:
    config = SchedulingConfig()
    queue = _Queue(db, config)
    a, b = _key(keys), _key(keys)
    for _ in range(5):
        queue.submit(a)
    queue.submit(b)
    queue.submit(a, priority=config.sync_boost)
    queue.submit(b, model="flux-dev")

    with db.read() as conn:
        ids = [f"job-{n:04d}" for n in range(1, 9)]
        positions = {rid: queue_position(conn, rid) for rid in ids}
    expected = queue.claim_all()
    assert sorted((p, r) for r, p in positions.items() if r in expected) == [
        (n, r) for n, r in enumerate(expected)
    ]
    assert positions["job-0008"] == 0  # alone in its model's queue
    with db.read() as conn:
        assert queue_position(conn, expected[0]) is None  # claimed: no longer queued
        assert queue_position(conn, "missing") is None


def test_key_priority_is_kept_and_bounded(keys: KeyStore) -> None:
    record = keys.create(name="k", priority=5)[0]
    assert keys.resolve(record.id).priority == 5
    assert keys.set_priority(record.id, -2).priority == -2
    with pytest.raises(InvalidRequest):
        keys.set_priority(record.id, 10**9)


def test_model_priority_and_constants_come_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "fluxserve.toml"
    config.write_text(
        "[scheduling]\naging_s = 5\nfair_share_s = 0\nsync_boost = 7\n"
        '[endpoints."flux-dev"]\npriority = -2\n'
    )
    settings = load_settings({"config_path": str(config), "data_dir": str(tmp_path)})
    assert settings.scheduling == SchedulingConfig(aging_s=5, fair_share_s=0, sync_boost=7)
    model_priority = settings.endpoint("flux-dev").priority
    assert (
        job_priority(
            settings.scheduling, key_priority=3, model_priority=model_priority, waiting=True
        )
        == 3 - 2 + 7
    )
    assert settings.endpoint("flux-pro").priority == 0
