"""A Prometheus collector that reads the job store at scrape time.

Nothing is counted in memory: every API node asks the same database, so every node answers
the same numbers and any one of them (or all, deduplicated with `max by`) can be scraped.
Every model gets its series even when idle, so a scaler reads 0 rather than nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from fluxserve.catalog import API_MODELS
from fluxserve.db.clock import Clock, checked
from fluxserve.db.database import Database
from fluxserve.jobs.census import Census, take_census
from fluxserve.jobs.records import TERMINAL_STATES as ENDED
from fluxserve.jobs.records import JobState

log = logging.getLogger("fluxserve.metrics")

TERMINAL_STATES = tuple(state.value for state in JobState if state in ENDED)
_MODEL_LABELS = ["model", "engine_model"]


class QueueCollector(Collector):
    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self._db = db
        self._now = checked(clock)

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "fluxserve_job_store_up", "1 when the job store answered this scrape, else 0."
        )
        try:
            census = take_census(self._db)
        except Exception as exc:  # a scrape must answer even while the database is away
            log.warning("metrics: the job store did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from self._queue(census, self._now())
        yield self._finished(census)
        yield from self._outbox(census, self._now())

    def _queue(self, census: Census, now: datetime) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "fluxserve_queue_depth", "Jobs QUEUED, waiting for a worker.", labels=_MODEL_LABELS
        )
        running = GaugeMetricFamily(
            "fluxserve_jobs_processing", "Jobs PROCESSING on a worker.", labels=_MODEL_LABELS
        )
        oldest = GaugeMetricFamily(
            "fluxserve_queue_oldest_age_seconds",
            "Age of the oldest QUEUED job (0 when none is queued).",
            labels=_MODEL_LABELS,
        )
        for model in API_MODELS.values():
            labels = [model.id, model.engine_model]
            queued = census.of(model.id, JobState.QUEUED.value)
            depth.add_metric(labels, queued.count)
            running.add_metric(labels, census.of(model.id, JobState.PROCESSING.value).count)
            oldest.add_metric(labels, _age_s(queued.oldest_created_at, now))
        yield from (depth, running, oldest)

    def _finished(self, census: Census) -> Metric:
        finished = CounterMetricFamily(
            "fluxserve_jobs_finished",
            "Jobs in each terminal state, as the job store holds them.",
            labels=[*_MODEL_LABELS, "state"],
        )
        for model in API_MODELS.values():
            for state in TERMINAL_STATES:
                count = census.of(model.id, state).count
                finished.add_metric([model.id, model.engine_model, state], count)
        return finished

    def _outbox(self, census: Census, now: datetime) -> Iterator[Metric]:
        pending = census.outbox_pending
        yield GaugeMetricFamily(
            "fluxserve_webhook_backlog",
            "Webhook deliveries not yet made (waiting or between retries).",
            value=pending.count,
        )
        yield GaugeMetricFamily(
            "fluxserve_webhook_backlog_oldest_age_seconds",
            "Age of the oldest undelivered webhook (0 when none waits).",
            value=_age_s(pending.oldest_created_at, now),
        )


def _age_s(since: datetime | None, now: datetime) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0
