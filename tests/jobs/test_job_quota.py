"""A key's active jobs, counted in the job store: QUEUED and PROCESSING, of every model."""

from __future__ import annotations

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
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
