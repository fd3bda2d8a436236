"""Runs claimed jobs to their end state. A failure is data: every path ends the job
COMPLETED, FAILED (the request's own fault) or ERROR (ours), and wakes anyone waiting.

A job cancelled while it runs is CANCELLED in the store already: its engine call hears of it
(the cross-node wake-up, or a refused progress write), stops at its next step, and the runner
writes nothing more."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL.Image import Image

from fluxserve.engine.boundary.interface import Engine, ProgressCallback
from fluxserve.engine.boundary.messages import GenerateTask, Progress
from fluxserve.errors import (
    Cancelled,
    FluxServeError,
    InvalidRequest,
    ModelNotFound,
    ModerationBlocked,
)
from fluxserve.jobs.records import JobRecord
from fluxserve.jobs.signals import JobSignals
from fluxserve.jobs.spec import GenerationSpec, TrainingSpec, parse_spec
from fluxserve.jobs.store import JobStore
from fluxserve.metrics.engine_steps import EngineStepTimes
from fluxserve.provenance.signer import ContentSigner
from fluxserve.safety.image_check import ImageSafetyChecker
from fluxserve.safety.policy import SafetyPolicy
from fluxserve.safety.prompt_check import check_prompt
from fluxserve.settings import TrainingConfig
from fluxserve.storage.base import MediaStorage
from fluxserve.worker.output_check import blocked_reason
from fluxserve.worker.tasks import attempt_folder, build_task, encode_images, put_images
from fluxserve.worker.training_job import run_training

log = logging.getLogger("fluxserve.worker")

PROGRESS_INTERVAL_S = 0.5


@dataclass
class RunnerDeps:
    jobs: JobStore
    storage: MediaStorage
    engine: Engine
    signals: JobSignals
    work_dir: Path
    training: TrainingConfig
    image_checker: ImageSafetyChecker | None = None
    signer: ContentSigner | None = None
    step_times: EngineStepTimes | None = None


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
        with self.deps.signals.ending(job.request_id) as stop:
            images = self.deps.engine.generate(task, self._progress(job, stop), stop)
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
        deps = self.deps
        # The check runs while the images are encoded on a thread of their own (both release
        # the interpreter); a blocked image is encoded in memory for nothing, but never stored.
        encoder = ThreadPoolExecutor(1, thread_name_prefix="encode")
        encoding = encoder.submit(encode_images, job, images, spec, deps.storage, deps.signer)
        encoder.shutdown(wait=False)  # its thread ends with this one call
        checker = deps.image_checker
        if checker is not None and spec.safety.enabled:
            reason = blocked_reason(checker, images, spec.safety.strictness)
            if reason is not None:
                raise ModerationBlocked(f"Output rejected by the image safety checker: {reason}")
        keys, media_type = put_images(job, encoding.result(), deps.storage)
        self._complete(job, keys, media_type)

    def _train(self, job: JobRecord, spec: TrainingSpec) -> None:
        with self.deps.signals.ending(job.request_id) as stop:
            keys, media_type = run_training(
                job,
                spec,
                self.deps.engine,
                self.deps.storage,
                self.deps.work_dir,
                self._progress(job, stop),
                self.deps.training,
                stop,
            )
        self._complete(job, keys, media_type)

    def _complete(self, job: JobRecord, keys: list[str], media_type: str) -> None:
        if self.deps.jobs.complete(job, output_keys=keys, media_type=media_type) is None:
            # This attempt was given up on (its node looked dead): another attempt owns the
            # job now. Only this attempt's own folder goes; the winner's files stay.
            log.warning(
                "%s: attempt %s is stale; its outputs are dropped", job.request_id, job.attempt_id
            )
            self.deps.storage.delete_prefix(attempt_folder(job))
        self.deps.signals.job_finished(job.request_id)

    # -- plumbing -----------------------------------------------------------------------------

    def _progress(self, job: JobRecord, stop: threading.Event) -> ProgressCallback:
        last = [0.0]
        engine_model = str(job.spec.get("engine_model", "unknown"))
        step_started = [time.monotonic()]

        def report(progress: Progress) -> None:
            now = time.monotonic()
            if self.deps.step_times is not None:
                self.deps.step_times.observe(engine_model, now - step_started[0])
                step_started[0] = now
            if now - last[0] < PROGRESS_INTERVAL_S and progress.step < progress.total:
                return
            last[0] = now
            body: dict[str, Any] = {"step": progress.step, "total": progress.total}
            if progress.loss is not None:
                body["loss"] = round(progress.loss, 6)
            if self.deps.jobs.set_progress(job, body):
                self.deps.signals.job_changed(job.request_id, job.model_id)
            else:
                # The attempt is over (cancelled, or given up on) though no wake-up came.
                stop.set()

        return report

    def _guard(self, job: JobRecord, action: Callable[..., Any], *args: Any) -> Any:
        """Run `action`; turn any failure into the job's end state instead of an exception."""
        try:
            return action(*args)
        except Cancelled as exc:
            log.info("%s: stopped: %s", job.request_id, exc.message)
            self.deps.signals.job_finished(job.request_id)
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
                self.deps.jobs.fail(job, error=message)
            else:
                self.deps.jobs.error(job, error=message)
        finally:
            self.deps.signals.job_finished(job.request_id)
