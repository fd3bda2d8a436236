"""The composition root: builds every part of one fluxserve process from its Settings.

It is the only module that knows all the layers; each layer gets just what it needs."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI

from fluxserve.api.app import create_app
from fluxserve.api.context import ApiContext
from fluxserve.api.intake import Intake
from fluxserve.api.ratelimit import RateLimiter
from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from fluxserve.engine.messages import ModelStatus
from fluxserve.inputs.fetch import FetchPolicy, InputFetcher
from fluxserve.jobs.outbox import Outbox
from fluxserve.jobs.signals import JobSignals
from fluxserve.jobs.store import JobStore
from fluxserve.settings import Settings
from fluxserve.storage.base import MediaStorage
from fluxserve.storage.local import LocalStorage
from fluxserve.storage.s3 import S3Storage
from fluxserve.webhooks.deliverer import WebhookDeliverer, WebhookPolicy
from fluxserve.worker.engine_client import DetachedEngine, EngineHandle, open_engine
from fluxserve.worker.pool import WorkerPool
from fluxserve.worker.runner import RunnerDeps

log = logging.getLogger("fluxserve")


def open_storage(settings: Settings) -> MediaStorage:
    config = settings.storage
    if config.backend == "s3":
        assert config.bucket and config.public_base_url  # checked by StorageConfig
        return S3Storage(
            config.bucket,
            config.public_base_url,
            prefix=config.prefix,
            endpoint_url=config.endpoint_url,
            region_name=config.region,
        )
    return LocalStorage(settings.media_dir, settings.public_url)


@dataclass
class Service:
    settings: Settings
    db: Database
    jobs: JobStore
    keys: KeyStore
    outbox: Outbox
    storage: MediaStorage
    signals: JobSignals
    engine: EngineHandle
    _statuses: list[ModelStatus] = field(default_factory=list)

    @classmethod
    def build(
        cls, settings: Settings, engine: EngineHandle | None = None, *, with_engine: bool = True
    ) -> Service:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database.open(settings.database_url)
        if engine is None:
            engine = open_engine(settings) if with_engine else DetachedEngine(settings)
        service = cls(
            settings=settings,
            db=db,
            jobs=JobStore(db),
            keys=KeyStore(db),
            outbox=Outbox(db),
            storage=open_storage(settings),
            signals=JobSignals(),
            engine=engine,
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

    def worker_pool(self, model_ids: list[str] | None = None) -> WorkerPool:
        deps = RunnerDeps(
            jobs=self.jobs,
            storage=self.storage,
            engine=self.engine,
            signals=self.signals,
            work_dir=self.settings.work_dir,
            lease_s=self.settings.job_lease_s,
            training=self.settings.training,
            image_checker=self.engine.image_checker(),
        )
        return WorkerPool(
            deps,
            threads=self.settings.workers,
            max_batch=self.settings.engine.max_batch,
            batch_wait_ms=self.settings.engine.batch_wait_ms,
            model_ids=model_ids,
            max_attempts=self.settings.job_max_attempts,
        )

    def deliverer(self) -> WebhookDeliverer:
        policy = WebhookPolicy.from_settings(self.settings)
        return WebhookDeliverer(self.outbox, self.jobs, self.settings.public_url, policy)

    def api_context(self, fetcher: InputFetcher) -> ApiContext:
        s = self.settings
        intake = Intake(s, self.jobs, self.storage, fetcher, self.signals, self.disabled_reason)
        return ApiContext(
            settings=s,
            intake=intake,
            jobs=self.jobs,
            keys=self.keys,
            storage=self.storage if isinstance(self.storage, LocalStorage) else None,
            signals=self.signals,
            limiter=RateLimiter(s.rate_limit_per_minute),
            model_statuses=lambda: self._statuses,
        )

    def recover(self) -> None:
        """Jobs a previous run left PROCESSING run again (or end as ERROR, released)."""
        changed = self.jobs.recover(
            max_attempts=self.settings.job_max_attempts, all_processing=True
        )
        if changed:
            log.warning("recovered %d job(s) left running by a previous process", len(changed))

    def close(self) -> None:
        self.engine.close()
        self.db.close()


async def _deliver_until_stopped(service: Service, stop: asyncio.Event) -> None:
    wake = asyncio.Event()
    loop = asyncio.get_running_loop()
    service.signals.add_finish_listener(lambda: loop.call_soon_threadsafe(wake.set))
    deliverer = service.deliverer()
    try:
        await deliverer.run(stop, wake=wake)
    finally:
        await deliverer.aclose()


def run_worker_node(service: Service, model_ids: list[str] | None) -> None:
    """A worker node: claims jobs for `model_ids` (all when None) and delivers webhooks, until
    SIGINT or SIGTERM."""
    pool = service.worker_pool(model_ids)
    service.recover()
    pool.start()
    log.info("worker node %s running for %s", pool.node_id, model_ids or "all models")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await _deliver_until_stopped(service, stop)

    try:
        asyncio.run(main())
    finally:
        pool.stop()


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

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = service.worker_pool() if run_workers else None
        if pool is not None:
            service.recover()
            pool.start()
        stop = asyncio.Event()
        delivery = asyncio.create_task(_deliver_until_stopped(service, stop))
        try:
            yield
        finally:
            stop.set()
            if pool is not None:
                await asyncio.to_thread(pool.stop)
            await delivery
            await fetcher.aclose()

    return create_app(service.api_context(fetcher), lifespan=lifespan)
