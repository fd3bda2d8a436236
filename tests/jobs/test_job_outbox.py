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
        store.claim_specific(job.request_id, "w", 30)
        store.complete(job.request_id, "w", output_urls=["u"], media_type="image/png")
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
