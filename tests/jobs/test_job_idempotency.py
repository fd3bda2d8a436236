"""Idempotency keys in the job store: the job and its key are written together, a second job
for a live key is refused with nothing written, and an expired key is purged and free again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from fluxserve.jobs.idempotency import DuplicateIdempotencyKey, IdempotencyClaim, IdempotentJob
from fluxserve.jobs.store import JobStore

T0 = datetime(2026, 3, 31, 10, 0, tzinfo=UTC)
TTL_S = 60.0


def test_one_job_per_live_key_and_expired_keys_are_freed(db: Database, keys: KeyStore) -> None:
    key, _ = keys.create(credit_micros=1_000_000)
    clock = [T0]
    store = JobStore(db, clock=lambda: clock[0])
    claim = IdempotencyClaim(key="order-1", fingerprint="f" * 64, ttl_s=TTL_S)

    def create(request_id: str) -> None:
        store.create(
            request_id=request_id,
            model_id="flux-dev",
            key_id=key.id,
            spec={},
            price_micros=25_000,
            idempotency_claim=claim,
        )

    create("flux-dev_1")
    assert store.idempotent(key.id, "order-1") == IdempotentJob("flux-dev_1", "f" * 64)
    assert store.idempotent(key.id, "order-2") is None
    with pytest.raises(DuplicateIdempotencyKey):
        create("flux-dev_2")
    assert store.get("flux-dev_2") is None
    assert keys.wallet(key.id).held_micros == 25_000  # one hold: the refused twin held nothing

    clock[0] = T0 + timedelta(seconds=TTL_S)
    assert store.idempotent(key.id, "order-1") is None  # expired
    create("flux-dev_3")  # purges the expired row and takes the key again
    assert store.idempotent(key.id, "order-1") == IdempotentJob("flux-dev_3", "f" * 64)
