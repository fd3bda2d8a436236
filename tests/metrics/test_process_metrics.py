"""A process's own registry: the engine step-time hook, and the port a worker node serves it
on (worker nodes have no HTTP API)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fluxserve.db.database import Database
from fluxserve.metrics.process_metrics import ProcessMetrics
from tests.support.servers import free_port


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_step_times_are_served_on_the_worker_port() -> None:
    metrics = ProcessMetrics()
    metrics.engine_steps.observe("flux1-schnell", 0.03)
    metrics.engine_steps.observe("flux1-schnell", 0.2)
    port = free_port()
    metrics.serve("127.0.0.1", port)
    got = samples(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text)
    model = (("engine_model", "flux1-schnell"),)
    assert got[("fluxserve_engine_step_seconds_count", model)] == 2
    assert got[("fluxserve_engine_step_seconds_sum", model)] == pytest.approx(0.23)
    assert got[("fluxserve_engine_step_seconds_bucket", (*model, ("le", "0.05")))] == 1
    assert not any(name.startswith("fluxserve_queue") for name, _ in got)  # no job store here


def test_the_queue_is_registered_once(tmp_path: Path) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'fluxserve.db'}")
    try:
        metrics = ProcessMetrics()
        assert metrics.with_queue(db).with_queue(db) is metrics  # a second API context, say
        body, content_type = metrics.render()
        assert content_type.startswith("text/plain")
        assert samples(body.decode())[("fluxserve_job_store_up", ())] == 1
    finally:
        db.close()
