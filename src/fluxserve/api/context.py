"""What the HTTP layer is handed at start-up. Built by the composition root, never global."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fluxserve.api.intake import Intake
from fluxserve.api.ratelimit import RateLimiter
from fluxserve.billing.keys import KeyStore
from fluxserve.engine.messages import ModelStatus
from fluxserve.jobs.signals import JobSignals
from fluxserve.jobs.store import JobStore
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
    limiter: RateLimiter
    model_statuses: Callable[[], list[ModelStatus]]
