"""A server to attack, once on SQLite and once on PostgreSQL: started through the CLI without
`--allow-private-urls`, with a funded key, tight HTTP deadlines (so slow-client tests are
quick) and no workers (jobs only queue, so fuzzing costs no generation)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.api.conftest import write_config
from tests.support.servers import FluxServer, run_cli

HEADER_TIMEOUT_S = 1.0
BODY_IDLE_TIMEOUT_S = 1.0
MAX_CONNECTIONS = 48
LIMITS = {
    "rate_limit_per_minute": 1_000_000,
    # No workers: a sync route answers 504 after this; see test_fuzz_openapi.
    "sync_timeout_s": 0.5,
    "batch_sync_wait_s": 0.0,
    "http_header_timeout_s": HEADER_TIMEOUT_S,
    "http_body_idle_timeout_s": BODY_IDLE_TIMEOUT_S,
    "http_max_connections": MAX_CONNECTIONS,
}


@dataclass
class Target:
    server: FluxServer
    key: str
    store: str

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    def headers(self) -> dict[str, str]:
        return {"Ocp-Apim-Subscription-Key": self.key, "Content-Type": "application/json"}


@pytest.fixture(scope="session")
def _pg_database(postgres_admin: str) -> Iterator[str]:
    name = f"fs_hostile_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(postgres_admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _start(data_dir: Path, demo_cache: Path, store: str, database_url: str | None) -> Target:
    config = write_config(data_dir / "config.toml", demo_cache, **LIMITS)
    with config.open("a") as handle:  # no workers: every accepted job stays queued
        handle.write("[limits]\nmax_active_jobs_per_key = 1000000\n")
    args: tuple[str, ...] = ("--no-workers",)
    env = None
    if database_url is not None:
        args += ("--database-url", database_url)
        env = {"FLUXSERVE_DATABASE_URL": database_url}
    out = run_cli(
        "keys", "create", "--name", "hostile", "--credit", "1000", data_dir=data_dir, env=env
    )
    server = FluxServer(data_dir, config=config, extra_args=args, allow_private=False).start()
    return Target(server, out.strip().splitlines()[-1], store)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def target(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    demo_cache_dir: Path,
) -> Iterator[Target]:
    """The server under attack, on each store in turn."""
    store = str(request.param)
    url = request.getfixturevalue("_pg_database") if store == "postgres" else None
    hostile = _start(tmp_path_factory.mktemp(f"hostile-{store}"), demo_cache_dir, store, url)
    yield hostile
    hostile.server.stop()
