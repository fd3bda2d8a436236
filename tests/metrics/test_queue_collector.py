"""The queue collector reads the job store at scrape time: depth and oldest age per model,
finished jobs by state, the webhook backlog, and 0 rather than nothing for idle models."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from fluxserve.billing.keys import KeyStore
from fluxserve.catalog import API_MODELS
from fluxserve.db.database import Database
from fluxserve.jobs.store import JobStore
from fluxserve.metrics.queue_collector import QueueCollector
from tests.support.servers import free_port

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(f"sqlite:///{tmp_path / 'fluxserve.db'}")
    yield database
    database.close()


def scrape(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def labels(model: str, **extra: str) -> tuple[tuple[str, str], ...]:
    engine = API_MODELS[model].engine_model
    return tuple(sorted({"model": model, "engine_model": engine, **extra}.items()))


def test_the_queue_as_the_store_holds_it(db: Database) -> None:
    clock = Clock()
    store = JobStore(db, clock=clock)
    key, _ = KeyStore(db).create(name="k", credit_micros=0)

    def job(n: int, model: str, webhook: str | None = None) -> str:
        request_id = f"{model}_{n}"
        store.create(
            request_id=request_id,
            model_id=model,
            key_id=key.id,
            spec={},
            price_micros=0,
            webhook_url=webhook,
        )
        clock.now += timedelta(seconds=10)
        return request_id

    job(0, "flux-dev", webhook="http://hooks.example/a")
    job(1, "flux-dev")
    job(2, "flux-dev")
    job(3, "flux-1-schnell")
    first = store.claim("w", "n", 600.0, model_ids=["flux-dev"], limit=1)[0]
    store.complete(first, output_keys=[], media_type="image/png")
    failed = store.claim("w", "n", 600.0, model_ids=["flux-dev"], limit=1)[0]
    store.fail(failed, error="bad")
    store.claim("w", "n", 600.0, model_ids=["flux-1-schnell"], limit=1)
    clock.now = START + timedelta(seconds=100)

    registry = CollectorRegistry()
    registry.register(QueueCollector(db, clock))
    got = scrape(registry)

    assert got[("fluxserve_job_store_up", ())] == 1
    assert got[("fluxserve_queue_depth", labels("flux-dev"))] == 1
    assert got[("fluxserve_queue_oldest_age_seconds", labels("flux-dev"))] == 80.0  # job 2
    assert got[("fluxserve_jobs_processing", labels("flux-1-schnell"))] == 1
    assert got[("fluxserve_queue_depth", labels("flux-1-schnell"))] == 0
    assert got[("fluxserve_queue_oldest_age_seconds", labels("flux-1-schnell"))] == 0
    finished = "fluxserve_jobs_finished_total"
    assert got[(finished, labels("flux-dev", state="COMPLETED"))] == 1
    assert got[(finished, labels("flux-dev", state="FAILED"))] == 1
    assert got[(finished, labels("flux-dev", state="ERROR"))] == 0
    assert got[("fluxserve_webhook_backlog", ())] == 1  # job 0's completion, not yet sent
    assert got[("fluxserve_webhook_backlog_oldest_age_seconds", ())] > 0
    for model in API_MODELS:  # an idle model reads 0, never nothing
        assert got[("fluxserve_queue_depth", labels(model))] >= 0


def test_a_scrape_answers_while_the_store_is_away() -> None:
    nowhere = Database(create_engine(f"postgresql+psycopg://fs@127.0.0.1:{free_port()}/fs"))
    registry = CollectorRegistry()
    registry.register(QueueCollector(nowhere))
    got = scrape(registry)
    assert got[("fluxserve_job_store_up", ())] == 0
    assert not any(name == "fluxserve_queue_depth" for name, _ in got)
