"""The webhook outbox: due items, retries, delivery and giving up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from fluxserve.jobs.outbox import Outbox
from fluxserve.jobs.store import JobStore

T0 = datetime(2026, 3, 31, 10, 0, tzinfo=UTC)


def _finished_with_webhooks(db: Database, keys: KeyStore, count: int) -> list[str]:
    key, _ = keys.create(credit_micros=0)
    store = JobStore(db, clock=lambda: T0)
    ids = []
    for n in range(count):
        job = store.create(
            request_id=f"flux-dev_{n}",
            model_id="flux-dev",
            key_id=key.id,
            spec={},
            price_micros=0,
            webhook_url=f"https://example.test/{n}",
        )
        [claimed] = store.claim("w", "n", 30)
        assert claimed.request_id == job.request_id
        store.complete(claimed, output_keys=["u"], media_type="image/png")
        ids.append(job.request_id)
    return ids


def test_due_reschedule_deliver_give_up(db: Database, keys: KeyStore) -> None:
    ids = _finished_with_webhooks(db, keys, 3)
    outbox = Outbox(db, clock=lambda: T0)

    due = outbox.due(now=T0)
    assert [item.request_id for item in due] == ids
    assert all(item.attempts == 0 and item.next_attempt_at == T0 for item in due)
    assert outbox.due(limit=1, now=T0)[0].id == due[0].id

    outbox.mark_delivered(due[0].id, 204)
    outbox.reschedule(due[1].id, T0 + timedelta(seconds=30), "HTTP 503")
    outbox.give_up(due[2].id, "connection refused")
    outbox.mark_delivered(due[2].id, 200)  # settled rows stay settled

    assert outbox.pending_count() == 1
    assert outbox.due(now=T0) == []
    [retry] = outbox.due(now=T0 + timedelta(seconds=30))
    assert (retry.id, retry.attempts) == (due[1].id, 1)


def test_due_can_claim_items_for_a_while(db: Database, keys: KeyStore) -> None:
    _finished_with_webhooks(db, keys, 2)
    outbox = Outbox(db, clock=lambda: T0)

    assert len(outbox.due(now=T0, claim_for_s=60)) == 2
    assert outbox.due(now=T0 + timedelta(seconds=59)) == []
    assert len(outbox.due(now=T0 + timedelta(seconds=60))) == 2
    assert outbox.pending_count() == 2


def test_every_try_is_logged_and_a_replay_is_a_new_delivery(db: Database, keys: KeyStore) -> None:
    [request_id] = _finished_with_webhooks(db, keys, 1)
    clock = [T0]
    outbox = Outbox(db, clock=lambda: clock[0])
    [item] = outbox.due(now=T0)
    outbox.reschedule(item.id, T0 + timedelta(seconds=5), "receiver answered HTTP 502", 502)
    clock[0] = T0 + timedelta(seconds=5)
    outbox.reschedule(item.id, T0 + timedelta(seconds=20), "timed out after 10 s")
    clock[0] = T0 + timedelta(seconds=20)
    outbox.mark_delivered(item.id, 200)
    outbox.give_up(item.id, "too late")  # settled: no try is logged for it
    replayed = outbox.replay(request_id, "https://example.test/again", "completed")

    first, second = outbox.deliveries(request_id)
    assert (first.id, first.status, first.finished_at, first.next_attempt_at) == (
        item.id,
        "delivered",
        T0 + timedelta(seconds=20),
        None,
    )
    assert [(t.attempted_at, t.status_code, t.error) for t in first.tries] == [
        (T0, 502, "receiver answered HTTP 502"),
        (T0 + timedelta(seconds=5), None, "timed out after 10 s"),
        (T0 + timedelta(seconds=20), 200, None),
    ]
    assert (second.id, second.url, second.status, second.tries) == (
        replayed,
        "https://example.test/again",
        "pending",
        [],
    )
    assert second.next_attempt_at == clock[0]
    assert outbox.deliveries("flux-dev_missing") == []
