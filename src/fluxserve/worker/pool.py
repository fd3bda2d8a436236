"""In-process worker threads: claim jobs from the store, run them, repeat."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Collection

from fluxserve.catalog import API_MODELS
from fluxserve.jobs.records import JobRecord
from fluxserve.worker.runner import JobRunner, RunnerDeps

log = logging.getLogger("fluxserve.worker")

IDLE_POLL_S = 0.5
SWEEP_INTERVAL_S = 15.0


def expand_model_ids(names: list[str]) -> list[str]:
    """API model ids for a worker's `--models`: API ids as given, engine ids expanded to every
    API id they back. Unknown names are an error."""
    ids: list[str] = []
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if name in API_MODELS:
            ids.append(name)
            continue
        backed = [m.id for m in API_MODELS.values() if m.engine_model == name]
        if not backed:
            raise ValueError(f"unknown model {name!r}: not an API or engine model id")
        ids.extend(backed)
    return sorted(set(ids))


def sibling_models(model_id: str) -> list[str]:
    """API model ids backed by the same engine model: candidates for one batch."""
    engine_model = API_MODELS[model_id].engine_model if model_id in API_MODELS else None
    return [m.id for m in API_MODELS.values() if m.engine_model == engine_model]


class WorkerPool:
    def __init__(
        self,
        deps: RunnerDeps,
        *,
        threads: int,
        max_batch: int,
        batch_wait_ms: int,
        model_ids: Collection[str] | None = None,
        max_attempts: int = 2,
    ) -> None:
        self._deps = deps
        self._threads = threads
        self._max_batch = max_batch
        self._batch_wait_s = batch_wait_ms / 1000.0
        self._model_ids = list(model_ids) if model_ids else None
        self._max_attempts = max_attempts
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self.node_id = uuid.uuid4().hex[:12]

    def start(self) -> None:
        for index in range(self._threads):
            worker_id = f"{self.node_id}-{index}"
            thread = threading.Thread(
                target=self._loop,
                args=(JobRunner(self._deps, worker_id),),
                name=f"worker-{index}",
                daemon=True,
            )
            thread.start()
            self._workers.append(thread)
        sweeper = threading.Thread(target=self._sweep, name="lease-sweeper", daemon=True)
        sweeper.start()
        self._workers.append(sweeper)

    def _sweep(self) -> None:
        """Jobs whose worker vanished (lease expired, e.g. a dead worker node) run again, or
        end ERROR and are released once out of attempts."""
        while not self._stop.wait(SWEEP_INTERVAL_S):
            try:
                changed = self._deps.jobs.recover(max_attempts=self._max_attempts)
            except Exception:
                log.exception("lease sweep failed")
                continue
            if changed:
                log.warning("requeued or ended %d job(s) whose worker lease expired", len(changed))
                self._deps.signals.wake_all()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._deps.signals.wake_all()
        for thread in self._workers:
            thread.join(timeout_s)

    def _loop(self, runner: JobRunner) -> None:
        while not self._stop.is_set():
            try:
                batch = self._claim(runner.worker_id)
            except Exception:
                log.exception("claiming jobs failed; retrying")
                time.sleep(IDLE_POLL_S)
                continue
            if not batch:
                self._deps.signals.wait_for_work(IDLE_POLL_S)
                continue
            runner.run(batch)

    def _claim(self, worker_id: str) -> list[JobRecord]:
        jobs = self._deps.jobs
        lease = self._deps.lease_s
        batch = jobs.claim(worker_id, lease, model_ids=self._model_ids, limit=1)
        if not batch or self._max_batch == 1 or batch[0].spec.get("kind") != "generate":
            return batch
        siblings = sibling_models(batch[0].model_id)
        if self._model_ids is not None:
            siblings = [m for m in siblings if m in self._model_ids]
        more = jobs.claim(worker_id, lease, model_ids=siblings, limit=self._max_batch - 1)
        if more and len(more) < self._max_batch - 1 and self._batch_wait_s > 0:
            # Under load, wait a moment for the batch to fill; idle servers never wait.
            time.sleep(self._batch_wait_s)
            more += jobs.claim(
                worker_id, lease, model_ids=siblings, limit=self._max_batch - 1 - len(more)
            )
        return batch + more
