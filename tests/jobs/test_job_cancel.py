"""Cancel and whereabouts in the job store, on real SQLite and PostgreSQL: a cancelled job is
released in the same transaction, its running attempt ends CANCELLED and can write nothing
more, an ended job is a Conflict naming its state, and queue positions follow claim order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from fluxserve.errors import Conflict, NotFound
from fluxserve.jobs.outbox import Outbox
from fluxserve.jobs.records import JobState
from fluxserve.jobs.store import JobStore
from fluxserve.jobs.whereabouts import RecentDurations
from tests.jobs.test_job_store import (
    CREDIT,
    _assert_reconciles,
    _attempt_outcomes,
    _funded_key,
    _new_job,
)


def test_cancel_of_a_queued_job_releases_it_and_queues_the_webhook(
    db: Database, store: JobStore, keys: KeyStore
) -> None:
    key_id = _funded_key(keys)
    job = _new_job(store, key_id, webhook_url="http://127.0.0.1:9/hook")

    ended = store.cancel(job.request_id, key_id)

    assert ended.state is JobState.CANCELLED and ended.completed_at is not None
    wallet = keys.wallet(key_id)
    assert (wallet.balance_micros, wallet.held_micros) == (CREDIT, 0)
    assert [e.kind for e in keys.ledger(key_id)] == ["release", "hold", "topup"]
    _assert_reconciles(keys, key_id)
    [delivery] = Outbox(db).due(10, datetime.now(UTC) + timedelta(seconds=1))
    assert (delivery.request_id, delivery.event) == (job.request_id, "cancelled")
    assert store.claim("w1", "n1", 30) == []  # nobody runs it any more


def test_cancel_of_a_running_job_ends_its_attempt_and_refuses_its_writes(
    store: JobStore, keys: KeyStore
) -> None:
    key_id = _funded_key(keys)
    _new_job(store, key_id)
    [claimed] = store.claim("w1", "n1", 30)
    assert store.set_progress(claimed, {"step": 1, "total": 4})

    ended = store.cancel(claimed.request_id, None)  # an operator's cancel

    assert ended.state is JobState.CANCELLED and ended.progress == {"step": 1, "total": 4}
    assert _attempt_outcomes(store._db, claimed.request_id) == ["CANCELLED"]
    assert not store.set_progress(claimed, {"step": 2, "total": 4})
    assert store.complete(claimed, output_keys=["x"], media_type="image/png") is None
    assert store.error(claimed, error="late") is None
    assert store.get(claimed.request_id) == ended
    wallet = keys.wallet(key_id)
    assert (wallet.balance_micros, wallet.held_micros) == (CREDIT, 0)
    _assert_reconciles(keys, key_id)


def test_cancel_of_an_ended_job_is_a_conflict_naming_its_state(
    store: JobStore, keys: KeyStore
) -> None:
    key_id = _funded_key(keys)
    _new_job(store, key_id)
    [claimed] = store.claim("w1", "n1", 30)
    store.complete(claimed, output_keys=["x"], media_type="image/png")

    with pytest.raises(Conflict) as raised:
        store.cancel(claimed.request_id, key_id)

    assert raised.value.details == {"status": "COMPLETED"}
    assert "COMPLETED" in raised.value.message
    assert keys.wallet(key_id).balance_micros == CREDIT - 60_000  # charged once, as before


def test_cancel_of_someone_elses_job_is_not_found(store: JobStore, keys: KeyStore) -> None:
    owner, other = _funded_key(keys), _funded_key(keys)
    job = _new_job(store, owner)

    for request_id, key in ((job.request_id, other), ("no-such-job", owner), ("a\x00b", owner)):
        with pytest.raises(NotFound):
            store.cancel(request_id, key)
    assert store.get(job.request_id) == job


def test_cancel_if_queued_leaves_a_running_job_alone(store: JobStore, keys: KeyStore) -> None:
    key_id = _funded_key(keys)
    running = _new_job(store, key_id, 0)
    queued = _new_job(store, key_id, 1)
    [claimed] = store.claim("w1", "n1", 30)
    assert claimed.request_id == running.request_id

    assert store.cancel_if_queued(running.request_id, "gave up").state is JobState.PROCESSING
    ended = store.cancel_if_queued(queued.request_id, "gave up")

    assert ended.state is JobState.CANCELLED and ended.error == "gave up"
    assert keys.wallet(key_id).held_micros == 60_000  # only the running job still holds


def test_queue_position_counts_the_jobs_of_its_model_ahead(store: JobStore, keys: KeyStore) -> None:
    key_id = _funded_key(keys)
    first, second, third = (_new_job(store, key_id, n) for n in range(3))
    other_model = _new_job(store, key_id, 9, model="flux-2-pro")

    def position(request_id: str) -> int | None:
        job = store.get(request_id)
        assert job is not None
        return store.whereabouts(job).get("queue_position")

    assert [position(j.request_id) for j in (first, second, third)] == [0, 1, 2]
    assert position(other_model.request_id) == 0
    store.cancel(second.request_id, key_id)
    assert position(third.request_id) == 1
    [claimed] = store.claim("w1", "n1", 30, model_ids=["flux-dev"])
    assert position(third.request_id) == 0
    assert store.whereabouts(claimed).keys() == {"eta_s"}
    store.complete(claimed, output_keys=["x"], media_type="image/png")
    # A finished attempt of the model gives a duration, hence an estimate.
    job = store.get(third.request_id)
    assert job is not None
    assert store.whereabouts(job)["eta_s"] is not None
    ended = store.get(claimed.request_id)
    assert ended is not None and store.whereabouts(ended) == {}


def test_a_status_read_gives_the_job_and_its_whereabouts_in_one_go(
    store: JobStore, keys: KeyStore
) -> None:
    key_id = _funded_key(keys)
    first, second = (_new_job(store, key_id, n) for n in range(2))
    read = store.status_read(second.request_id)
    assert read is not None and read.job.request_id == second.request_id
    assert read.whereabouts == store.whereabouts(read.job)
    assert read.whereabouts["queue_position"] == 1 and read.deleted == {}
    [claimed] = store.claim("w1", "n1", 30, model_ids=["flux-dev"])
    store.complete(claimed, output_keys=["x"], media_type="image/png")
    done = store.status_read(first.request_id)
    assert done is not None and done.job.state is JobState.COMPLETED
    assert done.whereabouts == {} and done.deleted == {}
    assert store.status_read("flux-dev_missing") is None
    assert store.status_read("a\x00b") is None


def test_recent_durations_are_reread_once_stale_and_none_yet_only_briefly() -> None:
    now = [0.0]
    durations = RecentDurations(ttl_s=5.0, clock=lambda: now[0], none_ttl_s=1.0)
    answers = iter([None, None, None, 2.0, 3.0])
    reads: list[str] = []

    def read(_conn: object, model_id: str) -> float | None:
        reads.append(model_id)
        return next(answers)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("fluxserve.jobs.whereabouts.recent_duration_s", read)
        assert durations.of(None, "m") is None  # type: ignore[arg-type]
        now[0] = 0.9
        assert durations.of(None, "m") is None  # type: ignore[arg-type]
        assert len(reads) == 1  # "none yet" kept for a second
        now[0] = 1.1
        assert durations.of(None, "m") is None  # type: ignore[arg-type]
        durations.forget("m")  # a job of the model finished in this process
        assert durations.of(None, "m") is None  # type: ignore[arg-type]
        assert durations.of(None, "m") is None  # type: ignore[arg-type]
        assert len(reads) == 3
        now[0] = 2.2
        assert durations.of(None, "m") == 2.0  # type: ignore[arg-type]
        durations.forget("m")  # a known duration stays until it is stale
        now[0] = 7.1
        assert durations.of(None, "m") == 2.0  # type: ignore[arg-type]
        now[0] = 7.3
        assert durations.of(None, "m") == 3.0  # type: ignore[arg-type]
    assert reads == ["m"] * 5
