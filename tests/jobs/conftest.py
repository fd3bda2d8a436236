"""Databases for the job store tests: a SQLite file, and a fresh PostgreSQL database per test
(`postgres_url` in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from fluxserve.jobs.store import JobStore


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'fluxserve.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database.open(database_url)
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def keys(db: Database) -> KeyStore:
    return KeyStore(db)


@pytest.fixture
def store(db: Database) -> JobStore:
    return JobStore(db)
