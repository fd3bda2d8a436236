"""A real SQLite file database per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database


@pytest.fixture
def db_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def db(db_dir: Path) -> Iterator[Database]:
    database = Database.open(f"sqlite:///{db_dir / 'fluxserve.db'}")
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def keys(db: Database) -> KeyStore:
    return KeyStore(db)
