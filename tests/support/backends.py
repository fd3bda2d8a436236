"""Fixtures for tests that run on each backend: a SQLite file, and a fresh PostgreSQL database
per test (`postgres_url` in tests/conftest.py). Every test can use them: tests/conftest.py
loads this module as a plugin; a test folder's own `db` fixture overrides this one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fluxserve.db.database import Database


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
