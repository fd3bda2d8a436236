"""Fixtures every test folder may use: a PostgreSQL server (started when it is down; tests
that need it skip only if it cannot be started), a fresh database per test, and Redis."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.redis_server import ensure_redis

# `database_url` and `db`, on each backend.
pytest_plugins = ("tests.support.backends",)

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


# The longest files (as measured), longest first. Test processes take whole files in collection
# order (`--dist loadfile --no-loadscope-reorder`); starting these first keeps one of them from
# running alone at the end.
LONGEST_FIRST = (
    "tests/api/test_scheduling.py",
    "tests/cluster/test_liveness.py",
    "tests/cluster/test_cluster.py",
    "tests/api/test_spec_examples.py",
    "tests/bench/test_bench_scripts.py",
    "tests/api/hostile/test_fuzz_openapi.py",
    "tests/api/test_engine_crash.py",
    "tests/engine/test_training.py",
    "tests/api/test_live_events.py",
    "tests/engine/test_demo_weights.py",
    "tests/api/test_media_links.py",
    "tests/api/test_sync_timeout.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = config.rootpath

    def rank(item: pytest.Item) -> int:
        path = item.path.relative_to(root).as_posix()
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: every file keeps its own order


def _pg_reachable() -> bool:
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


def _pg_ctl(action: str) -> None:
    versions = sorted(p.name for p in Path("/etc/postgresql").glob("*"))
    if not versions:
        return
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", action],
        check=False,
        capture_output=True,
        timeout=60,
    )


def _start_pg() -> None:
    _pg_ctl("start")


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


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A reachable Redis server's URL, started if it was down. Tests share it with whatever
    else uses it, so each keeps to its own key prefix."""
    url = ensure_redis()
    if url is None:
        pytest.skip("Redis is not running and could not be started")
    return url
