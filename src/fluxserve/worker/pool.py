"""In-process worker threads: claim jobs from the store, run them, repeat; one node's
liveness (heartbeat) and the rescue of dead nodes' jobs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from fluxserve.catalog import API_MODELS
from fluxserve.jobs.nodes import NodeStore
from fluxserve.jobs.records import JobRecord
from fluxserve.worker.in_flight import InFlight
from fluxserve.worker.job_runner import JobRunner, RunnerDeps
from fluxserve.worker.node_identity import NodeIdentity

log = logging.getLogger("fluxserve.worker")

IDLE_POLL_S = 0.5


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


def lanes_for(model_ids: Collection[str] | None) -> tuple[list[str], list[str]]:
    """(generation, training) model ids hosted: trainings run in a lane of their own so that
    one training never holds up generation."""
    hosted = list(model_ids) if model_ids is not None else list(API_MODELS)
    training = [m for m in hosted if API_MODELS[m].trainer]
    return [m for m in hosted if m not in training], training


@dataclass(frozen=True)
class PoolConfig:
    batch_wait_ms: int
    max_attempts: int
    lease_s: float
    heartbeat_s: float
    node_timeout_s: float
    sweep_s: float


@dataclass(frozen=True)
class Lane:
    """Worker threads that claim only `model_ids`, running them on `deps.engine`."""

    name: str
    model_ids: list[str]
    deps: RunnerDeps
    threads: int
    max_batch: int


class WorkerPool:
    """One node's workers: lanes of claiming threads, a heartbeat that says the node is alive
    (and renews its jobs' leases), and a sweeper that rescues the jobs of dead nodes."""

    def __init__(
        self,
        lanes: list[Lane],
        config: PoolConfig,
        nodes: NodeStore,
        identity: NodeIdentity,
        kind: str,
    ) -> None:
        self._lanes = [lane for lane in lanes if lane.model_ids]
        self._config = config
        self._nodes = nodes
        self._identity = identity
        self._kind = kind
        self._jobs = lanes[0].deps.jobs
        self._signals = lanes[0].deps.signals
        self._stop = threading.Event()
        self._in_flight = InFlight()
        self._workers: list[threading.Thread] = []
        self._timers: list[threading.Thread] = []

    @property
    def node_id(self) -> str:
        return self._identity.node_id

    def start(self) -> None:
        hosted = [m for lane in self._lanes for m in lane.model_ids]
        self._nodes.register(self.node_id, self._kind, hosted)
        self._rescue_previous_life()
        for lane in self._lanes:
            for index in range(lane.threads):
                runner = JobRunner(lane.deps, f"{self.node_id}-{lane.name}-{index}")
                self._spawn(self._workers, f"{lane.name}-{index}", self._loop, lane, runner)
        self._spawn(self._timers, "heartbeat", self._every, self._config.heartbeat_s, self._beat)
        self._spawn(self._timers, "sweeper", self._every, self._config.sweep_s, self._sweep)

    def stop(self, drain_s: float = 0.0) -> list[JobRecord]:
        """Stop claiming, let running jobs finish within `drain_s`, then hand back (re-queue at
        once) whatever is still running. Returns the jobs handed back."""
        if self._stop.is_set():
            return []
        self._stop.set()
        self._signals.wake_all()
        deadline = time.monotonic() + drain_s
        for thread in self._workers:
            thread.join(max(0.0, deadline - time.monotonic()))
        handed_back = self._jobs.hand_back(self.node_id)
        if handed_back:
            log.warning("handed back %d unfinished job(s)", len(handed_back))
        self._nodes.stopped(self.node_id)
        for thread in self._timers:
            thread.join(5.0)
        self._identity.release()
        return handed_back

    def _spawn(self, into: list[threading.Thread], name: str, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        into.append(thread)

    def _rescue_previous_life(self) -> None:
        """A restarted node's old jobs are known dead: run them again now, not after a lease."""
        previous = self._identity.previous_id
        if previous is None:
            return
        rescued = self._jobs.rescue_node(previous, max_attempts=self._config.max_attempts)
        self._nodes.stopped(previous)
        if rescued:
            log.warning("rescued %d job(s) left running by this node's last run", len(rescued))

    def _every(self, interval_s: float, action: Any) -> None:
        while not self._stop.wait(interval_s):
            try:
                action()
            except Exception:
                log.exception("%s failed; retrying", getattr(action, "__name__", "timer"))

    def _beat(self) -> None:
        self._nodes.beat(self.node_id, self._config.lease_s, self._in_flight.attempt_ids())

    def _sweep(self) -> None:
        changed = self._jobs.rescue(
            max_attempts=self._config.max_attempts, node_timeout_s=self._config.node_timeout_s
        )
        if changed:
            log.warning("rescued %d job(s) of dead nodes or expired leases", len(changed))
            self._signals.wake_all()

    def _loop(self, lane: Lane, runner: JobRunner) -> None:
        while not self._stop.is_set():
            mark = self._signals.work_mark(lane.model_ids)
            try:
                batch = self._claim(lane, runner.worker_id)
            except Exception:
                log.exception("claiming jobs failed; retrying")
                time.sleep(IDLE_POLL_S)
                continue
            if not batch:
                self._signals.wait_for_work(lane.model_ids, mark, IDLE_POLL_S)
                continue
            for job in batch:
                # Live event streams in this process (other nodes hear the claim's NOTIFY).
                self._signals.job_changed(job.request_id, job.model_id)
            try:
                with self._in_flight.running(batch):
                    runner.run(batch)
            except Exception:
                # The runner ends every job itself; this is a fault recording an end (the
                # database gone for too long). The thread lives on; the jobs it could not end
                # stop being renewed and are rescued when their lease expires.
                log.exception("running %d job(s) failed", len(batch))

    def _claim(self, lane: Lane, worker_id: str) -> list[JobRecord]:
        def take(model_ids: list[str], limit: int) -> list[JobRecord]:
            return self._jobs.claim(
                worker_id, self.node_id, self._config.lease_s, model_ids=model_ids, limit=limit
            )

        batch = take(lane.model_ids, 1)
        if not batch or lane.max_batch == 1 or batch[0].spec.get("kind") != "generate":
            return batch
        siblings = [m for m in sibling_models(batch[0].model_id) if m in lane.model_ids]
        more = take(siblings, lane.max_batch - 1)
        if more and len(more) < lane.max_batch - 1 and self._config.batch_wait_ms > 0:
            # Under load, wait a moment for the batch to fill; idle servers never wait.
            time.sleep(self._config.batch_wait_ms / 1000.0)
            more += take(siblings, lane.max_batch - 1 - len(more))
        return batch + more
