"""The job store tests run on each backend (`db`: tests/support/backends.py)."""

from __future__ import annotations

import pytest

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from fluxserve.jobs.store import JobStore


@pytest.fixture
def keys(db: Database) -> KeyStore:
    return KeyStore(db)


@pytest.fixture
def store(db: Database) -> JobStore:
    return JobStore(db)
