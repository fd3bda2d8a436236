"""One process's metrics registry: what GET /metrics (or a worker's metrics port) answers."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.exposition import start_http_server

from fluxserve.db.clock import Clock
from fluxserve.db.database import Database
from fluxserve.metrics.engine_steps import EngineStepTimes
from fluxserve.metrics.queue_collector import QueueCollector


class ProcessMetrics:
    """Built once per process by the composition root (no global registry), passed down."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.engine_steps = EngineStepTimes(self.registry)
        self._reports_queue = False

    def with_queue(self, db: Database, clock: Clock | None = None) -> ProcessMetrics:
        """Report the job store's queue too (API nodes); once, however often it is called."""
        if not self._reports_queue:
            self.registry.register(QueueCollector(db, clock))
            self._reports_queue = True
        return self

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def serve(self, host: str, port: int) -> None:
        """Answer scrapes on http://host:port/ from a daemon thread (worker nodes, which have
        no HTTP API)."""
        start_http_server(port, addr=host, registry=self.registry)
