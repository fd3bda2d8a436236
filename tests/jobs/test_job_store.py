"""JobStore against real SQLite and PostgreSQL databases: money moves with state, exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy.exc

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from fluxserve.errors import InsufficientBalance
from fluxserve.jobs.outbox import Outbox
from fluxserve.jobs.records import JobRecord, JobState
from fluxserve.jobs.store import JobStore

PRICE = 60_000  # $0.06
CREDIT = 1_000_000  # $1


def _new_job(
    store: JobStore,
    key_id: str,
    n: int = 0,
    *,
    price: int = PRICE,
    model: str = "flux-dev",
    **kw: Any,
) -> JobRecord:
    return store.create(
        request_id=f"{model}_{n:04d}",
        model_id=model,
        key_id=key_id,
        spec={"prompt": f"a cat #{n}", "seed": n, "size": [512, 512]},
        price_micros=price,
        **kw,
    )


def _funded_key(keys: KeyStore, credit: int = CREDIT) -> str:
    record, _ = keys.create(name="t", credit_micros=credit)
    return record.id


def _assert_reconciles(keys: KeyStore, key_id: str) -> None:
    wallet = keys.wallet(key_id)
    entries = list(reversed(keys.ledger(key_id, limit=10_000)))
    assert sum(e.amount_micros for e in entries) == wallet.balance_micros + wallet.held_micros
    running = 0
    for entry in entries:
        running += entry.amount_micros
        assert entry.balance_after_micros + entry.held_after_micros == running
        assert entry.balance_after_micros >= 0 and entry.held_after_micros >= 0
    if entries:
        assert entries[-1].balance_after_micros == wallet.balance_micros
        assert entries[-1].held_after_micros == wallet.held_micros


def test_create_holds_the_price_with_the_job(store: JobStore, keys: KeyStore) -> None:
    key_id = _funded_key(keys)
    job = _new_job(store, key_id, webhook_url="https://example.test/hook")

    assert job.state is JobState.QUEUED
    assert job.attempts == 0 and job.worker_id is None and job.completed_at is None
    assert job.created_at.tzinfo is not None and job.created_at.utcoffset() == timedelta(0)
    assert store.get(job.request_id) == job
    assert job.spec == {"prompt": "a cat #0", "seed": 0, "size": [512, 512]}
    wallet = keys.wallet(key_id)
    assert (wallet.balance_micros, wallet.held_micros) == (CREDIT - PRICE, PRICE)
    hold = keys.ledger(key_id)[0]
    assert (hold.kind, hold.request_id, hold.amount_micros) == ("hold", job.request_id, 0)
    assert hold.held_after_micros == PRICE
    _assert_reconciles(keys, key_id)


def test_insufficient_balance_leaves_nothing_behind(store: JobStore, keys: KeyStore) -> None:
    key_id = _funded_key(keys, credit=PRICE - 1)
    ledger_before = keys.ledger(key_id)

    with pytest.raises(InsufficientBalance) as caught:
        _new_job(store, key_id, webhook_url="https://example.test/hook")

    assert caught.value.required_usd == Decimal("0.06")
    assert store.get("flux-dev_0000") is None
    assert keys.ledger(key_id) == ledger_before
    wallet = keys.wallet(key_id)
    assert (wallet.balance_micros, wallet.held_micros) == (PRICE - 1, 0)
    assert store.queued_count() == 0


def test_free_job_touches_neither_wallet_nor_ledger(store: JobStore, keys: KeyStore) -> None:
    key_id = _funded_key(keys, credit=0)
    job = _new_job(store, key_id, price=0, model="flux-1-schnell")
    store.claim("w1", 30)
    done = store.complete(
        job.request_id, "w1", output_urls=["/media/a.png"], media_type="image/png"
    )

    assert done is not None and done.state is JobState.COMPLETED
    assert keys.ledger(key_id) == []
    assert keys.wallet(key_id).balance_micros == 0


def test_complete_captures_exactly_once(store: JobStore, keys: KeyStore) -> None:
    key_id = _funded_key(keys)
    job = _new_job(store, key_id)
    assert store.complete(job.request_id, "w1", output_urls=["x"], media_type="image/png") is None
    [claimed] = store.claim("w1", 30)

    intruder = store.complete(claimed.request_id, "w2", output_urls=["x"], media_type="image/png")
    done = store.complete(
        claimed.request_id, "w1", output_urls=["/media/a.png"], media_type="image/png"
    )
    again = store.complete(claimed.request_id, "w1", output_urls=["y"], media_type="image/png")
    late_error = store.error(claimed.request_id, "w1", error="too late")

    assert intruder is None and again is None and late_error is None
    assert done is not None and done.state is JobState.COMPLETED
    assert done.output_urls == ["/media/a.png"] and done.media_type == "image/png"
    assert done.completed_at is not None and done.lease_until is None
    assert store.get(job.request_id) == done
    wallet = keys.wallet(key_id)
    assert (wallet.balance_micros, wallet.held_micros) == (CREDIT - PRICE, 0)
    assert [e.kind for e in keys.ledger(key_id)] == ["capture", "hold", "topup"]
    assert keys.ledger(key_id)[0].amount_micros == -PRICE
    _assert_reconciles(keys, key_id)


@pytest.mark.parametrize(
    ("finish", "state"), [("fail", JobState.FAILED), ("error", JobState.ERROR)]
)
def test_fail_and_error_release_the_hold(
    store: JobStore, keys: KeyStore, finish: str, state: JobState
) -> None:
    key_id = _funded_key(keys)
    job = _new_job(store, key_id)
    store.claim("w1", 30)

    ended = getattr(store, finish)(job.request_id, "w1", error="prompt refused")

    assert ended.state is state and ended.error == "prompt refused" and ended.output_urls == []
    wallet = keys.wallet(key_id)
    assert (wallet.balance_micros, wallet.held_micros) == (CREDIT, 0)
    assert [e.kind for e in keys.ledger(key_id)] == ["release", "hold", "topup"]
    _assert_reconciles(keys, key_id)


def test_racing_creates_never_overdraw(db: Database, keys: KeyStore) -> None:
    key_id = _funded_key(keys, credit=5 * PRICE)
    store = JobStore(db)
    barrier = threading.Barrier(20)

    def attempt(n: int) -> bool:
        barrier.wait()
        try:
            _new_job(store, key_id, n)
        except InsufficientBalance:
            return False
        return True

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(attempt, range(20)))

    assert outcomes.count(True) == 5
    wallet = keys.wallet(key_id)
    assert (wallet.balance_micros, wallet.held_micros) == (0, 5 * PRICE)
    assert store.queued_count() == 5
    _assert_reconciles(keys, key_id)


def test_claim_is_exclusive_under_concurrent_claimers(store: JobStore, keys: KeyStore) -> None:
    key_id = _funded_key(keys, credit=0)
    created = {_new_job(store, key_id, n, price=0).request_id for n in range(24)}
    barrier = threading.Barrier(6)

    def drain(worker: int) -> list[JobRecord]:
        barrier.wait()
        taken: list[JobRecord] = []
        while batch := store.claim(f"w{worker}", 30, limit=2):
            taken.extend(batch)
        return taken

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(drain, range(6)))

    claimed = [job for batch in results for job in batch]
    assert sorted(job.request_id for job in claimed) == sorted(created)
    assert all(job.state is JobState.PROCESSING and job.attempts == 1 for job in claimed)
    assert all(store.get(job.request_id) == job for job in claimed)
    assert store.queued_count() == 0


def test_claim_takes_oldest_first_and_filters_models(db: Database, keys: KeyStore) -> None:
    clock = _ManualClock()
    store = JobStore(db, clock=clock)
    key_id = _funded_key(keys)
    first = _new_job(store, key_id, 1, model="flux-dev")
    clock.advance(1)
    other = _new_job(store, key_id, 2, model="flux-pro")
    clock.advance(1)
    third = _new_job(store, key_id, 3, model="flux-dev")

    assert store.queued_count(["flux-dev"]) == 2
    assert store.claim("w", 30, model_ids=[]) == []
    taken = store.claim("w", 30, model_ids=["flux-dev"], limit=5)
    assert [j.request_id for j in taken] == [first.request_id, third.request_id]
    assert taken[0].lease_until == clock() + timedelta(seconds=30)
    assert [j.request_id for j in store.claim("w", 30)] == [other.request_id]
    assert store.claim("w", 30) == []


def test_claim_specific_renew_and_progress(store: JobStore, keys: KeyStore) -> None:
    job = _new_job(store, _funded_key(keys))

    mine = store.claim_specific(job.request_id, "w1", 30)
    assert mine is not None and mine.worker_id == "w1" and mine.attempts == 1
    assert store.claim_specific(job.request_id, "w2", 30) is None
    assert store.renew_lease(job.request_id, "w1", 600)
    assert not store.renew_lease(job.request_id, "w2", 600)
    store.set_progress(job.request_id, "w2", {"step": 9})
    store.set_progress(job.request_id, "w1", {"step": 2, "of": 4})

    current = store.get(job.request_id)
    assert current is not None and current.progress == {"step": 2, "of": 4}
    assert current.lease_until is not None and mine.lease_until is not None
    assert current.lease_until > mine.lease_until


def test_recover_requeues_then_errors_and_releases(db: Database, keys: KeyStore) -> None:
    clock = _ManualClock()
    store = JobStore(db, clock=clock)
    key_id = _funded_key(keys)
    job = _new_job(store, key_id, webhook_url="https://example.test/hook")
    store.claim("w1", 10)

    assert store.recover(max_attempts=2) == []  # lease still valid
    clock.advance(11)
    [requeued] = store.recover(max_attempts=2)
    assert requeued.state is JobState.QUEUED and requeued.worker_id is None
    assert requeued.attempts == 1
    assert store.complete(job.request_id, "w1", output_urls=["x"], media_type="image/png") is None

    store.claim("w2", 10)
    clock.advance(11)
    [ended] = store.recover(max_attempts=2)

    assert ended.state is JobState.ERROR and ended.attempts == 2 and ended.error
    wallet = keys.wallet(key_id)
    assert (wallet.balance_micros, wallet.held_micros) == (CREDIT, 0)
    assert [item.event for item in Outbox(db, clock=clock).due()] == ["error"]
    assert store.complete(job.request_id, "w2", output_urls=["x"], media_type="image/png") is None
    _assert_reconciles(keys, key_id)


def test_recover_all_processing_ignores_leases(store: JobStore, keys: KeyStore) -> None:
    key_id = _funded_key(keys)
    _new_job(store, key_id, 1)
    _new_job(store, key_id, 2)
    store.claim("w1", 3600, limit=2)

    recovered = store.recover(max_attempts=3, all_processing=True)

    assert sorted(j.state for j in recovered) == [JobState.QUEUED, JobState.QUEUED]
    assert store.queued_count() == 2


@pytest.mark.parametrize(
    ("url", "events", "finish", "expected"),
    [
        (None, None, "complete", []),
        ("https://example.test/h", ["completed"], "fail", []),
        ("https://example.test/h", ["failed"], "error", ["error"]),
    ],
)
def test_outbox_rows_follow_url_and_filter(
    db: Database,
    keys: KeyStore,
    url: str | None,
    events: list[str] | None,
    finish: str,
    expected: list[str],
) -> None:
    store = JobStore(db)
    job = _new_job(store, _funded_key(keys), webhook_url=url, webhook_events=events)
    store.claim("w", 30)
    finishers: dict[str, Callable[[], JobRecord | None]] = {
        "complete": lambda: store.complete(
            job.request_id, "w", output_urls=["u"], media_type="image/png"
        ),
        "fail": lambda: store.fail(job.request_id, "w", error="bad"),
        "error": lambda: store.error(job.request_id, "w", error="boom"),
    }
    assert finishers[finish]() is not None

    due = Outbox(db).due()
    assert [item.event for item in due] == expected
    assert all(item.url == url and item.request_id == job.request_id for item in due)


def test_alias_lookup_and_uniqueness(store: JobStore, keys: KeyStore) -> None:
    key_id = _funded_key(keys)
    job = _new_job(store, key_id, 1, alias="18a36237-f8b2-4c8d-9a3b-d5e8a9f12c45")

    assert store.get_by_alias("18a36237-f8b2-4c8d-9a3b-d5e8a9f12c45") == job
    assert store.get_by_alias("nope") is None
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        _new_job(store, key_id, 2, alias="18a36237-f8b2-4c8d-9a3b-d5e8a9f12c45")
    assert store.get("flux-dev_0002") is None
    assert keys.wallet(key_id).held_micros == PRICE
    _assert_reconciles(keys, key_id)


class _ManualClock:
    def __init__(self) -> None:
        self._now = datetime(2026, 3, 31, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
