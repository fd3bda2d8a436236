"""A key's active jobs, counted in the job store: QUEUED and PROCESSING, of every model."""

from __future__ import annotations

import pytest

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from fluxserve.errors import TooManyActiveJobs
from fluxserve.jobs.quota import count_active_jobs
from fluxserve.jobs.store import JobStore


def _job(store: JobStore, key_id: str, n: int, model: str = "flux-1-schnell") -> str:
    request_id = f"{model}_{n:04d}"
    store.create(
        request_id=request_id, model_id=model, key_id=key_id, spec={"n": n}, price_micros=0
    )
    return request_id


def test_counts_queued_and_processing_of_one_key(
    db: Database, store: JobStore, keys: KeyStore
) -> None:
    mine, _ = keys.create(name="mine", credit_micros=0)
    theirs, _ = keys.create(name="theirs", credit_micros=0)
    assert count_active_jobs(db, mine.id) == 0
    for n in range(3):
        _job(store, mine.id, n)
    _job(store, mine.id, 3, model="flux-dev")
    _job(store, theirs.id, 9)
    assert count_active_jobs(db, mine.id) == 4
    claimed = store.claim("worker-1", "node-1", 60.0, limit=2)
    assert len(claimed) == 2
    assert count_active_jobs(db, mine.id) == 4  # PROCESSING still counts
    for job in claimed:
        if job.key_id == mine.id:
            store.complete(job, output_keys=[], media_type="image/png")
        else:
            store.fail(job, error="x")
    finished_mine = sum(job.key_id == mine.id for job in claimed)
    assert count_active_jobs(db, mine.id) == 4 - finished_mine
    assert count_active_jobs(db, theirs.id) == 1 - (len(claimed) - finished_mine)


def test_counting_stops_at_the_cap(db: Database, store: JobStore, keys: KeyStore) -> None:
    mine, _ = keys.create(name="mine", credit_micros=0)
    for n in range(5):
        _job(store, mine.id, n)
    assert count_active_jobs(db, mine.id, up_to=3) == 3
    assert count_active_jobs(db, mine.id, up_to=10) == 5


def test_the_submit_transaction_refuses_a_key_at_its_cap(
    db: Database, store: JobStore, keys: KeyStore
) -> None:
    mine, _ = keys.create(name="mine", credit_micros=1_000_000)
    for n in range(2):
        store.create(
            request_id=f"flux-dev_{n}", model_id="flux-dev", key_id=mine.id, spec={},
            price_micros=1000, active_cap=2,
        )  # fmt: skip
    with pytest.raises(TooManyActiveJobs) as refused:
        store.create(
            request_id="flux-dev_2", model_id="flux-dev", key_id=mine.id, spec={},
            price_micros=1000, active_cap=2,
        )  # fmt: skip
    assert refused.value.limit == 2 and refused.value.retry_after_s > 0
    # Nothing of the refused job is left: no row, and only the two holds.
    assert store.get("flux-dev_2") is None
    assert keys.wallet(mine.id).held_micros == 2000
    assert count_active_jobs(db, mine.id) == 2
