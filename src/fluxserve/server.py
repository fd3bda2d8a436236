"""The composition root: builds every part of one fluxserve process from its Settings.

It is the only module that knows all the layers; each layer gets just what it needs."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Protocol

from fastapi import FastAPI

from fluxserve.api.active_jobs import ActiveJobCap
from fluxserve.api.app import create_app
from fluxserve.api.blocking import Blocking
from fluxserve.api.context import ApiContext
from fluxserve.api.intake import Intake
from fluxserve.api.ratelimit import open_rate_limit
from fluxserve.billing.keys import KeyStore
from fluxserve.catalog import ENGINE_MODELS
from fluxserve.db.database import Database
from fluxserve.engine.boundary.factory import open_engine, open_training_engine
from fluxserve.engine.boundary.interface import Engine
from fluxserve.engine.boundary.messages import ModelStatus
from fluxserve.engine.boundary.no_engine import NoEngine
from fluxserve.engine.loading.weights import resolve_weights
from fluxserve.inputs.fetch import FetchPolicy, InputFetcher
from fluxserve.jobs.listing import JobListing
from fluxserve.jobs.media_log import MediaLog
from fluxserve.jobs.nodes import NodeStore
from fluxserve.jobs.outbox import Outbox
from fluxserve.jobs.signals import JobSignals
from fluxserve.jobs.store import JobStore
from fluxserve.metrics.process_metrics import ProcessMetrics
from fluxserve.provenance.facts import weights_label
from fluxserve.provenance.setup import open_signer
from fluxserve.provenance.signer import ContentSigner
from fluxserve.settings import Settings
from fluxserve.storage.base import MediaStorage
from fluxserve.storage.local import LocalStorage
from fluxserve.storage.s3 import S3Storage
from fluxserve.storage.url_signing import UrlSigner, load_secret
from fluxserve.webhooks.deliverer import WebhookDeliverer, WebhookPolicy
from fluxserve.worker.job_runner import RunnerDeps
from fluxserve.worker.node_identity import NodeIdentity
from fluxserve.worker.node_stop import STOP_GRACE_S, RetentionThread, exit_if_stuck
from fluxserve.worker.output_check import build_image_checker
from fluxserve.worker.pool import Lane, PoolConfig, WorkerPool, lanes_for
from fluxserve.worker.retention import RetentionSweeper

log = logging.getLogger("fluxserve")


def open_storage(settings: Settings) -> MediaStorage:
    config = settings.storage
    if config.backend == "s3":
        return S3Storage.from_config(config)
    media = settings.media
    configured = media.signing_secret.get_secret_value() if media.signing_secret else None
    signer = UrlSigner(load_secret(configured, settings.data_dir), media.url_lifetime_s)
    return LocalStorage(settings.media_dir, settings.public_url, signer)


def build_signer(settings: Settings) -> ContentSigner | None:
    """The content-credentials signer, naming each model's weights as manifests may."""
    weights = {}
    for engine_model in ENGINE_MODELS:
        source = resolve_weights(settings, engine_model)
        weights[engine_model] = weights_label(source.kind, source.location, source.revision)
    return open_signer(settings.provenance, settings.data_dir, weights)


@dataclass
class Service:
    settings: Settings
    db: Database
    jobs: JobStore
    keys: KeyStore
    outbox: Outbox
    storage: MediaStorage
    signals: JobSignals
    engine: Engine
    training_engine: Engine
    signer: ContentSigner | None = None
    _statuses: list[ModelStatus] = field(default_factory=list)
    metrics: ProcessMetrics = field(default_factory=ProcessMetrics)

    @classmethod
    def build(
        cls, settings: Settings, engine: Engine | None = None, *, with_engine: bool = True
    ) -> Service:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # First: broken signing credentials stop the start before anything else is opened.
        signer = build_signer(settings)
        pool = settings.database
        db = Database.open(
            settings.database_url, pool_size=pool.pool_size, max_overflow=pool.max_overflow
        )
        if engine is None:
            engine = open_engine(settings) if with_engine else NoEngine(settings)
        service = cls(
            settings=settings,
            db=db,
            jobs=JobStore(db, scheduling=settings.scheduling),
            keys=KeyStore(db, cache_ttl_s=settings.database.key_cache_ttl_s),
            outbox=Outbox(db),
            storage=open_storage(settings),
            signals=JobSignals(),
            engine=engine,
            training_engine=open_training_engine(settings),
            signer=signer,
        )
        service.refresh_statuses()
        return service

    def refresh_statuses(self) -> list[ModelStatus]:
        self._statuses = self.engine.statuses()
        for status in self._statuses:
            if status.demo:
                log.warning(
                    "%s: serving DEMO weights (tiny random, images are noise)", status.engine_model
                )
            if not status.enabled:
                log.error("%s: DISABLED: %s", status.engine_model, status.reason)
        return self._statuses

    def disabled_reason(self, engine_model: str) -> str | None:
        for status in self._statuses:
            if status.engine_model == engine_model and not status.enabled:
                return status.reason or "disabled"
        return None

    def worker_pool(self, model_ids: list[str] | None = None, kind: str = "serve") -> WorkerPool:
        """This node's workers for `model_ids` (all when None): a generation lane on the
        engine, and a training lane on an engine process of its own."""
        s = self.settings
        deps = RunnerDeps(
            jobs=self.jobs,
            storage=self.storage,
            engine=self.engine,
            signals=self.signals,
            work_dir=s.work_dir,
            training=s.training,
            image_checker=build_image_checker(
                s.safety.image_checker,
                s.safety.image_model_path,
                device=s.safety.image_checker_device,
            ),
            signer=self.signer,
            step_times=self.metrics.engine_steps,
        )
        generation, training = lanes_for(model_ids)
        lanes = [
            Lane("gen", generation, deps, s.workers, s.engine.max_batch),
            Lane("train", training, replace(deps, engine=self.training_engine), 1, 1),
        ]
        config = PoolConfig(
            batch_wait_ms=s.engine.batch_wait_ms,
            max_attempts=s.job_max_attempts,
            lease_s=s.job_lease_s,
            heartbeat_s=s.node_heartbeat_s,
            node_timeout_s=s.node_timeout_s,
            sweep_s=s.sweep_interval_s,
        )
        role = kind if model_ids is None else f"{kind}-{_models_tag(model_ids)}"
        identity = NodeIdentity.acquire(s.data_dir / "nodes", role)
        return WorkerPool(lanes, config, NodeStore(self.db), identity, kind)

    def deliverer(self) -> WebhookDeliverer:
        policy = WebhookPolicy.from_settings(self.settings)
        return WebhookDeliverer(
            self.outbox,
            self.jobs,
            self.storage.url_for,
            policy,
            secret_for=self.keys.webhook_secret,
        )

    def api_context(self, fetcher: InputFetcher) -> ApiContext:
        s = self.settings
        intake = Intake(
            s,
            self.jobs,
            self.storage,
            fetcher,
            self.signals,
            self.disabled_reason,
            lambda key_id: self.keys.wallet(key_id).balance_micros,
        )
        return ApiContext(
            settings=s,
            intake=intake,
            jobs=self.jobs,
            keys=self.keys,
            storage=self.storage if isinstance(self.storage, LocalStorage) else None,
            signals=self.signals,
            limiter=open_rate_limit(s),
            active_jobs=ActiveJobCap(self.db, s.limits.max_active_jobs_per_key),
            metrics=self.metrics.with_queue(self.db),
            model_statuses=lambda: self._statuses,
            media_url=self.storage.url_for,
            blocking=Blocking(s.database.api_threads_for(self.db.dialect)),
            media_expires_at=self.storage.url_expires_at,
            media_log=MediaLog(self.db),
            job_listing=JobListing(self.db),
            signer=self.signer,
            outbox=self.outbox,
        )

    def retention_sweeper(self) -> RetentionSweeper:
        s = self.settings
        return RetentionSweeper(
            s.media.retention, self.jobs, MediaLog(self.db), self.storage, s.work_dir
        )

    def listener(self) -> Stoppable:
        """Cross-node wake-ups: PostgreSQL `LISTEN`; a single SQLite node needs none."""
        if self.db.dialect != "postgresql":
            return _Nothing()
        from fluxserve.jobs.listener import PgListener

        listener = PgListener(self.settings.database_url, self.signals)
        listener.start()
        return listener

    def close(self) -> None:
        self.training_engine.close()
        self.engine.close()
        self.db.close()


class Stoppable(Protocol):
    def stop(self) -> None: ...


class _Nothing:
    def stop(self) -> None:
        return None


def _models_tag(model_ids: list[str]) -> str:
    return hashlib.sha256(",".join(sorted(model_ids)).encode()).hexdigest()[:8]


async def _deliver_until_stopped(service: Service, stop: asyncio.Event) -> None:
    wake = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_finish() -> None:
        # Jobs may end on worker threads after this loop has closed (while draining).
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(wake.set)

    service.signals.add_finish_listener(on_finish)
    deliverer = service.deliverer()
    try:
        await deliverer.run(stop, wake=wake)
    finally:
        await deliverer.aclose()


async def _sweep_until_stopped(service: Service, stop: asyncio.Event) -> None:
    """The retention sweeper, every `sweep_interval_s`; a failed pass is logged and retried."""
    sweeper = service.retention_sweeper()
    interval = service.settings.media.retention.sweep_interval_s
    while not stop.is_set():
        try:
            await asyncio.to_thread(sweeper.sweep)
        except Exception:
            log.exception("retention sweep failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


def run_worker_node(
    service: Service, model_ids: list[str] | None, stopping: threading.Event
) -> None:
    """A worker node: claims jobs for `model_ids` (all when None) and delivers webhooks until
    `stopping` is set (the CLI sets it on SIGINT or SIGTERM). Then a thread of its own drains
    the pool (see `WorkerPool.stop`): nothing the event loop or a retention sweep waits on can
    hold up handing back the jobs. Set while starting, nothing is claimed at all."""
    pool = service.worker_pool(model_ids, kind="worker")
    listener = service.listener()
    drained = threading.Event()
    sweeps = RetentionThread(
        service.retention_sweeper(), service.settings.media.retention.sweep_interval_s
    )

    def drain() -> None:
        stopping.wait()
        log.info("stopping: draining for up to %.0f s", service.settings.drain_s)
        sweeps.stop()
        try:
            pool.stop(service.settings.drain_s)
        finally:
            drained.set()
            exit_if_stuck(STOP_GRACE_S)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()

        def wake_loop() -> None:
            drained.wait()
            with contextlib.suppress(RuntimeError):  # the loop has closed already
                loop.call_soon_threadsafe(done.set)

        threading.Thread(target=wake_loop, name="drained", daemon=True).start()
        await _deliver_until_stopped(service, done)

    try:
        if stopping.is_set():
            return
        pool.start()  # inside: a stop while starting still hands back what was claimed
        sweeps.start()
        threading.Thread(target=drain, name="drain", daemon=True).start()
        log.info("worker node %s running for %s", pool.node_id, model_ids or "all models")
        asyncio.run(main())
    finally:
        pool.stop()
        listener.stop()


def settle_heap() -> None:
    """Move what start-up made (modules, routes, models, caches) out of the collector's way.
    A full collection otherwise walks all of it every so often, in the middle of a request:
    under load it took status reads' p99 from ~25 ms to ~85 ms (docs/benchmarks.md §10)."""
    gc.collect()
    gc.freeze()


def create_service_app(service: Service, *, run_workers: bool = True) -> FastAPI:
    """The HTTP app, with workers and webhook delivery running for the app's lifetime."""
    s = service.settings
    fetcher = InputFetcher(
        FetchPolicy(
            allow_private=s.allow_private_urls,
            max_bytes=s.max_input_bytes,
            timeout_s=s.input_fetch_timeout_s,
        )
    )

    ctx = service.api_context(fetcher)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = service.worker_pool() if run_workers else None
        listener = service.listener()
        if pool is not None:
            pool.start()
        stop = asyncio.Event()
        delivery = asyncio.create_task(_deliver_until_stopped(service, stop))
        sweeping = asyncio.create_task(_sweep_until_stopped(service, stop))
        settle_heap()
        try:
            yield
        finally:
            if pool is not None:
                await asyncio.to_thread(pool.stop, s.drain_s)
            stop.set()
            await delivery
            await sweeping
            listener.stop()
            await fetcher.aclose()
            ctx.blocking.close()

    return create_app(ctx, lifespan=lifespan)
