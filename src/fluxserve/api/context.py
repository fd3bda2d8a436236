"""What the HTTP layer is handed at start-up. Built by the composition root, never global."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from fluxserve.api.active_jobs import ActiveJobCap
from fluxserve.api.blocking import Blocking
from fluxserve.api.intake import Intake
from fluxserve.api.provenance import ProvenanceCache
from fluxserve.api.ratelimit import RateLimit
from fluxserve.billing.keys import KeyStore
from fluxserve.engine.boundary.messages import ModelStatus
from fluxserve.jobs.listing import JobListing
from fluxserve.jobs.media_log import MediaLog
from fluxserve.jobs.outbox import Outbox
from fluxserve.jobs.signals import JobSignals
from fluxserve.jobs.store import JobStore
from fluxserve.jobs.views import UrlFor
from fluxserve.metrics.process_metrics import ProcessMetrics
from fluxserve.provenance.signer import ContentSigner
from fluxserve.settings import Settings
from fluxserve.storage.local import LocalStorage


@dataclass
class ApiContext:
    settings: Settings
    intake: Intake
    jobs: JobStore
    keys: KeyStore
    storage: LocalStorage | None  # None when media lives in a bucket served by someone else
    signals: JobSignals
    limiter: RateLimit
    active_jobs: ActiveJobCap
    metrics: ProcessMetrics
    model_statuses: Callable[[], list[ModelStatus]]
    media_url: UrlFor  # a storage key's public URL, built by this node
    blocking: Blocking  # where routes run database, image and storage work (blocking.py)
    outbox: Outbox  # webhook deliveries: their log, and replays
    media_expires_at: Callable[[], datetime | None]  # when URLs built now may stop working
    media_log: MediaLog
    job_listing: JobListing
    signer: ContentSigner | None = None  # None: content credentials turned off
    provenance: ProvenanceCache = field(default_factory=ProvenanceCache)
