"""Attempt-safe media and cross-node wake-ups, on each backend.

A stale attempt (its node thought dead, its job re-queued and finished by another attempt)
that then finishes too must neither change the job nor delete the winner's published files:
every COMPLETED job's media resolves, forever."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from PIL import Image

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from fluxserve.engine.boundary.no_engine import NoEngine
from fluxserve.jobs.records import JobState
from fluxserve.jobs.signals import JobSignals
from fluxserve.jobs.spec import GenerationSpec
from fluxserve.jobs.store import JobStore
from fluxserve.settings import Settings, TrainingConfig
from fluxserve.storage.local import LocalStorage
from fluxserve.worker.job_runner import JobRunner, RunnerDeps
from fluxserve.worker.tasks import store_images

SPEC = GenerationSpec(
    engine_model="flux1-schnell",
    operation="text_to_image",
    prompt="a red bicycle",
    width=32,
    height=32,
    steps=1,
    seeds=[1],
)


def _runner(store: JobStore, storage: LocalStorage, tmp_path: Path) -> JobRunner:
    deps = RunnerDeps(
        jobs=store,
        storage=storage,
        engine=NoEngine(Settings(data_dir=tmp_path)),
        signals=JobSignals(),
        work_dir=tmp_path / "work",
        training=TrainingConfig(),
    )
    return JobRunner(deps, "w")


def test_a_stale_attempt_cleans_up_only_its_own_files(
    db: Database, store: JobStore, keys: KeyStore, tmp_path: Path
) -> None:
    key, _ = keys.create(name="t", credit_micros=1_000_000)
    storage = LocalStorage(tmp_path / "media", "http://node")
    store.create(
        request_id="flux-1-schnell_0001",
        model_id="flux-1-schnell",
        key_id=key.id,
        spec=SPEC.model_dump(mode="json"),
        price_micros=10,
    )
    [stale] = store.claim("w1", "node-a", 30)
    assert store.rescue_node("node-a", max_attempts=3)  # node-a looked dead
    [winner] = store.claim("w2", "node-b", 30)
    image = Image.new("RGB", (32, 32), "red")

    runner = _runner(store, storage, tmp_path)
    winner_keys, media = store_images(winner, [image], SPEC, storage)
    runner._complete(winner, winner_keys, media)
    stale_keys, _ = store_images(stale, [image], SPEC, storage)  # the stale one ends too
    runner._complete(stale, stale_keys, media)

    done = store.get("flux-1-schnell_0001")
    assert done is not None and done.state is JobState.COMPLETED
    assert done.output_keys == winner_keys != stale_keys
    assert all(storage.get(k) is not None for k in winner_keys)
    assert all(storage.get(k) is None for k in stale_keys)
    assert [e.kind for e in keys.ledger(key.id)] == ["capture", "hold", "topup"]


def test_postgres_wakes_listeners_on_other_nodes(postgres_url: str) -> None:
    from fluxserve.jobs.listener import PgListener

    db = Database.open(postgres_url)
    signals = JobSignals()
    finished = threading.Event()
    signals.add_finish_listener(finished.set)
    listener = PgListener(postgres_url, signals)
    listener.start()
    try:
        key, _ = KeyStore(db).create(name="t", credit_micros=0)
        store = JobStore(db)  # "another node": it shares only the database with the listener
        deadline = time.monotonic() + 30
        woken = False
        while not woken and time.monotonic() < deadline:  # until LISTEN is in place
            mark = signals.work_mark(["flux-dev"])
            store.create(
                request_id=f"flux-dev_{time.monotonic_ns()}",
                model_id="flux-dev",
                key_id=key.id,
                spec={},
                price_micros=0,
            )
            woken = _waits_less_than(signals, mark, 0.5)
        assert woken, "a job queued on another node never woke this node's workers"
        [claimed] = store.claim("w", "n", 30)
        store.error(claimed, error="boom")
        assert finished.wait(10), "a job that ended on another node never woke this node"
    finally:
        listener.stop()
        db.close()


def _waits_less_than(signals: JobSignals, mark: int, timeout_s: float) -> bool:
    started = time.monotonic()
    signals.wait_for_work(["flux-dev"], mark, timeout_s)
    return time.monotonic() - started < timeout_s * 0.9
