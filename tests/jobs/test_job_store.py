"""JobStore against real SQLite and PostgreSQL databases: money moves with state, exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy.exc
from sqlalchemy import Connection, func, select

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from fluxserve.db.retry import retry_transient
from fluxserve.db.schema import job_attempts, jobs
from fluxserve.errors import InsufficientBalance
from fluxserve.jobs.nodes import NodeStore
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


def _queued(db: Database, model_ids: list[str] | None = None) -> int:
    query = select(func.count()).select_from(jobs).where(jobs.c.state == JobState.QUEUED.value)
    if model_ids is not None:
        query = query.where(jobs.c.model_id.in_(model_ids))
    with db.read() as conn:
        return int(conn.execute(query).scalar_one())


def _attempt_outcomes(db: Database, request_id: str) -> list[str | None]:
    query = (
        select(job_attempts.c.outcome)
        .where(job_attempts.c.request_id == request_id)
        .order_by(job_attempts.c.started_at)
    )
    with db.read() as conn:
        return list(conn.scalars(query))


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


def test_insufficient_balance_leaves_nothing_behind(
    db: Database, store: JobStore, keys: KeyStore
) -> None:
    key_id = _funded_key(keys, credit=PRICE - 1)
    ledger_before = keys.ledger(key_id)

    with pytest.raises(InsufficientBalance) as caught:
        _new_job(store, key_id, webhook_url="https://example.test/hook")

    assert caught.value.required_usd == Decimal("0.06")
    assert store.get("flux-dev_0000") is None
    assert keys.ledger(key_id) == ledger_before
    wallet = keys.wallet(key_id)
    assert (wallet.balance_micros, wallet.held_micros) == (PRICE - 1, 0)
    assert _queued(db) == 0


def test_free_job_touches_neither_wallet_nor_ledger(store: JobStore, keys: KeyStore) -> None:
    key_id = _funded_key(keys, credit=0)
    _new_job(store, key_id, price=0, model="flux-1-schnell")
    [claimed] = store.claim("w1", "n1", 30)
    done = store.complete(claimed, output_keys=["outputs/a.png"], media_type="image/png")

    assert done is not None and done.state is JobState.COMPLETED
    assert keys.ledger(key_id) == []
    assert keys.wallet(key_id).balance_micros == 0


def test_complete_captures_exactly_once(store: JobStore, keys: KeyStore) -> None:
    key_id = _funded_key(keys)
    job = _new_job(store, key_id)
    assert store.complete(job, output_keys=["x"], media_type="image/png") is None
    [claimed] = store.claim("w1", "n1", 30)

    intruder = replace(claimed, attempt_id="someone-elses")
    assert store.complete(intruder, output_keys=["x"], media_type="image/png") is None
    assert store.fail(intruder, error="not mine") is None  # another set of columns
    assert store.error(replace(claimed, attempt_id=None), error="no attempt") is None
    done = store.complete(claimed, output_keys=["outputs/a.png"], media_type="image/png")
    again = store.complete(claimed, output_keys=["y"], media_type="image/png")
    late_error = store.error(claimed, error="too late")

    assert again is None and late_error is None
    assert done is not None and done.state is JobState.COMPLETED
    assert done.output_keys == ["outputs/a.png"] and done.media_type == "image/png"
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
    _new_job(store, key_id)
    [claimed] = store.claim("w1", "n1", 30)

    ended = getattr(store, finish)(claimed, error="prompt refused")

    assert ended.state is state and ended.error == "prompt refused" and ended.output_keys == []
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
    assert _queued(db) == 5
    _assert_reconciles(keys, key_id)


def test_claim_is_exclusive_under_concurrent_claimers(
    db: Database, store: JobStore, keys: KeyStore
) -> None:
    key_id = _funded_key(keys, credit=0)
    created = {_new_job(store, key_id, n, price=0).request_id for n in range(24)}
    barrier = threading.Barrier(6)

    def drain(worker: int) -> list[JobRecord]:
        barrier.wait()
        taken: list[JobRecord] = []
        while batch := store.claim(f"w{worker}", "n1", 30, limit=2):
            taken.extend(batch)
        return taken

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(drain, range(6)))

    claimed = [job for batch in results for job in batch]
    assert sorted(job.request_id for job in claimed) == sorted(created)
    assert all(job.state is JobState.PROCESSING and job.attempts == 1 for job in claimed)
    assert all(store.get(job.request_id) == job for job in claimed)
    assert _queued(db) == 0


def test_claim_takes_oldest_first_and_filters_models(db: Database, keys: KeyStore) -> None:
    clock = _ManualClock()
    store = JobStore(db, clock=clock)
    key_id = _funded_key(keys)
    first = _new_job(store, key_id, 1, model="flux-dev")
    clock.advance(1)
    other = _new_job(store, key_id, 2, model="flux-pro")
    clock.advance(1)
    third = _new_job(store, key_id, 3, model="flux-dev")

    assert _queued(db, ["flux-dev"]) == 2
    assert store.claim("w", "n", 30, model_ids=[]) == []
    assert store.claim("w", "n", 30, model_ids=iter(())) == []  # type: ignore[arg-type]
    taken = store.claim("w", "n", 30, model_ids=["flux-dev"], limit=5)
    assert [j.request_id for j in taken] == [first.request_id, third.request_id]
    assert taken[0].lease_until == clock() + timedelta(seconds=30)
    assert [j.request_id for j in store.claim("w", "n", 30)] == [other.request_id]
    assert store.claim("w", "n", 30) == []


def test_claim_filters_on_several_models_in_claim_order(db: Database, keys: KeyStore) -> None:
    clock = _ManualClock()
    store = JobStore(db, clock=clock)
    key_id = _funded_key(keys)
    made = []
    for n, model in enumerate(["flux-pro", "flux-1-schnell", "flux-dev", "flux-pro"]):
        made.append(_new_job(store, key_id, n, model=model))
        clock.advance(1)

    # In claim order, not in the order the rows lie: the first is the oldest flux-pro job.
    [first] = store.claim("w", "n", 30, model_ids=["flux-dev", "flux-pro"], limit=1)
    assert first.request_id == made[0].request_id
    # A model named twice; the statement for one model is not the one for two.
    taken = [first, *store.claim("w", "n", 30, model_ids=["flux-pro", "flux-dev", "flux-pro"])]
    assert [j.request_id for j in taken] == [made[0].request_id, made[2].request_id]
    assert store.claim("w", "n", 30, model_ids=["flux-dev"]) == []
    [last] = store.claim("w", "n", 30, model_ids=["flux-dev", "flux-pro"], limit=5)
    assert last.request_id == made[3].request_id
    assert all(store.get(j.request_id) == j for j in [*taken, last])
    assert _queued(db) == 1  # the schnell job, of no model asked for


def test_claim_starts_an_attempt_and_progress_is_guarded_by_it(
    store: JobStore, keys: KeyStore
) -> None:
    job = _new_job(store, _funded_key(keys))

    [mine] = store.claim("w1", "n1", 30)
    assert mine.request_id == job.request_id and mine.attempt_id
    assert (mine.worker_id, mine.node_id, mine.attempts) == ("w1", "n1", 1)
    assert store.claim("w2", "n2", 30) == []
    store.set_progress(replace(mine, attempt_id="stale"), {"step": 9})
    store.set_progress(mine, {"step": 2, "of": 4})

    current = store.get(job.request_id)
    assert current is not None and current.progress == {"step": 2, "of": 4}


def test_heartbeat_renews_leases_and_only_dead_nodes_lose_jobs(
    db: Database, keys: KeyStore
) -> None:
    clock = _ManualClock()
    store, nodes = JobStore(db, clock=clock), NodeStore(db, clock=clock)
    key_id = _funded_key(keys)
    alive_job, dead_job = _new_job(store, key_id, 1), _new_job(store, key_id, 2)
    nodes.register("alive", "worker", None)
    nodes.register("dead", "worker", None)
    [alive_claim] = store.claim("wa", "alive", 10)
    [dead_claim] = store.claim("wd", "dead", 10)

    for _ in range(5):  # 25 s: far past the 10 s leases, but "alive" keeps beating
        clock.advance(5)
        assert nodes.beat("alive", 10, [alive_claim.attempt_id or ""]) == 1
        assert [j.request_id for j in store.rescue(max_attempts=2, node_timeout_s=12)] == (
            [dead_job.request_id] if _ == 2 else []
        )

    assert store.get(alive_job.request_id).state is JobState.PROCESSING  # type: ignore[union-attr]
    requeued = store.get(dead_job.request_id)
    assert requeued is not None and requeued.state is JobState.QUEUED
    assert requeued.attempt_id is None and requeued.attempts == 1
    # The dead node's attempt can no longer finish the job, wherever it runs next.
    assert store.complete(dead_claim, output_keys=["x"], media_type="image/png") is None
    assert store.complete(alive_claim, output_keys=["y"], media_type="image/png") is not None
    assert _attempt_outcomes(db, dead_job.request_id) == ["LOST"]


def test_a_live_node_renews_only_the_jobs_it_still_runs(db: Database, keys: KeyStore) -> None:
    clock = _ManualClock()
    store, nodes = JobStore(db, clock=clock), NodeStore(db, clock=clock)
    key_id = _funded_key(keys)
    running, orphan = _new_job(store, key_id, 1), _new_job(store, key_id, 2)
    nodes.register("n", "worker", None)
    [claim, _] = store.claim("w", "n", 10, limit=2)
    assert claim.request_id == running.request_id

    rescued: list[str] = []
    for _ in range(3):  # the node beats, but its thread for `orphan` is gone
        clock.advance(5)
        assert nodes.beat("n", 10, [claim.attempt_id or ""]) == 1
        rescued += [j.request_id for j in store.rescue(max_attempts=2, node_timeout_s=12)]

    assert rescued == [orphan.request_id]
    assert store.get(running.request_id).state is JobState.PROCESSING  # type: ignore[union-attr]
    assert _attempt_outcomes(db, orphan.request_id) == ["LOST"]


class _DropsAfterCommit(Database):
    """A database whose next write transaction commits and then loses its connection, as a
    PostgreSQL restart can do between COMMIT and its acknowledgement."""

    drops = 1

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with super().write() as conn:
            yield conn
        if self.drops:
            self.drops -= 1
            raise sqlalchemy.exc.OperationalError("COMMIT", {}, ConnectionError("lost"))


def test_an_end_whose_acknowledgement_was_lost_is_still_this_attempts(
    db: Database, keys: KeyStore
) -> None:
    store = JobStore(db)
    key_id = _funded_key(keys)
    job = _new_job(store, key_id)
    [claim] = store.claim("w", "n", 60)
    flaky = JobStore(_DropsAfterCommit(db.engine))

    done = flaky.complete(claim, output_keys=["k"], media_type="image/png")

    assert done is not None and done.state is JobState.COMPLETED
    kinds = [entry.kind for entry in keys.ledger(key_id, limit=100)]
    assert kinds.count("capture") == 1
    assert _attempt_outcomes(db, job.request_id) == ["COMPLETED"]


def test_only_faults_of_the_connection_are_retried() -> None:
    calls: list[str] = []

    def flaky() -> str:
        calls.append("try")
        if len(calls) < 3:
            raise sqlalchemy.exc.OperationalError("SELECT 1", {}, ConnectionError("reset"))
        return "ok"

    def broken() -> None:
        calls.append("broken")
        raise sqlalchemy.exc.ProgrammingError("SELEC 1", {}, ValueError("syntax"))

    assert retry_transient(flaky, within_s=30, sleep=lambda _: None) == "ok"
    with pytest.raises(sqlalchemy.exc.ProgrammingError):
        retry_transient(broken, within_s=30, sleep=lambda _: None)
    assert calls == ["try", "try", "try", "broken"]


def test_rescue_requeues_then_errors_and_releases(db: Database, keys: KeyStore) -> None:
    clock = _ManualClock()
    store = JobStore(db, clock=clock)
    key_id = _funded_key(keys)
    job = _new_job(store, key_id, webhook_url="https://example.test/hook")
    [first] = store.claim("w1", "n1", 10)

    assert store.rescue(max_attempts=2, node_timeout_s=30) == []  # lease still valid
    clock.advance(11)
    [requeued] = store.rescue(max_attempts=2, node_timeout_s=30)
    assert requeued.state is JobState.QUEUED and requeued.worker_id is None
    assert requeued.attempts == 1
    assert store.complete(first, output_keys=["x"], media_type="image/png") is None

    [second] = store.claim("w2", "n2", 10)
    clock.advance(11)
    [ended] = store.rescue(max_attempts=2, node_timeout_s=30)

    assert ended.state is JobState.ERROR and ended.attempts == 2 and ended.error
    wallet = keys.wallet(key_id)
    assert (wallet.balance_micros, wallet.held_micros) == (CREDIT, 0)
    assert [item.event for item in Outbox(db, clock=clock).due()] == ["error"]
    assert store.complete(second, output_keys=["x"], media_type="image/png") is None
    assert _attempt_outcomes(db, job.request_id) == ["LOST", "LOST"]
    _assert_reconciles(keys, key_id)


def test_rescue_node_and_hand_back_ignore_leases(
    db: Database, store: JobStore, keys: KeyStore
) -> None:
    key_id = _funded_key(keys)
    _new_job(store, key_id, 1)
    _new_job(store, key_id, 2)
    _new_job(store, key_id, 3)
    store.claim("w1", "old-life", 3600, limit=2)
    [other] = store.claim("w2", "stopping", 3600)

    rescued = store.rescue_node("old-life", max_attempts=3)
    handed = store.hand_back("stopping")

    assert sorted(j.state for j in rescued) == [JobState.QUEUED, JobState.QUEUED]
    assert [j.attempts for j in rescued] == [1, 1]
    assert [(j.request_id, j.attempts) for j in handed] == [(other.request_id, 0)]
    assert _attempt_outcomes(db, other.request_id) == ["HANDED_BACK"]
    assert _queued(db) == 3


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
    [claimed] = store.claim("w", "n", 30)
    finishers: dict[str, Callable[[], JobRecord | None]] = {
        "complete": lambda: store.complete(claimed, output_keys=["u"], media_type="image/png"),
        "fail": lambda: store.fail(claimed, error="bad"),
        "error": lambda: store.error(claimed, error="boom"),
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
