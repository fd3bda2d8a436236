"""The retention sweeper against real SQLite and PostgreSQL and a real media folder, on a
clock the test moves: it deletes exactly what is past its retention, records it, and never
touches the LoRA of a training that is still kept, nor anything of a job still running."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from fluxserve.jobs.media_log import MediaLog
from fluxserve.jobs.records import JobRecord
from fluxserve.jobs.store import JobStore
from fluxserve.settings import DAY_S, RetentionConfig
from fluxserve.storage.local import LocalStorage
from fluxserve.worker.retention import RetentionSweeper
from fluxserve.worker.tasks import lora_cache_name

TRAINER = "flux-2-pro-text-to-image-trainer-712"
PNG = "image/png"


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, days: float) -> None:
        self.now += timedelta(days=days)


@dataclass
class World:
    clock: Clock
    store: JobStore
    log: MediaLog
    storage: LocalStorage
    work_dir: Path
    sweeper: RetentionSweeper
    key_id: str

    def job(self, request_id: str, *, model: str = "flux-dev", finish: bool = True) -> JobRecord:
        """A job with an input and (when finished) an output, as the API and a worker leave
        them; it ends at the clock's now."""
        self.store.create(
            request_id=request_id, model_id=model, key_id=self.key_id, spec={}, price_micros=0
        )
        self.storage.put(f"inputs/{request_id}/image.png", b"in", PNG)
        [claimed] = self.store.claim("w", "n", 60, [model])
        folder = f"outputs/{request_id}/{claimed.attempt_id}"
        name = "lora.safetensors" if model == TRAINER else "output-0.png"
        key = f"{folder}/{name}"
        self.storage.put(key, b"out", "application/octet-stream" if model == TRAINER else PNG)
        if not finish:
            return claimed
        done = self.store.complete(claimed, output_keys=[key], media_type=PNG)
        assert done is not None
        return done

    def has(self, key: str) -> bool:
        return self.storage.get(key) is not None

    def cache_file(self, name: str, *, last_used_days_ago: float) -> Path:
        path = self.work_dir / "lora-cache" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"lora")
        when = (self.clock.now - timedelta(days=last_used_days_ago)).timestamp()
        os.utime(path, (when, when))
        return path


@pytest.fixture
def world(db: Database, keys: KeyStore, tmp_path: Path) -> World:
    clock = Clock()
    store = JobStore(db, clock=clock)
    log = MediaLog(db)
    storage = LocalStorage(tmp_path / "media", "http://node")
    work_dir = tmp_path / "work"
    config = RetentionConfig(
        outputs_s=30 * DAY_S, inputs_s=7 * DAY_S, checkpoints_s=7 * DAY_S, lora_cache_s=7 * DAY_S
    )
    sweeper = RetentionSweeper(config, store, log, storage, work_dir, clock=clock)
    key, _ = keys.create(name="retention")
    return World(clock, store, log, storage, work_dir, sweeper, key.id)


def test_each_kind_goes_after_its_own_retention_and_only_then(world: World) -> None:
    old = world.job("flux-dev_old")
    training = world.job("trainer_old", model=TRAINER)
    checkpoints = world.work_dir / "train" / training.request_id / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "checkpoint.pt").write_bytes(b"state")

    world.clock.advance(6)
    assert world.sweeper.sweep().total == 0  # nothing is old enough yet
    recent = world.job("flux-dev_recent")

    world.clock.advance(2)  # day 8: inputs and checkpoints of the first jobs are due
    report = world.sweeper.sweep()
    assert sorted(report.inputs) == sorted([old.request_id, training.request_id])
    assert report.outputs == [] and report.checkpoints == [training.request_id]
    assert not world.has(f"inputs/{old.request_id}/image.png")
    assert world.has(f"inputs/{recent.request_id}/image.png")
    assert world.has(old.output_keys[0]) and world.has(training.output_keys[0])
    assert not checkpoints.exists()
    assert world.log.deleted(old.request_id) == {"inputs": world.clock.now}
    assert world.log.deleted(recent.request_id) == {}

    world.clock.advance(23)  # day 31: the first jobs' outputs too, not the recent one's
    report = world.sweeper.sweep()
    assert sorted(report.outputs) == sorted([old.request_id, training.request_id])
    assert not world.has(old.output_keys[0]) and not world.has(training.output_keys[0])
    assert world.has(recent.output_keys[0])
    assert set(world.log.deleted(old.request_id)) == {"inputs", "outputs"}
    assert world.sweeper.sweep().total == 0  # recorded: never swept twice


def test_running_jobs_keep_everything(world: World) -> None:
    running = world.job("trainer_running", model=TRAINER, finish=False)
    scratch = world.work_dir / "train" / running.request_id
    scratch.mkdir(parents=True)
    world.clock.advance(400)
    assert world.sweeper.sweep().total == 0
    assert world.has(f"inputs/{running.request_id}/image.png") and scratch.is_dir()


def test_lora_cache_keeps_the_loras_of_kept_trainings(world: World) -> None:
    training = world.job("trainer_kept", model=TRAINER)
    lora_key = training.output_keys[0]
    kept = world.cache_file(lora_cache_name(lora_key), last_used_days_ago=20)
    stale = world.cache_file(lora_cache_name("inputs/a/lora-0.safetensors"), last_used_days_ago=8)
    fresh = world.cache_file(lora_cache_name("inputs/b/lora-0.safetensors"), last_used_days_ago=1)

    report = world.sweeper.sweep()
    assert report.lora_cache == [stale.name]
    assert kept.exists() and fresh.exists() and not stale.exists()

    world.clock.advance(31)  # the training's outputs go; then its cached copy may go too
    report = world.sweeper.sweep()
    assert report.outputs == [training.request_id]
    assert sorted(report.lora_cache) == sorted([kept.name, fresh.name])
