"""Fixtures every test folder may use: a PostgreSQL server (started when it is down; tests
that need it skip only if it cannot be started) and a fresh database per test."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

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
