"""The retention sweeper: deletes media whose time is over, per kind (see RetentionConfig).

Outputs and inputs live in the media storage and are swept by job (when the job ended); each
deletion is recorded, so the status says the media is gone. Training checkpoints and cached
LoRA files live on the node's own disk, so every node sweeps its own. A LoRA file cached from
a training whose outputs are still kept is never deleted, however long it lay unused."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from fluxserve.db.clock import Clock, checked
from fluxserve.jobs.media_log import MediaLog
from fluxserve.jobs.records import JobRecord
from fluxserve.jobs.store import JobStore
from fluxserve.settings import RetentionConfig
from fluxserve.storage.base import MediaStorage
from fluxserve.worker.tasks import lora_cache_name

log = logging.getLogger("fluxserve.retention")


@dataclass
class SweepReport:
    """What one pass deleted: request ids per kind, and the node-local paths."""

    outputs: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)
    lora_cache: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(map(len, (self.outputs, self.inputs, self.checkpoints, self.lora_cache)))


class RetentionSweeper:
    def __init__(
        self,
        config: RetentionConfig,
        jobs: JobStore,
        media_log: MediaLog,
        storage: MediaStorage,
        work_dir: Path,
        clock: Clock | None = None,
    ) -> None:
        self._config = config
        self._jobs = jobs
        self._log = media_log
        self._storage = storage
        self._work_dir = work_dir
        self._now = checked(clock)

    def sweep(self) -> SweepReport:
        """One pass over every kind; safe to run on several nodes at once."""
        now = self._now()
        report = SweepReport()
        report.outputs = self._sweep_stored("outputs", self._config.outputs_s, now)
        report.inputs = self._sweep_stored("inputs", self._config.inputs_s, now)
        report.checkpoints = self._sweep_checkpoints(now)
        report.lora_cache = self._sweep_lora_cache(now)
        if report.total:
            log.info("retention: deleted %s", report)
        return report

    def _sweep_stored(self, kind: str, keep_s: float | None, now: datetime) -> list[str]:
        if keep_s is None:
            return []
        due = self._log.due(kind, now - timedelta(seconds=keep_s), self._config.sweep_batch)
        for request_id in due:
            self._storage.delete_prefix(f"{kind}/{request_id}")
            self._log.record(request_id, kind, now)
        return due

    def _sweep_checkpoints(self, now: datetime) -> list[str]:
        """Scratch folders of trainings (checkpoints, the engine's LoRA file) that ended
        longer ago than `checkpoints_s`; a training still queued or running keeps its own."""
        keep_s = self._config.checkpoints_s
        root = self._work_dir / "train"
        if keep_s is None or not root.is_dir():
            return []
        cutoff = now - timedelta(seconds=keep_s)
        deleted = []
        for folder in sorted(root.iterdir()):
            job = self._jobs.get(folder.name)
            if job is not None and not _ended_before(job, cutoff):
                continue
            shutil.rmtree(folder, ignore_errors=True)
            deleted.append(folder.name)
        return deleted

    def _sweep_lora_cache(self, now: datetime) -> list[str]:
        keep_s = self._config.lora_cache_s
        root = self._work_dir / "lora-cache"
        if keep_s is None or not root.is_dir():
            return []
        cutoff = (now - timedelta(seconds=keep_s)).timestamp()
        kept = {lora_cache_name(key) for key in self._log.kept_training_outputs()}
        deleted = []
        for path in sorted(root.glob("*.safetensors")):
            if path.name in kept:
                continue
            try:
                if path.stat().st_mtime >= cutoff:
                    continue
                path.unlink()
            except FileNotFoundError:
                continue
            deleted.append(path.name)
        return deleted


def _ended_before(job: JobRecord, cutoff: datetime) -> bool:
    return job.is_terminal and job.completed_at is not None and job.completed_at < cutoff
