"""Runs claimed jobs to their end state. A failure is data: every path ends the job
COMPLETED, FAILED (the request's own fault) or ERROR (ours), and wakes anyone waiting."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL.Image import Image

from fluxserve.engine.messages import GenerateTask, Progress
from fluxserve.errors import (
    FluxServeError,
    InvalidRequest,
    ModelNotFound,
    ModerationBlocked,
)
from fluxserve.jobs.records import JobRecord
from fluxserve.jobs.signals import JobSignals
from fluxserve.jobs.spec import GenerationSpec, TrainingSpec, parse_spec
from fluxserve.jobs.store import JobStore
from fluxserve.safety.policy import SafetyPolicy
from fluxserve.safety.prompt_check import check_prompt
from fluxserve.settings import TrainingConfig
from fluxserve.storage.base import MediaStorage
from fluxserve.worker.protocols import EngineClient, ImageChecker
from fluxserve.worker.tasks import build_task, store_images
from fluxserve.worker.training_job import run_training

log = logging.getLogger("fluxserve.worker")

PROGRESS_INTERVAL_S = 0.5


@dataclass
class RunnerDeps:
    jobs: JobStore
    storage: MediaStorage
    engine: EngineClient
    signals: JobSignals
    work_dir: Path
    lease_s: float
    training: TrainingConfig
    image_checker: ImageChecker | None = None


class JobRunner:
    def __init__(self, deps: RunnerDeps, worker_id: str) -> None:
        self.deps = deps
        self.worker_id = worker_id

    # -- entry points -------------------------------------------------------------------------

    def run(self, batch: Sequence[JobRecord]) -> None:
        """Run claimed jobs; compatible generation jobs share one pipeline call."""
        prepared: list[tuple[JobRecord, GenerationSpec, GenerateTask]] = []
        for job in batch:
            item = self._guard(job, self._prepare, job)
            if item is not None:
                prepared.append(item)
        groups: dict[tuple[Any, ...], list[tuple[JobRecord, GenerationSpec, GenerateTask]]] = {}
        for item in prepared:
            groups.setdefault(item[2].batch_key(), []).append(item)
        for group in groups.values():
            if len(group) == 1:
                job, spec, task = group[0]
                self._guard(job, self._generate_one, job, spec, task)
            else:
                self._generate_group(group)

    # -- one job ------------------------------------------------------------------------------

    def _prepare(self, job: JobRecord) -> tuple[JobRecord, GenerationSpec, GenerateTask] | None:
        spec = parse_spec(job.spec)
        if isinstance(spec, TrainingSpec):
            self._train(job, spec)
            return None
        verdict = check_prompt(
            spec.prompt, SafetyPolicy(spec.safety.enabled, spec.safety.strictness)
        )
        if not verdict.allowed:
            # The verdict's reason is already the whole client-facing sentence.
            raise ModerationBlocked(
                verdict.reason or "Prompt rejected by the content safety filter"
            )
        task = build_task(spec, self.deps.storage, self.deps.work_dir / "lora-cache")
        return job, spec, task

    def _generate_one(self, job: JobRecord, spec: GenerationSpec, task: GenerateTask) -> None:
        images = self.deps.engine.generate(task, self._progress(job))
        self._finish_images(job, spec, images)

    def _generate_group(self, group: list[tuple[JobRecord, GenerationSpec, GenerateTask]]) -> None:
        try:
            results = self.deps.engine.generate_many([task for _, _, task in group])
        except FluxServeError as exc:
            # A batch failure must not sink requests that would succeed alone.
            log.warning("batched call failed (%s); running %d jobs one by one", exc, len(group))
            for job, spec, task in group:
                self._guard(job, self._generate_one, job, spec, task)
            return
        for (job, spec, _), images in zip(group, results, strict=True):
            self._guard(job, self._finish_images, job, spec, images)

    def _finish_images(self, job: JobRecord, spec: GenerationSpec, images: list[Image]) -> None:
        checker = self.deps.image_checker
        if checker is not None and spec.safety.enabled:
            reason = checker.blocked_reason(images, spec.safety.strictness)
            if reason is not None:
                raise ModerationBlocked(f"Output rejected by the image safety checker: {reason}")
        urls, media_type = store_images(job.request_id, images, spec, self.deps.storage)
        if (
            self.deps.jobs.complete(
                job.request_id, self.worker_id, output_urls=urls, media_type=media_type
            )
            is None
        ):
            log.warning("%s: finished by someone else; our outputs are dropped", job.request_id)
            self.deps.storage.delete_prefix(f"outputs/{job.request_id}/")
        self.deps.signals.job_finished(job.request_id)

    def _train(self, job: JobRecord, spec: TrainingSpec) -> None:
        urls, media_type = run_training(
            job,
            spec,
            self.deps.engine,
            self.deps.storage,
            self.deps.work_dir,
            self._progress(job),
            self.deps.training,
        )
        self.deps.jobs.complete(
            job.request_id, self.worker_id, output_urls=urls, media_type=media_type
        )
        self.deps.signals.job_finished(job.request_id)

    # -- plumbing -----------------------------------------------------------------------------

    def _progress(self, job: JobRecord) -> Callable[[Progress], None]:
        last = [0.0]

        def report(progress: Progress) -> None:
            now = time.monotonic()
            if now - last[0] < PROGRESS_INTERVAL_S and progress.step < progress.total:
                return
            last[0] = now
            body: dict[str, Any] = {"step": progress.step, "total": progress.total}
            if progress.loss is not None:
                body["loss"] = round(progress.loss, 6)
            self.deps.jobs.set_progress(job.request_id, self.worker_id, body)
            self.deps.jobs.renew_lease(job.request_id, self.worker_id, self.deps.lease_s)

        return report

    def _guard(self, job: JobRecord, action: Callable[..., Any], *args: Any) -> Any:
        """Run `action`; turn any failure into the job's end state instead of an exception."""
        try:
            return action(*args)
        except (InvalidRequest, ModerationBlocked) as exc:
            self._end(job, failed=True, message=exc.message)
        except ModelNotFound as exc:
            self._end(job, failed=False, message=exc.message)
        except FluxServeError as exc:
            log.error("%s: %s", job.request_id, exc.message)
            self._end(job, failed=False, message=exc.message)
        except Exception as exc:
            log.exception("%s: unexpected failure", job.request_id)
            self._end(job, failed=False, message=f"Internal error: {type(exc).__name__}")
        return None

    def _end(self, job: JobRecord, *, failed: bool, message: str) -> None:
        try:
            if failed:
                self.deps.jobs.fail(job.request_id, self.worker_id, error=message)
            else:
                self.deps.jobs.error(job.request_id, self.worker_id, error=message)
        finally:
            self.deps.signals.job_finished(job.request_id)
