"""Databases for the job store tests: a SQLite file, and a fresh PostgreSQL database per test
(the server is started when it is down; the tests skip only if it cannot be started)."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from fluxserve.billing.keys import KeyStore
from fluxserve.db.database import Database
from fluxserve.jobs.store import JobStore

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _pg_reachable() -> bool:
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


def _start_pg() -> None:
    versions = sorted(p.name for p in Path("/etc/postgresql").glob("*"))
    if not versions:
        return
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
        check=False,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture(scope="session")
def postgres_admin() -> str:
    """A reachable PostgreSQL server's admin URL, started if it was down."""
    if not _pg_reachable():
        _start_pg()
        deadline = time.monotonic() + 30
        while not _pg_reachable():
            if time.monotonic() > deadline:
                pytest.skip("PostgreSQL is not running and could not be started")
            time.sleep(0.5)
    return PG_ADMIN


@pytest.fixture
def postgres_url(postgres_admin: str) -> Iterator[str]:
    """A freshly created, empty database, dropped after the test."""
    name = f"fs_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.format(name=name)
    finally:
        with psycopg.connect(postgres_admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
